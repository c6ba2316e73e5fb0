"""Escalation audit (J6): does an escalation end with a human, and where does it go round in
circles?

"The Escalation Path That Routes Back to the Agent": ``escalate_to_human`` lands in a ticket
queue, a triage agent picks it up and delegates to a specialist agent, which escalates to a
human again… and no human ever reads it. The tool's success criterion was "accepted by the next
system"; the contract has two halves: it lands where a human can read it, *and* a human reads
it.

How the audit reads actor-labelled traces:

* **Actor** of a span: its ``actor.name`` attribute, else ``gen_ai.agent.name``, else the actor
  of its nearest ancestor in the trace. **Type**: ``actor.type`` (``human``, ``agent``,
  ``system``), else the declaration's ``actors:`` entry, else ``agent`` for a
  ``gen_ai.agent.name`` actor, else ``unknown``.
* **Hop** (a handoff): a span with an ``escalation.to`` attribute, or a tool call of a tool
  listed under ``handoffs:`` (tool name → the actor it hands to). The hop goes from
  ``escalation.from`` (else the span's actor) to the target.
* **Escalation**: the hops sharing an ``escalation.id`` attribute (else a session id, else a
  trace), in time order; its path is the sequence of actors it visited.
* **Human touch**: a span of a human actor in the escalation after its first hop (a hop *to*
  a human is where it lands, "ended at human"; the touch is the human acting on it: the
  post's two halves of the contract). ``no_human_touch`` is the share of escalations
  without one, with a Wilson interval; with ``sla``, a touch later than the SLA does not
  count, and escalations younger than the SLA are left out (they may still be touched).
* **Cycles**: the elementary cycles of the directed graph of hops (Johnson's algorithm, as
  networkx implements it), each with the escalations that went round it. A cycle with no
  human on it is the ``escalation_cycle`` finding; any escalation without a human touch is the
  ``no_human_touch`` finding.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.agents._read import SpanRow, TraceWindow, read_spans
from assay.agents.declarations import Declarations
from assay.core.findings import Finding, failed
from assay.stats.rates import rate_dict
from assay.store import Store

ACTOR_TYPES = ("human", "agent", "system", "unknown")


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass
class Hop:
    """One handoff from one actor to another."""

    escalation: str
    source: str
    target: str
    time: datetime
    trace_id: str
    span_id: str


@dataclass
class Escalation:
    """One escalation: its hops and what became of it."""

    id: str
    hops: list[Hop]
    human_touch_at: datetime | None = None
    path: list[str] = field(default_factory=list)

    @property
    def started_at(self) -> datetime:
        return self.hops[0].time

    def as_dict(self, types: dict[str, str]) -> dict[str, Any]:
        touched = self.human_touch_at
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "path": self.path,
            "ended_at": self.path[-1],
            "ended_at_type": types.get(self.path[-1], "unknown"),
            "human_touch": touched is not None,
            "seconds_to_human": (touched - self.started_at).total_seconds() if touched else None,
            "loops": len(self.path) != len(set(self.path)),
            "trace_ids": list(dict.fromkeys(h.trace_id for h in self.hops)),
        }


def _tool_name(span: SpanRow) -> str | None:
    for key in ("gen_ai.tool.name", "tool.name"):
        name = _text(span.attributes.get(key))
        if name:
            return name
    if span.kind == "tool":
        return span.name.removeprefix("execute_tool ").strip() or None
    return None


def actors_of(
    spans: Sequence[SpanRow], declared: dict[str, str]
) -> tuple[dict[tuple[str, str], str | None], dict[str, str]]:
    """(span key → actor name, actor name → type) by the rules in the module docstring."""
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    own: dict[tuple[str, str], str | None] = {}
    types: dict[str, str] = dict(declared)
    for s in spans:
        name = _text(s.attributes.get("actor.name"))
        kind = _text(s.attributes.get("actor.type"))
        if name is None:
            name = _text(s.attributes.get("gen_ai.agent.name"))
            if name is not None and name not in types:
                types[name] = "agent"
        if name is not None and kind is not None:
            types[name] = kind.lower() if kind.lower() in ACTOR_TYPES else "unknown"
        own[(s.trace_id, s.span_id)] = name
    resolved: dict[tuple[str, str], str | None] = {}

    def actor(key: tuple[str, str]) -> str | None:
        seen = []
        current: tuple[str, str] | None = key
        while current is not None and current not in resolved:
            seen.append(current)
            if own.get(current):
                resolved[current] = own[current]
                break
            span = by_key.get(current)
            parent = (span.trace_id, span.parent_id) if span and span.parent_id else None
            current = parent if parent in by_key and parent not in seen else None
        value = resolved.get(current) if current is not None else None
        for k in seen:
            resolved.setdefault(k, value)
        return resolved.get(key)

    for key in by_key:
        actor(key)
    for name in {n for n in resolved.values() if n}:
        types.setdefault(name, "unknown")
    return resolved, types


def build_escalations(
    spans: Sequence[SpanRow], declarations: Declarations
) -> tuple[list[Escalation], dict[str, str]]:
    """The escalations in ``spans`` with their paths and first human touch."""
    actor_of, types = actors_of(spans, declarations.actors)
    for handed_to in declarations.handoffs.values():
        types.setdefault(handed_to, "unknown")
    hops: dict[str, list[Hop]] = defaultdict(list)
    case_of_trace: dict[str, str] = {}
    for s in spans:
        target: str | None = _text(s.attributes.get("escalation.to"))
        if target is None:
            tool = _tool_name(s)
            target = declarations.handoffs.get(tool) if tool else None
        if target is None:
            continue
        source = _text(s.attributes.get("escalation.from")) or actor_of.get((s.trace_id, s.span_id))
        case = _text(s.attributes.get("escalation.id")) or s.session_id or s.trace_id
        case_of_trace.setdefault(s.trace_id, case)
        types.setdefault(target, "unknown")
        hops[case].append(
            Hop(case, source or "(unknown)", target, s.start_time, s.trace_id, s.span_id)
        )
        types.setdefault(source or "(unknown)", "unknown")
    escalations: dict[str, Escalation] = {}
    for case, case_hops in hops.items():
        case_hops.sort(key=lambda h: (h.time, h.span_id))
        path = [case_hops[0].source]
        for hop in case_hops:
            if hop.source != path[-1]:
                path.append(hop.source)
            path.append(hop.target)
        escalations[case] = Escalation(case, case_hops, path=path)
    # Human touches: spans of a human actor in the escalation's case (landing in a human's
    # queue is half the contract; a human acting on it is the other half).
    for s in spans:
        name = actor_of.get((s.trace_id, s.span_id))
        if name is None or types.get(name) != "human":
            continue
        case = _text(s.attributes.get("escalation.id")) or s.session_id or s.trace_id
        esc = escalations.get(case) or escalations.get(case_of_trace.get(s.trace_id, ""))
        if esc is None or s.start_time < esc.started_at:
            continue
        if esc.human_touch_at is None or s.start_time < esc.human_touch_at:
            esc.human_touch_at = s.start_time
    ordered = sorted(escalations.values(), key=lambda e: (e.started_at, e.id))
    return ordered, types


def _rotate(cycle: list[str]) -> list[str]:
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _contains(path: list[str], cycle: list[str]) -> bool:
    """Whether ``path`` goes once round ``cycle`` (consecutive hops, any starting point)."""
    n = len(cycle)
    edges = {(cycle[i], cycle[(i + 1) % n]) for i in range(n)}
    walked = {(a, b) for a, b in itertools.pairwise(path)}
    return edges <= walked


@dataclass
class EscalationReport:
    """What :func:`escalation_audit` found."""

    window: TraceWindow
    escalations: list[Escalation]
    types: dict[str, str]
    counted: int
    touched: int
    excluded_recent: int
    sla: timedelta | None
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    cycles: list[dict[str, Any]]
    findings: list[Finding]
    sampled_from: int | None = None

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        import numpy as np

        ended = Counter(self.types.get(e.path[-1], "unknown") for e in self.escalations)
        waits = [
            (e.human_touch_at - e.started_at).total_seconds()
            for e in self.escalations
            if e.human_touch_at is not None
        ]
        return {
            "window": self.window.as_dict(),
            "escalations": len(self.escalations),
            "sampled_from": self.sampled_from,
            "counted": self.counted,
            "excluded_younger_than_sla": self.excluded_recent,
            "sla_seconds": self.sla.total_seconds() if self.sla else None,
            "human_touch": rate_dict(self.touched, self.counted),
            "no_human_touch": rate_dict(self.counted - self.touched, self.counted),
            "ended_at": {t: ended[t] for t in ACTOR_TYPES if ended[t]},
            "seconds_to_human": {
                "p50": float(np.percentile(waits, 50)) if waits else None,
                "p95": float(np.percentile(waits, 95)) if waits else None,
            },
            "actors": self.nodes,
            "edges": self.edges,
            "cycles": self.cycles,
            "cases": [e.as_dict(self.types) for e in self.escalations],
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def analyse_escalations(
    escalations: list[Escalation],
    types: dict[str, str],
    *,
    sla: timedelta | None = None,
    now: datetime | None = None,
    window: TraceWindow = TraceWindow(),
    sampled_from: int | None = None,
) -> EscalationReport:
    """The report over built escalations (a pure function; rules in the module docstring)."""
    import networkx as nx  # type: ignore[import-untyped]

    moment = now or datetime.now(UTC)
    counted = touched = recent = 0
    untouched: list[Escalation] = []
    for esc in escalations:
        if sla is not None and moment - esc.started_at < sla:
            recent += 1
            continue
        counted += 1
        ok = esc.human_touch_at is not None and (
            sla is None or esc.human_touch_at - esc.started_at <= sla
        )
        touched += ok
        if not ok:
            untouched.append(esc)
    graph = nx.DiGraph()
    edge_counts: Counter[tuple[str, str]] = Counter()
    visits: Counter[str] = Counter()
    for esc in escalations:
        visits.update(set(esc.path))
        for a, b in zip(esc.path, esc.path[1:], strict=False):
            edge_counts[(a, b)] += 1
    for (a, b), count in edge_counts.items():
        graph.add_edge(a, b, count=count)
    cycles: list[dict[str, Any]] = []
    for raw in nx.simple_cycles(graph):
        cycle = _rotate([str(n) for n in raw])
        through = [e.id for e in escalations if _contains(e.path, cycle)]
        has_human = any(types.get(n) == "human" for n in cycle)
        cycles.append(
            {
                "path": [*cycle, cycle[0]],
                "length": len(cycle),
                "has_human": has_human,
                "escalations": len(through),
                "examples": through[:5],
            }
        )
    cycles.sort(key=lambda c: (c["has_human"], -c["escalations"], c["length"], c["path"]))
    nodes = [
        {"actor": name, "type": types.get(name, "unknown"), "escalations": visits[name]}
        for name in sorted(visits)
    ]
    in_cycle = {(c["path"][i], c["path"][i + 1]) for c in cycles for i in range(c["length"])}
    edges = [
        {"from": a, "to": b, "count": n, "in_cycle": (a, b) in in_cycle}
        for (a, b), n in sorted(edge_counts.items())
    ]
    findings: list[Finding] = []
    if untouched:
        share = rate_dict(len(untouched), counted)
        sla_text = f" within {sla}" if sla else ""
        findings.append(
            Finding(
                code="no_human_touch",
                message=f"{len(untouched)} of {counted} escalations "
                f"({share['rate']:.0%}, 95% CI {share['low']:.0%}–{share['high']:.0%}) were "
                f"never touched by a human{sla_text}",
                fix="an escalation is done when a human reads it, not when the next system "
                "accepts it: route it to a human queue and alert when no human picks it up",
                refs=[
                    {"escalation": e.id, "path": e.path, "trace_ids": e.as_dict(types)["trace_ids"]}
                    for e in untouched[:10]
                ],
                details={"no_human_touch": share},
            )
        )
    for found in cycles:
        if found["has_human"]:
            continue
        findings.append(
            Finding(
                code="escalation_cycle",
                message=f"escalations go round {' → '.join(found['path'])} "
                f"(length {found['length']}, no human on it; {found['escalations']} "
                "escalations)",
                fix="break the loop: one hop of the cycle must hand to a human",
                refs=[{"escalation": e} for e in found["examples"]],
                details={"path": found["path"], "length": found["length"]},
            )
        )
    return EscalationReport(
        window,
        escalations,
        types,
        counted,
        touched,
        recent,
        sla,
        nodes,
        edges,
        cycles,
        findings,
        sampled_from,
    )


def escalation_audit(
    store: Store,
    declarations: Declarations | None = None,
    window: TraceWindow = TraceWindow(),
    *,
    sla: timedelta | None = None,
    sample: int | None = None,
    seed: int = 0,
    now: datetime | None = None,
) -> EscalationReport:
    """The J6 audit over the actor-labelled traces in ``window``; ``sample`` audits a seeded
    random sample of that many escalations."""
    declarations = declarations or Declarations.empty()
    markers = ['"actor.', '"escalation.', '"gen_ai.agent.name"']
    markers += [f'"{tool}"' for tool in declarations.handoffs]
    marked = read_spans(store, window, attribute_like=tuple(markers))
    spans = read_spans(store, trace_ids=sorted({s.trace_id for s in marked})) if marked else []
    escalations, types = build_escalations(spans, declarations)
    sampled_from = None
    if sample is not None and sample < len(escalations):
        sampled_from = len(escalations)
        chosen = set(random.Random(seed).sample(range(len(escalations)), sample))
        escalations = [e for i, e in enumerate(escalations) if i in chosen]
    return analyse_escalations(
        escalations,
        types,
        sla=sla,
        now=now or window.until,
        window=window,
        sampled_from=sampled_from,
    )
