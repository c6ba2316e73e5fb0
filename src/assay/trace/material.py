"""What a case is made of: a stored trace's input, observed output and correction.

Read from the store, so already redacted (:mod:`assay.trace.redact` ran before the first
write). The input is the first LLM span's messages (from its ``input_json``, else rebuilt from
its GenAI message events by :mod:`assay.trace.messages`), else the root span's input; the
output is the last LLM span's answer, else the root span's output; the target is the latest
corrected answer a rater gave. Messages come out as a sample's ``{role, content}`` messages
(roles mapped to the four a sample knows, tool calls written into the text), so the input
loads with :func:`assay.load_dataset` as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assay.core import AssayError, StoreError
from assay.store import Store
from assay.store.tables import feedback, span_events, spans, traces
from assay.trace.messages import as_messages, messages_from_events

_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}
_TEXT_KEYS = ("input", "question", "query", "prompt", "text", "message", "content")


SampleInput = str | list[dict[str, str]]


@dataclass(frozen=True)
class TraceMaterial:
    """What a case is made of, read from a stored (hence redacted) trace."""

    trace_id: str
    input: SampleInput | None
    output: str | None
    target: str | None
    session_id: str | None
    start_time: datetime


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _sample_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Display-form messages (:mod:`assay.trace.messages`) as a sample's ``{role, content}``
    messages: roles mapped to the four a sample knows, tool calls written into the text."""
    out = []
    for message in messages:
        role = _ROLES.get(str(message.get("role", "")).lower(), "user")
        content = message.get("content") or ""
        calls = message.get("tool_calls") or []
        if calls:
            rendered = ", ".join(
                f"{c.get('name') or 'tool'}({_compact(c.get('arguments'))})" for c in calls
            )
            content = (
                f"{content}\n[tool calls: {rendered}]" if content else f"[tool calls: {rendered}]"
            )
        out.append({"role": role, "content": str(content)})
    return out


def _as_input(value: Any) -> SampleInput | None:
    """A span's input as a sample input: messages when it holds messages, else text."""
    if value is None:
        return None
    messages = as_messages(value)
    if messages:
        return _sample_messages(messages)
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, dict):
        for key in _TEXT_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                return str(value[key])
        if isinstance(value.get("messages"), list):
            inner = as_messages(value["messages"])
            if inner:
                return _sample_messages(inner)
    return _compact(value)


def _as_output(value: Any) -> str | None:
    """A span's output as text: the last assistant message's content, or the value itself."""
    if value is None:
        return None
    messages = as_messages(value)
    if messages:
        answers = [m for m in messages if m.get("role") in ("assistant", "unknown")] or messages
        last = answers[-1]
        text = last.get("content") or ""
        if not text and last.get("tool_calls"):
            text = _compact(last["tool_calls"])
        return str(text)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("output", "answer", "content", "text", "response"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return _compact(value)


def _unknown_trace(store: Store, trace_id: str) -> AssayError:
    return StoreError(
        f"no trace {trace_id!r} in {store.url}",
        where="TRACE",
        fix="give a 32-hex-digit trace id from `assay traces list`",
    )


def trace_material(
    store: Store, trace_id: str, *, missing_ok: bool = False
) -> TraceMaterial | None:
    """The input, observed output and latest correction of a stored trace (``None`` for an
    unknown trace when ``missing_ok``, else a :class:`StoreError`).

    The input is the first LLM span's messages (from its ``input_json``, else from its GenAI
    message events), else the root span's input; the output is the last LLM span's answer,
    else the root span's output.
    """
    trace_id = trace_id.strip().lower()
    with store.engine.connect() as conn:
        trace = conn.execute(
            select(traces.c.session_id, traces.c.start_time).where(traces.c.id == trace_id)
        ).first()
        if trace is None:
            if missing_ok:
                return None
            raise _unknown_trace(store, trace_id)
        rows = conn.execute(
            select(
                spans.c.span_id,
                spans.c.parent_id,
                spans.c.kind,
                spans.c.input_json,
                spans.c.output_json,
            )
            .where(spans.c.trace_id == trace_id)
            .order_by(spans.c.start_time, spans.c.span_id)
        ).all()
        llm = [r for r in rows if r.kind == "llm"]
        events: dict[str, list[dict[str, Any]]] = {}
        if llm:
            query = (
                select(
                    span_events.c.span_id,
                    span_events.c.name,
                    span_events.c.body_json,
                    span_events.c.attributes_json,
                )
                .where(span_events.c.trace_id == trace_id)
                .order_by(span_events.c.time, span_events.c.id)
            )
            for span_id, name, body, attributes in conn.execute(query):
                events.setdefault(span_id, []).append(
                    {"name": name, "body": _loads(body), "attributes": _loads(attributes) or {}}
                )
        correction = conn.execute(
            select(feedback.c.correction)
            .where(feedback.c.trace_id == trace_id, feedback.c.kind == "correction")
            .order_by(feedback.c.created_at.desc(), feedback.c.id)
            .limit(1)
        ).scalar()
    span_ids = {r.span_id for r in rows}
    roots = [r for r in rows if r.parent_id is None or r.parent_id not in span_ids]
    input_: SampleInput | None = None
    output: str | None = None
    if llm:
        first, last = llm[0], llm[-1]
        input_ = _as_input(_loads(first.input_json))
        if input_ is None:
            from_events, _ = messages_from_events(events.get(first.span_id, []))
            input_ = _sample_messages(from_events) if from_events else None
        output = _as_output(_loads(last.output_json))
        if output is None:
            _, answers = messages_from_events(events.get(last.span_id, []))
            output = _as_output(answers) if answers else None
    for root in roots:
        if input_ is None:
            input_ = _as_input(_loads(root.input_json))
        if output is None:
            output = _as_output(_loads(root.output_json))
    return TraceMaterial(
        trace_id=trace_id,
        input=input_,
        output=output,
        target=correction,
        session_id=trace.session_id,
        start_time=trace.start_time,
    )
