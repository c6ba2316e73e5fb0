"""The initial store: runs, manifests, samples, results, scores.

Revision ID: 0001
Revises:
Create Date: 2024-11-22

Written by hand to match assay/store/tables.py at this revision. Migrations are snapshots: they
do not import tables.py, which will move on.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ts(name: str, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _binary_text() -> sa.types.TypeEngine[str]:
    # Byte-wise ordering on PostgreSQL too, so both backends sort results identically.
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at", False),
        _ts("finished_at", True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("spec_hash", sa.String(), nullable=False),
        sa.Column("subjects_json", sa.Text(), nullable=False),
        sa.Column("n_planned", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(), nullable=True),
        _ts("created_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])

    op.create_table(
        "manifests",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("manifest_json", sa.Text(), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_manifests"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_manifests_run_id_runs", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "samples",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("input_json", sa.Text(), nullable=False),
        sa.Column("target_json", sa.Text(), nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("cluster", sa.String(), nullable=True),
        sa.Column("provenance_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "id", name="pk_samples"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_samples_run_id_runs", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "results",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("subject", _binary_text(), nullable=False),
        sa.Column("sample_id", _binary_text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.Column("resolved_model", sa.String(), nullable=True),
        sa.Column("system_fingerprint", sa.String(), nullable=True),
        sa.Column("finish_reason", sa.String(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("output_json", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_class", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        _ts("created_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
        sa.UniqueConstraint(
            "run_id",
            "subject",
            "sample_id",
            "epoch",
            name="uq_results_run_id_subject_sample_id_epoch",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_results_run_id_runs", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "scores",
        sa.Column("result_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("scorer", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("result_id", "position", name="pk_scores"),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name="fk_scores_result_id_results",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_scores_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_scores_run_id", "scores", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_scores_run_id", table_name="scores")
    op.drop_table("scores")
    op.drop_table("results")
    op.drop_table("samples")
    op.drop_table("manifests")
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_table("runs")
