"""An index on feedback.session_id: a trace's page reads the feedback given to its session
(conversation-level thumbs with no trace id), which scanned the whole feedback table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_feedback_session_id"), "feedback", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_session_id"), table_name="feedback")
