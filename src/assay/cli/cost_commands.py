"""``assay costs`` and ``assay latency``: production traffic's tails (issue 15, H1–H7).

Both render what :mod:`assay.analyse.costs`, :mod:`~assay.analyse.lengths`,
:mod:`~assay.analyse.loops`, :mod:`~assay.analyse.projection` and
:mod:`~assay.analyse.latency` return; ``--json`` prints those dicts as they are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from assay.cli.common import DbOption, JsonOption, _store, app, console, err_console

RouteOption = Annotated[str | None, typer.Option("--route", help="Only this route.")]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="Traces that started at or after this: an age (24h, 7d) or ISO time."
    ),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Traces that started before this (age or ISO time).")
]
EnvOption = Annotated[str | None, typer.Option("--env", help="Only this deployment environment.")]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help="A price file (YAML: model glob, since, input, output, cached_input, "
        "cache_write, reasoning, ... in USD per million tokens); re-prices every span "
        "without a reported cost.",
    ),
]


def _window(route: str | None, since: str | None, until: str | None, env: str | None):  # type: ignore[no-untyped-def]
    from assay.analyse.trace_frame import TrafficWindow
    from assay.trace.query import parse_time

    start = parse_time(since, where="--since") if since else None
    end = parse_time(until, where="--until") if until else None
    if start and end and end <= start:
        from assay.core import AssayError

        raise AssayError("--until must be later than --since", where="--until")
    return TrafficWindow(route, start, end, env)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def money(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.4g}"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


def _q(q: dict[str, Any], fmt: Any) -> str:
    if q.get("estimate") is None:
        return "[dim]hidden[/dim]" if q.get("censored") else "—"
    low, high = q.get("low"), q.get("high")
    lo = fmt(low) if low is not None else "?"
    hi = fmt(high) if high is not None else "?"
    span = f" [dim][{lo}, {hi}][/dim]"
    return fmt(q["estimate"]) + span


def _tokens(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _cost_tables(data: dict[str, Any]) -> Group:
    parts: list[Any] = []
    head = Table(title="Cost per request and per user (95% order-statistic intervals)")
    head.add_column("unit")
    head.add_column("n", justify="right")
    head.add_column("total", justify="right")
    head.add_column("mean", justify="right")
    labels = [q["label"] for q in data["per_request"]["quantiles"]]
    for label in labels:
        head.add_column(label, justify="right")
    for dist in (data["per_request"], data["per_user"]):
        head.add_row(
            dist["unit"],
            f"{dist['n']:,}",
            money(dist["total"]),
            money(dist["mean"]),
            *(_q(q, money) for q in dist["quantiles"]),
        )
    parts.append(head)
    routes = Table(title="By route")
    for col in ("route", "requests", "total", "p50", "p99", "p99/p50", "success", "cost/success"):
        routes.add_column(col, justify="left" if col == "route" else "right")
    for r in data["by_route"]:
        per = r["cost_per_success"]
        routes.add_row(
            (r["route"] or "—") + (" [green]◆[/green]" if r.get("frontier") else ""),
            f"{r['requests']:,}",
            money(r["total"]),
            _q(r["p50"], money),
            _q(r["p99"], money),
            f"{r['p99_over_p50']:.1f}×" if r["p99_over_p50"] else "—",
            f"{100 * (r['success_rate']['estimate'] or 0):.1f}%",
            money(per["estimate"])
            + (
                f" [dim]±{money((per['high'] - per['low']) / 2)}[/dim]"
                if per["low"] is not None
                else ""
            ),
        )
    parts.append(routes)
    if data["concentration"]:
        conc = Table(title="Concentration (95% bootstrap intervals over units)")
        for col in ("by", "units", "top 1% share", "top 10% share", "Gini"):
            conc.add_column(col, justify="left" if col == "by" else "right")
        for by, c in data["concentration"].items():

            def pct(iv: dict[str, Any]) -> str:
                if iv["estimate"] is None:
                    return "—"
                bounds = (
                    f" [dim][{100 * iv['low']:.1f}, {100 * iv['high']:.1f}][/dim]"
                    if iv["low"] is not None
                    else ""
                )
                return f"{100 * iv['estimate']:.1f}%" + bounds

            shares = c["top_shares"]
            gini = c["gini"]
            conc.add_row(
                by,
                f"{c['n']:,}",
                pct(shares.get("1%", {"estimate": None})),
                pct(shares.get("10%", {"estimate": None})),
                f"{gini['estimate']:.3f}" if gini["estimate"] is not None else "—",
            )
        parts.append(conc)
    breakdown = data["breakdown"]
    if breakdown["costs"]:
        kinds = Table(title=f"Priced by kind of token ({'; '.join(breakdown['price_sources'])})")
        for col in ("kind", "tokens", "cost"):
            kinds.add_column(col, justify="left" if col == "kind" else "right")
        for part, cost in breakdown["costs"].items():
            tokens = breakdown["tokens"].get(part, 0)
            if tokens:
                kinds.add_row(part.replace("_", " "), _tokens(tokens), money(cost))
        parts.append(kinds)
        for note in breakdown["notes"]:
            parts.append(f"[yellow]note[/yellow]: {note}")
        for model, calls in breakdown["unpriced_calls"].items():
            parts.append(
                f"[yellow]unpriced[/yellow]: {calls:,} calls of {model} (add it with --prices)"
            )
    forecast = data.get("forecast")
    if forecast:
        q = forecast["quantiles"]
        parts.append(
            f"Forecast for {forecast['target_requests']:,.0f} requests "
            f"(≈{forecast['users']:,.0f} users resampled with their requests): "
            f"expected {money(forecast['expected'])}, 90% range {money(q.get('p5'))}–"
            f"{money(q.get('p95'))}"
            + (
                f"; the top 1% of users make {100 * top_share:.1f}% of it."
                if (top_share := forecast["mixture"][-1]["share_of_total"]) is not None
                and math.isfinite(top_share)
                else "."
            )
        )
    for warning in data["warnings"]:
        parts.append(f"[yellow]warning[/yellow]: {warning}")
    return Group(*parts)


def _length_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Output length and max_tokens (rule: {report['rule']})")
    for col in (
        "route",
        "model",
        "n",
        "cut",
        "p50",
        "p99",
        "p99.9",
        "cap",
        "recommended",
        "truncation now → then",
    ):
        table.add_column(col, justify="left" if col in ("route", "model") else "right")
    for g in report["groups"]:
        by = {q["label"]: q for q in g["quantiles"]}

        def tok(v: float | None) -> str:
            return _tokens(v)

        now, then = g["truncation_current"], g["truncation_recommended"]
        table.add_row(
            g["route"] or "—",
            g["model"] or "—",
            f"{g['n']:,}",
            f"{g['truncated']:,}",
            _q(by.get("p50", {}), tok),
            _q(by.get("p99", {}), tok),
            _q(by.get("p99.9", {}), tok),
            _tokens(g["current_cap"]),
            f"{_tokens(g['recommended_cap'])} ({g['action']})",
            f"{100 * (now['share'] or 0):.2f}% → "
            + (f"{100 * then['share']:.2f}%" if then["share"] is not None else "?"),
        )
    return table


def _loop_lines(loops: dict[str, Any]) -> list[str]:
    lines = []
    for a in loops["alerts"]:
        colour = "red" if a["alert"] == "agent_loop_suspected" else "yellow"
        detail = ""
        if a["repeated_calls"]:
            top = a["repeated_calls"][0]
            detail = (
                f"; {top['tool']}({top['arguments'][:60]}) repeated {top['repeats']}× "
                "in one trace/session"
            )
        lines.append(
            f"[{colour}]{a['alert']}[/{colour}] {loops['unit']} {a['value']} on {a['date']}: "
            f"{money(a['spend'])} against {money(a['baseline_per_week'])}/week "
            f"({a['ratio']:.1f}× its trailing daily mean){detail}"
        )
    return lines


def _projection_table(p: dict[str, Any]) -> Group:
    table = Table(
        title=f"Production vs staging cost per request: ×{p['multiplier']:.2f} "
        f"(staging {money(p['staging_cost_per_week'])}/week → "
        f"{money(p['projected_cost_per_week_at_staging_volume'])}/week with production's mix)"
    )
    for col in ("driver", "staging", "production", "factor", "alone"):
        table.add_column(col, justify="left" if col == "driver" else "right")

    def show(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k} ${x:.3g}/M" for k, x in v.items())
        return f"{v:,.3g}"

    for d in p["drivers"]:
        table.add_row(
            d["label"],
            show(d["staging"]),
            show(d["production"]),
            f"×{d['factor']:.2f}",
            f"×{d['alone']:.2f}",
        )
    return Group(
        table,
        "[dim]factors are Shapley shares of the multiplier (they multiply to it); "
        "'alone' changes only that driver[/dim]",
    )


@app.command("costs")
def costs_command(
    route: RouteOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    env: EnvOption = None,
    prices: PricesOption = None,
    target_requests: Annotated[
        float | None,
        typer.Option("--target-requests", min=1, help="Forecast the cost of this many requests."),
    ] = None,
    loop_by: Annotated[
        str, typer.Option("--loops-by", help="Runaway-loop units: route, user, session, customer.")
    ] = "route",
    loop_ratio: Annotated[
        float, typer.Option("--loop-ratio", min=1.0, help="Spend over trailing mean that alerts.")
    ] = 10.0,
    by_customer: Annotated[
        bool,
        typer.Option(
            "--by-customer",
            help="Also concentration by customer (root span attribute customer.id, tenant.id, "
            "app.customer or organization.id).",
        ),
    ] = False,
    staging: Annotated[
        str | None,
        typer.Option("--staging", help="Project production's cost from this environment."),
    ] = None,
    production: Annotated[
        str, typer.Option("--production", help="The production environment (with --staging).")
    ] = "production",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cost per request and per user (percentiles with intervals), concentration, cost per
    success, max_tokens recommendations, a forecast, runaway-loop alerts and (with --staging)
    production's cost projected from staging's."""
    from assay.analyse.costs import cost_report
    from assay.analyse.lengths import length_report
    from assay.analyse.loops import loop_report

    window = _window(route, since, until, env)
    book = None
    if prices is not None:
        from assay.run.prices import load_price_file

        book = load_price_file(prices)
    store = _store(db)
    try:
        report = cost_report(
            store, window, prices=book, target_requests=target_requests, customers=by_customer
        )
        lengths = length_report(store, window)
        loops = loop_report(store, window, unit=loop_by, ratio=loop_ratio)
        projection = None
        if staging is not None:
            from assay.analyse.projection import cost_projection

            base = _window(route, since, until, None)
            projection = cost_projection(
                store, base, staging=staging, production=production, prices=book
            )
    finally:
        store.close()
    data = report.as_dict()
    data["lengths"] = lengths.as_dict()
    data["loops"] = loops.as_dict()
    data["projection"] = projection
    if json_out:
        console.print_json(data=_finite(data))
        return
    if not report.requests:
        err_console.print(
            "no traces in this window; send some with `assay serve` or `assay traces import`"
        )
        return
    console.print(
        f"{report.requests:,} requests over {report.days:.1f} days, {money(report.total_cost)} "
        f"(prices: {report.price_sources})"
    )
    console.print(_cost_tables(data))
    if lengths.groups:
        console.print(_length_table(data["lengths"]))
    for line in _loop_lines(data["loops"]) or [
        "no runaway loops: no unit spent 10× its trailing mean"
    ]:
        console.print(line)
    if projection is not None:
        console.print(_projection_table(projection))


