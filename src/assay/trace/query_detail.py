"""One trace as JSON-ready dicts: the span tree (depth-first, orphans as roots), each span
with its waterfall position, messages, tool calls, retrieved documents and scores, and the
feedback and outcomes hanging off the trace.

Pure conversions of rows already read; :func:`assay.trace.query.get_trace` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from assay.trace.messages import MESSAGE_EVENTS, as_messages, messages_from_events
from assay.trace.query_sql import _iso, _loads


def _span_tree(rows: list[Any]) -> tuple[list[Any], dict[str, int], dict[str, list[str]], set[str]]:
    """Spans in depth-first order (children by start time), their depths, children and the
    orphans: spans whose parent never arrived (or whose parents form a cycle)."""
    by_id = {row.span_id: row for row in rows}
    children: dict[str, list[str]] = {row.span_id: [] for row in rows}
    roots: list[str] = []
    orphans: set[str] = set()
    for row in rows:  # rows come sorted by start time, so children lists are too
        parent = row.parent_id
        if parent is None:
            roots.append(row.span_id)
        elif parent in by_id and parent != row.span_id:
            children[parent].append(row.span_id)
        else:
            roots.append(row.span_id)
            orphans.add(row.span_id)
    ordered: list[Any] = []
    depth: dict[str, int] = {}

    def walk(root: str) -> None:
        stack = [(root, 0)]
        while stack:
            span_id, level = stack.pop()
            if span_id in depth:
                continue
            depth[span_id] = level
            ordered.append(by_id[span_id])
            stack.extend((child, level + 1) for child in reversed(children[span_id]))

    for root in roots:
        walk(root)
    for row in rows:  # unreached: a cycle of parents; shown as orphan roots
        if row.span_id not in depth:
            orphans.add(row.span_id)
            walk(row.span_id)
    return ordered, depth, children, orphans


def _event_dict(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "time": _iso(row.time),
        "source": row.source,
        "body": _loads(row.body_json),
        "attributes": _loads(row.attributes_json) or {},
    }


def _score_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "span_id": row.span_id,
        "name": row.name,
        "value": row.value,
        "label": row.label,
        "explanation": row.explanation,
        "response_id": row.response_id,
        "source": row.source,
        "created_at": _iso(row.created_at),
    }


def _feedback_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "trace_id": row.trace_id,
        "span_id": row.span_id,
        "session_id": row.session_id,
        "kind": row.kind,
        "value": row.value,
        "label": row.label,
        "correction": row.correction,
        "comment": row.comment,
        "rater_id": row.rater_id,
        "rater_role": row.rater_role,
        "surface": row.surface,
        "intent": row.intent,
        "created_at": _iso(row.created_at),
    }


def _outcome_dict(row: Any, trace_start: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "trace_id": row.trace_id,
        "session_id": row.session_id,
        "event": row.event,
        "value": row.value,
        "bad": bool(row.bad),
        "occurred_at": _iso(row.occurred_at),
        "after_trace_hours": (row.occurred_at - trace_start).total_seconds() / 3600.0,
        "attributes": _loads(row.attributes_json),
    }


def _span_dict(
    row: Any,
    *,
    depth: int,
    children: list[str],
    orphan: bool,
    start: datetime,
    total_ms: float,
    events: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    documents: list[dict[str, Any]],
    scores: list[dict[str, Any]],
) -> dict[str, Any]:
    input_value, output_value = _loads(row.input_json), _loads(row.output_json)
    input_messages, output_messages = as_messages(input_value), as_messages(output_value)
    messages_from = "span" if input_messages or output_messages else None
    message_events = [e for e in events if e["name"] in MESSAGE_EVENTS]
    if message_events and (input_messages is None or output_messages is None):
        from_events = messages_from_events(message_events)
        if input_messages is None and input_value is None and from_events[0]:
            input_messages, messages_from = from_events[0], "events"
        if output_messages is None and output_value is None and from_events[1]:
            output_messages, messages_from = from_events[1], messages_from or "events"
    offset_ms = max(0.0, (row.start_time - start).total_seconds() * 1000.0)
    duration_ms = float(row.duration_ms)
    return {
        "span_id": row.span_id,
        "parent_id": row.parent_id,
        "depth": depth,
        "children": children,
        "orphan": orphan,
        "name": row.name,
        "kind": row.kind,
        "convention": row.convention,
        "status": row.status,
        "status_message": row.status_message,
        "service": row.service,
        "operation": row.operation,
        "provider": row.provider,
        "model_requested": row.model_requested,
        "model_resolved": row.model_resolved,
        "system_fingerprint": row.system_fingerprint,
        "response_id": row.response_id,
        "finish_reasons": _loads(row.finish_reasons_json),
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost": row.cost,
        "session_id": row.session_id,
        "user_id": row.user_id,
        "start_time": _iso(row.start_time),
        "end_time": _iso(row.end_time),
        "offset_ms": offset_ms,
        "duration_ms": duration_ms,
        "left_pct": min(100.0, 100.0 * offset_ms / total_ms) if total_ms > 0 else 0.0,
        "width_pct": min(100.0, 100.0 * duration_ms / total_ms) if total_ms > 0 else 0.0,
        "input_messages": input_messages,
        "output_messages": output_messages,
        "messages_from": messages_from,
        "input": None if input_messages is not None else input_value,
        "output": None if output_messages is not None else output_value,
        "tool_calls": calls,
        "retrievals": documents,
        "scores": scores,
        "events": [
            e for e in events if e["name"] not in MESSAGE_EVENTS and e["name"] != _EVAL_EVENT
        ],
        "attributes": _loads(row.attributes_json) or {},
        "flags": _loads(row.flags_json) or {},
    }


_EVAL_EVENT = "gen_ai.evaluation.result"


def _by_span(
    rows: Iterable[Any], convert: Callable[[Any], dict[str, Any]]
) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.span_id, []).append(convert(row))
    return out
