"""``assay monitor run|check|status|explain|judge|canary|timeline|estimate``, ``assay alerts``.

Production quality monitoring (issue 14): each command calls one function of
:mod:`assay.monitor`; ``--json`` prints what it returns. ``monitor run``/``check`` exit 0 when
healthy, 1 when an alert is firing and 2 on a configuration error, for cron and CI.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console, err_console
from assay.core import AssayError

monitor_app = typer.Typer(
    help="Watch production quality: signals, change points, budgets, what changed, alerts.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(
    help="Alerts raised by the monitors: list and acknowledge.", no_args_is_help=True
)
app.add_typer(monitor_app, name="monitor")
app.add_typer(alerts_app, name="alerts")

SpecOption = Annotated[
    Path, typer.Option("--spec", help="The monitors file (monitors.yaml).", exists=False)
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at", help="Evaluate as of this time (ISO 8601, or an age such as 2h) [default: now]."
    ),
]


def _time(text: str | None, where: str, now: datetime | None = None) -> datetime | None:
    if text is None:
        return None
    from assay.trace.query import parse_time

    return parse_time(text, where=where, now=now)


def _load(spec: Path) -> Any:
    from assay.monitor.spec import load_monitors

    return load_monitors(spec)


def _pass(
    spec: Path, db: str | None, json_out: bool, at: str | None, deliver: bool, full: bool = False
) -> int:
    from assay.monitor.engine import run_pass

    monitors = _load(spec)
    store = _store(db)
    try:
        report = run_pass(store, monitors, now=_time(at, "--at"), deliver_alerts=deliver, full=full)
    finally:
        store.close()
    if json_out:
        console.print_json(data=report.as_dict())
    else:
        _print_pass(report)
    return 1 if report.findings else 0


def _print_pass(report: Any) -> None:
    table = Table(title=f"monitor pass at {report.at:%Y-%m-%d %H:%M} UTC")
    for name in ("route", "signal", "n", "latest", "changes", "note"):
        table.add_column(name, no_wrap=name in ("route", "signal"))
    for r in report.routes:
        for s in r.series:
            last = s.points[-1] if s.points else None
            latest = (
                ""
                if last is None or last.value is None
                else (
                    f"{100 * last.value:.1f}%" if s.signal.kind == "binary" else f"{last.value:.4g}"
                )
            )
            label = s.name + (f" [{s.segment}]" if s.segment else "")
            changes = ", ".join(
                f"{c.direction} {c.start_time:%m-%d %H:%M}" + (" (worse)" if c.worse else "")
                for c in s.changes
            )
            table.add_row(Text(r.route), Text(label), str(s.n), latest, changes, Text(s.note or ""))
    console.print(table)
    for r in report.routes:
        for b in r.budgets:
            from assay.monitor.slo import budget_text

            console.print(
                Text(f"{r.route} · {b.signal} ≥ {100 * b.objective:g}%: {budget_text(b)}")
            )
    if report.findings:
        console.print(Text(f"{len(report.findings)} alert(s) firing:", style="bold red"))
        for f in report.findings:
            console.print(Text(f"  [{f.severity}] {f.title}"))
    else:
        console.print(Text("healthy: no alert firing", style="green"))
    console.print(Text(_rollups_text(report.rollups), style="dim"))
    if report.delivery is not None and (report.delivery.failed or report.delivery.pending):
        err_console.print(
            Text(
                f"sinks: {report.delivery.delivered} delivered, {report.delivery.failed} failed "
                f"(retried next pass), {report.delivery.pending} pending"
            )
        )


def _rollups_text(r: dict[str, Any]) -> str:
    """``incremental pass: 3 windows read, 3,357 reused (substrate: 2 hours read, 190 reused)``."""
    if not r:
        return ""
    how = "incremental pass" if r["incremental"] else "full pass"
    return (
        f"{how}: {r['windows_recomputed']:,} windows read, {r['windows_reused']:,} reused "
        f"(substrate: {r['substrate_hours_recomputed']:,} hours read, "
        f"{r['substrate_hours_reused']:,} reused)"
    )


FullOption = Annotated[
    bool,
    typer.Option(
        "--full",
        help="Read every window from the trace tables (a cold pass) instead of only the windows "
        "that changed since the last pass.",
    ),
]


@monitor_app.command("run")
def run_cmd(
    spec: SpecOption = Path("monitors.yaml"),
    db: DbOption = None,
    json_out: JsonOption = False,
    at: AtOption = None,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Repeat the pass this often (e.g. 5m) until stopped."),
    ] = None,
    no_deliver: Annotated[
        bool, typer.Option("--no-deliver", help="Do not notify the sinks.")
    ] = False,
    full: FullOption = False,
) -> None:
    """One monitoring pass over the latest windows (exit 0 healthy, 1 alerting, 2 config error).

    After the first pass, a pass reads only the windows whose traces, scores or feedback
    changed since the last one (--full reads everything). With --every the pass repeats on that
    schedule (stop with Ctrl-C); the exit status is the last pass's.
    """
    if every is None:
        raise typer.Exit(_pass(spec, db, json_out, at, not no_deliver, full))
    from assay.trace.labels import parse_duration

    period = parse_duration(every, "--every")
    rc = 0
    try:
        while True:
            started = time.monotonic()
            rc = _pass(spec, db, json_out, at, not no_deliver, full)
            time.sleep(max(0.0, period.total_seconds() - (time.monotonic() - started)))
    except KeyboardInterrupt:
        raise typer.Exit(rc) from None


@monitor_app.command("check")
def check_cmd(
    spec: SpecOption = Path("monitors.yaml"),
    db: DbOption = None,
    json_out: JsonOption = False,
    at: AtOption = None,
    no_deliver: Annotated[
        bool, typer.Option("--no-deliver", help="Do not notify the sinks.")
    ] = False,
    full: FullOption = False,
) -> None:
    """The same pass as `monitor run`, for CI: exit 1 when any alert is firing."""
    raise typer.Exit(_pass(spec, db, json_out, at, not no_deliver, full))


@monitor_app.command("status")
def status_cmd(
    db: DbOption = None,
    json_out: JsonOption = False,
    route: Annotated[str | None, typer.Option("--route", help="Only this route.")] = None,
) -> None:
    """What the last pass stored: each series' latest point, its change points, open alerts."""
    from assay.monitor.status import monitor_status

    store = _store(db)
    try:
        status = monitor_status(store, route=route)
    finally:
        store.close()
    if json_out:
        console.print_json(data=status)
        return
    if not status["routes"]:
        console.print("no monitor pass stored yet (run `assay monitor run --spec monitors.yaml`)")
        return
    for r in status["routes"]:
        console.print(route_status_table(r))
    if status.get("last_pass"):
        last = status["last_pass"]
        console.print(Text(f"last pass at {last['at']}: {_rollups_text(last)}"))
    alerts = status["alerts"]
    console.print(Text(f"{len(alerts)} open alert(s)", style="bold red" if alerts else "green"))
    for a in alerts:
        console.print(Text(f"  {a['id'][:12]} [{a['status']}] {a['title']}"))


