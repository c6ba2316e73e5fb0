"""Reading what the agent audits need from the trace store (SQLAlchemy Core, both backends)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from assay.store import Store
from assay.store.tables import span_events, spans, tool_calls, traces

_IN_CHUNK = 400


@dataclass(frozen=True)
class TraceWindow:
    """Which traces an audit reads: spans that started in ``[since, until)``, on ``route``."""

    since: datetime | None = None
    until: datetime | None = None
    route: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "route": self.route,
        }


def loads(text: str | None) -> Any:
    """A stored JSON column's value (text that is not JSON comes back as text)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass
class CallRow:
    """One stored tool call with its span's timing and status."""

    trace_id: str
    span_id: str
    position: int
    source: str
    tool: str
    call_id: str | None
    arguments: Any
    result: Any
    error: str | None
    idempotency_key: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    span_status: str
    status_message: str | None
    attributes: dict[str, Any]
    route: str | None
    session_id: str | None

    @property
    def failed(self) -> bool:
        """An execution failed when it carries an error or its span's status is ``error``."""
        return self.error is not None or self.span_status == "error"

    def ref(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "tool": self.tool,
            "time": self.start_time.isoformat(),
        }


def _window_clauses(window: TraceWindow) -> list[Any]:
    clauses = []
    if window.since is not None:
        clauses.append(spans.c.start_time >= window.since)
    if window.until is not None:
        clauses.append(spans.c.start_time < window.until)
    if window.route is not None:
        clauses.append(traces.c.route == window.route)
    return clauses


def read_tool_calls(
    store: Store, window: TraceWindow = TraceWindow(), *, source: str = "execution"
) -> list[CallRow]:
    """Tool calls of ``source`` (``execution``: run by a tool span; ``request``: asked for by a
    model) in the window, oldest first."""
    query = (
        select(
            tool_calls.c.trace_id,
            tool_calls.c.span_id,
            tool_calls.c.position,
            tool_calls.c.source,
            tool_calls.c.tool,
            tool_calls.c.call_id,
            tool_calls.c.arguments_json,
            tool_calls.c.result_json,
            tool_calls.c.error,
            tool_calls.c.idempotency_key,
            spans.c.start_time,
            spans.c.end_time,
            spans.c.duration_ms,
            spans.c.status,
            spans.c.status_message,
            spans.c.attributes_json,
            traces.c.route,
            traces.c.session_id,
        )
        .select_from(
            tool_calls.join(
                spans,
                and_(
                    spans.c.trace_id == tool_calls.c.trace_id,
                    spans.c.span_id == tool_calls.c.span_id,
                ),
            ).join(traces, traces.c.id == tool_calls.c.trace_id)
        )
        .where(tool_calls.c.source == source, *_window_clauses(window))
        .order_by(spans.c.start_time, tool_calls.c.trace_id, tool_calls.c.span_id)
    )
    out: list[CallRow] = []
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            attributes = loads(r.attributes_json)
            out.append(
                CallRow(
                    trace_id=r.trace_id,
                    span_id=r.span_id,
                    position=r.position,
                    source=r.source,
                    tool=r.tool or "(unnamed)",
                    call_id=r.call_id,
                    arguments=loads(r.arguments_json),
                    result=loads(r.result_json),
                    error=r.error,
                    idempotency_key=r.idempotency_key,
                    start_time=r.start_time,
                    end_time=r.end_time,
                    duration_ms=float(r.duration_ms),
                    span_status=r.status,
                    status_message=r.status_message,
                    attributes=attributes if isinstance(attributes, dict) else {},
                    route=r.route,
                    session_id=r.session_id,
                )
            )
    return out


@dataclass
class SpanRow:
    """A stored span with its attributes parsed, and its events."""

    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str
    name: str
    start_time: datetime
    end_time: datetime
    status: str
    status_message: str | None
    session_id: str | None
    input: Any
    output: Any
    attributes: dict[str, Any]
    model: str | None
    events: list[dict[str, Any]] = field(default_factory=list)

    def ref(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "span_id": self.span_id, "span": self.name}


def read_spans(
    store: Store,
    window: TraceWindow = TraceWindow(),
    *,
    trace_ids: Sequence[str] | None = None,
    kinds: Iterable[str] | None = None,
    attribute_like: Sequence[str] = (),
    with_events: bool = False,
    with_io: bool = False,
) -> list[SpanRow]:
    """Spans in the window (or of ``trace_ids``), oldest first. ``attribute_like`` keeps only
    spans whose attributes text contains one of the given substrings (a cheap pre-filter the
    caller confirms on the parsed attributes)."""
    columns = [
        spans.c.trace_id,
        spans.c.span_id,
        spans.c.parent_id,
        spans.c.kind,
        spans.c.name,
        spans.c.start_time,
        spans.c.end_time,
        spans.c.status,
        spans.c.status_message,
        spans.c.session_id,
        spans.c.attributes_json,
        spans.c.model_requested,
        traces.c.session_id.label("trace_session"),
    ]
    if with_io:
        columns += [spans.c.input_json, spans.c.output_json]
    base = select(*columns).select_from(spans.join(traces, traces.c.id == spans.c.trace_id))
    clauses = list(_window_clauses(window))
    if kinds is not None:
        clauses.append(spans.c.kind.in_(list(kinds)))
    if attribute_like:
        from sqlalchemy import or_

        clauses.append(or_(*(spans.c.attributes_json.contains(s) for s in attribute_like)))
    order = (spans.c.start_time, spans.c.trace_id, spans.c.span_id)
    rows: list[Any] = []
    with store.engine.connect() as conn:
        if trace_ids is None:
            rows = list(conn.execute(base.where(*clauses).order_by(*order)))
        else:
            ids = list(dict.fromkeys(trace_ids))
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                rows.extend(
                    conn.execute(base.where(spans.c.trace_id.in_(chunk), *clauses).order_by(*order))
                )
            rows.sort(key=lambda r: (r.start_time, r.trace_id, r.span_id))
        out = []
        for r in rows:
            attributes = loads(r.attributes_json)
            out.append(
                SpanRow(
                    trace_id=r.trace_id,
                    span_id=r.span_id,
                    parent_id=r.parent_id,
                    kind=r.kind,
                    name=r.name,
                    start_time=r.start_time,
                    end_time=r.end_time,
                    status=r.status,
                    status_message=r.status_message,
                    session_id=r.session_id or r.trace_session,
                    input=loads(r.input_json) if with_io else None,
                    output=loads(r.output_json) if with_io else None,
                    attributes=attributes if isinstance(attributes, dict) else {},
                    model=r.model_requested,
                )
            )
        if with_events and out:
            by_key = {(s.trace_id, s.span_id): s for s in out}
            trace_set = list(dict.fromkeys(s.trace_id for s in out))
            for start in range(0, len(trace_set), _IN_CHUNK):
                chunk = trace_set[start : start + _IN_CHUNK]
                query = (
                    select(
                        span_events.c.trace_id,
                        span_events.c.span_id,
                        span_events.c.name,
                        span_events.c.time,
                        span_events.c.attributes_json,
                        span_events.c.body_json,
                    )
                    .where(span_events.c.trace_id.in_(chunk))
                    .order_by(span_events.c.time, span_events.c.id)
                )
                for e in conn.execute(query):
                    span = by_key.get((e.trace_id, e.span_id))
                    if span is None:
                        continue
                    attributes = loads(e.attributes_json)
                    span.events.append(
                        {
                            "name": e.name,
                            "time": e.time,
                            "attributes": attributes if isinstance(attributes, dict) else {},
                            "body": loads(e.body_json),
                        }
                    )
    return out
