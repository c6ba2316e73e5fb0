"""The simulated app: four routes on the sim world, traced with the OpenTelemetry SDK.

``support-qa`` answers support questions (sometimes after a knowledge-base lookup),
``json-extract`` turns documents into JSON, ``agent-orders`` is an agent that calls order tools,
and ``rag-search`` embeds, retrieves and answers. Whether an answer is right comes from the sim
world's item-response model (:class:`assay.providers.sim.SimProvider`), so a model's ability,
its multilingual skill and a swapped-in weaker model show in quality as they do in runs.

Each request becomes one trace through a real ``Tracer``, with explicit start and end times on
every span (the simulated clock), so a week of traffic is generated in seconds. Planted
incidents change what the app does from their start time on; everything planted is written to
the :class:`~assay.testing._traffic_truth.TrafficTruth` as it happens. This module is the
engine (backends, quality, the LLM call, a request's root span); the routes themselves are in
:mod:`assay.testing._traffic_routes`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes.enduser_attributes import ENDUSER_ID
from opentelemetry.trace import Span, Tracer

from assay.core import Message as ChatMessage
from assay.core import ModelRequest
from assay.providers.sim import SIM_SYSTEMS, SimProvider, item_difficulty
from assay.testing import _traffic_content as C
from assay.testing._traffic_conventions import (
    EVALUATION_EVENT,
    Convention,
    GenAIConvention,
    LLMCall,
    Message,
    OpenInferenceConvention,
    app_attributes,
    identity,
)
from assay.testing._traffic_routes import MAX_TOKENS, PROVIDER, agent, answer, extract
from assay.testing._traffic_spans import (
    MS,
    SessionState,
    TraceEmitter,
    Turn,
    message_tokens,
    ms,
    to_datetime,
    to_ns,
)
from assay.testing._traffic_truth import IncidentTruth, TraceTruth, TrafficTruth
from assay.testing._traffic_world import (
    LOCALES,
    NS,
    SIM_PRICES,
    SessionPlan,
    local_hour_of_week,
    lognormal,
    make_knowledge_base,
    token,
)

if TYPE_CHECKING:
    from assay.testing.traffic import TrafficConfig

#: Offsets to the sim world's item difficulty: routine inputs are easier than the benchmark
#: items the sim systems were calibrated on; clarification and refusal cases are harder.
DIFFICULTY = {"support-qa": -1.0, "rag-search": -1.0, "json-extract": -1.8, "agent-orders": -1.2}
HARD_CASE = 0.8
MS_PER_TOKEN = {"atlas-large": 22.0, "atlas-small": 9.0, "boreal-medium": 14.0, "cirrus-mini": 6.0}
#: The model-swap incident's replacement: weaker (logit ability −1.1) and 60 % wordier.
SWAP_ABILITY_DROP = 1.1
SWAP_LENGTH_FACTOR = 1.6
SWAP_SNAPSHOT = "2026-03"


def _fingerprint(resolved: str) -> str:
    return "fp_" + hashlib.blake2b(resolved.encode(), digest_size=5).hexdigest()


@dataclass(slots=True)
class Backend:
    """What serves a requested model name at some time: the sim system (``system`` prices it),
    the resolved model and fingerprint it reports, and its speed and wordiness."""

    system: str
    resolved: str
    fingerprint: str
    provider: SimProvider
    length_factor: float = 1.0
    ms_per_token: float = 15.0


@dataclass(slots=True)
class ActiveIncident:
    """A configured incident resolved to the simulated clock."""

    kind: str
    start_ns: int
    routes: tuple[str, ...]
    truth: IncidentTruth
    model: str | None = None
    sessions: int = 1


class TrafficApp:
    """The app and its traces. :meth:`run_session` emits one conversation."""

    def __init__(
        self,
        config: TrafficConfig,
        tracers: dict[str, Tracer],
        truth: TrafficTruth,
        incidents: list[ActiveIncident],
    ) -> None:
        self.cfg = config
        self.tracers = tracers
        self.truth = truth
        self.incidents = incidents
        self.rng = random.Random(f"{config.seed}:app")
        self.kb = make_knowledge_base(random.Random(f"{config.seed}:kb"))
        self.sim = SimProvider(world_seed=config.seed)
        self.backends: dict[str, Backend] = {}
        self.swaps: dict[str, tuple[int, Backend]] = {}
        for model in set(config.models.values()):
            system = SIM_SYSTEMS[model]
            resolved = system.resolved_model
            self.backends[model] = Backend(
                model, resolved, _fingerprint(resolved), self.sim, 1.0, MS_PER_TOKEN[model]
            )
        for incident in incidents:
            if incident.kind == "model_swap":
                assert incident.model is not None
                self._plant_swap(incident)
        self.conventions: dict[str, Convention] = {
            route: OpenInferenceConvention()
            if route in config.openinference_routes
            else GenAIConvention()
            for route in config.routes
        }
        self.calls = 0
        #: trace id -> span id of the LLM call that produced the answer (feedback targets it)
        self.final_spans: dict[str, str] = {}
        #: orders the looping agent created: (session id, order id, total, idempotency key)
        self.loop_orders: list[tuple[str, str, float, str]] = []

    def _plant_swap(self, incident: ActiveIncident) -> None:
        model = incident.model
        assert model is not None
        base = SIM_SYSTEMS[model]
        provider = SimProvider(
            world_seed=self.cfg.seed,
            systems={
                model: {"ability": base.ability - SWAP_ABILITY_DROP, "snapshot": SWAP_SNAPSHOT}
            },
        )
        resolved = provider.systems[model].resolved_model
        before = self.backends[model]
        backend = Backend(
            model,
            resolved,
            _fingerprint(resolved),
            provider,
            SWAP_LENGTH_FACTOR,
            before.ms_per_token * 0.8,
        )
        self.swaps[model] = (incident.start_ns, backend)
        incident.truth.details.update(
            {
                "model": model,
                "response_model_before": before.resolved,
                "response_model_after": backend.resolved,
                "fingerprint_before": before.fingerprint,
                "fingerprint_after": backend.fingerprint,
                "ability_drop_logit": SWAP_ABILITY_DROP,
                "length_factor": SWAP_LENGTH_FACTOR,
            }
        )

    def backend(self, model: str, at: int) -> Backend:
        """What serves ``model`` at time ``at`` (the swapped backend once a swap started)."""
        swap = self.swaps.get(model)
        if swap is not None and at >= swap[0]:
            return swap[1]
        return self.backends[model]

    def incident(self, kind: str, route: str, at: int) -> ActiveIncident | None:
        """The incident of ``kind`` in effect on ``route`` at time ``at``, if any."""
        for incident in self.incidents:
            if incident.kind == kind and route in incident.routes and at >= incident.start_ns:
                return incident
        return None

    # -- a conversation ----------------------------------------------------------------------

    def run_session(self, plan: SessionPlan) -> None:
        """Emit every turn of ``plan`` (think time between turns) and record its truth."""
        state = SessionState()
        clock = plan.start_ns
        for turn in range(plan.turns):
            clock = self._request(plan, state, turn, clock)
            clock += int(lognormal(self.rng, 25.0, 0.8) * NS)

    def _request(self, plan: SessionPlan, state: SessionState, turn_index: int, t0: int) -> int:
        rng, cfg, user, route = self.rng, self.cfg, plan.user, plan.route
        environment = user.environment or cfg.environment
        conv = self.conventions[route]
        greeting = LOCALES[user.locale][3]
        if plan.loop:
            ask = (
                "Hello? Did my order go through?"
                if turn_index
                else "Please order 2 x headsets for me."
            )
            turn = C.UserTurn("create_order", C.ANSWER, ask, fields={"qty": "2", "sku": "headsets"})
        elif route == "json-extract":
            intent, _ = C.draw_intent(rng, route, cfg.clarification_share, 0.0)
            turn = C.extraction_document(rng, intent)
        else:
            intent, expected = C.draw_intent(rng, route, cfg.clarification_share, cfg.refusal_share)
            plant = expected == C.ANSWER and rng.random() < cfg.pii_share
            turn = C.user_turn(rng, route, intent, expected, greeting, plant)
        model = cfg.models[route]
        truth = TraceTruth(
            trace_id="",
            route=route,
            environment=environment,
            convention=conv.name,
            session_id=plan.id,
            user_id=user.id,
            segment=user.segment,
            locale=user.locale,
            country=user.country,
            continent=user.continent,
            actor=user.actor,
            intent=turn.intent,
            expected=turn.expected,
            turn=turn_index,
            start=to_datetime(t0),
            end=to_datetime(t0),
            hour_of_week=local_hour_of_week(t0, 0),
            local_hour_of_week=local_hour_of_week(t0, user.tz_offset),
            model_requested=model,
        )
        emitter = TraceEmitter(self.tracers[environment], identity(plan.id, user.id), state.pii)
        for kind, value in turn.pii:
            emitter.plant(kind, value, "input")
        name, span_kind, attrs = conv.root(route, plan.id, turn.text)
        attrs.update(
            app_attributes(
                route,
                user.segment,
                user.locale,
                turn.intent,
                user.actor,
                user.country,
                user.continent,
            )
        )
        attrs[ENDUSER_ID] = user.id
        root = emitter.open("root", name, span_kind, attrs, t0, None)
        truth.trace_id = emitter.trace_id
        self.calls += 1
        ctx = Turn(plan, truth, emitter, conv, turn, root, t0 + ms(rng, 3.0), environment)
        ctx.epoch = self.calls
        if route == "json-extract":
            extract(self, ctx, model)
        elif route == "agent-orders":
            agent(self, ctx, model, state)
        else:
            answer(self, ctx, model, state, retrieval_share=0.6 if route == "support-qa" else 1.0)
        end = ctx.clock + ms(rng, 2.0)
        emitter.close(root, "root", end, conv.root_output(ctx.answer), ctx.error)
        state.history.append({"role": "user", "content": turn.text})
        if ctx.answer is not None:
            state.history.append({"role": "assistant", "content": ctx.answer})
        state.pii = emitter.candidates
        self._record(ctx, end)
        return end

    def _record(self, ctx: Turn, end: int) -> None:
        truth = ctx.truth
        truth.end = to_datetime(end)
        truth.n_spans = ctx.emitter.n_spans
        truth.status = "error" if ctx.error else "ok"
        truth.failure = ctx.failure
        self.truth.traces[truth.trace_id] = truth
        self.truth.pii.extend(ctx.emitter.found.values())
        ctx.plan.trace_ids.append(truth.trace_id)
        start = to_ns(truth.start)
        for incident in self.incidents:
            if truth.route not in incident.routes or start < incident.start_ns:
                continue
            if incident.kind == "agent_loop" and truth.environment != self.cfg.environment:
                continue  # the loop is planted in production sessions only
            incident.truth.exposed_trace_ids.append(truth.trace_id)
            swapped = incident.truth.details.get("response_model_after")
            if incident.kind == "model_swap" and truth.model_resolved == swapped:
                incident.truth.affected_trace_ids.append(truth.trace_id)
                truth.incidents.append("model_swap")
        if ctx.final_span_id:
            self.final_spans[truth.trace_id] = ctx.final_span_id

    # -- quality from the sim world ----------------------------------------------------------

    def correct(self, backend: Backend, ctx: Turn, key: str) -> bool:
        """Whether the model gets this input right: the sim world's item-response model, with a
        fresh draw per request (temperature 1, epoch = request number)."""
        route = ctx.plan.route
        sample_id = f"traffic|{route}|{ctx.user.intent}|{key}"
        difficulty = item_difficulty(self.cfg.seed, sample_id) + DIFFICULTY[route]
        if ctx.user.expected != C.ANSWER:
            difficulty += HARD_CASE
        language = LOCALES[ctx.plan.user.locale][4]
        metadata: dict[str, Any] = {"difficulty": difficulty}
        if language != "en":
            metadata["slice"] = "multilingual"
        elif route == "agent-orders":
            metadata["slice"] = "reasoning"
        request = ModelRequest(
            model=backend.system,
            messages=(ChatMessage(role="user", content=ctx.user.text),),
            params={"temperature": 1.0},
            epoch=ctx.epoch,
            context={"sample_id": sample_id, "metadata": metadata},
        )
        output = backend.provider.simulate(request)
        return bool(output.metadata["sim"]["correct"])

    def judge_failure(self, ctx: Turn, correct: bool) -> None:
        """A wrong answer's failure, named for what the input expected (unless it already
        failed for another reason)."""
        if ctx.failure is not None:
            return
        if not correct:
            ctx.failure = {
                C.ANSWER: "wrong_answer",
                C.CLARIFY: "missed_clarification",
                C.REFUSE: "missed_refusal",
            }[ctx.user.expected]

    # -- the LLM call ------------------------------------------------------------------------

    def llm(
        self,
        ctx: Turn,
        parent: Span,
        *,
        model: str,
        messages: list[Message],
        content: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        median_tokens: float | None = None,
        temperature: float = 0.7,
        output_type: str | None = None,
        prompt_version: str,
        correct: bool | None = None,
    ) -> LLMCall:
        """One chat call (retried once after a 429 or a 500) as an LLM span; advances the clock.
        ``content`` is padded to a lognormal length around ``median_tokens`` (truncated at
        ``max_tokens`` with finish reason ``length``), or sent as is when that is ``None``."""
        rng, cfg, route = self.rng, self.cfg, ctx.plan.route
        max_tokens = MAX_TOKENS[route]
        in_tokens = message_tokens(messages)
        for attempt in range(2):
            backend = self.backend(model, ctx.clock)
            call = LLMCall(PROVIDER, model, messages, max_tokens, temperature, output_type)
            start = ctx.clock
            u = rng.random()
            if u < cfg.error_rate:
                kind = "RateLimitError" if u < cfg.error_rate * 0.6 else "InternalServerError"
                if u >= cfg.error_rate * 0.8:
                    kind = "APITimeoutError"
                call.error_type = kind
                latency = {
                    "RateLimitError": ms(rng, 120.0),
                    "InternalServerError": ms(rng, 900.0),
                    "APITimeoutError": 30_000 * MS + ms(rng, 5.0),
                }[kind]
                message = {
                    "RateLimitError": "429 Too Many Requests: rate limit reached for requests",
                    "InternalServerError": "500 Internal Server Error: the server had an error",
                    "APITimeoutError": "Request timed out.",
                }[kind]
                error = f"{kind}: {message}"
                self._emit_llm(
                    ctx, parent, call, start, start + latency, error, None, prompt_version
                )
                ctx.clock = start + latency
                if kind == "APITimeoutError" or attempt == 1:
                    return call
                ctx.clock += ms(rng, 800.0)  # the app's backoff before its one retry
                continue
            finish = "tool_calls" if tool_calls else "stop"
            text = content
            if content is not None and median_tokens is not None:
                want = int(lognormal(rng, median_tokens * backend.length_factor, 0.6)) + 1
                text = C.pad(rng, content, want * 4)
                if want > max_tokens:
                    text, finish = text[: max_tokens * 4], "length"
            output: Message = {"role": "assistant", "content": text}
            if tool_calls:
                output["tool_calls"] = tool_calls
            out_tokens = message_tokens([output]) - 4
            if finish == "length":
                out_tokens = max_tokens
            call.response_model = backend.resolved
            call.response_id = "chatcmpl-" + token(rng, 24)
            call.fingerprint = backend.fingerprint
            call.output = output
            call.finish_reason = finish
            call.input_tokens = in_tokens
            call.output_tokens = out_tokens
            latency_ms = (
                lognormal(rng, 350.0, 0.35)
                + 0.04 * in_tokens
                + out_tokens * lognormal(rng, backend.ms_per_token, 0.2)
            )
            if rng.random() < 0.03:  # a stall in the provider's queue: Pareto, heavy-tailed
                latency_ms += min(60_000.0, 1500.0 * rng.paretovariate(1.2))
            end = start + int(latency_ms * MS)
            span_id = self._emit_llm(ctx, parent, call, start, end, None, correct, prompt_version)
            ctx.clock = end
            truth = ctx.truth
            truth.model_resolved = backend.resolved
            truth.input_tokens += in_tokens
            truth.output_tokens += out_tokens
            price = SIM_PRICES.get(backend.system, (0.0, 0.0))
            truth.cost_usd += (in_tokens * price[0] + out_tokens * price[1]) / 1e6
            if not tool_calls:
                ctx.final_span_id = span_id
            return call
        raise AssertionError("unreachable: the second attempt always returns")

    def _emit_llm(
        self,
        ctx: Turn,
        parent: Span,
        call: LLMCall,
        start: int,
        end: int,
        error: str | None,
        correct: bool | None = None,
        prompt_version: str | None = None,
    ) -> str:
        name, kind, attrs = ctx.conv.llm(call, ctx.plan.id)
        if prompt_version:
            attrs["app.prompt.version"] = prompt_version
        span = ctx.emitter.open("llm", name, kind, attrs, start, parent)
        ctx.truth.n_llm_calls += 1
        if (
            correct is not None
            and isinstance(ctx.conv, GenAIConvention)
            and self.rng.random() < self.cfg.evaluation_share
        ):
            # An online evaluator elsewhere scored this answer: right answers mostly score high.
            score = self.rng.betavariate(8, 2) if correct else self.rng.betavariate(2, 6)
            label = "pass" if score >= 0.5 else "fail"
            attrs = ctx.conv.evaluation(
                "helpfulness", round(score, 3), label, f"judged {label}", call.response_id
            )
            span.add_event(EVALUATION_EVENT, attrs, timestamp=end)
        ctx.emitter.close(span, "llm", end, None, error)
        return f"{span.get_span_context().span_id:016x}"
