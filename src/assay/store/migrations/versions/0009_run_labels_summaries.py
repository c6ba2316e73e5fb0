"""The web UI at scale (issue 12): run labels (tags and a note set at ``assay run --tag
--note``) and the per-run summary cache the runs list reads instead of recomputing summaries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "run_labels",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("tags_json", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_labels")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_labels_run_id_runs"), ondelete="CASCADE"
        ),
    )
    op.create_table(
        "run_summaries",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("n_results", sa.Integer(), nullable=False),
        sa.Column("n_errors", sa.Integer(), nullable=False),
        sa.Column("summary_json", sa.Text(), nullable=False),
        sa.Column("label_json", sa.Text(), nullable=True),
        sa.Column("computed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_summaries")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_summaries_run_id_runs"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_runs_name_started_at"), "runs", ["name", "started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_name_started_at"), table_name="runs")
    op.drop_table("run_summaries")
    op.drop_table("run_labels")
