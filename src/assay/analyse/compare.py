"""Paired comparison of two stored runs: per subject pair, metric and slice, with verdicts.

The two runs are joined by sample id, never by row position; samples graded in one run only
are reported and left out. Each sample's epochs are averaged first (the unit of analysis is
the sample). For every group (all samples, then each slice) the comparison reports the paired
difference b − a with its interval, the test used, its p-value before and after correcting
for the number of groups tested, the minimum detectable effect (MDE) at this n, the
between-run correlation and how much pairing shrank the standard error, then a verdict
(:mod:`assay.stats.verdicts`). Miller (2024), "Adding Error Bars to Evals", §5.

Which test (:mod:`assay.analyse.paired_estimators`): with a cluster key, CR2 clustered errors
with Bell-McCaffrey degrees of freedom (conservative ones below ``min_clusters`` clusters);
else McNemar's exact test for pass/fail scores, with Tango's score interval made consistent
with it; else the paired t-test. With a ``margin``, each group also gets a non-inferiority (or
TOST equivalence) verdict from the same interval at 1 − 2α. A bootstrap interval and a
sign-flip permutation p-value are reported beside it as checks. Corrections: Holm (default)
or Benjamini-Hochberg, applied to the aggregate rows across metrics and, separately, to the
slice rows across slices and metrics, per subject pair.

This module holds the entry points (:func:`compare_runs`, :func:`compare_scores`) and
re-exports the rest: the result types and their JSON form live in
:mod:`assay.analyse.compare_types`, one metric's per-group numbers in
:mod:`assay.analyse.compare_groups`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from assay.analyse.compare_groups import (
    GroupRow,
    compare_group,
    default_min_effect,
    metric_rows,
)
from assay.analyse.compare_types import (
    CONTROL_VALUES,
    DEFAULT_MIN_EFFECT_SHARE,
    INSTRUMENT_DRIFT,
    CompareSettings,
    GroupComparison,
    MetricComparison,
    RunComparison,
)
from assay.analyse.judge_guard import guard_judge_changes
from assay.analyse.manifest_pairs import paired_manifest_changes
from assay.analyse.scores import RunScores, load_scores
from assay.core import AssayError
from assay.stats import NO_DIFFERENCE, adjust_p_values, overall_verdict, verdict
from assay.store import Store
from assay.store.score_reads import paused_gc

__all__ = [
    "CONTROL_VALUES",
    "DEFAULT_MIN_EFFECT_SHARE",
    "INSTRUMENT_DRIFT",
    "CompareSettings",
    "GroupComparison",
    "GroupRow",
    "MetricComparison",
    "RunComparison",
    "compare_group",
    "compare_runs",
    "compare_scores",
    "default_min_effect",
    "default_runs",
    "instrument_drift_reading",
    "metric_rows",
    "pair_subjects",
]


def pair_subjects(
    subjects_a: Sequence[str],
    subjects_b: Sequence[str],
    explicit: Sequence[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """Which subject of run A is compared with which of run B.

    ``explicit`` pairs win (each name must exist in its run); otherwise two single-subject
    runs are paired whatever their names, and subjects with the same name are paired.
    Raises :class:`AssayError` when nothing can be paired.
    """
    if explicit:
        for a, b in explicit:
            if a not in subjects_a:
                raise AssayError(
                    f"run A has no subject {a!r}",
                    where="--subject",
                    fix=f"run A's subjects: {', '.join(subjects_a) or '(none)'}",
                )
            if b not in subjects_b:
                raise AssayError(
                    f"run B has no subject {b!r}",
                    where="--subject",
                    fix=f"run B's subjects: {', '.join(subjects_b) or '(none)'}",
                )
        return list(explicit)
    if len(subjects_a) == 1 and len(subjects_b) == 1:
        return [(subjects_a[0], subjects_b[0])]
    common = [s for s in subjects_a if s in subjects_b]
    if not common:
        raise AssayError(
            "the two runs share no subject name, so it is not clear what to compare",
            fix="pair subjects explicitly with --subject A_NAME:B_NAME "
            f"(run A: {', '.join(subjects_a)}; run B: {', '.join(subjects_b)})",
        )
    return [(s, s) for s in common]


def _dataset_versions(scores_a: RunScores, scores_b: RunScores) -> str | None:
    """A warning when the runs used different dataset versions (different content hashes, or
    different ``registry:NAME@N`` sources), naming the shared cases the pairing is limited to."""
    a, b = scores_a.manifest.dataset, scores_b.manifest.dataset
    if a.content_hash == b.content_hash:
        return None
    shared = set(a.sample_ids) & set(b.sample_ids)
    name_a = a.source if (a.source or "").startswith("registry:") else a.content_hash[:12]
    name_b = b.source if (b.source or "").startswith("registry:") else b.content_hash[:12]
    return (
        f"the runs used different dataset versions ({name_a} vs {name_b}): compared on the "
        f"{len(shared)} shared cases ({len(set(a.sample_ids) - shared)} only in "
        f"{scores_a.run_id}, {len(set(b.sample_ids) - shared)} only in {scores_b.run_id})"
    )


def compare_scores(
    scores_a: RunScores,
    scores_b: RunScores,
    *,
    subjects: Sequence[tuple[str, str]] | None = None,
    scorers: Sequence[str] | None = None,
    slices: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
) -> RunComparison:
    """Compare two runs' scores already read from the store (see :func:`compare_runs`)."""
    settings = settings or CompareSettings()
    warnings: list[str] = []
    for s in (scores_a, scores_b):
        if s.info.status != "completed":
            warnings.append(
                f"run {s.run_id} is {s.info.status}: numbers cover the results stored so far"
            )
    dataset_warning = _dataset_versions(scores_a, scores_b)
    if dataset_warning is not None:
        warnings.append(dataset_warning)
    pairs = pair_subjects(scores_a.subjects, scores_b.subjects, subjects)
    common_scorers = [s for s in scores_a.scorers if s in scores_b.scorers]
    if scorers:
        missing = [s for s in scorers if s not in common_scorers]
        if missing:
            raise AssayError(
                f"scorer {missing[0]!r} is not in both runs",
                where="--scorer",
                fix=f"scorers in both runs: {', '.join(common_scorers) or '(none)'}",
            )
        common_scorers = list(scorers)
    else:
        for name in sorted(set(scores_a.scorers) ^ set(scores_b.scorers)):
            warnings.append(f"scorer {name!r} is in one run only and is not compared")
    if not common_scorers:
        raise AssayError(
            "the two runs share no scorer, so there is nothing to compare",
            fix="compare runs graded by the same scorers",
        )
    if slices is None:
        slice_keys = list(scores_a.manifest.slices)
        slice_keys += [k for k in scores_b.manifest.slices if k not in slice_keys]
    else:
        slice_keys = list(slices)

    metrics: list[MetricComparison] = []
    memo: dict[Any, Any] = {}
    for subject_a, subject_b in pairs:
        collected = []
        for scorer in common_scorers:
            found = metric_rows(
                scores_a,
                scores_b,
                subject_a,
                subject_b,
                scorer,
                slice_keys,
                settings,
                warnings,
                memo,
            )
            if found is not None:
                collected.append(found)
        # Corrections: aggregates across metrics; slices across slices and metrics.
        aggregate_p = [rows[0].p_value for rows, _ in collected]
        slice_p = [r.p_value for rows, _ in collected for r in rows[1:]]
        adj_aggregate, _ = adjust_p_values(aggregate_p, settings.correction, alpha=settings.alpha)
        adj_slices, _ = adjust_p_values(slice_p, settings.correction, alpha=settings.alpha)
        k = 0
        for m, (rows, meta) in enumerate(collected):
            built: list[GroupComparison] = []
            for j, row in enumerate(rows):
                if j == 0:
                    p_adj = float(adj_aggregate[m])
                else:
                    p_adj = float(adj_slices[k])
                    k += 1
                label = verdict(
                    row.fields["difference"],
                    p_adj,
                    row.fields["mde"],
                    min_effect=meta["min_effect"],
                    alpha=settings.alpha,
                )
                built.append(
                    GroupComparison(
                        slice_key=row.slice_key,
                        slice_value=row.slice_value,
                        p_value=row.p_value,
                        p_adjusted=p_adj,
                        verdict=label,
                        **row.fields,
                    )
                )
            aggregate, slice_rows = built[0], built[1:]
            overall: str = overall_verdict(
                aggregate.verdict, [(s.verdict, s.difference, s.mde) for s in slice_rows]
            )
            drift = instrument_drift_reading(slice_rows, settings.confidence)
            if drift is not None and drift["suspected"] and overall != NO_DIFFERENCE:
                overall = INSTRUMENT_DRIFT
            metrics.append(
                MetricComparison(
                    aggregate=aggregate, slices=slice_rows, verdict=overall, drift=drift, **meta
                )
            )
    if not metrics:
        raise AssayError(
            f"runs {scores_a.run_id} and {scores_b.run_id} share no graded sample for any "
            "subject and scorer, so there is nothing to compare",
            fix="compare runs over the same dataset (samples are joined by id)",
        )
    comparison = RunComparison(
        run_a=scores_a.info,
        run_b=scores_b.info,
        changes=paired_manifest_changes(scores_a.manifest, scores_b.manifest, pairs),
        subject_pairs=pairs,
        slices=slice_keys,
        metrics=metrics,
        settings=settings,
        warnings=warnings,
    )
    return guard_judge_changes(
        comparison, scores_a.manifest, scores_b.manifest, settings.migration_note
    )


