"""Escalation traces: the closed circuit of "The Escalation Path That Routes Back to the Agent"
(specialist → zendesk → triage → specialist → …) and a healthy path that reaches a human."""

from __future__ import annotations

from datetime import timedelta

from tests.agents.build import T0, TraceBuilder


def circuit(case: str, start_minutes: int, laps: int = 2) -> TraceBuilder:
    """An escalation that goes round specialist-agent → zendesk → triage-agent →
    specialist-agent ``laps`` times and ends at an agent: no human ever touches it."""
    b = TraceBuilder(T0 + timedelta(minutes=start_minutes), session=case, route="support")
    agent = b.span(
        "specialist",
        kind="agent",
        attributes={"actor.name": "specialist-agent", "actor.type": "agent"},
    )
    at = 10
    for _ in range(laps):
        b.tool(
            "escalate_to_human",
            {"summary": "customer wants a refund"},
            offset_ms=at,
            attributes={"escalation.id": case},
        ).parent_id = agent.span_id
        queue = b.span(
            "ticket routed",
            offset_ms=at + 100,
            attributes={
                "actor.name": "zendesk",
                "escalation.to": "triage-agent",
                "escalation.id": case,
            },
        )
        assert queue
        b.span(
            "triage",
            kind="agent",
            offset_ms=at + 200,
            attributes={
                "actor.name": "triage-agent",
                "actor.type": "agent",
                "escalation.to": "specialist-agent",
                "escalation.id": case,
            },
        )
        at += 1000
    return b


def healthy(case: str, start_minutes: int) -> TraceBuilder:
    """specialist → zendesk → support-desk (a human), who reads it."""
    b = TraceBuilder(T0 + timedelta(minutes=start_minutes), session=case, route="support")
    agent = b.span(
        "specialist",
        kind="agent",
        attributes={"actor.name": "specialist-agent", "actor.type": "agent"},
    )
    b.tool(
        "escalate_to_human", {"summary": "refund"}, offset_ms=10, attributes={"escalation.id": case}
    ).parent_id = agent.span_id
    b.span(
        "ticket routed",
        offset_ms=100,
        attributes={
            "actor.name": "zendesk",
            "escalation.to": "support-desk",
            "escalation.id": case,
        },
    )
    b.span(
        "ticket read",
        offset_ms=60_000,
        attributes={"actor.name": "support-desk", "actor.type": "human", "escalation.id": case},
    )
    return b
