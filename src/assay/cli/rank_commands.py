"""``assay rank`` (many candidates), ``assay ratings`` (Bradley-Terry from pairwise verdicts),
``assay sensitivity`` (prompt paraphrases) and ``assay variance`` (where the noise comes from).
Each calls one analysis and renders it."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console
from assay.core import AssayError

Runs = Annotated[
    list[str],
    typer.Argument(
        metavar="RUN...",
        help="Runs to rank (id, prefix, latest~1 …), or RUN:SUBJECT for one subject.",
    ),
]


def _pct(x: float, rate: bool, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if rate:
        return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"
    return f"{x:+.3g}" if signed else f"{x:.3g}"


def rank_view(report: Any) -> Group:
    """The terminal view of ``assay rank``."""
    parts: list[Any] = []
    for w in report.warnings:
        parts.append(Text(f"warning: {w}", style="yellow"))
    for r in report.rankings:
        rate = all(0 <= m <= 1 for m in r.means)
        unit = " pts" if rate else ""
        level = f"{100 * (1 - r.alpha):.0f}%"
        head = Text(f"\n{r.scorer}: ", style="bold cyan")
        head.append(r.verdict, style="bold")
        head.append(
            f"   ({r.n_items} samples shared"
            + (f", {r.epochs:g} epochs, nested bootstrap" if r.ranks.nested else "")
            + ")",
            style="dim",
        )
        parts.append(head)
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for col in ("candidate", "mean", "P(best)", "E(rank)", f"rank {level} CI", "MCS p", "set"):
            table.add_column(col, justify="left" if col in ("candidate", "set") else "right")
        order = sorted(range(len(r.names)), key=lambda j: r.ranks.expected_rank[j])
        for j in order:
            table.add_row(
                r.names[j],
                _pct(r.means[j], rate) + ("%" if rate else ""),
                f"{r.ranks.p_best[j]:.2f}",
                f"{r.ranks.expected_rank[j]:.2f}",
                f"[{r.ranks.rank_low[j]}, {r.ranks.rank_high[j]}]",
                f"{r.confidence_set.p_values[j]:.3f}",
                "keep" if j in r.confidence_set.included else "drop",
            )
        parts.append(table)
        versus = Table(
            title=f"against {r.baseline} (Δ{unit}, {level} CI, Holm over {len(r.versus_baseline)})",
            show_edge=False, pad_edge=False, box=None, header_style="bold",
        )  # fmt: skip
        for col in ("candidate", "Δ", "CI", "test", "p adj"):
            versus.add_column(col, justify="left" if col in ("candidate", "test") else "right")
        for p in r.versus_baseline:
            versus.add_row(
                p.b,
                _pct(p.difference, rate, signed=True),
                f"[{_pct(p.interval.low, rate, True)}, {_pct(p.interval.high, rate, True)}]",
                p.test,
                f"{p.p_adjusted:.3g}",
            )
        parts.append(versus)
        significant = [p for p in r.pairs if p.p_adjusted < r.alpha]
        parts.append(
            Text(
                f"  {len(significant)} of {len(r.pairs)} pairs differ after Holm's correction"
                + (
                    ": " + "; ".join(
                        f"{p.b if p.difference > 0 else p.a} > {p.a if p.difference > 0 else p.b}"
                        for p in significant
                    )
                    if significant
                    else ""
                ),
                style="dim",
            )
        )  # fmt: skip
    parts.append(
        Text(
            "\nP(best), E(rank): bootstrap over samples. Rank CI: simultaneous (Mogstad et al. "
            "2024). Set: model confidence set (Hansen, Lunde & Nason 2011) — 'drop' is "
            "distinguishable from the best.",
            style="dim",
        )
    )
    return Group(*parts)


@app.command()
def rank(
    runs: Runs,
    db: DbOption = None,
    scorer: Annotated[
        list[str] | None, typer.Option("--scorer", help="Rank on this scorer (repeatable).")
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Candidate the others are compared with (default: first)."),
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the resampling.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Rank many candidates joined by sample id: every paired difference (Holm), P(best),
    rank intervals, and which candidates can be dropped (model confidence set)."""
    from assay.analyse.rank import rank_runs

    if not 0 < alpha < 1:
        raise AssayError("--alpha must be between 0 and 1", where="--alpha")
    if resamples < 100:
        raise AssayError("--resamples must be at least 100", where="--resamples")
    store = _store(db)
    try:
        report = rank_runs(
            store, runs, scorers=scorer, baseline=baseline, alpha=alpha,
            n_resamples=resamples, seed=seed,
        )  # fmt: skip
    finally:
        store.close()
    if json_out:
        console.print_json(data=report.to_dict())
    else:
        console.print(rank_view(report))


