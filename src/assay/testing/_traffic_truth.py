"""The ground truth of simulated production traffic: what was planted, where and when.

Later production features (monitoring, cost and latency reports, agent audits, redaction,
delayed-outcome joins, composition) are tested against these records: a detector is right when
it finds what the truth says and nothing else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class PlantedPII:
    """A personal value planted in one trace: ``seam`` says where it entered (``input`` the
    user's message, ``output`` the model's answer, ``retrieval`` a retrieved chunk,
    ``tool_arguments`` a tool call's arguments); ``appearances`` lists every ``(span_id,
    attribute)`` of the trace whose value contains it (a value travels: a user's email is in
    the root's input, the LLM's input messages and the next turns' history)."""

    trace_id: str
    kind: str
    value: str
    seam: str
    appearances: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class TraceTruth:
    """One simulated request. ``failure`` is why it failed (``None``: it did not): ``error``,
    ``truncated``, ``json_invalid``, ``wrong_answer``, ``missed_clarification``,
    ``missed_refusal`` or ``agent_loop``. ``expected`` is the behaviour the input called for
    (``answer``, ``clarify``, ``refuse``). Tokens sum every usage the spans report (chat and
    embeddings); ``cost_usd`` prices chat tokens with
    :data:`assay.testing._traffic_world.SIM_PRICES`."""

    trace_id: str
    route: str
    environment: str
    convention: str
    session_id: str
    user_id: str
    segment: str
    locale: str
    country: str
    continent: str
    actor: str
    intent: str
    expected: str
    turn: int
    start: datetime
    end: datetime
    hour_of_week: int
    local_hour_of_week: int
    model_requested: str
    model_resolved: str | None = None
    n_spans: int = 0
    n_llm_calls: int = 0
    n_tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    status: str = "ok"
    failure: str | None = None
    incidents: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.failure is not None


@dataclass(slots=True)
class SessionTruth:
    """A conversation: its traces in order, whether any failed, the outcome events sent for it,
    and whether a bad outcome makes its traces ``failed_delayed``."""

    session_id: str
    user_id: str
    route: str
    environment: str
    trace_ids: list[str] = field(default_factory=list)
    failed: bool = False
    outcomes: list[str] = field(default_factory=list)
    failed_delayed: bool = False


@dataclass(slots=True)
class UserTruth:
    """A pseudonymous user: ``weight`` is the Pareto activity weight that drew their sessions."""

    user_id: str
    segment: str
    locale: str
    country: str
    continent: str
    actor: str
    environment: str
    weight: float
    n_requests: int = 0


@dataclass(slots=True)
class IncidentTruth:
    """A planted incident: ``exposed_trace_ids`` are the traces on its routes at or after
    ``start``; ``affected_trace_ids`` those whose behaviour it changed (unparsable JSON, served by
    the swapped model, looping). ``details`` holds the before/after facts (models, fingerprints,
    prompt versions, the looping session, the repeated idempotency key)."""

    kind: str
    routes: list[str]
    start: datetime
    description: str
    exposed_trace_ids: list[str] = field(default_factory=list)
    affected_trace_ids: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TrafficTruth:
    """Everything :func:`assay.testing.traffic.simulate` planted. Times are aware UTC datetimes;
    ``start``/``end`` bound the simulated window (a session may run a little past ``end``;
    delayed outcomes arrive up to a week after it)."""

    seed: int
    start: datetime
    end: datetime
    service: str
    incidents: list[IncidentTruth] = field(default_factory=list)
    traces: dict[str, TraceTruth] = field(default_factory=dict)
    sessions: dict[str, SessionTruth] = field(default_factory=dict)
    users: dict[str, UserTruth] = field(default_factory=dict)
    pii: list[PlantedPII] = field(default_factory=list)

    @property
    def failed_trace_ids(self) -> list[str]:
        """Traces that failed at the time (not counting delayed outcomes), in time order."""
        return [t.trace_id for t in self.traces.values() if t.failed]

    @property
    def failed_delayed_trace_ids(self) -> list[str]:
        """Traces of sessions with a bad delayed outcome (E3's ``failed_delayed``)."""
        return [tid for s in self.sessions.values() if s.failed_delayed for tid in s.trace_ids]

    @property
    def route_counts(self) -> dict[str, int]:
        return dict(Counter(t.route for t in self.traces.values()))

    def incident(self, kind: str) -> IncidentTruth:
        """The (first) planted incident of ``kind``; KeyError if none was planted."""
        for incident in self.incidents:
            if incident.kind == kind:
                return incident
        raise KeyError(f"no {kind!r} incident was planted")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO-8601 strings)."""

        def convert(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [convert(v) for v in value]
            return value

        data: dict[str, Any] = convert(asdict(self))
        data["failed_trace_ids"] = self.failed_trace_ids
        data["failed_delayed_trace_ids"] = self.failed_delayed_trace_ids
        data["route_counts"] = self.route_counts
        return data
