"""Span usage details (issue 15): tokens as providers bill them, first-token and queue times,
the requested ``max_tokens``, where a span's cost came from; an index for per-route reports.

Cached input tokens, cache writes and audio/image input tokens are parts of ``input_tokens``;
reasoning and audio output tokens are parts of ``output_tokens`` (the GenAI conventions' and
OpenAI's reading; Anthropic's separate counts are added in when mapped).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_INTEGERS = (
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "request_max_tokens",
)


def upgrade() -> None:
    with op.batch_alter_table("spans") as batch:
        for name in _INTEGERS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ttft_ms", sa.Float(), nullable=True))
        batch.add_column(sa.Column("queue_ms", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cost_source", sa.String(length=16), nullable=True))
    op.create_index(
        op.f("ix_traces_route_start_time"), "traces", ["route", "start_time"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_traces_route_start_time"), table_name="traces")
    with op.batch_alter_table("spans") as batch:
        for name in ("cost_source", "queue_ms", "ttft_ms", *reversed(_INTEGERS)):
            batch.drop_column(name)
