"""Monitoring quality in production (issue 14): signal points, change points, the substrate
timeline, alerts and their deliveries, online judgements, embedding probes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitor_points",
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("signal", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("window_start", _TIME, nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=True),
        sa.Column("level", sa.Float(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint(
            "route",
            "signal",
            "segment",
            "window_seconds",
            "window_start",
            name=op.f("pk_monitor_points"),
        ),
    )
    op.create_table(
        "monitor_changes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("signal", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("start_time", _TIME, nullable=False),
        sa.Column("detected_time", _TIME, nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("worse", sa.Boolean(), nullable=False),
        sa.Column("shift_json", sa.Text(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_changes")),
    )
    op.create_index(op.f("ix_monitor_changes_route_signal"), "monitor_changes", ["route", "signal"])
    op.create_table(
        "substrate_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("time", _TIME, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(), nullable=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.String(), nullable=True),
        sa.Column("detected_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_substrate_events")),
    )
    op.create_index(op.f("ix_substrate_events_time"), "substrate_events", ["time"])
    op.create_index(op.f("ix_substrate_events_route_time"), "substrate_events", ["route", "time"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(), nullable=True),
        sa.Column("signal", sa.String(), nullable=True),
        sa.Column("segment", sa.String(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("resolved_at", _TIME, nullable=True),
        sa.Column("acked_at", _TIME, nullable=True),
        sa.Column("acked_by", sa.String(), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_key_status"), "alerts", ["key", "status"])
    op.create_index(op.f("ix_alerts_opened_at"), "alerts", ["opened_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("sink", sa.String(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "alert_id", "sink", "event", name=op.f("uq_alert_deliveries_alert_id_sink_event")
        ),
    )
    op.create_index(
        op.f("ix_alert_deliveries_status_next_attempt_at"),
        "alert_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "online_judgements",
        sa.Column("trace_score_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("judge", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("result_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("trace_score_id", name=op.f("pk_online_judgements")),
    )
    op.create_index(op.f("ix_online_judgements_run_id"), "online_judgements", ["run_id"])
    op.create_index(op.f("ix_online_judgements_trace_id"), "online_judgements", ["trace_id"])
    op.create_table(
        "embedding_probes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("taken_at", _TIME, nullable=False),
        sa.Column("probe_hash", sa.String(length=64), nullable=False),
        sa.Column("vectors_json", sa.Text(), nullable=False),
        sa.Column("min_cosine", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding_probes")),
    )
    op.create_index(
        op.f("ix_embedding_probes_model_taken_at"), "embedding_probes", ["model", "taken_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_embedding_probes_model_taken_at"), table_name="embedding_probes")
    op.drop_table("embedding_probes")
    op.drop_index(op.f("ix_online_judgements_trace_id"), table_name="online_judgements")
    op.drop_index(op.f("ix_online_judgements_run_id"), table_name="online_judgements")
    op.drop_table("online_judgements")
    op.drop_index(op.f("ix_alert_deliveries_status_next_attempt_at"), table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index(op.f("ix_alerts_opened_at"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_key_status"), table_name="alerts")
    op.drop_table("alerts")
    op.drop_index(op.f("ix_substrate_events_route_time"), table_name="substrate_events")
    op.drop_index(op.f("ix_substrate_events_time"), table_name="substrate_events")
    op.drop_table("substrate_events")
    op.drop_index(op.f("ix_monitor_changes_route_signal"), table_name="monitor_changes")
    op.drop_table("monitor_changes")
    op.drop_table("monitor_points")
