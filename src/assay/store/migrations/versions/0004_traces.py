"""Production traffic (issue 11): traces, spans, span events and log records, retrievals, tool
calls, trace scores, feedback, delayed outcomes, redaction reports and stable placeholders, cases
born from traces, and review queues.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dataset", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=24), nullable=False),
        sa.Column("created_from", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("input_json", sa.Text(), nullable=False),
        sa.Column("target_json", sa.Text(), nullable=True),
        sa.Column("negative_example", sa.Text(), nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_created_from"), "cases", ["created_from"], unique=False)
    op.create_index(op.f("ix_cases_dataset"), "cases", ["dataset"], unique=False)
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rater_id", sa.String(), nullable=True),
        sa.Column("rater_role", sa.String(length=16), nullable=False),
        sa.Column("surface", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_trace_id"), "feedback", ["trace_id"], unique=False)
    op.create_table(
        "outcomes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("bad", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attributes_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
    )
    op.create_index(op.f("ix_outcomes_session_id"), "outcomes", ["session_id"], unique=False)
    op.create_index(op.f("ix_outcomes_trace_id"), "outcomes", ["trace_id"], unique=False)
    op.create_table(
        "redaction_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("redacted", sa.Boolean(), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redaction_reports")),
    )
    op.create_index(
        op.f("ix_redaction_reports_received_at"), "redaction_reports", ["received_at"], unique=False
    )
    op.create_table(
        "retrievals",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(), nullable=True),
        sa.Column("chunk_id", sa.String(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("document_version", sa.String(), nullable=True),
        sa.Column("index_version", sa.String(), nullable=True),
        sa.Column("embedding_version", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "span_id", "rank", name=op.f("pk_retrievals")),
    )
    op.create_table(
        "review_queues",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("rubric_json", sa.Text(), nullable=False),
        sa.Column("reviews_per_item", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_review_queues")),
    )
    op.create_table(
        "span_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=True),
        sa.Column("attributes_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_span_events")),
    )
    op.create_index(
        op.f("ix_span_events_trace_id_span_id"),
        "span_events",
        ["trace_id", "span_id"],
        unique=False,
    )
    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("convention", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("service", sa.String(), nullable=True),
        sa.Column("operation", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("model_requested", sa.String(), nullable=True),
        sa.Column("model_resolved", sa.String(), nullable=True),
        sa.Column("system_fingerprint", sa.String(), nullable=True),
        sa.Column("response_id", sa.String(), nullable=True),
        sa.Column("finish_reasons_json", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("input_json", sa.Text(), nullable=True),
        sa.Column("output_json", sa.Text(), nullable=True),
        sa.Column("attributes_json", sa.Text(), nullable=False),
        sa.Column("flags_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name=op.f("pk_spans")),
    )
    op.create_index(op.f("ix_spans_model_resolved"), "spans", ["model_resolved"], unique=False)
    op.create_index(op.f("ix_spans_start_time"), "spans", ["start_time"], unique=False)
    op.create_table(
        "store_settings",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_settings")),
    )
    op.create_table(
        "tool_calls",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("tool", sa.String(), nullable=True),
        sa.Column("arguments_json", sa.Text(), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "span_id", "position", name=op.f("pk_tool_calls")),
    )
    op.create_table(
        "trace_placeholders",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value_hash", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "trace_id", "kind", "value_hash", name=op.f("pk_trace_placeholders")
        ),
        sa.UniqueConstraint(
            "trace_id", "kind", "number", name=op.f("uq_trace_placeholders_trace_id_kind_number")
        ),
    )
    op.create_table(
        "trace_scores",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("response_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_scores")),
    )
    op.create_index(op.f("ix_trace_scores_trace_id"), "trace_scores", ["trace_id"], unique=False)
    op.create_table(
        "traces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("root_name", sa.String(), nullable=True),
        sa.Column("service", sa.String(), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("route", sa.String(), nullable=True),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_spans", sa.Integer(), nullable=False),
        sa.Column("n_errors", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("redacted", sa.Boolean(), nullable=False),
        sa.Column("attributes_json", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
    )
    op.create_index(op.f("ix_traces_session_id"), "traces", ["session_id"], unique=False)
    op.create_index(op.f("ix_traces_start_time"), "traces", ["start_time"], unique=False)
    op.create_index(op.f("ix_traces_user_id"), "traces", ["user_id"], unique=False)
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=True),
        sa.Column("assigned_to", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue"],
            ["review_queues.name"],
            name=op.f("fk_review_items_queue_review_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("queue", "kind", "ref", name=op.f("uq_review_items_queue_kind_ref")),
    )
    op.create_table(
        "review_labels",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("rater_id", sa.String(), nullable=False),
        sa.Column("rater_role", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["review_items.id"],
            name=op.f("fk_review_labels_item_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_labels")),
        sa.UniqueConstraint("item_id", "rater_id", name=op.f("uq_review_labels_item_id_rater_id")),
    )


def downgrade() -> None:
    op.drop_table("review_labels")
    op.drop_table("review_items")
    op.drop_index(op.f("ix_traces_user_id"), table_name="traces")
    op.drop_index(op.f("ix_traces_start_time"), table_name="traces")
    op.drop_index(op.f("ix_traces_session_id"), table_name="traces")
    op.drop_table("traces")
    op.drop_index(op.f("ix_trace_scores_trace_id"), table_name="trace_scores")
    op.drop_table("trace_scores")
    op.drop_table("trace_placeholders")
    op.drop_table("tool_calls")
    op.drop_table("store_settings")
    op.drop_index(op.f("ix_spans_start_time"), table_name="spans")
    op.drop_index(op.f("ix_spans_model_resolved"), table_name="spans")
    op.drop_table("spans")
    op.drop_index(op.f("ix_span_events_trace_id_span_id"), table_name="span_events")
    op.drop_table("span_events")
    op.drop_table("review_queues")
    op.drop_table("retrievals")
    op.drop_index(op.f("ix_redaction_reports_received_at"), table_name="redaction_reports")
    op.drop_table("redaction_reports")
    op.drop_index(op.f("ix_outcomes_trace_id"), table_name="outcomes")
    op.drop_index(op.f("ix_outcomes_session_id"), table_name="outcomes")
    op.drop_table("outcomes")
    op.drop_index(op.f("ix_feedback_trace_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_cases_dataset"), table_name="cases")
    op.drop_index(op.f("ix_cases_created_from"), table_name="cases")
    op.drop_table("cases")
