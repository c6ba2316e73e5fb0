"""One monitoring pass: signals → series → change points and budgets → alerts → sinks.

:func:`run_pass` is what ``assay monitor run`` / ``check`` and ``assay serve --monitor`` call.
For every route of a :class:`~assay.monitor.spec.Monitors` it reads the route's traces over the
lookback (one read shared by every signal), analyses each signal's series for the whole route
and for each segment (:mod:`assay.monitor.analysis`; never pooled across routes), evaluates the
objectives (:mod:`assay.monitor.slo`), logs substrate events seen in the spans
(:mod:`assay.monitor.substrate`), turns what it found into alerts with the "what changed" list
(:mod:`assay.monitor.explain`, :mod:`assay.monitor.alerts`) and sends due notifications.

Everything but the alert lifecycle is a pure function of the store: a pass at time ``now``
over the same traces finds the same points, changes and budgets.

**Incremental passes.** The observations and the substrate groups are read through per-window
rollups (:mod:`assay.monitor.rollups`): after a first (cold) pass, a pass reads from the trace
tables only the windows whose traces changed since the last one, plus the partial windows at
both ends, and analyses the same observations as a cold pass would. ``full=True``
(``assay monitor run --full``) reads everything.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete

from assay.monitor.alerts import AlertSync, DeliveryReport, Finding, deliver, sync_alerts
from assay.monitor.analysis import Series, analyse_series
from assay.monitor.explain import rank_events
from assay.monitor.incremental import Fresh, observe_planned, scan_planned
from assay.monitor.rollups import (
    SUBSTRATE_SECONDS,
    Tracker,
    prune_marks,
    route_key,
    save,
    set_state,
    substrate_key,
)
from assay.monitor.signals import Observations, observe_route
from assay.monitor.slo import BudgetStatus, budget_text, evaluate_objective
from assay.monitor.spec import CANARY_ENVIRONMENT, Monitors, Route
from assay.monitor.substrate import (
    SubstrateEvent,
    detect_from_traces,
    detect_judge_changes,
    load_events,
    record_events,
)
from assay.monitor.substrate_scan import SubstrateScan
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import monitor_changes, monitor_points

#: How far before the lookback the substrate scan starts, so the first event in the lookback
#: knows what it replaced.
SUBSTRATE_MARGIN = timedelta(days=1)
#: Segments with fewer observations than this many baselines are summarised but not watched.
MIN_SEGMENT_BASELINES = 1.5


@dataclass
class RouteReport:
    route: str
    series: list[Series] = field(default_factory=list)
    budgets: list[BudgetStatus] = field(default_factory=list)
    events: list[SubstrateEvent] = field(default_factory=list)


@dataclass
class PassReport:
    """What one pass found and did."""

    at: datetime
    since: datetime
    routes: list[RouteReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    alerts: AlertSync = field(default_factory=AlertSync)
    delivery: DeliveryReport | None = None
    #: How the pass read (see :func:`rollups_summary`).
    rollups: dict[str, Any] = field(default_factory=dict)

    @property
    def firing(self) -> list[Finding]:
        return self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "since": self.since.isoformat(),
            "healthy": not self.findings,
            "rollups": self.rollups,
            "alerts": [
                {
                    "key": f.key,
                    "kind": f.kind,
                    "severity": f.severity,
                    "route": f.route,
                    "signal": f.signal,
                    "segment": f.segment,
                    "title": f.title,
                    **f.detail,
                }
                for f in self.findings
            ],
            "opened": self.alerts.opened,
            "resolved": self.alerts.resolved,
            "delivery": None
            if self.delivery is None
            else {
                "delivered": self.delivery.delivered,
                "failed": self.delivery.failed,
                "pending": self.delivery.pending,
                "errors": self.delivery.errors,
            },
            "routes": [
                {
                    "route": r.route,
                    "series": [series_dict(s) for s in r.series],
                    "objectives": [b.as_dict() for b in r.budgets],
                    "substrate_events": [e.as_dict() for e in r.events],
                }
                for r in self.routes
            ],
        }


def series_dict(s: Series) -> dict[str, Any]:
    last = s.points[-1] if s.points else None
    return {
        "signal": s.name,
        "segment": s.segment or None,
        "n": s.n,
        "latest": None
        if last is None
        else {"window_start": last.window_start.isoformat(), "value": last.value, "n": last.n},
        "note": s.note,
        "threshold": s.detection.threshold if s.detection else None,
        "changes": [c.as_dict() for c in s.changes],
    }


def _segments(route: Route, obs: Observations, baseline: int) -> list[str]:
    if not route.segment_by:
        return []
    counts: dict[str, int] = {}
    for seg in obs.segments:
        if seg is not None:
            counts[seg] = counts.get(seg, 0) + 1
    return sorted(s for s, n in counts.items() if n >= MIN_SEGMENT_BASELINES * baseline)


def _fmt(value: float | None, signal_kind: str) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if signal_kind == "binary" else f"{value:.4g}"


def _change_finding(route: Route, s: Series, events: list[SubstrateEvent]) -> Finding | None:
    change = s.open_change
    if change is None:
        return None
    ranked = rank_events(
        events,
        start=change.start_time,
        previous=change.previous_time,
        detected=change.detected_time,
        judge_signal=s.signal.name == "judge_score",
    )
    kind = s.signal.alert
    where = f"{route.name}" + (f" [{route.segment_by}={s.segment}]" if s.segment else "")
    title = (
        f"{kind} on {where}: {s.name} {_fmt(change.before, s.signal.kind)} → "
        f"{_fmt(change.after, s.signal.kind)} since {change.start_time:%Y-%m-%d %H:%M} UTC"
    )
    if ranked:
        title += f"; first candidate: {ranked[0].event.describe()}"
    return Finding(
        key=f"{route.name}|{s.name}|{s.segment}|change",
        kind=kind,
        severity="ticket",
        route=route.name,
        signal=s.name,
        segment=s.segment or None,
        title=title,
        detail={
            "change": change.as_dict(),
            "what_changed": [c.as_dict() for c in ranked[:10]],
        },
    )


def _budget_finding(
    route: Route, status: BudgetStatus, events: list[SubstrateEvent]
) -> Finding | None:
    firing = status.firing
    if not firing:
        return None
    severity = "page" if any(r.severity == "page" for r in firing) else "ticket"
    worst = max(firing, key=lambda r: r.long.burn or 0)
    longest = max(r.long.window for r in firing)
    recent = [e for e in events if status.at - longest <= e.time <= status.at]
    recent.sort(key=lambda e: status.at - e.time)
    title = (
        f"slo_burn on {route.name}: {status.signal} burning {worst.long.burn:.1f}x the budget over "
        f"{worst.long.as_dict()['window']} (objective {100 * status.objective:g}%); "
        f"{budget_text(status)}"
    )
    return Finding(
        key=f"{route.name}|{status.signal}||slo",
        kind="slo_burn",
        severity=severity,
        route=route.name,
        signal=status.signal,
        segment=None,
        title=title,
        detail={
            "budget": status.as_dict(),
            "what_changed": [e.as_dict() for e in recent[:10]],
        },
    )


def analyse_route(
    store: Store,
    monitors: Monitors,
    route: Route,
    since: datetime,
    until: datetime,
    substrate: SubstrateScan | None = None,
    observed: dict[str, Observations] | None = None,
) -> tuple[RouteReport, list[Finding]]:
    """Series, budgets and findings of one route over [since, until); ``substrate``: every
    route's substrate groups from ``since - SUBSTRATE_MARGIN``, read once per pass;
    ``observed``: the route's :func:`observe_route` when already read."""
    report = RouteReport(route.name)
    events = detect_from_traces(store, route, since - SUBSTRATE_MARGIN, until, substrate)
    record_events(store, events)
    stored = load_events(store, route=route.name, since=since - SUBSTRATE_MARGIN, until=until)
    report.events = [e for e in stored if e.time >= since]
    findings: list[Finding] = []
    if observed is None:
        observed = observe_route(store, route, since, until)
    for signal in route.signals:
        from assay.monitor.signals import series_name

        if signal.kind == "check":
            from assay.monitor.checks import evaluate_check

            findings.extend(evaluate_check(store, route, signal, since, until))
            continue
        name = series_name(signal)
        obs = observed[name]
        for segment in ["", *_segments(route, obs, monitors.baseline)]:
            part = obs.subset(segment or None)
            s = analyse_series(
                part,
                window=monitors.window,
                baseline=monitors.baseline,
                false_alarms_per_1000=monitors.false_alarms_per_1000,
                segment=segment,
                name=name,
            )
            if route.environment == CANARY_ENVIRONMENT:
                from assay.monitor.canary import snap_to_passes

                snap_to_passes(s, part)
            report.series.append(s)
            finding = _change_finding(route, s, stored)
            if finding is not None:
                findings.append(finding)
    for objective in route.objectives:
        obs = next(o for o in observed.values() if o.signal.name == objective.signal)
        status = evaluate_objective(objective, obs.times, obs.values, until, step=monitors.window)
        report.budgets.append(status)
        finding = _budget_finding(route, status, stored)
        if finding is not None:
            findings.append(finding)
    return report, findings