def route_status_table(r: dict[str, Any]) -> Table:
    """One route of ``assay monitor status``: each signal's latest point, interval, level and
    last change. At 80 columns nothing is cut: long names and times wrap."""
    updated = str(r["updated_at"])[:16].replace("T", " ")
    table = Table(title=f"{r['route']} (updated {updated} UTC)")
    widest = max((len(s["signal"]) for s in r["series"]), default=6)
    for name in ("signal (segment)", "latest", "interval", "n", "level", "last change"):
        # a signal's name whole where it fits; names and times wrap, never cut (80 cols)
        wide = min(widest, 16) if name.startswith("signal") else None
        table.add_column(name, overflow="fold", min_width=wide)
    for s in r["series"]:
        p = s["latest"]
        fmt = (lambda v: f"{100 * v:.1f}%") if s["binary"] else (lambda v: f"{v:.4g}")
        value = "" if p["value"] is None else fmt(p["value"])
        interval = (
            "" if p["low"] is None or p["high"] is None else f"[{fmt(p['low'])}, {fmt(p['high'])}]"
        )
        change = s["changes"][-1] if s["changes"] else None
        last = (
            ""
            if change is None
            else f"{change['direction']} {change['start_time'][:16].replace('T', ' ')}"
            + (" worse" if change["worse"] else "")
        )
        level = "" if p["level"] is None else f"{p['level']:.2f}"
        name = Text(s["signal"] + (f"\n({s['segment']})" if s["segment"] else ""))
        table.add_row(name, value, interval, str(p["n"]), level, last)
    return table


