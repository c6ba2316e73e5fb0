"""Simulated production traffic with known truth, as the sim world is for runs (SIMULATION ONLY).

A small app on the sim world (routes ``support-qa``, ``json-extract`` that must answer JSON,
``agent-orders`` an agent with tool calls, ``rag-search`` with embedding and retrieval spans),
instrumented with the real OpenTelemetry SDK (a fresh ``TracerProvider`` per call with a
``BatchSpanProcessor``; the global provider is never touched). Every span carries explicit
start and end times on a simulated clock, so a week of traffic takes seconds::

    from assay.testing.traffic import TrafficConfig, simulate
    result = simulate(TrafficConfig(seed=7, days=7, requests=2000), exporter=InMemorySpanExporter())
    result = simulate(TrafficConfig(), endpoint="http://127.0.0.1:8765", token="T")  # OTLP/HTTP
    result.truth.incident("json_break").affected_trace_ids
    result.feedback, result.outcomes      # dicts for POST /api/feedback and /api/outcomes

What it emits: sessions (multi-turn, ``gen_ai.conversation.id`` / ``session.id``), pseudonymous
users with Pareto-distributed activity, segments, locales, countries, an hour-of-week profile in
each user's local time, intents (a share needing clarification or a refusal), token usage and
latency with heavy tails, ``length`` truncations at ``max_tokens``, provider errors with a
retry, tool errors, retrieval spans with document and chunk ids, ranks, scores and index and
embedding versions; spans follow the OpenTelemetry GenAI conventions, and the routes named in
``openinference_routes`` follow OpenInference instead. Emails, phone numbers (fictional ranges)
and Luhn-valid card numbers are planted in inputs, outputs, retrieved chunks and tool arguments.

Planted incidents (:class:`Incident`), each from a known start time:

* ``json_break``: the extraction prompt changes (``app.prompt.version`` ``extract-v3`` →
  ``extract-v4``) and 80 % of ``json-extract`` outputs stop parsing;
* ``model_swap``: the backend behind a model name changes (``gen_ai.request.model`` stays,
  ``gen_ai.response.model`` and the system fingerprint change; answers get worse and 60 %
  longer) on every route using that name;
* ``agent_loop``: an ``agent-orders`` session starts calling ``lookup_order`` over and over and
  creates the same order twice under one idempotency key, with its whole history in every
  call, until the step limit stops it (tokens and cost explode).

Feedback records: ``{"trace_id", "span_id", "session_id", "kind" (thumbs|score|correction|
label), "value" (thumbs: 1 up, 0 down), "label", "correction", "comment", "rater_id",
"rater_role" (end_user|internal|labeler), "surface" (prod|staging|debug), "intent", "time"}``;
outcome records: ``{"session_id", "trace_id", "event", "value", "bad", "time", "attributes"}``
(times ISO-8601 UTC).

Command line: ``python -m assay.testing traffic --endpoint URL [--days 7 --requests 2000
--seed 7 --token T --truth truth.json]`` sends the spans over OTLP/HTTP (protobuf), then posts
the feedback and outcomes to ``URL/api/feedback`` and ``URL/api/outcomes``.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assay.core import ConfigError
from assay.testing._traffic_truth import (
    IncidentTruth,
    PlantedPII,
    SessionTruth,
    TraceTruth,
    TrafficTruth,
    UserTruth,
)
from assay.testing._traffic_world import LOCALES, NS, ROUTES, SIM_PRICES

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "DEFAULT_START",
    "Incident",
    "IncidentTruth",
    "PlantedPII",
    "SessionTruth",
    "TraceTruth",
    "TrafficConfig",
    "TrafficResult",
    "TrafficTruth",
    "UserTruth",
    "simulate",
]

#: Default start of the window: a Monday, 00:00 UTC (fixed, so a seed fixes every timestamp).
DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)
DEFAULT_MODELS = {
    "support-qa": "atlas-large",
    "rag-search": "atlas-large",
    "json-extract": "atlas-small",
    "agent-orders": "boreal-medium",
}
_INCIDENT_ROUTES = {"json_break": ("json-extract",), "agent_loop": ("agent-orders",)}
_DESCRIPTIONS = {
    "json_break": "prompt change extract-v3 -> extract-v4 breaks JSON output on json-extract",
    "model_swap": "the backend behind {model} is swapped: same request model, new response "
    "model and fingerprint, lower quality, longer answers",
    "agent_loop": "an agent-orders session loops on lookup_order and creates the same order "
    "twice under one idempotency key",
}


class Incident(BaseModel):
    """A planted incident starting ``at`` days after the window's start.

    ``model`` (``model_swap`` only) is the requested model name whose backend changes (default:
    the ``support-qa`` route's model); ``sessions`` (``agent_loop`` only) is how many
    ``agent-orders`` sessions loop (the first ones to start at or after the incident).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["json_break", "model_swap", "agent_loop"]
    at: float = Field(ge=0)
    model: str | None = None
    sessions: int = Field(1, ge=1)


class TrafficConfig(BaseModel):
    """What to simulate. Shares are relative weights (normalised); ``routes`` shares are shares
    of requests, ``segments`` and ``locales`` shares of users. ``users`` defaults to one per
    seven requests (at least 10). ``incidents=None`` plants the three incidents at 35 %, 55 %
    and 75 % of the window; ``()`` plants none. ``models`` maps a route to a sim system
    (:data:`assay.providers.sim.SIM_SYSTEMS`); routes left out keep their default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 7
    days: float = Field(7.0, gt=0, le=366)
    requests: int = Field(2000, ge=1, le=10_000_000)
    start: datetime = DEFAULT_START
    users: int | None = Field(None, ge=1)
    service: str = Field("sim-shop", min_length=1)
    environment: str = Field("production", min_length=1)
    staging_share: float = Field(0.03, ge=0, lt=1)
    routes: dict[str, float] = Field(
        default_factory=lambda: {
            "support-qa": 0.4,
            "json-extract": 0.2,
            "agent-orders": 0.2,
            "rag-search": 0.2,
        }
    )
    models: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODELS))
    openinference_routes: tuple[str, ...] = ("rag-search",)
    segments: dict[str, float] = Field(
        default_factory=lambda: {"free": 0.6, "pro": 0.3, "enterprise": 0.1}
    )
    locales: dict[str, float] = Field(
        default_factory=lambda: {
            "en-US": 0.42,
            "en-GB": 0.10,
            "de-DE": 0.10,
            "fr-FR": 0.08,
            "es-MX": 0.07,
            "pt-BR": 0.06,
            "en-IN": 0.09,
            "ja-JP": 0.08,
        }
    )
    activity_alpha: float = Field(1.5, gt=0)
    weekend_factor: float = Field(0.45, ge=0)
    clarification_share: float = Field(0.08, ge=0, le=1)
    refusal_share: float = Field(0.03, ge=0, le=1)
    pii_share: float = Field(0.08, ge=0, le=1)
    error_rate: float = Field(0.02, ge=0, le=1)
    feedback_rate: float = Field(0.05, ge=0, le=1)
    evaluation_share: float = Field(0.1, ge=0, le=1)
    incidents: tuple[Incident, ...] | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"invalid traffic setting {where!r}: {err['msg']}",
                where=f"TrafficConfig.{where}",
                fix=f"valid settings: {', '.join(type(self).model_fields)}",
            ) from exc

    @field_validator("models")
    @classmethod
    def _merge_models(cls, value: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_MODELS, **value}

    @model_validator(mode="after")
    def _check(self) -> TrafficConfig:
        known = ", ".join(ROUTES)
        for name, keys in (
            ("routes", self.routes),
            ("models", self.models),
            ("openinference_routes", self.openinference_routes),
        ):
            unknown = sorted(set(keys) - set(ROUTES))
            if unknown:
                raise ConfigError(
                    f"unknown route(s) {', '.join(map(repr, unknown))}",
                    where=f"TrafficConfig.{name}",
                    fix=f"the simulated app has the routes {known}",
                )
        for model in self.models.values():
            if model not in SIM_PRICES:
                raise ConfigError(
                    f"unknown sim system {model!r}",
                    where="TrafficConfig.models",
                    fix=f"use one of {', '.join(SIM_PRICES)}",
                )
        unknown = sorted(set(self.locales) - set(LOCALES))
        if unknown:
            raise ConfigError(
                f"unknown locale(s) {', '.join(map(repr, unknown))}",
                where="TrafficConfig.locales",
                fix=f"known locales: {', '.join(LOCALES)}",
            )
        for name, shares in (
            ("routes", self.routes),
            ("segments", self.segments),
            ("locales", self.locales),
        ):
            if (
                any(not math.isfinite(v) or v < 0 for v in shares.values())
                or sum(shares.values()) <= 0
            ):
                raise ConfigError(
                    "shares must be finite, non-negative and not all zero",
                    where=f"TrafficConfig.{name}",
                    fix="give each entry a weight >= 0, at least one > 0",
                )
        if self.clarification_share + self.refusal_share >= 1:
            raise ConfigError(
                "clarification_share + refusal_share must be below 1",
                where="TrafficConfig.clarification_share",
            )
        if self.start.tzinfo is None:
            raise ConfigError(
                "start must be timezone-aware",
                where="TrafficConfig.start",
                fix="give an offset, e.g. 2026-03-02T00:00:00+00:00",
            )
        for i, incident in enumerate(self.incidents or ()):
            if incident.at >= self.days:
                raise ConfigError(
                    f"incident {incident.kind!r} at day {incident.at} is outside the "
                    f"{self.days}-day window",
                    where=f"TrafficConfig.incidents.{i}.at",
                    fix=f"use 0 <= at < {self.days}",
                )
            if incident.model is not None and incident.model not in self.models.values():
                raise ConfigError(
                    f"no route uses model {incident.model!r}",
                    where=f"TrafficConfig.incidents.{i}.model",
                    fix=f"models in use: {', '.join(sorted(set(self.models.values())))}",
                )
        return self

    def planted_incidents(self) -> tuple[Incident, ...]:
        """The incidents to plant: the configured ones, or the default three."""
        if self.incidents is not None:
            return self.incidents
        return (
            Incident(kind="json_break", at=0.35 * self.days),
            Incident(kind="model_swap", at=0.55 * self.days),
            Incident(kind="agent_loop", at=0.75 * self.days),
        )


@dataclass(slots=True)
class TrafficResult:
    """What :func:`simulate` produced. ``n_spans`` spans were emitted; the exporter accepted
    ``n_exported`` of them and reported ``n_export_failed`` as failed (an OTLP endpoint that
    refused a batch, say)."""

    truth: TrafficTruth
    feedback: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    trace_ids: list[str]
    n_spans: int
    n_exported: int
    n_export_failed: int


def simulate(
    config: TrafficConfig | None = None,
    *,
    exporter: SpanExporter | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrafficResult:
    """Run the simulated app over ``config``'s window and export every span.

    Give exactly one of ``exporter`` (any OpenTelemetry ``SpanExporter``, e.g. the SDK's
    ``InMemorySpanExporter``; it is not shut down) or ``endpoint`` (a base URL: spans go to
    ``{endpoint}/v1/traces`` through ``OTLPSpanExporter`` over HTTP/protobuf, with
    ``Authorization: Bearer {token}`` when a token is given). ``progress(done, total)`` is
    called as requests are simulated. Deterministic for a seed: ids, times and attributes.
    """
    from assay.testing._traffic_otel import run

    cfg = config or TrafficConfig()
    if (exporter is None) == (endpoint is None):
        raise ConfigError(
            "give exactly one of exporter= and endpoint=",
            where="simulate",
            fix="exporter=InMemorySpanExporter() in tests, endpoint='http://127.0.0.1:8765' "
            "to send over OTLP/HTTP",
        )
    return run(cfg, exporter=exporter, endpoint=endpoint, token=token, progress=progress)


def window_end(cfg: TrafficConfig) -> datetime:
    """The end of the simulated window."""
    return cfg.start + timedelta(days=cfg.days)


def start_ns(cfg: TrafficConfig) -> int:
    """The window's start in Unix nanoseconds."""
    start = cfg.start.astimezone(UTC)
    return int(start.replace(microsecond=0).timestamp()) * NS + start.microsecond * 1000


def seeded(cfg: TrafficConfig, purpose: str) -> random.Random:
    """A generator for one purpose (population, app, feedback …): changing how one part draws
    leaves the others' draws as they were."""
    return random.Random(f"{cfg.seed}:{purpose}")


def main(argv: list[str] | None = None) -> int:
    """``python -m assay.testing traffic [...]`` (``argv`` without the ``traffic`` word);
    returns the exit status. See :mod:`assay.testing._traffic_cli`."""
    from assay.testing._traffic_cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv)