def _latency_table(title: str, group: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("stage")
    table.add_column("n", justify="right")
    table.add_column("mean", justify="right")
    labels = [q["label"] for q in group["stages"][0]["quantiles"]] if group["stages"] else []
    for label in labels:
        table.add_column(label, justify="right")
    for s in group["stages"]:
        table.add_row(
            s["stage"],
            f"{s['n']:,}",
            ms(s["mean_ms"]),
            *(_q(q, ms) for q in s["quantiles"]),
        )
    return table


@app.command("latency")
def latency_command(
    route: RouteOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    env: EnvOption = None,
    ratio_alert: Annotated[
        float, typer.Option("--ratio-alert", min=1.0, help="Alert when p99/p50 is at least this.")
    ] = 10.0,
    load_env: Annotated[
        list[str] | None,
        typer.Option(
            "--load-test-env",
            help="Environments holding load tests [default: load-test, loadtest, perf].",
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Latency per route and per stage (TTFT, total, queue, retrieval, embedding, assembly,
    tool) with intervals, the p99/p50 ratio alert and what the tail comes with, hour-of-week
    baselines, and load tests run outside peak hours (non_representative)."""
    from assay.analyse.latency import LOAD_TEST_ENVIRONMENTS, latency_report

    window = _window(route, since, until, env)
    store = _store(db)
    try:
        report = latency_report(
            store,
            window,
            ratio_alert=ratio_alert,
            load_environments=tuple(load_env) if load_env else LOAD_TEST_ENVIRONMENTS,
        )
    finally:
        store.close()
    data = report.as_dict()
    if json_out:
        console.print_json(data=_finite(data))
        return
    if not report.overall["traces"]:
        err_console.print("no traces in this window")
        return
    groups = [("all routes", report.overall)] if len(report.routes) != 1 else []
    groups += [(f"route {r['route']}", r) for r in report.routes]
    for title, group in groups:
        ratio = group["p99_over_p50"]
        console.print(_latency_table(f"{title}: {group['traces']:,} traces (95% intervals)", group))
        tail = group["tail"]
        rho = {d["driver"]: d["rho"] for d in tail["drivers"]}
        if ratio["ratio"] is not None:
            colour = "red" if ratio["alert"] else "green"
            console.print(
                f"p99/p50 = [{colour}]{ratio['ratio']:.1f}[/{colour}]"
                + (f" (alert ≥ {ratio['threshold']:g})" if ratio["alert"] else "")
                + (
                    f"; the tail comes with {tail['tail_stage']} time"
                    if tail.get("tail_stage")
                    else ""
                )
                + (
                    f" and {tail['tail_driver_label']} (Spearman ρ = "
                    f"{rho[tail['tail_driver']]:.2f})"
                    if tail.get("tail_driver")
                    else ""
                )
            )
        for w in group["warnings"]:
            console.print(f"[yellow]warning[/yellow]: {w}")
    if report.peak_hours:
        console.print(
            f"peak hours (UTC, median latency ≥ half the slowest hour's): {report.peak_hours}"
        )
    for test in report.load_tests:
        flag = test["flag"]
        console.print(
            f"load test {test['environment']} on {test['date']} at {test['hours_utc']} UTC: "
            f"p50 {ms(test['p50_ms'])}"
            + (
                f" — [red]{flag}[/red]: outside peak hours (peak p50 {ms(test['peak_p50_ms'])})"
                if flag
                else " — representative"
            )
        )


def run_cost_view(data: dict[str, Any]) -> Table:
    """``assay show RUN --cost``: one row per subject and judge scorer."""
    table = Table(
        title=f"Cost and latency of run {data['run_id']}'s calls (prices: {data['price_sources']})"
    )
    for col in (
        "",
        "calls",
        "cached",
        "tokens in/out",
        "cost",
        "cost/sample p50",
        "p99",
        "latency p50",
        "p99",
    ):
        table.add_column(col, justify="left" if not col else "right")
    for g in data["groups"]:
        cps = {q["label"]: q for q in g["cost_per_sample"]}
        lat = {q["label"]: q for q in g["latency_ms"]}
        table.add_row(
            f"{g['role']} {g['name']}",
            f"{g['calls']:,}",
            f"{g['cached']:,}",
            f"{g['input_tokens']:,}/{g['output_tokens']:,}",
            money(g["cost"])
            + (f" [yellow]+{g['unpriced']} unpriced[/yellow]" if g["unpriced"] else ""),
            _q(cps["p50"], money),
            _q(cps["p99"], money),
            _q(lat["p50"], ms),
            _q(lat["p99"], ms),
        )
    return table