def instrument_drift_reading(
    slices: Sequence[GroupComparison], confidence: float
) -> dict[str, Any] | None:
    """The C6 lift detector (:func:`assay.audit.drift.instrument_drift`) on one metric's
    slices: for each slice key that has a control value, the slices' differences and
    intervals. ``None`` when no slice key has a control set; else the reading of the first
    such key (``as_dict()`` of the report, plus ``slice_key``)."""
    by_key: dict[str, list[GroupComparison]] = {}
    for group in slices:
        if group.slice_key is not None:
            by_key.setdefault(group.slice_key, []).append(group)
    for key, groups in by_key.items():
        if not any(str(g.slice_value) in CONTROL_VALUES for g in groups):
            continue
        usable = [
            g
            for g in groups
            if not (math.isnan(g.interval.low) or math.isnan(g.interval.high))
            and g.interval.high > g.interval.low
        ]
        if len(usable) < 2:
            return None
        # Imported here, when a control set is present: ``assay.audit`` costs a third of a
        # second to import, for every comparison otherwise.
        from assay.audit.drift import SliceDelta, instrument_drift

        report = instrument_drift(
            [
                SliceDelta(
                    str(g.slice_value),
                    g.difference,
                    g.interval.low,
                    g.interval.high,
                    g.n,
                    confidence=confidence,
                )
                for g in usable
            ],
            control=CONTROL_VALUES,
        )
        return {"slice_key": key, **report.as_dict()}
    return None


