"""The OpenTelemetry SDK side of the traffic simulator: providers, ids, export, the run loop.

One ``TracerProvider`` per deployment environment (its ``Resource`` carries ``service.name``
and ``deployment.environment``), never the global one, each with a ``BatchSpanProcessor`` in
front of a shared exporter. Ids come from a seeded generator so a seed fixes them. The batch
processor drops spans when its queue is full, so the run flushes whenever the spans emitted
since the last flush could fill it: nothing is dropped, however fast the simulator runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.semconv._incubating.attributes.deployment_attributes import (
    DEPLOYMENT_ENVIRONMENT,
    DEPLOYMENT_ENVIRONMENT_NAME,
)
from opentelemetry.semconv._incubating.attributes.service_attributes import SERVICE_INSTANCE_ID
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME, SERVICE_VERSION

from assay.testing._traffic_app import ActiveIncident, TrafficApp
from assay.testing._traffic_signals import make_feedback, make_outcomes
from assay.testing._traffic_truth import IncidentTruth, SessionTruth, TrafficTruth, UserTruth
from assay.testing._traffic_world import SessionPlan, make_users, plan_sessions
from assay.testing.traffic import (
    _DESCRIPTIONS,
    _INCIDENT_ROUTES,
    TrafficConfig,
    TrafficResult,
    seeded,
    start_ns,
    window_end,
)

MAX_QUEUE = 8192
SERVICE_VERSION_VALUE = "1.4.2"


class SeededIds(IdGenerator):
    """Trace and span ids from a seeded ``random.Random`` (the SDK's default draws from the
    process-wide generator, so two runs would differ). Never zero, as W3C Trace Context
    requires of valid ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1

    def is_trace_id_random(self) -> bool:
        return True


