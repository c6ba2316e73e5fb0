"""Trajectory scoring of imported traces: the same scorer as in runs, on stored tool calls.

A trace's trajectory is its executed tool calls in start order (tool spans), else the calls
its LLM spans requested. References come from a JSONL file, one object a line, applying to one
trace, to every trace of a session, or to every trace of a route::

    {"trace_id": "4bf9…", "trajectory": ["lookup_customer", "create_order"]}
    {"route": "agent-orders", "trajectory": [{"tool": "lookup_order", "arguments": {}}]}

(a trace id beats a session, which beats a route). Each trace gets a
:class:`~assay.score.trajectory.TrajectoryScorer` score; the match rate comes with a Wilson
interval, and ``write=True`` stores each score in ``trace_scores`` (``source='trajectory'``),
where the trace pages and their statistics read scores computed elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.agents._read import TraceWindow, read_tool_calls
from assay.core import Sample, SpecError
from assay.core.findings import Finding, failed
from assay.score.trajectory import TrajectoryScorer, as_trajectory
from assay.stats.rates import rate_dict
from assay.store import Store
from assay.store.tables import trace_scores, traces


@dataclass(frozen=True)
class Reference:
    """A reference path for a trace, a session or a route; ``where`` is its file:line."""

    trajectory: list[dict[str, Any]]
    where: str
    trace_id: str | None = None
    session_id: str | None = None
    route: str | None = None


def load_references(path: str | Path) -> list[Reference]:
    """Read a references file (see the module docstring); errors name ``file:line``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", where=str(path), fix="check the path") from None
    refs: list[Reference] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise SpecError(f"not JSON: {exc}", where=where) from None
        if not isinstance(row, dict):
            raise SpecError("each line must be a JSON object", where=where)
        keys = [k for k in ("trace_id", "session_id", "route") if row.get(k)]
        if len(keys) != 1:
            raise SpecError(
                "give exactly one of trace_id, session_id or route",
                where=where,
                fix='e.g. {"route": "agent-orders", "trajectory": ["lookup_order"]}',
            )
        trajectory = as_trajectory(row.get("trajectory"))
        if trajectory is None:
            raise SpecError(
                "`trajectory` must be a list of tool names or {tool, arguments} objects",
                where=where,
            )
        refs.append(
            Reference(
                trajectory,
                where,
                trace_id=str(row["trace_id"]).lower() if "trace_id" in keys else None,
                session_id=row.get("session_id") if "session_id" in keys else None,
                route=row.get("route") if "route" in keys else None,
            )
        )
    if not refs:
        raise SpecError("the file holds no references", where=str(path))
    return refs


def trace_trajectories(store: Store, window: TraceWindow) -> dict[str, list[dict[str, Any]]]:
    """Trace id → its trajectory (executed calls, else requested ones), oldest call first."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in read_tool_calls(store, window, source="execution"):
        out[call.trace_id].append({"tool": call.tool, "arguments": call.arguments})
    requested: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in read_tool_calls(store, window, source="request"):
        requested[call.trace_id].append({"tool": call.tool, "arguments": call.arguments})
    for trace_id, calls in requested.items():
        out.setdefault(trace_id, calls)
    return dict(out)


@dataclass
class TrajectoryReport:
    """Per-trace trajectory scores and the match rate."""

    scorer: TrajectoryScorer
    rows: list[dict[str, Any]]
    findings: list[Finding]

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        graded = [r for r in self.rows if r["value"] is not None]
        matched = sum(1 for r in graded if r["value"] == 1.0)
        return {
            "scorer": self.scorer.name,
            "mode": self.scorer.mode,
            "arguments": self.scorer.arguments,
            "traces": len(self.rows),
            "match_rate": rate_dict(matched, len(graded)),
            "ungraded": len(self.rows) - len(graded),
            "rows": self.rows,
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def score_trace_trajectories(
    store: Store,
    references: Sequence[Reference],
    *,
    mode: str = "in_order",
    arguments: str = "ignore",
    window: TraceWindow = TraceWindow(),
    write: bool = False,
) -> TrajectoryReport:
    """Score every trace a reference applies to (rules in the module docstring)."""
    scorer = TrajectoryScorer(mode, arguments)  # type: ignore[arg-type]
    by_trace = {r.trace_id: r for r in references if r.trace_id}
    by_session = {r.session_id: r for r in references if r.session_id}
    by_route = {r.route: r for r in references if r.route}
    query = select(traces.c.id, traces.c.session_id, traces.c.route).order_by(
        traces.c.start_time, traces.c.id
    )
    if window.since is not None:
        query = query.where(traces.c.start_time >= window.since)
    if window.until is not None:
        query = query.where(traces.c.start_time < window.until)
    if window.route is not None:
        query = query.where(traces.c.route == window.route)
    with store.engine.connect() as conn:
        trace_rows = conn.execute(query).all()
    paths = trace_trajectories(store, window)
    rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for trace_id, session_id, route in trace_rows:
        ref = by_trace.get(trace_id) or by_session.get(session_id) or by_route.get(route)
        if ref is None:
            continue
        sample = Sample(id=trace_id, input="", metadata={"trajectory": ref.trajectory})
        actual = paths.get(trace_id, [])
        score = scorer.score_calls(sample, actual)
        row = {
            "trace_id": trace_id,
            "reference": ref.where,
            "value": score.value,
            "path": [c["tool"] for c in actual],
            "expected": [c["tool"] for c in ref.trajectory],
            "explanation": score.explanation or score.error,
            "precision": score.metadata.get("precision"),
            "recall": score.metadata.get("recall"),
        }
        rows.append(row)
        if score.value == 0.0:
            findings.append(
                Finding(
                    code="trajectory_mismatch",
                    message=f"trace {trace_id[:16]}: {' -> '.join(row['path']) or '(no calls)'}"
                    f" does not match {' -> '.join(row['expected'])} ({mode})",
                    refs=[{"trace_id": trace_id, "reference": ref.where}],
                    details={"precision": row["precision"], "recall": row["recall"]},
                )
            )
    if write and rows:
        now = datetime.now(UTC)
        records = [
            {
                "id": hashlib.blake2b(
                    f"{r['trace_id']}\x00{scorer.name}".encode(), digest_size=16
                ).hexdigest(),
                "trace_id": r["trace_id"],
                "span_id": None,
                "name": scorer.name,
                "value": r["value"],
                "label": None if r["value"] is None else ("match" if r["value"] else "mismatch"),
                "explanation": r["explanation"],
                "response_id": None,
                "source": "trajectory",
                "created_at": now,
            }
            for r in rows
        ]
        with store.engine.begin() as conn:
            ids = [r["id"] for r in records]
            conn.execute(trace_scores.delete().where(trace_scores.c.id.in_(ids)))
            conn.execute(trace_scores.insert(), records)
    return TrajectoryReport(scorer, rows, findings)
