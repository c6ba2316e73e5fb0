"""Escalation audit (J6): when every sampled escalation ends at agent actors and goes round a
cycle of length 3, the audit reports no_human_touch = 100% and the cycle's path; a healthy
system has no findings."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from tests.agents.build import T0, TraceBuilder, write
from tests.agents.escalations import circuit, healthy

from assay.agents import escalation_audit, load_agents_spec

SPEC = Path(__file__).with_name("agents.yaml")
CYCLE = ["specialist-agent", "zendesk", "triage-agent", "specialist-agent"]


def test_every_escalation_in_an_agent_cycle(store):
    write(store, *(circuit(f"case-{k}", k) for k in range(12)))
    report = escalation_audit(store, load_agents_spec(SPEC), sample=10, seed=3)
    data = report.as_dict()
    assert data["escalations"] == 10 and data["sampled_from"] == 12
    assert data["no_human_touch"]["rate"] == 1.0
    assert data["no_human_touch"]["low"] == pytest.approx(0.7225, abs=1e-3)  # Wilson, 10/10
    assert data["ended_at"] == {"agent": 10}
    (cycle,) = data["cycles"]
    assert cycle["path"] == CYCLE and cycle["length"] == 3 and not cycle["has_human"]
    assert cycle["escalations"] == 10
    codes = [f["code"] for f in data["findings"]]
    assert codes == ["no_human_touch", "escalation_cycle"]
    no_human, loop = data["findings"]
    assert "10 of 10 escalations (100%" in no_human["message"]
    assert loop["details"]["path"] == CYCLE
    case = data["cases"][0]
    assert case["path"][:4] == CYCLE and case["loops"]
    edges = {(e["from"], e["to"]): e for e in data["edges"]}
    assert all(edges[(a, b)]["in_cycle"] for a, b in itertools.pairwise(CYCLE))


def test_the_escalate_tool_is_a_handoff_through_the_declaration(store):
    # A specialist calls escalate_to_human and nothing downstream logs anything: only the
    # declaration's handoffs make that call an escalation (to zendesk, a system).
    b = TraceBuilder(T0, session="lonely", route="support")
    agent = b.span("specialist", attributes={"actor.name": "specialist-agent"})
    b.tool("escalate_to_human", {"summary": "refund"}, offset_ms=10).parent_id = agent.span_id
    write(store, b)
    assert escalation_audit(store).as_dict()["escalations"] == 0
    data = escalation_audit(store, load_agents_spec(SPEC)).as_dict()
    (case,) = data["cases"]
    assert case["path"] == ["specialist-agent", "zendesk"]
    assert case["ended_at_type"] == "system" and not case["human_touch"]
    assert [f["code"] for f in data["findings"]] == ["no_human_touch"]


def test_sla_counts_late_touches_as_misses_and_leaves_young_ones_out(store):
    write(store, healthy("h1", 0), healthy("h2", 10))
    now = T0 + timedelta(minutes=11)
    on_time = escalation_audit(store, load_agents_spec(SPEC), sla=timedelta(minutes=5), now=now)
    data = on_time.as_dict()
    assert data["counted"] == 1 and data["excluded_younger_than_sla"] == 1
    assert data["human_touch"]["rate"] == 1.0
    strict = escalation_audit(store, load_agents_spec(SPEC), sla=timedelta(seconds=30), now=now)
    assert strict.as_dict()["no_human_touch"]["k"] == 2
    assert [f.code for f in strict.findings] == ["no_human_touch"]


def test_healthy_escalations_have_no_findings(store):
    write(store, *(healthy(f"ok-{k}", k) for k in range(5)))
    report = escalation_audit(store, load_agents_spec(SPEC))
    data = report.as_dict()
    assert data["no_human_touch"]["rate"] == 0.0
    assert data["ended_at"] == {"human": 5}
    assert data["cycles"] == [] and report.findings == []
    assert data["seconds_to_human"]["p50"] == pytest.approx(59.99, abs=0.02)