def save_series(
    store: Store,
    route: str,
    series: list[Series],
    since: datetime,
    now: datetime,
    window: timedelta,
    budgets: list[BudgetStatus] = (),  # type: ignore[assignment]
) -> None:
    """Replace the stored points and change points of ``route``'s series over the lookback;
    each objective's budget remaining is stored as the series ``budget:<signal>``."""
    from assay.core import content_hash
    from assay.trace.ingest import insert_ignore

    seconds = int(window.total_seconds())
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        conn.execute(
            delete(monitor_points).where(
                monitor_points.c.route == route,
                monitor_points.c.window_seconds == seconds,
                monitor_points.c.window_start >= since - window,
            )
        )
        conn.execute(delete(monitor_changes).where(monitor_changes.c.route == route))
        rows = [
            {
                "route": route,
                "signal": s.name,
                "segment": s.segment,
                "window_seconds": seconds,
                "window_start": p.window_start,
                "value": p.value,
                "low": p.low,
                "high": p.high,
                "n": p.n,
                "bad": p.bad,
                "level": p.level,
                "updated_at": now,
            }
            for s in series
            for p in s.points
        ]
        for b in budgets:
            rows.extend(
                {
                    "route": route,
                    "signal": f"budget:{b.signal}",
                    "segment": "",
                    "window_seconds": seconds,
                    "window_start": t,
                    "value": remaining,
                    "low": None,
                    "high": None,
                    "n": 0,
                    "bad": None,
                    "level": None,
                    "updated_at": now,
                }
                for t, remaining in b.series
                if t >= since - window
            )
        # One driver executemany (the rows were just deleted: nothing conflicts), without
        # SQLAlchemy's per-value bind processing: ~20,000 points a pass for 120 series.
        insert_ignore(conn, monitor_points, rows)
        changes = [
            {
                "id": content_hash(
                    [route, s.name, s.segment, c.start_time.isoformat(), c.direction]
                )[:32],
                "route": route,
                "signal": s.name,
                "segment": s.segment,
                "start_time": c.start_time,
                "detected_time": c.detected_time,
                "direction": c.direction,
                "worse": c.worse,
                "shift_json": json.dumps(c.as_dict(), default=str),
                "updated_at": now,
            }
            for s in series
            for c in s.changes
        ]
        if changes:
            conn.execute(monitor_changes.insert(), changes)


