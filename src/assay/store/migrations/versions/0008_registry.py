"""Change management (issue 17): the prompt registry (versions, clause changes with their
rationale, labels, promotions), user-entered model EOL facts, dataset versions and the claims
registry.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("parent_version", sa.Integer(), nullable=True),
        sa.Column("cases_json", sa.Text(), nullable=False),
        sa.Column("approved_run", sa.String(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_prompt_versions")),
    )
    op.create_index(op.f("ix_prompt_versions_content_hash"), "prompt_versions", ["content_hash"])
    op.create_table(
        "prompt_changes",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "position", name=op.f("pk_prompt_changes")),
    )
    op.create_table(
        "prompt_labels",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", "label", name=op.f("pk_prompt_labels")),
    )
    op.create_table(
        "prompt_promotions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("baseline_run_id", sa.String(), nullable=True),
        sa.Column("verdict", sa.String(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_promotions")),
    )
    op.create_index(op.f("ix_prompt_promotions_name_label"), "prompt_promotions", ["name", "label"])
    op.create_table(
        "model_eol",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("eol_date", sa.String(length=10), nullable=True),
        sa.Column("replacement", sa.String(), nullable=True),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("model", name=op.f("pk_model_eol")),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("rows_json", sa.Text(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("origins_json", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("protected_json", sa.Text(), nullable=True),
        sa.Column("force_reason", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_dataset_versions")),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("scorer", sa.String(), nullable=False),
        sa.Column("claimed", sa.Float(), nullable=True),
        sa.Column("measured", sa.Float(), nullable=True),
        sa.Column("models_json", sa.Text(), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=True),
        sa.Column("prompt_ref", sa.String(), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("measured_at", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )


def downgrade() -> None:
    op.drop_table("claims")
    op.drop_table("dataset_versions")
    op.drop_table("model_eol")
    op.drop_index(op.f("ix_prompt_promotions_name_label"), table_name="prompt_promotions")
    op.drop_table("prompt_promotions")
    op.drop_table("prompt_labels")
    op.drop_index(op.f("ix_prompt_versions_content_hash"), table_name="prompt_versions")
    op.drop_table("prompt_versions")
    op.drop_table("prompt_changes")