class CountingExporter(SpanExporter):
    """Passes batches to ``inner`` and counts what it accepted and refused. Its ``shutdown``
    does not shut ``inner`` down: two providers share it, and a caller's exporter is theirs."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.exported = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _provider(
    cfg: TrafficConfig, environment: str, ids: IdGenerator, exporter: SpanExporter
) -> tuple[TracerProvider, BatchSpanProcessor]:
    resource = Resource.create(
        {
            SERVICE_NAME: cfg.service,
            SERVICE_VERSION: SERVICE_VERSION_VALUE,
            # Fixed, or the SDK would add a random one and two runs would differ.
            SERVICE_INSTANCE_ID: f"{cfg.service}-{environment}-{cfg.seed}",
            DEPLOYMENT_ENVIRONMENT_NAME: environment,
            DEPLOYMENT_ENVIRONMENT: environment,  # the older name, still widely read
            "assay.simulated": True,
        }
    )
    provider = TracerProvider(
        resource=resource,
        sampler=ALWAYS_ON,
        id_generator=ids,
        # Long agent histories: keep every attribute and event rather than the SDK's 128.
        span_limits=SpanLimits(
            max_span_attributes=4096,
            max_events=256,
            max_span_attribute_length=4_000_000,
        ),
        shutdown_on_exit=False,
    )
    processor = BatchSpanProcessor(
        exporter, max_queue_size=MAX_QUEUE, schedule_delay_millis=200, max_export_batch_size=512
    )
    provider.add_span_processor(processor)
    return provider, processor


def _otlp_exporter(endpoint: str, token: str | None) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = {"Authorization": f"Bearer {token}"} if token else None
    return OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces", headers=headers)


def _activate(
    cfg: TrafficConfig, plans: list[SessionPlan], truth: TrafficTruth, t0: int
) -> list[ActiveIncident]:
    """Resolve the configured incidents to times and routes, and pick the looping sessions."""
    active: list[ActiveIncident] = []
    for incident in cfg.planted_incidents():
        at = t0 + int(incident.at * 86400 * 1_000_000_000)
        model = None
        if incident.kind == "model_swap":
            model = incident.model or cfg.models["support-qa"]
            routes = tuple(r for r in cfg.routes if cfg.models[r] == model)
        else:
            routes = _INCIDENT_ROUTES[incident.kind]
        record = IncidentTruth(
            kind=incident.kind,
            routes=list(routes),
            start=cfg.start.astimezone(UTC) + timedelta(days=incident.at),
            description=_DESCRIPTIONS[incident.kind].format(model=model),
        )
        if incident.kind == "json_break":
            record.details.update({"prompt_before": "extract-v3", "prompt_after": "extract-v4"})
        if incident.kind == "agent_loop":
            chosen = [
                p
                for p in plans
                if p.route == "agent-orders" and not p.user.environment and p.start_ns >= at
            ][: incident.sessions]
            for plan in chosen:
                plan.loop = True
            record.details["sessions"] = [p.id for p in chosen]
        truth.incidents.append(record)
        active.append(ActiveIncident(incident.kind, at, routes, record, model, incident.sessions))
    return active


def run(
    cfg: TrafficConfig,
    *,
    exporter: SpanExporter | None,
    endpoint: str | None,
    token: str | None,
    progress: Callable[[int, int], None] | None,
) -> TrafficResult:
    """The body of :func:`assay.testing.traffic.simulate` (arguments already checked)."""
    t0 = start_ns(cfg)
    t_end = t0 + int(cfg.days * 86400 * 1_000_000_000)
    truth = TrafficTruth(
        cfg.seed, cfg.start.astimezone(UTC), window_end(cfg).astimezone(UTC), cfg.service
    )
    population = seeded(cfg, "population")
    n_users = cfg.users or max(10, cfg.requests // 7)
    users, staff = make_users(
        population,
        n_users,
        cfg.segments,
        cfg.locales,
        cfg.activity_alpha,
        n_internal=4 if cfg.staging_share > 0 else 0,
    )
    plans = plan_sessions(
        population,
        users=users,
        staff=staff,
        routes=cfg.routes,
        requests=cfg.requests,
        start_ns=t0,
        end_ns=t_end,
        weekend_factor=cfg.weekend_factor,
        staging_share=cfg.staging_share,
    )
    incidents = _activate(cfg, plans, truth, t0)
    for user in [*users, *staff]:
        truth.users[user.id] = UserTruth(
            user.id,
            user.segment,
            user.locale,
            user.country,
            user.continent,
            user.actor,
            user.environment or cfg.environment,
            user.weight,
        )

    owned = exporter is None
    inner = _otlp_exporter(endpoint or "", token) if exporter is None else exporter
    counting = CountingExporter(inner)
    ids = SeededIds(seeded(cfg, "ids"))
    environments = [cfg.environment] + (["staging"] if staff else [])
    providers = {env: _provider(cfg, env, ids, counting) for env in environments}
    tracers = {
        env: provider.get_tracer("assay.testing.traffic", "1.0")
        for env, (provider, _) in providers.items()
    }
    try:
        app = TrafficApp(cfg, tracers, truth, incidents)
        done = since_flush = 0
        for plan in plans:
            before = sum(truth.traces[t].n_spans for t in plan.trace_ids)
            app.run_session(plan)
            since_flush += sum(truth.traces[t].n_spans for t in plan.trace_ids) - before
            environment = plan.user.environment or cfg.environment
            truth.sessions[plan.id] = SessionTruth(
                plan.id, plan.user.id, plan.route, environment, list(plan.trace_ids)
            )
            truth.users[plan.user.id].n_requests += len(plan.trace_ids)
            done += len(plan.trace_ids)
            if since_flush >= MAX_QUEUE // 2:
                for provider, _ in providers.values():
                    provider.force_flush()
                since_flush = 0
            if progress is not None:
                progress(done, cfg.requests)
    finally:
        for provider, _ in providers.values():
            provider.shutdown()  # flushes the batch processor
        if owned:
            inner.shutdown()
    staff_ids = [u.id for u in staff]
    feedback = make_feedback(
        seeded(cfg, "feedback"),
        truth,
        app.final_spans,
        staff_ids,
        cfg.feedback_rate,
        cfg.environment,
    )
    outcomes = make_outcomes(seeded(cfg, "outcomes"), truth, app.loop_orders, cfg.environment)
    for session in truth.sessions.values():
        session.failed = any(truth.traces[t].failed for t in session.trace_ids)
    n_spans = sum(t.n_spans for t in truth.traces.values())
    return TrafficResult(
        truth=truth,
        feedback=feedback,
        outcomes=outcomes,
        trace_ids=list(truth.traces),
        n_spans=n_spans,
        n_exported=counting.exported,
        n_export_failed=counting.failed,
    )