@monitor_app.command("explain")
def explain_cmd(
    route: Annotated[str, typer.Argument(help="The route (as named in monitors.yaml).")],
    at: Annotated[str, typer.Option("--at", help="When the change began (ISO 8601 or an age).")],
    db: DbOption = None,
    json_out: JsonOption = False,
    lookback: Annotated[
        str, typer.Option("--lookback", help="How far before --at to look.")
    ] = "24h",
    signal: Annotated[
        str | None,
        typer.Option("--signal", help="Also show this signal's shift at the nearest change point."),
    ] = None,
) -> None:
    """What changed before a detected change: substrate events, most explanatory first."""
    from assay.monitor.explain import what_changed
    from assay.monitor.status import nearest_change
    from assay.trace.labels import parse_duration

    start = _time(at, "--at")
    assert start is not None
    store = _store(db)
    try:
        change = nearest_change(store, route, start, signal) if signal else None
        detected = datetime.fromisoformat(change["detected_time"]) if change else start
        previous = (
            datetime.fromisoformat(change["previous_time"])
            if change and change.get("previous_time")
            else None
        )
        begin = datetime.fromisoformat(change["start_time"]) if change else start
        ranked = what_changed(
            store,
            route,
            start=begin,
            detected=detected,
            previous=previous,
            lookback=parse_duration(lookback, "--lookback"),
            judge_signal=bool(signal and signal.startswith("judge_score")),
        )
    finally:
        store.close()
    out = {
        "route": route,
        "at": begin.isoformat(),
        "change": change,
        "candidates": [c.as_dict() for c in ranked],
    }
    if json_out:
        console.print_json(data=out)
        return
    if change:
        s = change["shift"]
        console.print(
            Text(
                f"{signal} changed {change['direction']} at {change['start_time'][:16]}: "
                f"{change['before']} → {change['after']} "
                f"({s['method']} {s['estimate']:.4g}, 95% {s['low']:.4g} to {s['high']:.4g})"
            )
        )
    if not ranked:
        console.print(
            Text(f"no substrate change on {route} in the {lookback} before {begin:%Y-%m-%d %H:%M}")
        )
        return
    table = Table(title=f"what changed on {route} before {begin:%Y-%m-%d %H:%M} UTC")
    for name in ("#", "time", "min", "kind", "change"):
        table.add_column(name)
    for i, c in enumerate(ranked, 1):
        table.add_row(
            str(i),
            f"{c.event.time:%m-%d %H:%M}",
            f"{c.offset.total_seconds() / 60:+.0f}" + (" ◆" if c.coincident else ""),
            c.event.kind,
            Text(c.event.describe()),
        )
    console.print(table)


