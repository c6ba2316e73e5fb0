"""The per-trace machinery of the traffic simulator: spans, the simulated clock, PII truth.

:class:`TraceEmitter` opens and closes the spans of one trace through a real OpenTelemetry
``Tracer`` with explicit start and end times, and records, for the ground truth, every attribute
a planted personal value lands in. :class:`Turn` is one request's state while its trace is
emitted; :class:`SessionState` what a conversation carries from turn to turn.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from assay.testing._traffic_content import UserTurn
from assay.testing._traffic_conventions import Attributes, Convention, Message, dumps
from assay.testing._traffic_truth import PlantedPII, TraceTruth
from assay.testing._traffic_world import NS, SessionPlan, lognormal

MS = 1_000_000


def tokens_of(text: str) -> int:
    """A token count of about four characters a token (what the sim app reports as usage)."""
    return max(1, (len(text) + 2) // 4)


def message_tokens(messages: Iterable[Message]) -> int:
    total = 0
    for m in messages:
        total += 4 + (tokens_of(m["content"]) if m.get("content") else 0)
        for call in m.get("tool_calls") or ():
            total += tokens_of(dumps(call["arguments"])) + 6
    return total


def seam_of(role: str, key: str) -> str:
    """The seam an attribute belongs to (for the PII truth): input, output, retrieval,
    tool_arguments or tool_result."""
    if role == "tool":
        if key in ("gen_ai.tool.call.arguments", "tool.parameters", "input.value"):
            return "tool_arguments"
        return "tool_result"
    if role == "retrieval" and "documents" in key:
        return "retrieval"
    return "output" if "output" in key else "input"


class TraceEmitter:
    """Opens and closes the spans of one trace and records where planted values land."""

    def __init__(self, tracer: Tracer, common: Attributes, candidates: list[tuple[str, str, str]]):
        self.tracer = tracer
        self.common = common
        self.candidates = list(candidates)
        self.found: dict[str, PlantedPII] = {}
        self.trace_id = ""
        self.n_spans = 0

    def plant(self, kind: str, value: str, seam: str) -> None:
        """Track a planted value from now on (``seam``: where it entered)."""
        if all(value != v for _, v, _ in self.candidates):
            self.candidates.append((kind, value, seam))

    def open(
        self, role: str, name: str, kind: Any, attrs: Attributes, start: int, parent: Span | None
    ) -> Span:
        context = Context() if parent is None else otel_trace.set_span_in_context(parent)
        attrs = {**self.common, **attrs}
        span = self.tracer.start_span(
            name, context=context, kind=kind, attributes=attrs, start_time=start
        )
        if not self.trace_id:
            self.trace_id = f"{span.get_span_context().trace_id:032x}"
        self.n_spans += 1
        self._scan(span, role, attrs)
        return span

    def close(
        self,
        span: Span,
        role: str,
        end: int,
        attrs: Attributes | None = None,
        error: str | None = None,
    ) -> None:
        if attrs:
            span.set_attributes(attrs)
            self._scan(span, role, attrs)
        if error is not None:
            kind, _, message = error.partition(": ")
            span.add_event(
                "exception", {"exception.type": kind, "exception.message": message}, timestamp=end
            )
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end)

    def _scan(self, span: Span, role: str, attrs: Attributes) -> None:
        if not self.candidates:
            return
        span_id = f"{span.get_span_context().span_id:016x}"
        for kind, value, seam in self.candidates:
            for key, text in attrs.items():
                if isinstance(text, str) and value in text:
                    record = self.found.get(value)
                    if record is None:
                        record = PlantedPII(self.trace_id, kind, value, seam)
                        self.found[value] = record
                    record.appearances.append((span_id, key, seam_of(role, key)))


@dataclass(slots=True)
class Turn:
    """The state of one request while its trace is emitted."""

    plan: SessionPlan
    truth: TraceTruth
    emitter: TraceEmitter
    conv: Convention
    user: UserTurn
    root: Span
    clock: int
    environment: str
    answer: str | None = None
    failure: str | None = None
    error: str | None = None
    final_span_id: str | None = None
    epoch: int = 0


@dataclass(slots=True)
class SessionState:
    history: list[Message] = field(default_factory=list)
    pii: list[tuple[str, str, str]] = field(default_factory=list)
    idempotency_key: str | None = None
    orders: list[str] = field(default_factory=list)


def ms(rng: random.Random, median_ms: float, sigma: float = 0.3) -> int:
    """A lognormal duration in nanoseconds with the given median in milliseconds."""
    return int(lognormal(rng, median_ms, sigma) * MS)


def to_datetime(ns: int) -> datetime:
    seconds, rest = divmod(ns, NS)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def to_ns(when: datetime) -> int:
    return int(when.timestamp()) * NS + when.microsecond * 1000
