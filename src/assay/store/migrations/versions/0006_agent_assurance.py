"""Agent, RAG and privacy assurance (issue 18): ingestion batches checked against contracts,
corpus health reports, the dead-letter queue of jobs that failed a semantic validator, and
their replays.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "ingestion_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contract_hash", sa.String(length=64), nullable=False),
        sa.Column("quarantine_path", sa.Text(), nullable=True),
        sa.Column("findings_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_batches")),
    )
    op.create_index(
        op.f("ix_ingestion_batches_source_received_at"),
        "ingestion_batches",
        ["source", "received_at"],
    )
    op.create_table(
        "corpus_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("corpus", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_documents", sa.Integer(), nullable=False),
        sa.Column("n_findings", sa.Integer(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corpus_reports")),
    )
    op.create_index(op.f("ix_corpus_reports_created_at"), "corpus_reports", ["created_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("input_json", sa.Text(), nullable=True),
        sa.Column("output_json", sa.Text(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint(
            "job", "job_id", "reason", name=op.f("uq_dead_letters_job_job_id_reason")
        ),
    )
    op.create_index(op.f("ix_dead_letters_status"), "dead_letters", ["status"])
    op.create_table(
        "dead_letter_replays",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dead_letter_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("fix_json", sa.Text(), nullable=False),
        sa.Column("output_json", sa.Text(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dead_letter_id"],
            ["dead_letters.id"],
            name=op.f("fk_dead_letter_replays_dead_letter_id_dead_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter_replays")),
    )
    op.create_index(
        op.f("ix_dead_letter_replays_dead_letter_id"), "dead_letter_replays", ["dead_letter_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letter_replays_dead_letter_id"), table_name="dead_letter_replays")
    op.drop_table("dead_letter_replays")
    op.drop_index(op.f("ix_dead_letters_status"), table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index(op.f("ix_corpus_reports_created_at"), table_name="corpus_reports")
    op.drop_table("corpus_reports")
    op.drop_index(op.f("ix_ingestion_batches_source_received_at"), table_name="ingestion_batches")
    op.drop_table("ingestion_batches")