#: Routes whose observations a pass reads ahead of the one it analyses (bounds its memory).
READ_AHEAD = 2


def _threads_share_store(store: Store) -> bool:
    """Whether other threads reach the same database through ``store``'s pool (not so for an
    in-memory SQLite store, whose pool gives each thread its own database)."""
    from sqlalchemy.pool import NullPool, QueuePool

    return isinstance(store.engine.pool, QueuePool | NullPool)


def _scan(
    store: Store, tracker: Tracker, since: datetime, until: datetime
) -> tuple[SubstrateScan, Fresh]:
    """Every route's substrate groups over [since, until), hour by hour through the rollups."""
    with store.engine.connect() as conn:
        plan = tracker.plan(conn, substrate_key(), since, until, SUBSTRATE_SECONDS)
    return scan_planned(store, plan)


def _observe(
    store: Store,
    tracker: Tracker,
    route: Route,
    since: datetime,
    until: datetime,
    window: timedelta,
) -> tuple[dict[str, Observations], Fresh]:
    """A route's observations over [since, until), window by window through the rollups."""
    with store.engine.connect() as conn:
        key = route_key(route, window)
        plan = tracker.plan(conn, key, since, until, int(window.total_seconds()), route)
    return observe_planned(store, route, plan)


Read = tuple[Route, tuple[SubstrateScan, Fresh], tuple[dict[str, Observations], Fresh]]


