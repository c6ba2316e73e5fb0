"""Judge calibration certificates (the judge audit).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "judge_certificates",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("judge_key", sa.String(), nullable=False),
        sa.Column("judge", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certificate_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_certificates")),
    )
    op.create_index(op.f("ix_judge_certificates_judge_key"), "judge_certificates", ["judge_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_judge_certificates_judge_key"), table_name="judge_certificates")
    op.drop_table("judge_certificates")