@monitor_app.command("judge")
def judge_cmd(
    spec: SpecOption = Path("monitors.yaml"),
    db: DbOption = None,
    json_out: JsonOption = False,
    judge: Annotated[str | None, typer.Option("--judge", help="Only this judge.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Backfill from this time.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to this time.")] = None,
    at: AtOption = None,
) -> None:
    """Run the online judges on sampled, complete, not-yet-judged traffic (a run per judge)."""
    from assay.monitor.judging import judge_traffic

    monitors = _load(spec)
    now = _time(at, "--at") or datetime.now(UTC)
    store = _store(db)
    try:
        reports = judge_traffic(
            store,
            monitors,
            judge,
            now=now,
            since=_time(since, "--since", now),
            until=_time(until, "--until", now),
        )
    finally:
        store.close()
    if json_out:
        console.print_json(data=[r.as_dict() for r in reports])
        return
    table = Table(title="online judges")
    for name in ("judge", "scope", "candidates", "judged", "why", "scores", "errors", "run"):
        table.add_column(name)
    for r in reports:
        why = ", ".join(f"{k} {v}" for k, v in sorted(r.reasons.items()))
        table.add_row(
            r.judge,
            r.scope,
            str(r.candidates),
            str(r.chosen),
            why,
            str(r.scores),
            str(r.errors),
            r.run_id or "",
        )
    console.print(table)


