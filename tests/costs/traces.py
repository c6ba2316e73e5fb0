"""Builders of traces with known distributions for the cost and latency tests.

Every trace is a root span (``chain``, carrying the route in ``app.route``, the user, the
session and the environment) with child spans built by the helpers below; times are explicit,
so a test controls every duration and every token count.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.trace.ingest import store_spans
from assay.trace.model import SpanRecord, ToolCall

#: A Monday, 00:00 UTC.
T0 = datetime(2025, 3, 3, tzinfo=UTC)
_counter = itertools.count(1)


def new_trace_id() -> str:
    return f"{next(_counter):032x}"


def new_span_id() -> str:
    return f"{next(_counter):016x}"


def at(ms: float, base: datetime = T0) -> datetime:
    return base + timedelta(milliseconds=ms)


def root(
    trace_id: str,
    route: str,
    start: datetime,
    duration_ms: float,
    *,
    user: str | None = None,
    session: str | None = None,
    environment: str = "production",
    status: str = "ok",
    attributes: dict[str, Any] | None = None,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=new_span_id(),
        name=route,
        start_time=start,
        end_time=start + timedelta(milliseconds=duration_ms),
        kind="chain",
        status=status,  # type: ignore[arg-type]
        user_id=user,
        session_id=session,
        attributes={"app.route": route, **(attributes or {})},
        resource={"deployment.environment": environment},
    )


def child(
    parent: SpanRecord,
    kind: str,
    start_ms: float,
    duration_ms: float,
    *,
    name: str | None = None,
    **fields: Any,
) -> SpanRecord:
    start = parent.start_time + timedelta(milliseconds=start_ms)
    return SpanRecord(
        trace_id=parent.trace_id,
        span_id=new_span_id(),
        parent_id=parent.span_id,
        name=name or kind,
        start_time=start,
        end_time=start + timedelta(milliseconds=duration_ms),
        kind=kind,
        user_id=parent.user_id,
        session_id=parent.session_id,
        resource=parent.resource,
        **fields,
    )


def llm(
    parent: SpanRecord,
    start_ms: float,
    duration_ms: float,
    *,
    model: str = "gpt-4o-mini",
    input_tokens: int = 100,
    output_tokens: int = 50,
    finish: str = "stop",
    cap: int | None = None,
    status: str = "ok",
    **fields: Any,
) -> SpanRecord:
    return child(
        parent,
        "llm",
        start_ms,
        duration_ms,
        name=f"chat {model}",
        model_requested=model,
        model_resolved=model,
        provider="openai",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        finish_reasons=[finish],
        request_max_tokens=cap,
        status=status,
        **fields,
    )


def tool(
    parent: SpanRecord, start_ms: float, duration_ms: float, name: str, arguments: Any
) -> SpanRecord:
    span = child(parent, "tool", start_ms, duration_ms, name=f"execute_tool {name}")
    span.tool_calls = [ToolCall(position=0, source="execution", tool=name, arguments=arguments)]
    return span


def save(store: Any, spans: Sequence[SpanRecord], batch: int = 5000) -> None:
    """Store ``spans`` unredacted (test data holds no personal data), in batches."""
    for start in range(0, len(spans), batch):
        store_spans(store, spans[start : start + batch], redact=False, note="test data")
