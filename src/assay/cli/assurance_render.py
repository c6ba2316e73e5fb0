"""Shared pieces of the assurance commands (``assay agents|jobs|corpus|privacy …``): the trace
window options, the findings table, and the CI exit code (1 when a finding fails)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import console

SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Spans that started at or after this: an age (7d) or ISO time."),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Spans that started before this: an age or ISO time.")
]
RouteOption = Annotated[str | None, typer.Option("--route", help="Only traces of this route.")]
SpecOption = Annotated[
    str | None,
    typer.Option(
        "--spec", help="The agents declaration (tools, jobs, validators, actors, handoffs)."
    ),
]


def window(since: str | None, until: str | None, route: str | None) -> Any:
    """A :class:`~assay.agents.TraceWindow` from the options (ages or ISO times)."""
    from assay.agents import TraceWindow
    from assay.trace.query import parse_time

    return TraceWindow(
        since=parse_time(since, where="--since") if since else None,
        until=parse_time(until, where="--until") if until else None,
        route=route,
    )


def rate_text(rate: dict[str, Any]) -> str:
    """``8.0% (6.5–9.8%, n=1000)`` for a :func:`~assay.stats.rates.rate_dict`."""
    if rate.get("rate") is None:
        return f"— (n={rate.get('n', 0)})"
    return f"{rate['rate']:.1%} ({rate['low']:.1%}–{rate['high']:.1%}, n={rate['n']})"


_SEVERITY = {"fail": "bold red", "warn": "yellow"}


def findings_table(findings: list[dict[str, Any]]) -> Table | Text:
    """Every finding as a row: code, severity, message and fix (user text stays text)."""
    if not findings:
        return Text("findings: none", style="green")
    table = Table(box=None, pad_edge=False, header_style="bold", title="findings")
    table.add_column("finding")
    table.add_column("severity")
    table.add_column("what", overflow="fold")
    for f in findings:
        what = Text(f["message"])
        if f.get("fix"):
            what.append(f"\nfix: {f['fix']}", style="dim")
        table.add_row(Text(f["code"]), Text(f["severity"], style=_SEVERITY[f["severity"]]), what)
    return table


def finish(data: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], None]) -> None:
    """Print ``data`` as JSON or through ``render`` (then the findings), and exit 1 when a
    finding fails (for CI)."""
    if as_json:
        console.print_json(json.dumps(data, default=str))
    else:
        render(data)
        console.print(findings_table(data.get("findings", [])))
    if data.get("failed"):
        raise typer.Exit(1)