@monitor_app.command("canary")
def canary_cmd(
    spec: SpecOption = Path("monitors.yaml"),
    db: DbOption = None,
    json_out: JsonOption = False,
    name: Annotated[str | None, typer.Option("--name", help="Only this canary.")] = None,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Repeat this often (e.g. 1h) until stopped."),
    ] = None,
) -> None:
    """Run the scheduled canaries of monitors.yaml once (cron-friendly) or --every period:
    a pinned eval against the live endpoint, stored as a run and as synthetic traces that the
    next `monitor run` watches (route canary:NAME)."""
    from assay.monitor.canary import run_canary

    monitors = _load(spec)
    canaries = [c for c in monitors.canaries if name is None or c.name == name]
    if not canaries:
        raise AssayError(
            f"no canary {name!r} in {spec}" if name else f"{spec} declares no `canaries:`",
            where="--name" if name else str(spec),
            fix="declare one under `canaries:` (name, every, eval)",
        )
    period = None
    if every is not None:
        from assay.trace.labels import parse_duration

        period = parse_duration(every, "--every")
    store = _store(db)
    try:
        while True:
            started = time.monotonic()
            reports = [run_canary(store, monitors, c) for c in canaries]
            if json_out:
                console.print_json(data=[r.as_dict() for r in reports])
            else:
                for r in reports:
                    mean = "n/a" if r.mean_score is None else f"{r.mean_score:.3f}"
                    console.print(
                        Text(
                            f"canary {r.canary}: {r.probes} probes, {r.errors} errors, mean "
                            f"score {mean}, model {', '.join(r.resolved_models) or '?'} "
                            f"(run {r.run_id})"
                        )
                    )
            if period is None:
                return
            time.sleep(max(0.0, period.total_seconds() - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return
    finally:
        store.close()


@monitor_app.command("timeline")
def timeline_cmd(
    db: DbOption = None,
    json_out: JsonOption = False,
    route: Annotated[
        str | None, typer.Option("--route", help="Only this route (and global events).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this time.")] = None,
) -> None:
    """The substrate timeline: model snapshots, fingerprints, prompts, judges, embeddings,
    indexes, deploys."""
    from assay.monitor.substrate import load_events

    store = _store(db)
    try:
        events = load_events(store, route=route, since=_time(since, "--since"))
    finally:
        store.close()
    if json_out:
        console.print_json(data=[e.as_dict() for e in events])
        return
    table = Table(title="substrate timeline")
    for name in ("time", "route", "kind", "change"):
        table.add_column(name)
    for e in events:
        table.add_row(
            f"{e.time:%Y-%m-%d %H:%M}", Text(e.route or "(all)"), e.kind, Text(e.describe())
        )
    console.print(table)


@monitor_app.command("estimate")
def estimate_cmd(
    route: Annotated[str, typer.Argument(help="The route (as named in monitors.yaml).")],
    signal: Annotated[
        str, typer.Argument(help="The signal (e.g. format_validity, judge_score:helpful).")
    ],
    spec: SpecOption = Path("monitors.yaml"),
    db: DbOption = None,
    json_out: JsonOption = False,
    since: Annotated[str, typer.Option("--since", help="Window start.")] = "7d",
    until: Annotated[str | None, typer.Option("--until", help="Window end [default: now].")] = None,
    pool: Annotated[
        bool, typer.Option("--pool-across-substrate", help="Pool across substrate changes anyway.")
    ] = False,
) -> None:
    """A signal's estimate over a window, split at substrate changes (a pooled estimate across
    one is refused without --pool-across-substrate)."""
    from assay.monitor.readout import PooledAcrossSubstrate, readout
    from assay.monitor.signals import observe_route
    from assay.monitor.substrate import detect_from_traces, load_events, record_events

    monitors = _load(spec)
    r = monitors.route(route)
    end = _time(until, "--until") or datetime.now(UTC)
    start = _time(since, "--since", end)
    assert start is not None
    store = _store(db)
    try:
        record_events(store, detect_from_traces(store, r, start - timedelta(days=1), end))
        observed = observe_route(store, r, start, end)
        if signal not in observed:
            raise AssayError(
                f"route {route!r} does not watch {signal!r}",
                where="SIGNAL",
                fix=f"signals: {', '.join(observed)}",
            )
        events = load_events(store, route=route, since=start, until=end)
        try:
            result = readout(
                observed[signal], events, since=start, until=end, pool_across_substrate=pool
            )
        except PooledAcrossSubstrate as exc:
            if exc.readout is not None:
                if json_out:
                    console.print_json(data={**exc.readout.as_dict(), "refused": exc.render()})
                else:
                    _print_readout(exc.readout)
            raise
    finally:
        store.close()
    if json_out:
        console.print_json(data=result.as_dict())
    else:
        _print_readout(result)


def _print_readout(result: Any) -> None:
    table = Table(title=f"{result.signal}: segments split at substrate changes")
    for name in ("from", "to", "n", "estimate", "95% interval", "method"):
        table.add_column(name)
    for s in result.segments:
        e = s.estimate
        table.add_row(
            f"{s.start:%Y-%m-%d %H:%M}",
            f"{s.end:%Y-%m-%d %H:%M}",
            str(s.n),
            f"{e.estimate:.4g}",
            f"{e.low:.4g}–{e.high:.4g}",
            e.method,
        )
    console.print(table)
    for e in result.events:
        console.print(Text(f"split at {e.time:%Y-%m-%d %H:%M}: {e.describe()}"))
    if result.pooled is not None and len(result.segments) > 1:
        console.print(Text(f"pooled (across substrate): {result.pooled.estimate.estimate:.4g}"))


@alerts_app.command("list")
def alerts_list_cmd(
    db: DbOption = None,
    json_out: JsonOption = False,
    status: Annotated[
        str | None, typer.Option("--status", help="firing, acknowledged, resolved, or open.")
    ] = None,
    route: Annotated[str | None, typer.Option("--route", help="Only this route.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
) -> None:
    """Alerts, newest first."""
    from assay.monitor.alerts import list_alerts

    store = _store(db)
    try:
        items = list_alerts(store, status=status, route=route, limit=limit)
    finally:
        store.close()
    if json_out:
        console.print_json(data=items)
        return
    table = Table(title="alerts")
    for name in ("id", "status", "severity", "opened", "title"):
        table.add_column(name, no_wrap=name == "id")
    for a in items:
        table.add_row(
            a["id"][:12], a["status"], a["severity"], (a["opened_at"] or "")[:16], Text(a["title"])
        )
    console.print(table)


@alerts_app.command("ack")
def alerts_ack_cmd(
    alert: Annotated[str, typer.Argument(help="The alert id (or a unique prefix).")],
    db: DbOption = None,
    json_out: JsonOption = False,
    by: Annotated[str | None, typer.Option("--by", help="Who acknowledges.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, or what is being done.")] = None,
) -> None:
    """Acknowledge an open alert (it stays open and deduplicated until it resolves)."""
    from assay.monitor.alerts import ack_alert

    store = _store(db)
    try:
        item = ack_alert(store, alert, by=by, note=note)
    finally:
        store.close()
    if json_out:
        console.print_json(data=item)
    else:
        console.print(Text(f"acknowledged {item['id'][:12]}: {item['title']}"))
