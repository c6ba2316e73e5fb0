"""Planted traces for the query, CLI, API and browser tests (not a test module).

:func:`plant` writes, through the real writer (:func:`assay.trace.ingest.store_spans`):

- ``refund`` (oldest): a chain root ``POST /chat`` (0–1000 ms) with a retrieval (50–250 ms,
  two chunks with document, index and embedding versions), an LLM call (300–900 ms; hostile
  HTML in the user message; a ``gen_ai.evaluation.result`` score) and a tool call (400–500 ms),
  plus a span whose parent never arrived; feedback on the trace and on its session, and a
  delayed outcome of its session.
- ``error``: one LLM span that failed, model ``claude-x``, attributes ``tier=gold``, ``n=3``,
  ``beta=true``; its text mentions "Refund Window" and holds Rich markup.
- ``events``: an LLM span whose messages arrive only as GenAI events, and a second LLM span
  whose content is in an ``operation.details`` log record; its attributes hold ``tier=silver``
  and a ``note`` that mentions gold (a prefilter's false positive for ``tier=gold``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from assay.store import Store
from assay.store.tables import feedback, outcomes
from assay.trace.model import EvalResult, RetrievedDocument, SpanEvent, SpanRecord, ToolCall

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
MISSING_PARENT = "deadbeefdeadbeef"
#: Rich console markup in user text: the CLI must print it literally.
MARKUP = "[bold red]not markup[/bold red]"


@dataclass(frozen=True)
class Planted:
    refund: str
    error: str
    events: str


def _ms(base: datetime, ms: float) -> datetime:
    return base + timedelta(milliseconds=ms)


def _trace_id(n: int) -> str:
    return f"{n:02x}" + "a1" * 15


def refund_trace(trace_id: str, start: datetime) -> list[SpanRecord]:
    common = {"trace_id": trace_id, "service": "shop", "session_id": "sess-1", "user_id": "u-1"}
    return [
        SpanRecord(
            span_id="1000000000000001",
            name="POST /chat",
            start_time=start,
            end_time=_ms(start, 1000),
            kind="chain",
            status="ok",
            attributes={"app.route": "/refunds", "http.method": "POST"},
            **common,
        ),
        SpanRecord(
            span_id="1000000000000002",
            parent_id="1000000000000001",
            name="retrieve policy",
            start_time=_ms(start, 50),
            end_time=_ms(start, 250),
            kind="retrieval",
            input="refund policy",
            retrievals=[
                RetrievedDocument(
                    rank=0,
                    document_id="doc-refunds",
                    chunk_id="doc-refunds#3",
                    score=0.91,
                    content="Refunds within 30 days.",
                    document_version="v7",
                    index_version="idx-2025-03",
                    embedding_version="emb-3",
                ),
                RetrievedDocument(
                    rank=1,
                    document_id="doc-shipping",
                    chunk_id="doc-shipping#1",
                    score=0.42,
                    content="Shipping takes 5 days.",
                    document_version="v2",
                    index_version="idx-2025-03",
                    embedding_version="emb-3",
                ),
            ],
            **common,
        ),
        SpanRecord(
            span_id="1000000000000003",
            parent_id="1000000000000001",
            name="chat gpt-4o",
            start_time=_ms(start, 300),
            end_time=_ms(start, 900),
            kind="llm",
            convention="genai",
            status="ok",
            operation="chat",
            provider="openai",
            model_requested="gpt-4o",
            model_resolved="gpt-4o-2024-08-06",
            input_tokens=120,
            output_tokens=30,
            input=[
                {"role": "system", "content": "You answer refund questions."},
                {"role": "user", "content": f"Can I get a refund? {HOSTILE}"},
            ],
            output=[{"role": "assistant", "content": "Yes, within 30 days."}],
            attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.request.temperature": 0.2},
            tool_calls=[
                ToolCall(
                    position=0,
                    source="request",
                    tool="lookup_order",
                    call_id="call_1",
                    arguments={"order": "A-17"},
                )
            ],
            evaluations=[
                EvalResult(name="relevance", value=0.8, label="relevant", explanation="on topic")
            ],
            **common,
        ),
        SpanRecord(
            span_id="1000000000000004",
            parent_id="1000000000000003",
            name="lookup_order",
            start_time=_ms(start, 400),
            end_time=_ms(start, 500),
            kind="tool",
            tool_calls=[
                ToolCall(
                    position=0,
                    source="execution",
                    tool="lookup_order",
                    call_id="call_1",
                    arguments={"order": "A-17"},
                    result={"status": "delivered"},
                )
            ],
            **common,
        ),
        SpanRecord(
            span_id="1000000000000005",
            parent_id=MISSING_PARENT,
            name="late background job",
            start_time=_ms(start, 600),
            end_time=_ms(start, 700),
            kind="other",
            **common,
        ),
    ]


def error_trace(trace_id: str, start: datetime) -> list[SpanRecord]:
    return [
        SpanRecord(
            trace_id=trace_id,
            span_id="2000000000000001",
            name="chat claude-x",
            start_time=start,
            end_time=_ms(start, 2500),
            kind="llm",
            convention="openinference",
            status="error",
            status_message="upstream timeout",
            service="support",
            session_id="sess-2",
            user_id="u-2",
            model_requested="claude-x",
            input=[{"role": "user", "content": f"What is the Refund Window for shoes? {MARKUP}"}],
            attributes={"tier": "gold", "n": 3, "beta": True, "app.route": "/support"},
        )
    ]


def events_trace(trace_id: str, start: datetime) -> tuple[list[SpanRecord], list[SpanEvent]]:
    spans = [
        SpanRecord(
            trace_id=trace_id,
            span_id="3000000000000001",
            name="chat mini",
            start_time=start,
            end_time=_ms(start, 400),
            kind="llm",
            convention="genai",
            service="shop",
            session_id="sess-3",
            user_id="u-3",
            model_requested="gpt-4o-mini",
            model_resolved="gpt-4o-mini-2024-07-18",
            attributes={"tier": "silver", "note": "not gold at all"},
            events=[
                SpanEvent(
                    trace_id=trace_id,
                    span_id="3000000000000001",
                    name="gen_ai.system.message",
                    time=_ms(start, 1),
                    source="event",
                    attributes={"content": "Be brief."},
                ),
                SpanEvent(
                    trace_id=trace_id,
                    span_id="3000000000000001",
                    name="gen_ai.user.message",
                    time=_ms(start, 2),
                    source="event",
                    attributes={"content": "Where is my parcel?"},
                ),
                SpanEvent(
                    trace_id=trace_id,
                    span_id="3000000000000001",
                    name="gen_ai.choice",
                    time=_ms(start, 399),
                    source="event",
                    body=None,
                    attributes={
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "It ships tomorrow."},
                    },
                ),
                SpanEvent(
                    trace_id=trace_id,
                    span_id="3000000000000001",
                    name="retry",
                    time=_ms(start, 100),
                    source="event",
                    attributes={"attempt": 2},
                ),
            ],
        ),
        SpanRecord(
            trace_id=trace_id,
            span_id="3000000000000002",
            parent_id="3000000000000001",
            name="chat details",
            start_time=_ms(start, 100),
            end_time=_ms(start, 300),
            kind="llm",
            convention="genai",
            service="shop",
            model_requested="gpt-4o-mini",
        ),
    ]
    logs = [
        SpanEvent(
            trace_id=trace_id,
            span_id="3000000000000002",
            name="gen_ai.client.inference.operation.details",
            time=_ms(start, 300),
            source="log",
            attributes={
                "gen_ai.system_instructions": [{"type": "text", "content": "Use tools."}],
                "gen_ai.input.messages": [
                    {"role": "user", "parts": [{"type": "text", "content": "Track parcel 9"}]}
                ],
                "gen_ai.output.messages": [
                    {
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool_call",
                                "id": "c9",
                                "name": "track",
                                "arguments": {"parcel": 9},
                            }
                        ],
                        "finish_reason": "tool_call",
                    }
                ],
            },
        )
    ]
    return spans, logs


def plant(store: Store, *, start: datetime = T0, base: int = 1) -> Planted:
    """Store the three traces (an hour apart, ``refund`` first) with feedback and outcomes."""
    from assay.trace.ingest import store_spans

    ids = Planted(_trace_id(base), _trace_id(base + 1), _trace_id(base + 2))
    store_spans(store, refund_trace(ids.refund, start))
    store_spans(store, error_trace(ids.error, start + timedelta(hours=1)))
    spans, logs = events_trace(ids.events, start + timedelta(hours=2))
    store_spans(store, spans, logs)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        conn.execute(
            insert(feedback),
            [
                {
                    "id": uuid.uuid4().hex,
                    "trace_id": ids.refund,
                    "session_id": None,
                    "kind": "thumbs",
                    "label": None,
                    "value": 0.0,
                    "comment": "wrong <b>answer</b>",
                    "rater_role": "end_user",
                    "surface": "prod",
                    "created_at": now,
                },
                {
                    "id": uuid.uuid4().hex,
                    "trace_id": None,
                    "session_id": "sess-1",
                    "kind": "label",
                    "value": None,
                    "label": "frustrated",
                    "comment": None,
                    "rater_role": "internal",
                    "surface": "debug",
                    "created_at": now,
                },
            ],
        )
        conn.execute(
            insert(outcomes),
            {
                "id": uuid.uuid4().hex,
                "session_id": "sess-1",
                "event": "ticket_reopened",
                "bad": True,
                "occurred_at": start + timedelta(days=3),
                "created_at": now,
            },
        )
    return ids
