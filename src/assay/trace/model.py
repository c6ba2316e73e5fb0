"""assay's one model of a span, whatever convention it arrived in.

The OpenTelemetry GenAI conventions (``gen_ai.*``), OpenInference (``llm.*``, ``input.value``,
``retrieval.documents.*``) and the importers (Langfuse observations, Phoenix spans) all map to
:class:`SpanRecord`; the writer stores it as one row of ``spans`` plus rows of ``retrievals``,
``tool_calls``, ``span_events`` and ``trace_scores``. Plain dataclasses (with slots): the receiver
builds thousands a second, and pydantic's validation would be most of its cost.

Ids are lower-case hex: 32 digits for a trace id, 16 for a span id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

SpanKind = Literal["llm", "retrieval", "tool", "embedding", "chain", "agent", "other"]
SPAN_KINDS: tuple[str, ...] = ("llm", "retrieval", "tool", "embedding", "chain", "agent", "other")

#: A message: ``{"role": ..., "content": ..., "tool_calls": [...], "tool_call_id": ...}``
#: (``content`` a string, or a list of parts for multimodal input).
Message = dict[str, Any]


def nanos_to_datetime(nanos: int) -> datetime:
    """A Unix time in nanoseconds (OTLP's ``time_unix_nano``) as an aware UTC datetime."""
    seconds, rest = divmod(int(nanos), 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


@dataclass(slots=True)
class RetrievedDocument:
    """One document a retrieval span returned (F3)."""

    rank: int
    document_id: str | None = None
    chunk_id: str | None = None
    score: float | None = None
    content: str | None = None
    document_version: str | None = None
    index_version: str | None = None
    embedding_version: str | None = None


@dataclass(slots=True)
class ToolCall:
    """A tool call: requested by a model (``source="request"``) or executed by a tool span
    (``source="execution"``). ``arguments`` and ``result`` are JSON-like values."""

    position: int
    source: Literal["request", "execution"]
    tool: str | None = None
    call_id: str | None = None
    arguments: Any = None
    result: Any = None
    error: str | None = None
    idempotency_key: str | None = None


@dataclass(slots=True)
class SpanEvent:
    """A span event or an OTLP log record correlated to a span (``source`` ``event``/``log``).

    ``body`` is the log record's body (any JSON-like value); ``attributes`` its attributes.
    """

    trace_id: str
    span_id: str | None
    name: str
    time: datetime
    source: Literal["event", "log"]
    body: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EvalResult:
    """A score on a span computed elsewhere (the GenAI ``gen_ai.evaluation.result`` event) or by
    assay (an online judge, a reviewer)."""

    name: str
    value: float | None = None
    label: str | None = None
    explanation: str | None = None
    response_id: str | None = None
    source: str = "otel"


@dataclass(slots=True)
class SpanRecord:
    """One span in assay's model.

    ``kind`` is one of :data:`SPAN_KINDS`; ``convention`` says which mapping produced it
    (``genai``, ``openinference``, ``langfuse``, ``phoenix`` or ``otel`` for a span of neither).
    ``input``/``output`` are lists of messages for LLM spans, or any JSON-like value otherwise
    (a retrieval query, a tool's arguments). ``attributes`` keeps every attribute of the span,
    known or not (flattened OTLP keys), so nothing the client sent is dropped. ``flags`` are the
    receiver's notes: ``clock_skew`` (end before start), ``truncated`` (attribute keys cut).
    """

    trace_id: str
    span_id: str
    name: str
    start_time: datetime
    end_time: datetime
    parent_id: str | None = None
    kind: str = "other"
    convention: str = "otel"
    status: Literal["unset", "ok", "error"] = "unset"
    status_message: str | None = None
    service: str | None = None
    operation: str | None = None
    provider: str | None = None
    model_requested: str | None = None
    model_resolved: str | None = None
    system_fingerprint: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    session_id: str | None = None
    user_id: str | None = None
    input: Any = None
    output: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    retrievals: list[RetrievedDocument] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    events: list[SpanEvent] = field(default_factory=list)
    evaluations: list[EvalResult] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    # Usage details, as providers bill them (parts of input_tokens / output_tokens; see
    # assay.trace.usage), the first-token and queue times, and the requested max_tokens.
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    input_audio_tokens: int | None = None
    output_audio_tokens: int | None = None
    input_image_tokens: int | None = None
    request_max_tokens: int | None = None
    ttft_ms: float | None = None
    queue_ms: float | None = None

    @property
    def duration_ms(self) -> float:
        """End minus start in milliseconds; 0 when the clock skewed (end before start)."""
        return max(0.0, (self.end_time - self.start_time).total_seconds() * 1000.0)