@app.command()
def ratings(
    runs: Annotated[
        list[str], typer.Argument(metavar="PAIRWISE_RUN...", help="Stored pairwise judge runs.")
    ],
    db: DbOption = None,
    length: Annotated[
        bool, typer.Option("--length", help="Style-controlled: add a length covariate.")
    ] = False,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap refits.")] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Bradley-Terry ratings (Elo scale) of the systems in pairwise judge runs: both
    presentation orders, ties, a position term, bootstrap intervals; --length controls style."""
    from assay.analyse.ratings import rate_systems

    store = _store(db)
    try:
        ids = [store.resolve_run_id(r) for r in runs]
        report = rate_systems(store, ids, length=length, n_resamples=resamples, seed=seed)
    finally:
        store.close()
    if json_out:
        console.print_json(data=report.to_dict())
        return
    data = report.to_dict()
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("system", "Elo", f"{100 * report.fit.confidence:.0f}% CI", "θ"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for s in data["systems"]:
        low = 1000 + 400 / math.log(10) * s["low"] if s["low"] is not None else math.nan
        high = 1000 + 400 / math.log(10) * s["high"] if s["high"] is not None else math.nan
        table.add_row(
            s["name"], f"{s['elo']:.0f}", f"[{low:.0f}, {high:.0f}]", f"{s['theta']:+.3f}"
        )
    console.print(table)
    g = report.fit.position_interval
    line = (
        f"{data['n_verdicts']} single-order verdicts ({data['n_errors']} errors left out); "
        f"position term γ = {report.fit.position:+.2f} [{g[0]:+.2f}, {g[1]:+.2f}] "
        "(> 0: the first-shown answer is favoured)"
    )
    if data["length_coefficient"] is not None:
        line += f"; length coefficient {data['length_coefficient']:+.2f} per SD of log length"
    console.print(Text(line, style="dim"))


@app.command()
def sensitivity(
    runs: Annotated[
        list[str], typer.Argument(metavar="RUN...", help="Runs with model × template subjects.")
    ],
    db: DbOption = None,
    scorer: Annotated[list[str] | None, typer.Option("--scorer", help="Only this scorer.")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    json_out: JsonOption = False,
) -> None:
    """Model comparisons marginalised over paraphrased prompt templates, each model's prompt
    variance, and ranking_flips_under_paraphrase when the order depends on the phrasing."""
    from assay.analyse.sensitivity import prompt_sensitivity

    store = _store(db)
    try:
        found = prompt_sensitivity(store, runs, scorers=scorer, alpha=alpha)
    finally:
        store.close()
    if json_out:
        console.print_json(data={"pairs": [p.as_dict() for p in found]})
        return
    for p in found:
        d = p.as_dict()
        m = d["marginal"]
        head = Text(f"{p.scorer}: {p.model_b} − {p.model_a} over {len(p.templates)} templates: ")
        head.append(f"{m['difference']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}]", style="bold")
        for flag in d["flags"]:
            head.append(f"  {flag}", style="bold red")
        console.print(head)
        per = ", ".join(f"{t['template']} {t['difference']:+.3f}" for t in d["per_template"])
        pv = ", ".join(f"{k} {v:.4f}" for k, v in d["prompt_variance"].items())
        console.print(
            Text(f"  per template: {per}; phrasing effect p = {d['interaction_p']:.3g}; "
                 f"prompt variance: {pv}", style="dim")
        )  # fmt: skip


@app.command()
def variance(
    run: Annotated[
        str, typer.Argument(metavar="RUN", help="A run with epochs (and a judge panel).")
    ],
    db: DbOption = None,
    scorer: Annotated[list[str] | None, typer.Option("--scorer", help="Only this scorer.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Between-item, within-item (seed) and between-judge variance with intervals, and whether
    more items, epochs or judges would help most."""
    from assay.analyse.sensitivity import run_variance

    store = _store(db)
    try:
        found = run_variance(store, store.resolve_run_id(run), scorers=scorer, seed=seed)
    finally:
        store.close()
    if json_out:
        console.print_json(data={"metrics": [v.as_dict() for v in found]})
        return
    for v in found:
        d = v.as_dict()
        table = Table(
            title=f"{v.subject}/{v.scorer}: {d['n_items']} items × {d['n_epochs']} epochs × "
            f"{d['n_judges']} judges",
            show_edge=False, pad_edge=False, box=None, header_style="bold",
        )  # fmt: skip
        for col in ("component", "variance", "95% CI"):
            table.add_column(col, justify="left" if col == "component" else "right")
        for name, c in d["components"].items():
            high = "—" if c["high"] is None else f"{c['high']:.4g}"
            table.add_row(name, f"{c['estimate']:.4g}", f"[{c['low']:.4g}, {high}]")
        console.print(table)
        console.print(Text(f"  {d['advice']}", style="bold"))
