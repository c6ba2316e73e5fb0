"""``assay judge``: pairwise judge runs, and the judge checks ``assay run`` applies.

A pairwise judge run is stored like any run (its subject is the judge, its samples the pairs),
so ``assay show``, ``assay diff`` and ``assay export`` read it unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from assay.cli.common import DbOption, JsonOption, app, console, err_console
from assay.core import AssayError


class SameLineageError(AssayError):
    """Raised under ``--strict`` when a judge shares a model lineage with what it grades."""

    code = "same_lineage_judge"


def check_lineage(ev: Any, strict: bool) -> list[Any]:
    """Warn about every judge that shares a family with a graded system (C3); under
    ``strict``, refuse to run (exit 2)."""
    from assay.score.judges import lineage_warnings

    warnings = lineage_warnings(ev)
    for warning in warnings:
        err_console.print(
            f"warning: {warning.describe()}", style="yellow", highlight=False, markup=False
        )
    if warnings and strict:
        raise SameLineageError(
            f"refusing to run: {len(warnings)} judge/subject pair(s) share a model lineage "
            "(--strict)",
            fix="use a judge from another model family, or drop --strict to run with a warning",
        )
    return warnings


def _pct(x: float | None) -> str:
    return "—" if x is None or x != x else f"{100 * x:.1f}%"


def pairwise_view(report: Any, flags: list[Any] | None = None) -> Group:
    """The terminal rendering of a :class:`~assay.analyse.PairwiseReport`."""
    i = report.preference_b
    lines = [
        Text(f"pairwise judge run {report.run_id}", style="bold"),
        Text(f"  A = {report.a}\n  B = {report.b}\n  judge: {', '.join(report.judges)}"),
        Text(
            f"  {report.n_pairs} pairs: B wins {report.wins_b}, A wins {report.wins_a}, "
            f"ties {report.ties}" + (f", judge errors {report.errors}" if report.errors else "")
        ),
        Text(
            f"  B preferred {_pct(i.estimate)} [{_pct(i.low)}, {_pct(i.high)}] "
            "(ties count half; 50% = no preference)",
            style="bold",
        ),
    ]
    if report.consistency is not None:
        lines.append(
            Text(
                f"  position consistency {_pct(report.consistency)} of pairs agree in both "
                f"orders; the first-shown output won {_pct(report.first_shown_wins)} of "
                f"{report.n_single_verdicts} decided verdicts"
            )
        )
    for flag in flags or []:
        lines.append(Text(f"  warning: {flag.message}", style="yellow"))
    return Group(*lines)


def run_pairwise(
    store: Any,
    a: str,
    b: str,
    *,
    judge: str | list[str],
    name: str = "judge",
    context: Any = None,
    lineage: Any = None,
    strict: bool = False,
    new: bool = False,
    cache: bool = True,
    concurrency: int | None = None,
    **options: Any,
) -> tuple[Any, Any]:
    """Make (or resume) the pairwise judge run of sides ``a`` and ``b``; (run id, report)."""
    from assay.analyse import pairwise_report
    from assay.cli.common import _choose_run
    from assay.cli.progress import LazyProgress
    from assay.run import RunOptions, run
    from assay.run.pairwise import pairwise_eval

    ev, pairing = pairwise_eval(
        store, a, b, judge=judge, name=name, context=context, lineage=lineage, **options
    )
    if concurrency is not None:
        ev.concurrency = concurrency
    check_lineage(ev, strict)
    skipped = pairing.as_dict()
    left_out = {k: v for k, v in skipped.items() if k != "n_pairs" and v}
    if left_out:
        err_console.print(
            f"{pairing.n_pairs} pairs; left out: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in left_out.items()),
            highlight=False,
        )
    run_id, reason = _choose_run(store, ev, None, new)
    if reason == "complete":
        err_console.print(f"judge run {run_id} of these pairs is already complete (--new reruns)")
        return run_id, pairwise_report(store, run_id)
    progress = LazyProgress(err_console, ev.name)
    try:
        outcome = run(
            ev,
            db=store,
            run_id=run_id,
            resume=run_id is not None,
            options=RunOptions(cache=cache),
            on_progress=progress,
        )
    finally:
        progress.close()
    return outcome.run_id, pairwise_report(store, outcome.run_id)


def context_from_spec(path: Path | None) -> tuple[Any, Any]:
    """(scorer context, lineage registry) from a spec's ``providers:`` and ``lineage:``."""
    if path is None:
        return None, None
    from assay.run.spec import scorer_context_from_spec

    context = scorer_context_from_spec(path)
    return context, context.lineage


@app.command("judge")
def judge_cmd(
    pairwise: Annotated[
        tuple[str, str],
        typer.Option(
            "--pairwise",
            metavar="A B",
            help="The two sides to compare: RUN or RUN:SUBJECT each (ids, prefixes, latest~N).",
        ),
    ],
    judge: Annotated[
        list[str],
        typer.Option("--judge", help="<provider>/<model>; repeat for a panel."),
    ],
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Take providers (e.g. sim judges) and lineage from a spec."),
    ] = None,
    one_order: Annotated[
        bool, typer.Option("--one-order", help="Judge each pair in the A-B order only.")
    ] = False,
    aggregate: Annotated[str, typer.Option(help="Panel aggregate: mean or majority.")] = "mean",
    rubric: Annotated[str | None, typer.Option(help="What matters in this comparison.")] = None,
    style: Annotated[str, typer.Option(help="Verdict format: json or tagged.")] = "json",
    logprobs: Annotated[
        bool, typer.Option(help="Ask for logprobs; expected preference from them.")
    ] = False,
    name: Annotated[str, typer.Option(help="The judge subject's name.")] = "judge",
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse a judge of the same lineage as a side.")
    ] = False,
    new: Annotated[bool, typer.Option("--new", help="Judge again even if already done.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore cached verdicts.")] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Calls in flight at most.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Compare two runs' outputs (or two subjects of one run) with an LLM judge, pair by pair.

    Pairs are joined by sample id. Each pair is judged in both presentation orders unless
    --one-order; both verdicts are stored and the combined verdict is a tie when they
    disagree. The judge run is stored like any run (assay show, diff, export read it).
    """
    from assay.analyse import judge_flags
    from assay.cli.common import _store

    if not judge:
        raise AssayError("name a judge", where="--judge", fix="e.g. --judge sim/judge-fair")
    context, lineage = context_from_spec(spec)
    store = _store(db)
    try:
        run_id, report = run_pairwise(
            store,
            pairwise[0],
            pairwise[1],
            judge=judge[0] if len(judge) == 1 else list(judge),
            name=name,
            context=context,
            lineage=lineage,
            strict=strict,
            new=new,
            cache=not no_cache,
            concurrency=concurrency,
            both_orders=not one_order,
            aggregate=aggregate,
            rubric=rubric,
            style=style,
            logprobs=logprobs,
        )
        flags = judge_flags(store.get_manifest(run_id))
    finally:
        store.close()
    if json_out:
        console.print_json(data={**report.as_dict(), "flags": [f.as_dict() for f in flags]})
    else:
        console.print(pairwise_view(report, flags))
    if report.errors:
        err_console.print(
            f"{report.errors} pair(s) have no verdict (judge errors are stored with the raw "
            "reply; run the same command again to retry failed calls)",
            style="yellow",
        )
