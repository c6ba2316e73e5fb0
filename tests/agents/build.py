"""Spans with known truth for the assurance tests, written through ``store_spans`` (the only way
spans enter the store)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.store import Store
from assay.trace.ingest import store_spans
from assay.trace.model import SpanEvent, SpanRecord, ToolCall

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def trace_id() -> str:
    return f"{next(_ids):032x}"


class TraceBuilder:
    """One trace's spans, added in order; ``write(store)`` stores them."""

    def __init__(self, start: datetime = T0, *, session: str | None = None, route: str = "app"):
        self.trace_id = trace_id()
        self.start = start
        self.session = session
        self.route = route
        self.spans: list[SpanRecord] = []
        self._n = 0
        self.root = self.span(route, kind="chain", offset_ms=0, duration_ms=10_000)

    def span(
        self,
        name: str,
        *,
        kind: str = "other",
        parent: SpanRecord | None = None,
        offset_ms: float = 0.0,
        duration_ms: float = 100.0,
        status: str = "ok",
        message: str | None = None,
        attributes: dict[str, Any] | None = None,
        tool_calls: list[ToolCall] | None = None,
        input: Any = None,
        output: Any = None,
        events: list[tuple[str, float, dict[str, Any]]] = (),  # type: ignore[assignment]
        model: str | None = None,
    ) -> SpanRecord:
        self._n += 1
        start = self.start + timedelta(milliseconds=offset_ms)
        span_id = f"{self._n:016x}"
        record = SpanRecord(
            trace_id=self.trace_id,
            span_id=span_id,
            parent_id=(parent or self.root).span_id if self.spans else None,
            name=name,
            kind=kind,
            start_time=start,
            end_time=start + timedelta(milliseconds=duration_ms),
            status=status,  # type: ignore[arg-type]
            status_message=message,
            session_id=self.session,
            attributes={"app.route": self.route, **(attributes or {})},
            tool_calls=tool_calls or [],
            input=input,
            output=output,
            model_requested=model,
            model_resolved=model,
        )
        for event_name, at_ms, event_attributes in events:
            record.events.append(
                SpanEvent(
                    trace_id=self.trace_id,
                    span_id=span_id,
                    name=event_name,
                    time=start + timedelta(milliseconds=at_ms),
                    source="event",
                    attributes=event_attributes,
                )
            )
        self.spans.append(record)
        return record

    def tool(
        self,
        tool: str,
        arguments: Any,
        *,
        offset_ms: float,
        duration_ms: float = 100.0,
        result: Any = None,
        error: str | None = None,
        error_type: str | None = None,
        key: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> SpanRecord:
        attrs = {"gen_ai.tool.name": tool, **(attributes or {})}
        if error_type:
            attrs["error.type"] = error_type
        return self.span(
            f"execute_tool {tool}",
            kind="tool",
            offset_ms=offset_ms,
            duration_ms=duration_ms,
            status="error" if error else "ok",
            message=error,
            attributes=attrs,
            tool_calls=[
                ToolCall(
                    position=0,
                    source="execution",
                    tool=tool,
                    call_id=f"call-{self._n + 1}",
                    arguments=arguments,
                    result=result,
                    error=error,
                    idempotency_key=key,
                )
            ],
        )


def write(store: Store, *builders: TraceBuilder) -> None:
    spans = [s for b in builders for s in b.spans]
    store_spans(store, spans)
