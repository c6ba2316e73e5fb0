"""The traffic simulator: real OpenTelemetry spans, shaped as configured, with planted truth.

Every assertion reads the spans the SDK exported (``InMemorySpanExporter``), and checks them
against the configuration or the ground truth, so a simulator that wrote one thing in its
truth and emitted another fails here.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from assay.core import ConfigError
from assay.data.pii import card_valid, detect
from assay.testing._traffic_world import HOUR_PROFILE, LOCALES, local_hour_of_week
from assay.testing.traffic import Incident, TrafficConfig, TrafficResult, main, simulate

FEEDBACK_KEYS = {
    "trace_id", "span_id", "session_id", "kind", "value", "label", "correction", "comment",
    "rater_id", "rater_role", "surface", "intent", "time",
}  # fmt: skip
OUTCOME_KEYS = {"session_id", "trace_id", "event", "value", "bad", "time", "attributes"}


def _hex(n: int, width: int) -> str:
    return f"{n:0{width}x}"


def _run(config: TrafficConfig) -> tuple[TrafficResult, list[ReadableSpan]]:
    exporter = InMemorySpanExporter()
    result = simulate(config, exporter=exporter)
    return result, list(exporter.get_finished_spans())


@pytest.fixture(scope="module")
def week() -> tuple[TrafficResult, list[ReadableSpan]]:
    """A week of 2,000 requests with the three default incidents (seed 7)."""
    return _run(TrafficConfig(seed=7, days=7, requests=2000))


def _by_trace(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    traces: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        traces[_hex(span.context.trace_id, 32)].append(span)
    return traces


def _roots(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is None]


def _is_llm(span: ReadableSpan) -> bool:
    attrs = span.attributes or {}
    return (
        attrs.get("gen_ai.operation.name") == "chat"
        or attrs.get("openinference.span.kind") == "LLM"
    )


def _output_text(span: ReadableSpan) -> str:
    attrs = span.attributes or {}
    if "gen_ai.output.messages" in attrs:
        message = json.loads(str(attrs["gen_ai.output.messages"]))[0]
        return "".join(p.get("content", "") for p in message["parts"] if p["type"] == "text")
    return str(attrs.get("llm.output_messages.0.message.content", ""))


def _canonical(spans: list[ReadableSpan]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            s.context.trace_id,
            s.context.span_id,
            s.parent.span_id if s.parent else None,
            s.name,
            s.kind.value,
            s.start_time,
            s.end_time,
            s.status.status_code.value,
            tuple(sorted((k, str(v)) for k, v in (s.attributes or {}).items())),
            tuple((e.name, e.timestamp, tuple(sorted(e.attributes.items()))) for e in s.events),
            tuple(sorted((k, str(v)) for k, v in s.resource.attributes.items())),
        )
        for s in spans
    )


# -- determinism and structure ------------------------------------------------------------


def test_a_seed_fixes_every_span_and_record() -> None:
    config = TrafficConfig(seed=11, days=2, requests=300)
    first, spans_a = _run(config)
    second, spans_b = _run(config)
    assert _canonical(spans_a) == _canonical(spans_b)
    assert first.feedback == second.feedback and first.outcomes == second.outcomes
    assert first.truth.to_json() == second.truth.to_json()
    _, spans_c = _run(TrafficConfig(seed=12, days=2, requests=300))
    assert {s.context.trace_id for s in spans_c}.isdisjoint({s.context.trace_id for s in spans_a})


def test_every_span_is_exported_with_valid_ids_and_its_parent_in_its_trace(week) -> None:
    result, spans = week
    assert len(spans) == result.n_spans == result.n_exported and result.n_export_failed == 0
    traces = _by_trace(spans)
    assert set(traces) == set(result.truth.traces) == set(result.trace_ids)
    assert len(result.trace_ids) == 2000
    for trace_id, members in traces.items():
        assert re.fullmatch("[0-9a-f]{32}", trace_id) and int(trace_id, 16) != 0
        by_id = {s.context.span_id: s for s in members}
        assert len(by_id) == len(members), "span ids are unique within a trace"
        assert len(_roots(members)) == 1
        assert len(members) == result.truth.traces[trace_id].n_spans
        for span in members:
            assert span.context.span_id != 0
            assert span.start_time <= span.end_time
            if span.parent is not None:
                assert span.parent.trace_id == span.context.trace_id
                parent = by_id[span.parent.span_id]  # the parent is in the same trace
                assert parent.start_time <= span.start_time <= span.end_time <= parent.end_time


def test_resource_names_service_and_environment(week) -> None:
    result, spans = week
    environments = Counter(str(s.resource.attributes["deployment.environment.name"]) for s in spans)
    assert set(environments) == {"production", "staging"}
    assert all(s.resource.attributes["service.name"] == "sim-shop" for s in spans)
    staging = [t for t in result.truth.traces.values() if t.environment == "staging"]
    assert 0.01 < len(staging) / 2000 < 0.06
    assert all(result.truth.users[t.user_id].actor == "internal" for t in staging)


# -- the population as configured --------------------------------------------------------


def test_route_shares_follow_the_configuration(week) -> None:
    _, spans = week
    routes = Counter(str(s.attributes["app.route"]) for s in _roots(spans))
    assert sum(routes.values()) == 2000
    for route, share in {"support-qa": 0.4, "json-extract": 0.2, "agent-orders": 0.2}.items():
        assert abs(routes[route] / 2000 - share) < 0.05, (route, routes)
    only = _run(TrafficConfig(seed=3, days=1, requests=150, routes={"json-extract": 1.0}))[1]
    assert {s.attributes["app.route"] for s in _roots(only)} == {"json-extract"}


def test_segment_and_locale_shares_follow_the_configuration(week) -> None:
    result, spans = week
    users = [u for u in result.truth.users.values() if u.environment == "production"]
    segments = Counter(u.segment for u in users)
    for segment, share in {"free": 0.6, "pro": 0.3, "enterprise": 0.1}.items():
        assert abs(segments[segment] / len(users) - share) < 0.07, segments
    assert abs(Counter(u.locale for u in users)["en-US"] / len(users) - 0.42) < 0.08
    for root in _roots(spans):  # the emitted attributes are the user's
        user = result.truth.users[str(root.attributes["user.id"])]
        assert root.attributes["app.segment"] == user.segment
        assert root.attributes["geo.country.iso_code"] == LOCALES[user.locale][0]
        assert root.attributes["enduser.id"] == user.user_id


def test_requests_follow_the_local_hour_of_week_profile(week) -> None:
    _, spans = week
    weekend = day = night = 0
    for root in _roots(spans):
        tz = LOCALES[str(root.attributes["app.locale"])][2]
        how = local_hour_of_week(root.start_time, tz)
        weekend += how >= 5 * 24
        if how < 5 * 24:
            day += 10 <= how % 24 < 16
            night += 1 <= how % 24 < 5
    expected_weekend = 2 * 0.45 / (5 + 2 * 0.45)  # weekend hours scaled by weekend_factor
    assert abs(weekend / 2000 - expected_weekend) < 0.05
    ratio = (day / 6) / max(1, night / 4)  # per hour: busiest daytime vs small hours
    assert ratio > 0.5 * (sum(HOUR_PROFILE[10:16]) / 6) / (sum(HOUR_PROFILE[1:5]) / 4)
    quiet = _run(TrafficConfig(seed=5, days=7, requests=300, weekend_factor=0.0))[1]
    for root in _roots(quiet):  # a weekend factor of 0: nobody works on their weekend
        tz = LOCALES[str(root.attributes["app.locale"])][2]
        assert local_hour_of_week(root.start_time, tz) < 5 * 24


def test_latency_tokens_and_activity_are_heavy_tailed(week) -> None:
    result, spans = week
    latencies = sorted((s.end_time - s.start_time) / 1e6 for s in spans if _is_llm(s))
    p50, p99 = latencies[len(latencies) // 2], latencies[int(0.99 * len(latencies))]
    assert p99 / p50 > 5, (p50, p99)
    tokens = sorted(
        int(s.attributes.get("gen_ai.usage.output_tokens", 0))
        + int(s.attributes.get("llm.token_count.completion", 0))
        for s in spans
        if _is_llm(s) and s.status.status_code != StatusCode.ERROR
    )
    assert tokens[int(0.99 * len(tokens))] / tokens[len(tokens) // 2] > 4
    counts = sorted((u.n_requests for u in result.truth.users.values()), reverse=True)
    assert sum(counts[: len(counts) // 10]) / sum(counts) > 0.3  # a few users send most
    truncated = [
        s for s in spans if "length" in s.attributes.get("gen_ai.response.finish_reasons", ())
    ]
    assert truncated and all(
        s.attributes["gen_ai.usage.output_tokens"] == s.attributes["gen_ai.request.max_tokens"]
        for s in truncated
    )
    errors = [s for s in spans if _is_llm(s) and s.status.status_code == StatusCode.ERROR]
    assert errors and all(s.attributes.get("error.type") for s in errors)


def test_intents_include_clarification_and_refusal_inputs(week) -> None:
    _, spans = week
    intents = Counter(str(s.attributes["app.intent"]) for s in _roots(spans))
    assert 0.04 < intents["clarification_needed"] / 2000 < 0.13
    assert 0.01 < intents["should_refuse"] / 2000 < 0.06


# -- planted incidents, visible in the spans after their start and not before ----------------


def test_json_break_starts_at_its_time(week) -> None:
    result, spans = week
    incident = result.truth.incident("json_break")
    t1 = int(incident.start.timestamp() * 1e9)
    before, after = [], []
    for span in spans:
        if _is_llm(span) and span.attributes.get("app.prompt.version", "").startswith("extract"):
            if span.status.status_code == StatusCode.ERROR:
                continue
            try:
                json.loads(_output_text(span))
                parsed = True
            except json.JSONDecodeError:
                parsed = False
            (after if span.start_time >= t1 else before).append((span, parsed))
    assert len(before) > 100 and len(after) > 100
    assert all(s.attributes["app.prompt.version"] == "extract-v3" for s, _ in before)
    assert all(s.attributes["app.prompt.version"] == "extract-v4" for s, _ in after)
    assert sum(not p for _, p in before) / len(before) < 0.02
    assert sum(not p for _, p in after) / len(after) > 0.6
    broken = {_hex(s.context.trace_id, 32) for s, p in after if not p}
    assert set(incident.affected_trace_ids) == broken
    assert set(incident.affected_trace_ids) <= set(incident.exposed_trace_ids)


def test_model_swap_changes_the_response_model_behind_the_same_name(week) -> None:
    result, spans = week
    incident = result.truth.incident("model_swap")
    details = incident.details
    t2 = int(incident.start.timestamp() * 1e9)
    seen: dict[bool, set[tuple[str, str]]] = {False: set(), True: set()}
    out_tokens: dict[bool, list[int]] = {False: [], True: []}
    for span in spans:
        attrs = span.attributes
        requested = attrs.get("gen_ai.request.model") or attrs.get("llm.request.model_name")
        if not _is_llm(span) or requested != details["model"] or "error.type" in attrs:
            continue
        if "gen_ai.response.model" in attrs:
            resolved = attrs["gen_ai.response.model"]
            fingerprint = attrs["openai.response.system_fingerprint"]
        else:
            resolved = attrs["llm.model_name"]
            fingerprint = json.loads(attrs["output.value"])["system_fingerprint"]
        late = span.start_time >= t2
        seen[late].add((resolved, fingerprint))
        out_tokens[late].append(
            int(attrs.get("gen_ai.usage.output_tokens", attrs.get("llm.token_count.completion", 0)))
        )
    assert seen[False] == {(details["response_model_before"], details["fingerprint_before"])}
    assert seen[True] == {(details["response_model_after"], details["fingerprint_after"])}
    assert statistics.median(out_tokens[True]) > 1.3 * statistics.median(out_tokens[False])
    traces = result.truth.traces.values()
    on_routes = [t for t in traces if t.route in incident.routes and t.expected == "answer"]
    t2_dt = incident.start
    early = [t.failure == "wrong_answer" for t in on_routes if t.start < t2_dt]
    late = [t.failure == "wrong_answer" for t in on_routes if t.start >= t2_dt]
    assert sum(late) / len(late) > sum(early) / len(early) + 0.1  # quality drops


def test_agent_loop_repeats_a_tool_and_an_idempotency_key_after_its_start(week) -> None:
    result, spans = week
    incident = result.truth.incident("agent_loop")
    t3 = int(incident.start.timestamp() * 1e9)
    looping, keys = set(), defaultdict(set)
    for trace_id, members in _by_trace(spans).items():
        tools = Counter(
            s.attributes["gen_ai.tool.name"]
            for s in members
            if s.attributes.get("gen_ai.operation.name") == "execute_tool"
        )
        if tools and max(tools.values()) >= 10:
            looping.add(trace_id)
        for s in members:
            if s.attributes.get("gen_ai.tool.name") == "create_order":
                key = json.loads(s.attributes["gen_ai.tool.call.arguments"])["idempotency_key"]
                keys[key].add((trace_id, s.context.span_id))
    assert looping and looping == set(incident.affected_trace_ids)
    roots = {_hex(r.context.trace_id, 32): r for r in _roots(spans)}
    assert all(roots[t].start_time >= t3 for t in looping)
    assert all(roots[t].status.status_code == StatusCode.ERROR for t in looping)
    repeated = {k for k, uses in keys.items() if len(uses) > 1}
    assert repeated == {incident.details["idempotency_key"]}
    truth = result.truth.traces
    normal = [t.input_tokens + t.output_tokens for t in truth.values() if t.route == "agent-orders"]
    for trace_id in looping:
        assert truth[trace_id].input_tokens > 10 * statistics.median(normal)
        assert truth[trace_id].failure == "agent_loop"
    refunds = [o for o in result.outcomes if o["attributes"].get("reason") == "duplicate_order"]
    assert refunds and all(
        o["bad"] and o["session_id"] in incident.details["sessions"] for o in refunds
    )


def test_no_incident_without_configuration() -> None:
    result, spans = _run(TrafficConfig(seed=4, days=2, requests=400, incidents=()))
    assert result.truth.incidents == []
    assert {s.attributes.get("app.prompt.version") for s in spans if _is_llm(s)} >= {"extract-v3"}
    assert "extract-v4" not in {s.attributes.get("app.prompt.version") for s in spans}
    assert {s.attributes.get("gen_ai.response.model") for s in spans} <= {
        None, "sim:atlas-large@2026-01", "sim:atlas-small@2026-01", "sim:boreal-medium@2026-01",
    }  # fmt: skip


# -- conventions ----------------------------------------------------------------------------


def test_openinference_route_uses_openinference_attributes(week) -> None:
    result, spans = week
    for trace_id, members in _by_trace(spans).items():
        openinference = result.truth.traces[trace_id].route == "rag-search"
        for span in members:
            keys = set(span.attributes)
            if openinference:
                assert "openinference.span.kind" in keys and not any(
                    k.startswith("gen_ai.") for k in keys
                )
            else:
                assert "openinference.span.kind" not in keys and "gen_ai.operation.name" in keys
        if openinference:
            kinds = Counter(s.attributes["openinference.span.kind"] for s in members)
            failed_lookup = any(
                s.status.status_code == StatusCode.ERROR
                for s in members
                if s.attributes["openinference.span.kind"] == "RETRIEVER"
            )
            assert kinds["CHAIN"] == 1 and (kinds["LLM"] >= 1 or failed_lookup)
            for llm in members:
                if llm.attributes["openinference.span.kind"] != "LLM":
                    continue
                assert llm.attributes["llm.input_messages.0.message.role"] == "system"
                assert llm.attributes["llm.request.model_name"] == "atlas-large"
                if "error.type" not in llm.attributes:
                    assert llm.attributes["llm.token_count.prompt"] > 0
                    assert llm.attributes["llm.model_name"].startswith("sim:atlas-large@")
            retriever = [
                s for s in members if s.attributes["openinference.span.kind"] == "RETRIEVER"
            ]
            for span in retriever:
                metadata = json.loads(span.attributes["retrieval.documents.0.document.metadata"])
                assert metadata["rank"] == 1 and metadata["chunk_id"].startswith(
                    span.attributes["retrieval.documents.0.document.id"]
                )
                assert metadata["index_version"] and metadata["embedding_version"]


def test_agent_route_can_speak_openinference() -> None:
    config = TrafficConfig(
        seed=9,
        days=1,
        requests=120,
        routes={"agent-orders": 1.0},
        openinference_routes=("agent-orders",),
    )
    _, spans = _run(config)
    tools = [s for s in spans if s.attributes.get("openinference.span.kind") == "TOOL"]
    assert tools and all(s.attributes["tool.name"] == s.name for s in tools)
    assert all(json.loads(s.attributes["tool.parameters"]) for s in tools)
    requests = [
        s
        for s in spans
        if "llm.output_messages.0.message.tool_calls.0.tool_call.function.name" in s.attributes
    ]
    assert requests and not any(k.startswith("gen_ai.") for s in spans for k in s.attributes)


def test_genai_spans_carry_the_conventions_attributes(week) -> None:
    _, spans = week
    llm = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    ok = [s for s in llm if "error.type" not in s.attributes]
    for span in ok[:200]:
        attrs = span.attributes
        assert span.name == f"chat {attrs['gen_ai.request.model']}"
        assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "sim"
        assert attrs["gen_ai.response.id"].startswith("chatcmpl-")
        assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["gen_ai.conversation.id"] == attrs["session.id"]
        messages = json.loads(attrs["gen_ai.input.messages"])
        assert messages[-1]["role"] in ("user", "tool") and messages[-1]["parts"]
    tools = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    calls = {
        p["id"]
        for s in ok
        for m in json.loads(s.attributes["gen_ai.output.messages"])
        for p in m["parts"]
        if p["type"] == "tool_call"
    }
    assert tools and {s.attributes["gen_ai.tool.call.id"] for s in tools} <= calls
    evaluations = [e for s in llm for e in s.events if e.name == "gen_ai.evaluation.result"]
    assert evaluations and all(
        0 <= e.attributes["gen_ai.evaluation.score.value"] <= 1 for e in evaluations
    )


# -- planted personal data ------------------------------------------------------------------

_EMAIL = re.compile(r"[a-z]+\.[a-z]+\d{2}@(?:mail\.)?example\.(?:com|org|net)")
_CARD = re.compile(r"\b(?:\d{4} ){3}\d{4}\b|\b\d{16}\b")
_PHONE = re.compile(r"\+1 415-555-01\d\d|\(312\) 555-01\d\d|\+44 20 7946 0\d{3}")


def test_pii_is_where_the_truth_says_and_nowhere_else(week) -> None:
    result, spans = week
    attrs = {
        (_hex(s.context.trace_id, 32), _hex(s.context.span_id, 16)): s.attributes for s in spans
    }
    recorded: set[tuple[str, str, str]] = set()
    seams: Counter[str] = Counter()
    for planted in result.truth.pii:
        assert planted.appearances
        if planted.kind == "card":
            assert card_valid(planted.value.replace(" ", ""))
        for span_id, key, seam in planted.appearances:
            assert planted.value in attrs[(planted.trace_id, span_id)][key]
            recorded.add((planted.trace_id, span_id, planted.value))
            seams[seam] += 1
    assert {"input", "output", "retrieval", "tool_arguments"} <= set(seams)
    assert {p.kind for p in result.truth.pii} == {"email", "phone", "card"}
    found = set()
    for (trace_id, span_id), values in attrs.items():
        for value in values.values():
            if isinstance(value, str):
                for pattern in (_EMAIL, _CARD, _PHONE):
                    found.update((trace_id, span_id, m) for m in pattern.findall(value))
    assert found == recorded


def test_assays_pii_detectors_find_exactly_the_planted_values() -> None:
    """The redaction at the receiver uses these detectors: every planted value must be caught,
    and nothing the app says besides (order ids, dates, keys, amounts) may look like PII."""
    result, spans = _run(TrafficConfig(seed=8, days=2, requests=250, pii_share=0.3))
    planted = {
        (p.trace_id, span_id, p.value) for p in result.truth.pii for span_id, _, _ in p.appearances
    }
    types = {p.value: p.kind.upper() for p in result.truth.pii}
    found = set()
    for span in spans:
        ids = (_hex(span.context.trace_id, 32), _hex(span.context.span_id, 16))
        for value in span.attributes.values():
            if isinstance(value, str):
                for finding in detect(value):
                    assert types.get(finding.value) == finding.type, finding
                    found.add((*ids, finding.value))
    assert found == planted and len({v for _, _, v in planted}) > 50


# -- feedback and outcomes ------------------------------------------------------------------


def test_feedback_records_have_the_documented_shape(week) -> None:
    result, _ = week
    truth = result.truth
    assert len(result.feedback) > 100
    for record in result.feedback:
        assert set(record) == FEEDBACK_KEYS
        assert record["trace_id"] in truth.traces
        assert record["session_id"] == truth.traces[record["trace_id"]].session_id
        assert record["kind"] in ("thumbs", "score", "correction", "label")
        assert record["rater_role"] in ("end_user", "internal", "labeler")
        assert record["surface"] in ("prod", "staging", "debug")
        assert datetime.fromisoformat(record["time"]) >= truth.traces[record["trace_id"]].end
        if record["kind"] == "thumbs":
            assert record["value"] in (0.0, 1.0)
        if record["kind"] == "score":
            assert 0.0 <= record["value"] <= 1.0
        if record["span_id"] is not None:
            assert re.fullmatch("[0-9a-f]{16}", record["span_id"])
    users = [r for r in result.feedback if r["rater_role"] == "end_user" and r["kind"] == "thumbs"]
    down = [truth.traces[r["trace_id"]].failed for r in users if r["value"] == 0.0]
    up = [truth.traces[r["trace_id"]].failed for r in users if r["value"] == 1.0]
    assert sum(down) / len(down) > 0.7 > 0.3 > sum(up) / len(up)
    staging = {r["surface"] for r in result.feedback if r["rater_role"] == "internal"}
    assert staging == {"staging", "debug"}
    json.dumps(result.feedback)  # JSON-ready as is


def test_outcomes_arrive_later_and_mark_failed_delayed(week) -> None:
    result, _ = week
    truth = result.truth
    events = Counter(o["event"] for o in result.outcomes)
    assert {"ticket_reopened", "refund_issued", "conversion"} <= set(events)
    for outcome in result.outcomes:
        assert set(outcome) == OUTCOME_KEYS
        session = truth.sessions[outcome["session_id"]]
        last = truth.traces[session.trace_ids[-1]]
        assert outcome["trace_id"] in (None, last.trace_id)
        delay = datetime.fromisoformat(outcome["time"]) - last.end
        assert 0 < delay.total_seconds() <= 5 * 86400
        if outcome["bad"]:
            assert session.failed_delayed
    reopened = {o["session_id"] for o in result.outcomes if o["event"] == "ticket_reopened"}
    assert reopened and all(truth.sessions[s].route == "support-qa" for s in reopened)
    delayed = set(truth.failed_delayed_trace_ids)
    assert any(not truth.traces[t].failed for t in delayed)  # failures only the outcome shows


# -- configuration errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"routes": {"chat": 1.0}}, "TrafficConfig.routes"),
        ({"models": {"support-qa": "gpt-9"}}, "TrafficConfig.models"),
        ({"segments": {"free": -1.0}}, "TrafficConfig.segments"),
        ({"incidents": (Incident(kind="json_break", at=9),)}, "TrafficConfig.incidents.0.at"),
        ({"start": datetime(2026, 3, 2)}, "TrafficConfig.start"),
        ({"requests": 0}, "TrafficConfig.requests"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TrafficConfig(**settings)
    assert caught.value.where == where


def test_simulate_needs_exactly_one_destination() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        simulate(TrafficConfig(requests=5))
    with pytest.raises(ConfigError, match="exactly one"):
        simulate(TrafficConfig(requests=5), exporter=InMemorySpanExporter(), endpoint="http://x")


# -- over the wire --------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    """A bare OTLP/HTTP receiver: decodes protobuf with opentelemetry-proto, keeps what came."""

    received: ClassVar[list[tuple[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.headers.get("Authorization") != "Bearer T":
            self.send_response(401)
        elif self.path == "/v1/traces":
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )

            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.received.append(("spans", request))
            self.send_response(200)
        elif self.path == "/api/outcomes":
            self.received.append(("outcomes", json.loads(body)))
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_endpoint_sends_protobuf_over_otlp_http(receiver: str) -> None:
    result = simulate(TrafficConfig(seed=2, days=1, requests=40), endpoint=receiver, token="T")
    spans = [
        span
        for kind, request in _Receiver.received
        if kind == "spans"
        for resource_spans in request.resource_spans
        for scope in resource_spans.scope_spans
        for span in scope.spans
    ]
    assert len(spans) == result.n_spans == result.n_exported
    assert {span.trace_id.hex() for span in spans} == set(result.trace_ids)


def test_cli_sends_spans_then_signals_and_reports_a_missing_feedback_api(
    receiver: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--endpoint", receiver, "--requests", "30", "--days", "1", "--token", "T"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "/api/feedback answered 404" in err and "sent" in out
    outcomes = [records for kind, records in _Receiver.received if kind == "outcomes"]
    n_spans = sum(
        len(scope.spans)
        for kind, request in _Receiver.received
        if kind == "spans"
        for rs in request.resource_spans
        for scope in rs.scope_spans
    )
    assert f"sent {n_spans}/{n_spans} spans" in out
    assert all(set(o) == OUTCOME_KEYS for batch in outcomes for o in batch)


def test_cli_refuses_an_unreachable_endpoint_and_import_stays_light() -> None:
    code = (
        "import sys, assay.testing\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'openinference'))))"
    )
    light = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "[]"
    done = subprocess.run(
        [sys.executable, "-m", "assay.testing", "traffic", "--endpoint", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "cannot connect to http://127.0.0.1:9" in done.stderr
