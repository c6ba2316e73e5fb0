"""Incremental monitoring passes (issue 14): per-window rollups, change marks and the epoch.

``monitor_rollups`` keeps each window's per-trace observations of a route (and each hour's
substrate groups) under a hash of the configuration they were computed with;
``monitor_marks`` logs, from triggers, the trace of every score or feedback row inserted,
updated or deleted (their ``created_at`` is the event's time, not when it arrived);
``monitor_state`` holds the store's *monitor epoch*, which triggers bump on any write a
watermark cannot see (a deleted or updated span, retrieval or trace, other than the trace
upsert that moves ``updated_at``), and each rollup's watermark. ``traces.updated_at`` gets an
index: the watermark of spans and traces. See :mod:`assay.monitor.rollups`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)

#: Tables whose rows name the trace a change belongs to (a mark per row).
_MARKED = ("trace_scores", "feedback")
#: Tables whose deletes and in-place updates bump the epoch.
_EPOCH = ("spans", "retrievals")

_SQLITE_NOW = "(julianday('now') - 2440587.5) * 86400.0"
_SQLITE_BUMP = "UPDATE monitor_state SET seq = seq + 1 WHERE key = 'epoch';"

_PG_FUNCTIONS = """
CREATE FUNCTION assay_monitor_mark() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.trace_id IS NOT NULL THEN
    INSERT INTO monitor_marks (trace_id, at)
    VALUES (OLD.trace_id, extract(epoch FROM clock_timestamp()));
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.trace_id IS NOT NULL THEN
    INSERT INTO monitor_marks (trace_id, at)
    VALUES (NEW.trace_id, extract(epoch FROM clock_timestamp()));
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE FUNCTION assay_monitor_epoch() RETURNS trigger AS $$
BEGIN
  UPDATE monitor_state SET seq = seq + 1 WHERE key = 'epoch';
  RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def _sqlite_triggers() -> list[str]:
    out = []
    for table in _MARKED:
        for op_name, row in (("INSERT", "NEW"), ("DELETE", "OLD"), ("UPDATE", "NEW")):
            out.append(
                f"CREATE TRIGGER monitor_mark_{table}_{op_name.lower()} AFTER {op_name} ON {table} "
                f"WHEN {row}.trace_id IS NOT NULL BEGIN INSERT INTO monitor_marks (trace_id, at) "
                f"VALUES ({row}.trace_id, {_SQLITE_NOW}); END"
            )
        out.append(
            f"CREATE TRIGGER monitor_mark_{table}_update_old AFTER UPDATE ON {table} "
            f"WHEN OLD.trace_id IS NOT NULL AND OLD.trace_id IS NOT NEW.trace_id BEGIN "
            f"INSERT INTO monitor_marks (trace_id, at) VALUES (OLD.trace_id, {_SQLITE_NOW}); END"
        )
    for table in _EPOCH:
        for op_name in ("DELETE", "UPDATE"):
            out.append(
                f"CREATE TRIGGER monitor_epoch_{table}_{op_name.lower()} AFTER {op_name} ON "
                f"{table} BEGIN {_SQLITE_BUMP} END"
            )
    out.append(
        "CREATE TRIGGER monitor_epoch_traces_delete AFTER DELETE ON traces "
        f"BEGIN {_SQLITE_BUMP} END"
    )
    out.append(
        "CREATE TRIGGER monitor_epoch_traces_update AFTER UPDATE ON traces "
        f"WHEN NEW.updated_at IS OLD.updated_at BEGIN {_SQLITE_BUMP} END"
    )
    return out


def _pg_triggers() -> list[str]:
    out = [_PG_FUNCTIONS]
    for table in _MARKED:
        out.append(
            f"CREATE TRIGGER monitor_mark_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION assay_monitor_mark()"
        )
    for table in (*_EPOCH, "traces"):
        out.append(
            f"CREATE TRIGGER monitor_epoch_{table}_delete AFTER DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION assay_monitor_epoch()"
        )
    for table in _EPOCH:
        out.append(
            f"CREATE TRIGGER monitor_epoch_{table}_update AFTER UPDATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION assay_monitor_epoch()"
        )
    out.append(
        "CREATE TRIGGER monitor_epoch_traces_update AFTER UPDATE ON traces FOR EACH ROW "
        "WHEN (OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at) "
        "EXECUTE FUNCTION assay_monitor_epoch()"
    )
    return out


def upgrade() -> None:
    op.create_table(
        "monitor_rollups",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("window_start", _TIME, nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("computed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_monitor_rollups")),
    )
    op.create_table(
        "monitor_marks",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_monitor_marks")),
    )
    op.create_index(op.f("ix_monitor_marks_at"), "monitor_marks", ["at"])
    op.create_table(
        "monitor_state",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_monitor_state")),
    )
    op.execute("INSERT INTO monitor_state (key, seq, value) VALUES ('epoch', 0, NULL)")
    op.create_index(op.f("ix_traces_updated_at"), "traces", ["updated_at"])
    bind = op.get_bind()
    for statement in _pg_triggers() if bind.dialect.name == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in _MARKED:
            op.execute(f"DROP TRIGGER monitor_mark_{table} ON {table}")
        for table in (*_EPOCH, "traces"):
            op.execute(f"DROP TRIGGER monitor_epoch_{table}_delete ON {table}")
            op.execute(f"DROP TRIGGER monitor_epoch_{table}_update ON {table}")
        op.execute("DROP FUNCTION assay_monitor_mark()")
        op.execute("DROP FUNCTION assay_monitor_epoch()")
    else:
        for table in _MARKED:
            for name in ("insert", "delete", "update", "update_old"):
                op.execute(f"DROP TRIGGER monitor_mark_{table}_{name}")
        for table in (*_EPOCH, "traces"):
            op.execute(f"DROP TRIGGER monitor_epoch_{table}_delete")
            op.execute(f"DROP TRIGGER monitor_epoch_{table}_update")
    op.drop_index(op.f("ix_traces_updated_at"), table_name="traces")
    op.drop_table("monitor_state")
    op.drop_index(op.f("ix_monitor_marks_at"), table_name="monitor_marks")
    op.drop_table("monitor_marks")
    op.drop_table("monitor_rollups")
