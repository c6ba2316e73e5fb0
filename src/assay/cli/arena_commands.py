"""``assay arena``: a pairwise judge run over k systems that samples the pairs it needs and
stops when their ranking is resolved (see :mod:`assay.run.arena`), then the Bradley-Terry
ratings of everything it judged (``assay ratings`` over its rounds)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console, err_console
from assay.core import AssayError


@app.command()
def arena(
    systems: Annotated[
        list[str],
        typer.Argument(
            metavar="SYSTEM...", help="RUN (every subject) or RUN:SUBJECT, two or more in all."
        ),
    ],
    judge: Annotated[
        list[str], typer.Option("--judge", help="<provider>/<model>; repeat for a panel.")
    ],
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Take providers (e.g. sim judges) and lineage from a spec."),
    ] = None,
    budget: Annotated[
        int, typer.Option("--budget", min=1, help="At most this many single-order verdicts.")
    ] = 2000,
    warmup: Annotated[
        int, typer.Option("--warmup", min=1, help="Samples per pair of systems in the warm-up.")
    ] = 2,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Samples per chosen pair in each later round.")
    ] = 8,
    per_round: Annotated[
        int | None, typer.Option("--per-round", min=1, help="Pairs per round (default k − 1).")
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="active (adjacent, least resolved) or uniform.")
    ] = "active",
    alpha: Annotated[float, typer.Option("--alpha", help="Level of the stopping rule.")] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample order.")] = 0,
    name: Annotated[str, typer.Option("--name", help="Name of the arena's judge runs.")] = "arena",
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap refits.")] = 500,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore cached verdicts.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Judge k systems pair by pair (both orders), choosing the next pairs where adjacent
    ratings are least resolved, until every adjacent gap is resolved or the budget is spent;
    then print the Bradley-Terry ratings with bootstrap intervals."""
    from assay.analyse.ratings import rate_systems
    from assay.cli.judge_commands import context_from_spec
    from assay.run.arena import run_arena

    if not 0 < alpha < 1:
        raise AssayError("--alpha must be between 0 and 1", where="--alpha")
    if not judge:
        raise AssayError("name a judge", where="--judge", fix="e.g. --judge sim/judge-fair")
    context, lineage = context_from_spec(spec)
    store = _store(db)
    try:
        outcome = run_arena(
            store, systems, judge=judge[0] if len(judge) == 1 else list(judge), budget=budget,
            warmup=warmup, batch=batch, per_round=per_round, strategy=strategy, alpha=alpha,
            seed=seed, arena_name=name, context=context, lineage=lineage, cache=not no_cache,
        )  # fmt: skip
        if not outcome.run_ids:
            raise AssayError("the budget allowed no verdict", where="--budget")
        report = rate_systems(store, outcome.run_ids, n_resamples=resamples, seed=seed)
    finally:
        store.close()
    if json_out:
        console.print_json(data={"arena": outcome.as_dict(), "ratings": report.to_dict()})
        return
    data = report.to_dict()
    head = Text(f"{outcome.n_verdicts} verdicts in {len(outcome.rounds)} rounds ", style="bold")
    head.append(f"({outcome.strategy}; budget {budget}): stopped because ", style="bold")
    head.append(
        {
            "resolved": "every adjacent gap is resolved",
            "budget": "the budget is spent",
            "exhausted": "the chosen pairs ran out of samples",
        }.get(outcome.stopped, outcome.stopped),
        style="bold green" if outcome.stopped == "resolved" else "bold yellow",
    )
    console.print(head)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("system", "Elo", f"{100 * report.fit.confidence:.0f}% CI"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for s in data["systems"]:
        low = 1000 + 400 / math.log(10) * s["low"] if s["low"] is not None else math.nan
        high = 1000 + 400 / math.log(10) * s["high"] if s["high"] is not None else math.nan
        table.add_row(s["name"], f"{s['elo']:.0f}", f"[{low:.0f}, {high:.0f}]")
    console.print(table)
    if outcome.state is not None:
        console.print(
            Text(
                "adjacent gaps (Wald z, resolved at z ≥ "
                f"{outcome.state.critical_z:.2f}, Bonferroni over {len(outcome.state.gaps)}): "
                + "; ".join(
                    f"{g.upper} > {g.lower} z={g.z:.1f}{'' if g.resolved else ' (open)'}"
                    for g in outcome.state.gaps
                ),
                style="dim",
            )
        )
    for warning in outcome.warnings:
        err_console.print(f"warning: {warning}", style="yellow", highlight=False, markup=False)
    if outcome.n_errors:
        err_console.print(f"{outcome.n_errors} judged pair(s) have no verdict", style="yellow")
