"""``assay compare``, ``assay plan`` and ``assay gate``: the statistics surfaces.

Each command calls one analysis function and renders what it returns; exit codes follow
``main()``: 0 ok, 1 a gate that failed, 2 a usage mistake (an :class:`AssayError`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.app import DbOption, JsonOption, _store, app, console
from assay.core import AssayError

RunA = Annotated[
    str | None,
    typer.Argument(
        metavar="RUN_A",
        help="The baseline run (id, prefix, latest~1 …). Default: the run of the same eval "
        "before RUN_B. Given alone, it is the candidate, compared with its predecessor.",
    ),
]
RunB = Annotated[
    str | None,
    typer.Argument(
        metavar="RUN_B",
        help="The candidate run (id, prefix, latest …). Default: the newest run with an "
        "earlier run of the same eval.",
    ),
]
SubjectOption = Annotated[
    list[str] | None,
    typer.Option(
        "--subject",
        help="Pair subject A_NAME of run A with B_NAME of run B (A_NAME:B_NAME; repeatable). "
        "Default: the only subjects, else subjects with the same name.",
    ),
]
ScorerOption = Annotated[
    list[str] | None, typer.Option("--scorer", help="Compare only this scorer (repeatable).")
]
SliceOption = Annotated[
    list[str] | None,
    typer.Option("--slice", help="Break down by this metadata key (default: the runs' slices)."),
]
CorrectionOption = Annotated[
    str,
    typer.Option(
        "--correction", help="Multiple-comparison correction: holm, bh (Benjamini-Hochberg), none."
    ),
]
AlphaOption = Annotated[float, typer.Option("--alpha", help="Significance level (two-sided).")]
PowerOption = Annotated[float, typer.Option("--power", help="Power for the MDE.")]
ConfidenceOption = Annotated[float, typer.Option("--confidence", help="Interval level.")]
MinEffectOption = Annotated[
    float | None,
    typer.Option(
        "--min-effect",
        help="Smallest difference worth detecting, in the metric's units (0.03 = 3 points on a "
        "pass rate). Decides 'no detectable difference' vs 'underpowered'. "
        "Default: 3% of the metric's range.",
    ),
]
MinClustersOption = Annotated[
    int,
    typer.Option("--min-clusters", help="Use clustered errors in a group with this many clusters."),
]
ClusterCorrectionOption = Annotated[
    bool,
    typer.Option(
        "--cluster-correction/--no-cluster-correction",
        help="Apply the finite-cluster factor C/(C-1) to clustered standard errors (CR1).",
    ),
]
ResamplesOption = Annotated[
    int, typer.Option("--resamples", help="Bootstrap and permutation resamples (0 to skip).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the resampling.")]
MarginOption = Annotated[
    str | None,
    typer.Option(
        "--margin",
        help="Non-inferiority margin: is B not worse than A by this much? '2pts' (= 0.02 on a "
        "pass rate) or a number in the metric's units. Decided by the test's interval at 1-2α.",
    ),
]
EquivalenceOption = Annotated[
    bool,
    typer.Option(
        "--equivalence", help="With --margin: test equivalence (|B - A| < margin, TOST) instead."
    ),
]


HumanOption = Annotated[
    list[str] | None,
    typer.Option(
        "--human",
        metavar="LABELS",
        help="Human labels of some samples' outputs (A=FILE and B=FILE, or one FILE with a run "
        "column): adds the prediction-powered (PPI) difference beside the judge's; the gate "
        "decides on it.",
    ),
]
HumanQueueOption = Annotated[
    list[str] | None,
    typer.Option("--human-queue", metavar="[A=|B=]QUEUE", help="Human labels from a review queue."),
]


def _corrected(db: str | None, comparison: Any, human: Any, queue: Any) -> dict[Any, Any]:
    if not human and not queue:
        return {}
    from assay.cli.human_labels import corrected_comparison

    store = _store(db)
    try:
        return corrected_comparison(store, comparison, human, queue)
    finally:
        store.close()


def _margin(text: str | None, where: str) -> float | None:
    if text is None:
        return None
    from assay.analyse.paired_estimators import parse_margin

    try:
        return parse_margin(text)[0]
    except ValueError:
        raise AssayError(
            f"cannot read margin {text!r}", where=where, fix="write e.g. 2pts, 2% or 0.02"
        ) from None


def _subject_pairs(values: list[str] | None) -> list[tuple[str, str]] | None:
    if not values:
        return None
    pairs = []
    for value in values:
        a, sep, b = value.partition(":")
        if not a or (sep and not b):
            raise AssayError(
                f"cannot read subject pair {value!r}", where="--subject", fix="write A_NAME:B_NAME"
            )
        pairs.append((a, b if sep else a))
    return pairs


def _settings(
    alpha: float,
    power: float,
    confidence: float,
    correction: str,
    min_effect: float | None,
    min_clusters: int,
    cluster_correction: bool,
    resamples: int,
    seed: int,
) -> Any:
    from assay.analyse import CompareSettings

    if correction not in ("holm", "bh", "none"):
        raise AssayError(
            f"unknown correction {correction!r}", where="--correction", fix="use holm, bh or none"
        )
    for name, value in (("--alpha", alpha), ("--power", power), ("--confidence", confidence)):
        if not 0 < value < 1:
            raise AssayError(f"{name} must be between 0 and 1, got {value}", where=name)
    if min_effect is not None and min_effect <= 0:
        raise AssayError("--min-effect must be positive", where="--min-effect")
    if resamples < 0:
        raise AssayError("--resamples must be 0 or more", where="--resamples")
    return CompareSettings(
        alpha=alpha,
        power=power,
        confidence=confidence,
        correction=correction,  # type: ignore[arg-type]
        min_effect=min_effect,
        min_clusters=min_clusters,
        finite_cluster_correction=cluster_correction,
        n_resamples=resamples,
        seed=seed,
    )


def _judge_context(db: str | None, comparison: Any) -> tuple[list[Any], list[Any]]:
    """The compared runs' judges: their audit standings, and the ``judge_changed`` flags of run
    B (within it and against run A) and of run A (within it)."""
    from assay.analyse import judge_flags, judge_standings

    store = _store(db, create=False)
    try:
        before = store.get_manifest(comparison.run_a.id)
        after = store.get_manifest(comparison.run_b.id)
        standings = judge_standings(store, before, after)
    finally:
        store.close()
    found = judge_flags(after, before) + judge_flags(before)
    return standings, [f for f in found if f.flag == "judge_changed"]


def _compare(
    db: str | None,
    run_a: str | None,
    run_b: str | None,
    subject: list[str] | None,
    scorer: list[str] | None,
    slice_key: list[str] | None,
    settings: Any,
    with_cost: bool = False,
) -> Any:
    from assay.analyse import compare_runs, default_runs
    from assay.cli.import_commands import runs_or_files

    run_a, run_b = runs_or_files(db, run_a, run_b)  # result files are imported on the fly
    store = _store(db, create=False)
    try:
        if run_a is not None and run_b is not None:
            a, b = store.resolve_run_id(run_a), store.resolve_run_id(run_b)
        elif run_a is not None:
            # One run given: it is the candidate, compared with its predecessor.
            a, b = default_runs(store, run_a)
        else:
            a, b = default_runs(store)
        return compare_runs(
            store,
            a,
            b,
            subjects=_subject_pairs(subject),
            scorers=scorer or None,
            slices=slice_key or None,
            settings=settings,
            with_cost=with_cost,
        )
    finally:
        store.close()


@app.command()
def compare(
    run_a: RunA = None,
    run_b: RunB = None,
    more_runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[RUN...]",
            help="More candidates: with three or more runs, compare ranks them (as `assay rank`).",
        ),
    ] = None,
    db: DbOption = None,
    subject: SubjectOption = None,
    scorer: ScorerOption = None,
    slice_key: SliceOption = None,
    correction: CorrectionOption = "holm",
    alpha: AlphaOption = 0.05,
    power: PowerOption = 0.8,
    confidence: ConfidenceOption = 0.95,
    min_effect: MinEffectOption = None,
    min_clusters: MinClustersOption = 10,
    cluster_correction: ClusterCorrectionOption = True,
    resamples: ResamplesOption = 5000,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print a Markdown table for a pull request.")
    ] = False,
    margin: MarginOption = None,
    equivalence: EquivalenceOption = False,
    human: HumanOption = None,
    human_queue: HumanQueueOption = None,
    migration_note: Annotated[
        str | None,
        typer.Option(
            "--migration-note",
            metavar="NOTE",
            help="A judge changed between or within the runs: say how its scores compare, and "
            "get improved/regressed verdicts for the metrics it graded.",
        ),
    ] = None,
) -> None:
    """Paired comparison of two runs joined by sample id: difference, interval, MDE and verdict
    per metric and slice, and how much pairing helped."""
    if more_runs:
        from assay.cli.rank_commands import rank

        assert run_a is not None and run_b is not None
        rank(
            [run_a, run_b, *more_runs], db=db, scorer=scorer, baseline=None, alpha=alpha,
            resamples=max(resamples, 100) if resamples else 2000, seed=seed, json_out=json_out,
        )  # fmt: skip
        return

    settings = _settings(
        alpha,
        power,
        confidence,
        correction,
        min_effect,
        min_clusters,
        cluster_correction,
        resamples,
        seed,
    )
    if equivalence and margin is None:
        raise AssayError(
            "--equivalence needs --margin", where="--equivalence", fix="add --margin 2pts"
        )
    settings = dataclasses.replace(
        settings,
        margin=_margin(margin, "--margin"),
        equivalence=equivalence,
        migration_note=migration_note,
    )
    result = _compare(db, run_a, run_b, subject, scorer, slice_key, settings, with_cost=True)
    corrected = _corrected(db, result, human, human_queue)
    costs = result.cost if result.cost is not None else _cost_delta(db, result)
    if json_out:
        data = result.to_dict()
        if corrected:
            data["human_corrected"] = [h.as_dict() for h in corrected.values()]
        data["cost"] = costs
        console.print_json(data=data)
    elif markdown:
        from assay.cli.render_stats import comparison_markdown

        console.out(comparison_markdown(result), highlight=False, end="")
    else:
        # Imported only for the tables (``--json`` needs neither).
        from assay.cli.render_margins import margin_view
        from assay.cli.render_stats import comparison_view

        console.print(comparison_view(result))
        if settings.margin is not None:
            console.print(margin_view(result))
        if corrected:
            from assay.cli.human_labels import human_note, human_view

            items = list(corrected.values())
            console.print(human_view(items, "human-corrected difference B − A (95% CI)"))
            console.print(human_note(items), style="dim", highlight=False)
        for standing in _judge_context(db, result)[0]:
            if standing.certificate is not None:
                style = "yellow" if standing.certificate.flags else None
                console.print(f"audit: {standing.describe()}", style=style, highlight=False)
        for row in costs:
            console.print(_cost_line(row), highlight=False)


def _cost_delta(db: str | None, result: Any) -> list[dict[str, Any]]:
    """The paired per-sample cost difference B − A per subject (H: a prompt change's cost moves
    beside its quality delta); subjects whose calls carry no price are left out."""
    from assay.analyse.run_costs import priced_cost_delta

    store = _store(db, create=False)
    try:
        return priced_cost_delta(store, result.run_a.id, result.run_b.id)
    finally:
        store.close()


def _cost_line(row: dict[str, Any]) -> str:
    interval = ""
    if row.get("low") is not None and row.get("high") is not None:
        interval = f" [{row['low']:+.6f}, {row['high']:+.6f}]"
    ratio = f" (×{row['ratio']:.2f})" if row.get("ratio") else ""
    return (
        f"cost per sample, {row['subject']}: ${row['mean_a']:.6f} → ${row['mean_b']:.6f}, "
        f"B − A {row['difference']:+.6f}{interval}{ratio}, {row['n']} samples paired"
    )


def _thresholds(values: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values or []:
        name, sep, number = value.partition("=")
        try:
            out[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise AssayError(
                f"cannot read threshold {value!r}",
                where="--min",
                fix="write SCORER=VALUE, e.g. exact=0.8",
            ) from None
    return out


@app.command()
def gate(
    run_a: RunA = None,
    run_b: RunB = None,
    db: DbOption = None,
    minimum: Annotated[
        list[str] | None,
        typer.Option(
            "--min",
            help="Fail unless the candidate's mean for SCORER is at least VALUE (SCORER=VALUE).",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write the checks as JUnit XML to FILE.")
    ] = None,
    sarif: Annotated[
        Path | None,
        typer.Option("--sarif", help="Also write the failed checks as SARIF 2.1.0 to FILE."),
    ] = None,
    margin: Annotated[
        float,
        typer.Option(
            "--margin",
            help="Tolerate regressions smaller than this, in metric units (0.01 = 1 point).",
        ),
    ] = 0.0,
    subject: SubjectOption = None,
    scorer: ScorerOption = None,
    slice_key: SliceOption = None,
    correction: CorrectionOption = "holm",
    alpha: AlphaOption = 0.05,
    power: PowerOption = 0.8,
    confidence: ConfidenceOption = 0.95,
    min_effect: MinEffectOption = None,
    min_clusters: MinClustersOption = 10,
    cluster_correction: ClusterCorrectionOption = True,
    resamples: ResamplesOption = 2000,
    seed: SeedOption = 0,
    accept_judge_risk: Annotated[
        str | None,
        typer.Option(
            "--accept-judge-risk",
            metavar="REASON",
            help="Gate even though a judge's newest audit certificate is gameable or drifted "
            "(the reason is kept in the gate's output).",
        ),
    ] = None,
    migration_note: Annotated[
        str | None,
        typer.Option(
            "--migration-note",
            metavar="NOTE",
            help="Gate even though a judge changed between or within the runs "
            "(judge_changed), saying how their scores compare.",
        ),
    ] = None,
    non_inferior: Annotated[
        str | None,
        typer.Option(
            "--non-inferior",
            metavar="MARGIN",
            help="Pass only if B is shown not worse than A by MARGIN ('2pts' or metric units), "
            "one-sided at α; regressions smaller than MARGIN are tolerated.",
        ),
    ] = None,
    equivalence: EquivalenceOption = False,
    human: HumanOption = None,
    human_queue: HumanQueueOption = None,
    json_out: JsonOption = False,
) -> None:
    """CI gate: exit 0 when nothing regressed (overall or in any slice) and every --min holds,
    1 when something did (or a judge's audit certificate is gameable or drifted), 2 on a usage
    mistake."""
    from assay.analyse import gate as run_gate
    from assay.cli.render_stats import gate_junit, gate_view

    thresholds = _thresholds(minimum)
    settings = _settings(
        alpha,
        power,
        confidence,
        correction,
        min_effect,
        min_clusters,
        cluster_correction,
        resamples,
        seed,
    )
    settings = dataclasses.replace(settings, migration_note=migration_note)
    if equivalence and non_inferior is None:
        raise AssayError(
            "--equivalence needs --non-inferior MARGIN", where="--equivalence", fix="add it"
        )
    ni_margin = _margin(non_inferior, "--non-inferior")
    if ni_margin is not None:
        settings = dataclasses.replace(settings, margin=ni_margin, equivalence=equivalence)
        margin = max(margin, ni_margin)
    comparison = _compare(db, run_a, run_b, subject, scorer, slice_key, settings)
    standings, changes = _judge_context(db, comparison)
    corrected = _corrected(db, comparison, human, human_queue)
    result = run_gate(
        comparison,
        thresholds=thresholds,
        margin=margin,
        non_inferior=ni_margin is not None,
        corrected=corrected,
        judges=standings,
        accept_judge_risk=accept_judge_risk,
        judge_changes=changes,
        migration_note=migration_note,
    )
    if junit is not None:
        try:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(gate_junit(result), encoding="utf-8")
        except OSError as error:
            raise AssayError(f"cannot write {junit}: {error.strerror}", where="--junit") from error
    if sarif is not None:
        from assay.cli.render_gate_reports import gate_sarif, write_report

        try:  # the location GitHub code scanning needs: the candidate's dataset file
            with _store(db, create=False) as store:
                dataset = store.get_manifest(result.comparison.run_b.id).dataset.source
        except AssayError:  # a run not in this store (e.g. compared from files)
            dataset = None
        write_report(sarif, gate_sarif(result, artifact=dataset), "--sarif")
    if json_out:
        console.print_json(
            data={
                "passed": result.passed,
                "checks": [dataclasses.asdict(c) for c in result.checks],
                "comparison": result.comparison.to_dict(),
            }
        )
    else:
        console.print(gate_view(result))
    if not result.passed:
        raise typer.Exit(1)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@app.command()
def plan(
    baseline: Annotated[
        float | None, typer.Option("--baseline", help="Current pass rate, e.g. 0.82.")
    ] = None,
    target: Annotated[
        float | None, typer.Option("--target", help="The rate to be able to detect, e.g. 0.85.")
    ] = None,
    delta: Annotated[
        float | None,
        typer.Option("--delta", help="The difference to detect (instead of --target)."),
    ] = None,
    n: Annotated[
        int | None, typer.Option("--n", help="Report the minimum detectable effect at this n.")
    ] = None,
    pairs_from: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--pairs-from",
            metavar="RUN_A RUN_B",
            help="Estimate ω² and answer noise from two earlier runs on the same samples, "
            "and size a paired comparison.",
        ),
    ] = None,
    subject: SubjectOption = None,
    scorer: Annotated[
        str | None, typer.Option("--scorer", help="Scorer to plan for (with --pairs-from).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Answers per sample in the planned run.")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", help="Answers per run you can afford: find the best epochs."),
    ] = None,
    cost_per_sample: Annotated[
        float,
        typer.Option(
            "--cost-per-sample", help="Fixed cost of a sample, in answers (with --budget)."
        ),
    ] = 0.0,
    n_available: Annotated[
        int | None, typer.Option("--n-available", help="Samples that exist (with --budget).")
    ] = None,
    omega2: Annotated[
        float | None,
        typer.Option(
            "--omega2",
            help="Variance of the per-sample differences B - A (ω²), for a paired design "
            "without stored runs.",
        ),
    ] = None,
    sd_diff: Annotated[
        float | None,
        typer.Option("--sd-diff", help="Per-sample SD of the differences (ω² = SD²)."),
    ] = None,
    within_variance: Annotated[
        float,
        typer.Option(
            "--within-variance",
            help="Answer-to-answer variance σ²_A + σ²_B (with --omega2 and --epochs).",
        ),
    ] = 0.0,
    alpha: AlphaOption = 0.05,
    power: PowerOption = 0.8,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sample size and minimum detectable effect: two proportions (--baseline/--target, --n),
    a paired design from a given ω² (--omega2 or --sd-diff, with --delta or --n), or a paired
    design estimated from two earlier runs (--pairs-from RUN_A RUN_B)."""
    from assay.analyse import plan_from_runs, plan_paired, plan_proportions
    from assay.cli.render_stats import paired_plan_view, proportion_plan_view, variance_plan_view

    if target is not None and baseline is None:
        raise AssayError("--target needs --baseline", where="--target", fix="add --baseline 0.82")
    if target is not None and delta is not None:
        raise AssayError("give --target or --delta, not both", where="--delta")
    for name, value in (("--baseline", baseline), ("--target", target)):
        if value is not None and not 0 < value < 1:
            raise AssayError(
                f"{name} must be a rate strictly between 0 and 1, got {value}", where=name
            )
    output: dict[str, Any] = {}
    views: list[Any] = []
    given_variance = omega2 is not None or sd_diff is not None
    if baseline is not None and (target is not None or n is not None) and not given_variance:
        proportions = plan_proportions(baseline, target, n=n, alpha=alpha, power=power)
        output["proportions"] = _jsonable(proportions)
        views.append(proportion_plan_view(proportions))
    if given_variance:
        if pairs_from is not None:
            raise AssayError(
                "give --omega2/--sd-diff or --pairs-from, not both",
                where="--omega2",
                fix="--pairs-from estimates ω² from the runs",
            )
        planned = plan_paired(
            omega2=omega2,
            sd_difference=sd_diff,
            delta=(
                delta
                if delta is not None
                else (target - baseline if target is not None and baseline is not None else None)
            ),
            n=n,
            within_variance=within_variance,
            epochs=epochs or 1,
            alpha=alpha,
            power=power,
        )
        output["paired_from_variance"] = _jsonable(planned)
        views.append(variance_plan_view(planned))
    if pairs_from is not None:
        difference = (
            delta
            if delta is not None
            else (target - baseline if target is not None and baseline is not None else None)
        )
        if difference is None:
            raise AssayError(
                "needs the difference to detect",
                where="--pairs-from",
                fix="add --baseline 0.82 --target 0.85, or --delta 0.03",
            )
        pairs = _subject_pairs(subject)
        store = _store(db, create=False)
        try:
            paired = plan_from_runs(
                store,
                store.resolve_run_id(pairs_from[0]),
                store.resolve_run_id(pairs_from[1]),
                delta=difference,
                subject=pairs[0] if pairs else None,
                scorer=scorer,
                epochs=epochs,
                budget=budget,
                cost_per_sample=cost_per_sample,
                n_available=n_available,
                alpha=alpha,
                power=power,
            )
        finally:
            store.close()
        output["paired"] = _jsonable(paired)
        views.append(paired_plan_view(paired))
    if not views:
        raise AssayError(
            "nothing to plan",
            where="assay plan",
            fix="give --baseline 0.82 --target 0.85 (or --n 400), --omega2 0.111 --delta 0.03, "
            "or --pairs-from RUN_A RUN_B with --delta",
        )
    if json_out:
        console.print_json(data=output)
    else:
        for view in views:
            console.print(view)
