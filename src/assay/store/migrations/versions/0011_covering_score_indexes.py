"""Covering indexes for the reads of ``assay show`` and ``assay compare`` (issue 20, §9).

Reading a run's result keys went through the results' unique index and then to each 1.3 KB
table row for ``id`` and ``error_class``; reading its scores went through ``ix_scores_run_id``
and then to each score row. With every column those reads need in an index they read no table
row (``assay.store.score_reads``). The results index also holds ``resolved_model`` and
``created_at``: ``compare`` learns from them, without reading the rows, whether any of a run's
calls can be priced at all. The scores index starts with ``run_id``, so it replaces
``ix_scores_run_id``. A partial index on the results that failed counts a run's errors
(``get_run``, ``runs``) without reading the table either.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_FAILED = "error IS NOT NULL"
_RESULT_COLUMNS = [
    "run_id",
    "subject",
    "sample_id",
    "epoch",
    "id",
    "error_class",
    "resolved_model",
    "created_at",
]


def upgrade() -> None:
    op.create_index(op.f("ix_results_run_id_covering"), "results", _RESULT_COLUMNS)
    op.create_index(
        op.f("ix_results_failed"),
        "results",
        ["run_id"],
        sqlite_where=sa.text(_FAILED),
        postgresql_where=sa.text(_FAILED),
    )
    op.create_index(
        op.f("ix_scores_run_id_covering"),
        "scores",
        ["run_id", "result_id", "position", "scorer", "value"],
    )
    op.drop_index(op.f("ix_scores_run_id"), table_name="scores")


def downgrade() -> None:
    op.create_index(op.f("ix_scores_run_id"), "scores", ["run_id"])
    op.drop_index(op.f("ix_scores_run_id_covering"), table_name="scores")
    op.drop_index(op.f("ix_results_failed"), table_name="results")
    op.drop_index(op.f("ix_results_run_id_covering"), table_name="results")
