"""``assay agents …``: tool reliability, idempotency, escalations, trajectories, gate checks.

Each command calls one function of :mod:`assay.agents` and renders the dict it returns
(``--json`` prints it unchanged); a failing finding makes the command exit 1, for CI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console
from assay.cli.assurance_render import (
    RouteOption,
    SinceOption,
    SpecOption,
    UntilOption,
    finish,
    rate_text,
    window,
)

agents_app = typer.Typer(
    name="agents",
    help="Agent audits from traces: tool reliability, idempotency, escalations, trajectories, "
    "and the write-path gate conformance test.",
    no_args_is_help=True,
)
app.add_typer(agents_app, name="agents")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


@agents_app.command("tools")
def tools(
    spec: SpecOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    route: RouteOption = None,
    max_failure_rate: Annotated[
        float,
        typer.Option(
            "--max-failure-rate",
            min=0.0,
            max=1.0,
            help="A tool whose failure-rate interval lies above this fails the check.",
        ),
    ] = 0.05,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tool-call reliability (J1): failure rate per tool with its interval, retries, schema
    violations, error classes, latency; the top failing tools first."""
    from assay.agents import load_agents_spec, tool_reliability

    declarations = load_agents_spec(spec)
    with _store(db) as store:
        report = tool_reliability(
            store,
            window(since, until, route),
            declarations,
            max_failure_rate=max_failure_rate,
        )
    data = report.as_dict()

    def render(d: dict[str, Any]) -> None:
        console.print(
            Text(
                f"{d['calls']} tool calls, {d['failures']} failed: "
                f"{rate_text(d['failure_rate'])}; {d['retries']} retries; schema violations "
                f"{rate_text(d['schema_violations'])}"
            )
        )
        if d["top_failing"]:
            console.print(Text("top failing tools: " + ", ".join(d["top_failing"])))
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name, justify in (
            ("tool", "left"),
            ("calls", "right"),
            ("failed", "right"),
            ("failure rate (95% CI)", "left"),
            ("retries", "right"),
            ("error classes", "left"),
            ("bad args", "right"),
            ("p50", "right"),
            ("p95", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for t in d["tools"]:
            classes = ", ".join(f"{k} {v}" for k, v in t["error_classes"].items())
            table.add_row(
                Text(t["tool"]),
                str(t["calls"]),
                str(t["failures"]),
                rate_text(t["failure_rate"]),
                str(t["retries"]),
                Text(classes or "—"),
                f"{t['arguments_violations']['k']}/{t['arguments_violations']['n']}",
                _ms(t["latency"]["p50_ms"]),
                _ms(t["latency"]["p95_ms"]),
            )
        console.print(table)

    finish(data, as_json, render)


@agents_app.command("idempotency")
def idempotency(
    spec: Annotated[
        str, typer.Option("--spec", help="The agents declaration: side-effecting tools.")
    ],
    since: SinceOption = None,
    until: UntilOption = None,
    route: RouteOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Side-effect idempotency (J2): keys on every side-effecting call, and one logical intent
    carried out once (retry_duplication, key_not_honoured)."""
    from assay.agents import idempotency_audit, load_agents_spec

    declarations = load_agents_spec(spec)
    with _store(db) as store:
        report = idempotency_audit(store, declarations, window(since, until, route))

    def render(d: dict[str, Any]) -> None:
        console.print(
            Text(
                f"{d['side_effect_calls']} side-effecting calls; with an idempotency key: "
                f"{rate_text(d['with_idempotency_key'])}; duplicated intents: "
                f"{len(d['duplicates'])}"
            )
        )
        for tool, basis in d["tools"].items():
            console.print(Text(f"  {tool}: audited on {basis}"))

    finish(report.as_dict(), as_json, render)


@agents_app.command("escalations")
def escalations(
    spec: SpecOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    route: RouteOption = None,
    sla: Annotated[
        str | None, typer.Option("--sla", help="A human must touch it within this (4h, 1d).")
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Audit a seeded sample of N.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample.")] = 0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Escalation audit (J6): the share of escalations no human touched, and the cycles
    escalations go round, with their paths."""
    from assay.agents import escalation_audit, load_agents_spec
    from assay.run.declarations import parse_duration

    declarations = load_agents_spec(spec)
    limit = parse_duration(sla, where="--sla") if sla else None
    with _store(db) as store:
        report = escalation_audit(
            store, declarations, window(since, until, route), sla=limit, sample=sample, seed=seed
        )

    def render(d: dict[str, Any]) -> None:
        console.print(
            Text(
                f"{d['escalations']} escalations"
                + (f" (a sample of {d['sampled_from']})" if d["sampled_from"] else "")
                + f"; no human touch: {rate_text(d['no_human_touch'])}; ended at: "
                + ", ".join(f"{k} {v}" for k, v in d["ended_at"].items())
            )
        )
        for cycle in d["cycles"]:
            style = "green" if cycle["has_human"] else "bold red"
            console.print(
                Text(
                    f"cycle (length {cycle['length']}, {cycle['escalations']} escalations): "
                    + " → ".join(cycle["path"]),
                    style=style,
                )
            )

    finish(report.as_dict(), as_json, render)


@agents_app.command("trajectory")
def trajectory(
    references: Annotated[
        Path, typer.Argument(help="JSONL: {trace_id|session_id|route, trajectory} per line.")
    ],
    mode: Annotated[
        str, typer.Option("--mode", help="exact, in_order, any_order or subset.")
    ] = "in_order",
    arguments: Annotated[
        str, typer.Option("--arguments", help="Argument match: ignore, exact or subset.")
    ] = "ignore",
    since: SinceOption = None,
    until: UntilOption = None,
    route: RouteOption = None,
    write: Annotated[
        bool, typer.Option("--write", help="Store each trace's score in the trace store.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score imported traces' tool-call paths against reference trajectories."""
    from assay.agents import load_references, score_trace_trajectories
    from assay.core import AssayError
    from assay.score.trajectory import ARGUMENT_MATCHES, MODES

    if mode not in MODES:
        raise AssayError(f"unknown mode {mode!r}", where="--mode", fix="use " + ", ".join(MODES))
    if arguments not in ARGUMENT_MATCHES:
        raise AssayError(
            f"unknown argument match {arguments!r}",
            where="--arguments",
            fix="use " + ", ".join(ARGUMENT_MATCHES),
        )
    refs = load_references(references)
    with _store(db) as store:
        report = score_trace_trajectories(
            store,
            refs,
            mode=mode,
            arguments=arguments,
            window=window(since, until, route),
            write=write,
        )

    def render(d: dict[str, Any]) -> None:
        console.print(
            Text(f"{d['traces']} traces scored ({d['mode']}): match {rate_text(d['match_rate'])}")
        )

    finish(report.as_dict(), as_json, render)


@agents_app.command("gate")
def gate(
    declaration: Annotated[Path, typer.Argument(help="The gate declaration (YAML).")],
    as_json: JsonOption = False,
) -> None:
    """Write-path gate conformance (J5): send stale-read, schema-violating and unapproved
    irreversible writes to the gate, and report which it let through."""
    from assay.agents import check_gate_file

    report = check_gate_file(declaration)

    def render(d: dict[str, Any]) -> None:
        table = Table(box=None, pad_edge=False, header_style="bold", title=d["url"])
        for name in ("probe", "expect", "status", "outcome", "conforms"):
            table.add_column(name)
        for p in d["probes"]:
            ok = p["conforms"]
            table.add_row(
                Text(p["probe"]),
                p["expect"],
                str(p["status"] or "—"),
                p["outcome"] or "—",
                Text("yes" if ok else "NO", style="green" if ok else "bold red"),
            )
        console.print(table)

    finish(report.as_dict(), as_json, render)