def default_runs(store: Store, run_b: str | None = None) -> tuple[str, str]:
    """The runs ``assay compare`` and ``assay gate`` use when not told: run B (default: the
    newest run that has a predecessor) and run A, the newest earlier run of the same eval
    (same name). Raises :class:`AssayError` when there is no such pair."""
    runs = store.list_runs()  # newest first
    if run_b is not None:
        b_id = store.resolve_run_id(run_b)
        candidates = [i for i, r in enumerate(runs) if r.id == b_id]
    else:
        candidates = list(range(len(runs)))
    for i in candidates:
        for older in runs[i + 1 :]:
            if older.name == runs[i].name:
                return older.id, runs[i].id
    raise AssayError(
        "no earlier run of the same eval to compare with"
        + (f" {run_b}" if run_b is not None else ""),
        fix="name both runs: RUN_A RUN_B (see `assay runs`)",
    )


def compare_runs(
    store: Store,
    run_a: str,
    run_b: str,
    *,
    subjects: Sequence[tuple[str, str]] | None = None,
    scorers: Sequence[str] | None = None,
    slices: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
    with_cost: bool = False,
) -> RunComparison:
    """Compare stored run ``run_b`` (the candidate) with ``run_a`` (the baseline).

    ``subjects`` pairs subjects explicitly (see :func:`pair_subjects`); ``scorers`` limits
    the metrics (default: every scorer both runs have); ``slices`` the slice keys (default:
    both runs' declared slices). A pure function of the store: the same runs and settings
    always give the same numbers (the resampling is seeded). ``with_cost`` also sets
    :attr:`RunComparison.cost` (:func:`assay.analyse.run_costs.priced_cost_delta`), priced
    in the same pass over each run's results as its scores.

    The cyclic garbage collector is held for the whole comparison (:func:`paused_gc`): the two
    runs' scores are a million or so container objects at 100,000 samples, none in a cycle,
    and each young-generation collection that followed the read walked all of them again (a
    quarter of a second of ``assay compare``).
    """
    with paused_gc():
        if not with_cost:
            return compare_scores(
                load_scores(store, run_a, arrays=True),
                load_scores(store, run_b, arrays=True),
                subjects=subjects,
                scorers=scorers,
                slices=slices,
                settings=settings,
            )
        from assay.analyse.run_costs import paired_cost_delta, priced_only, usage_pricer
        from assay.core.prices import PriceBook

        book = PriceBook()
        loaded = []
        for run in (run_a, run_b):
            manifest = store.get_manifest(run)
            loaded.append(
                load_scores(
                    store,
                    run,
                    usage=usage_pricer(book, manifest),
                    manifest=manifest,
                    arrays=True,
                )
            )
        comparison = compare_scores(
            *loaded, subjects=subjects, scorers=scorers, slices=slices, settings=settings
        )
        costs_a, costs_b = (scores.costs or {} for scores in loaded)
        del loaded
        return dataclasses.replace(
            comparison, cost=priced_only(paired_cost_delta(costs_a, costs_b))
        )