def _route_reads(
    store: Store,
    tracker: Tracker,
    routes: Sequence[Route],
    since: datetime,
    until: datetime,
    window: timedelta,
    pool: Any,
) -> Iterator[Read]:
    """Each route with the pass's substrate scan (one for every route: grouped by the trace
    columns routes filter on, instead of one per route) and its observations, in order. With a
    thread ``pool`` (two workers) the reads run beside the analysis: one worker scans the
    substrate while the other reads the observations of up to :data:`READ_AHEAD` routes ahead
    (SQLite and the PostgreSQL driver release the GIL while a query runs, so a read and an
    analysis use two cores). Reads only: the pass's writes stay in the calling thread, in route
    order."""
    start = since - SUBSTRATE_MARGIN
    if pool is None:
        substrate = _scan(store, tracker, start, until)
        for route in routes:
            yield route, substrate, _observe(store, tracker, route, since, until, window)
        return
    scan = pool.submit(_scan, store, tracker, start, until)
    ahead = deque(
        pool.submit(_observe, store, tracker, r, since, until, window) for r in routes[:READ_AHEAD]
    )
    for i, route in enumerate(routes):
        observed = ahead.popleft().result()
        if i + READ_AHEAD < len(routes):
            nxt = routes[i + READ_AHEAD]
            ahead.append(pool.submit(_observe, store, tracker, nxt, since, until, window))
        yield route, scan.result(), observed


def _save_rollups(store: Store, tracker: Tracker, fresh: Fresh) -> None:
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        save(conn, fresh.plan, fresh.data, fresh.counts, tracker.now, datetime.now(UTC))


def rollups_summary(tracker: Tracker, substrate: Fresh | None) -> dict[str, Any]:
    """Whether a pass was incremental, and the windows it read from rows and from rollups."""
    plan = substrate.plan if substrate is not None else None
    return {
        "incremental": tracker.incremental or (plan is not None and not plan.full),
        "windows_recomputed": tracker.recomputed,
        "windows_reused": tracker.reused,
        "substrate_hours_recomputed": plan.read_windows if plan else 0,
        "substrate_hours_reused": len(plan.reused) if plan else 0,
    }


def run_pass(
    store: Store,
    monitors: Monitors,
    *,
    now: datetime | None = None,
    deliver_alerts: bool = True,
    stdout: Any = None,
    full: bool = False,
) -> PassReport:
    """One monitoring pass at ``now`` (default: the current time); see the module docstring.
    ``full``: read every window from the trace tables (a cold pass), not only the changed
    ones."""
    from assay.monitor.sinks import sender_for

    until = (now or datetime.now(UTC)).astimezone(UTC)
    since = until - monitors.lookback
    report = PassReport(at=until, since=since)
    judge_events = detect_judge_changes(store) if monitors.judges else []
    record_events(store, judge_events)
    routes = monitors.routes
    with store.engine.connect() as conn:
        tracker = Tracker(conn, full=full)
    substrate_fresh: Fresh | None = None
    pool = None
    if len(routes) > 1 and _threads_share_store(store):
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="assay-monitor-read")
    try:
        reads = _route_reads(store, tracker, routes, since, until, monitors.window, pool)
        for route, (substrate, scanned), (observed, fresh) in reads:
            if substrate_fresh is None:
                substrate_fresh = scanned
                _save_rollups(store, tracker, scanned)
            route_report, findings = analyse_route(
                store, monitors, route, since, until, substrate, observed
            )
            report.routes.append(route_report)
            report.findings.extend(findings)
            save_series(
                store,
                route.name,
                route_report.series,
                since,
                until,
                monitors.window,
                route_report.budgets,
            )
            _save_rollups(store, tracker, fresh)
            tracker.count(fresh.plan)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    report.rollups = rollups_summary(tracker, substrate_fresh)
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        prune_marks(conn, tracker.now, tracker.pruned)
        set_state(conn, "last_pass", 0, json.dumps({"at": until.isoformat(), **report.rollups}))
    report.alerts = sync_alerts(
        store,
        report.findings,
        routes=[r.name for r in monitors.routes],
        sinks=[s.name for s in monitors.sinks],
        now=until,
    )
    if deliver_alerts and monitors.sinks:
        senders = {
            s.name: sender_for(s, base_dir=monitors.base_dir, stdout=stdout) for s in monitors.sinks
        }
        report.delivery = deliver(store, senders, now=until)
    return report
