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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analyse.judge_guard import JUDGE_CHANGED, guard_judge_changes
from assay.analyse.manifest_pairs import paired_manifest_changes
from assay.analyse.paired_estimators import estimate_group, margin_verdict
from assay.analyse.scores import NO_LABEL, RunScores, load_scores
from assay.core import AssayError, ManifestChange
from assay.stats import (
    FAILING,
    IMPROVED,
    MIXED,
    NO_DIFFERENCE,
    REGRESSED,
    Correction,
    Interval,
    adjust_p_values,
    mcnemar_exact,
    minimum_detectable_effect,
    overall_verdict,
    paired_bootstrap_interval,
    paired_difference,
    sign_flip_test,
    verdict,
)
from assay.store import RunInfo, Store

#: The smallest difference worth detecting when none is given, as a share of the metric's
#: range: 3 points on a 0-1 (pass rate) scale, the delta of the essay's 82% → 85% example.
#: A design inference ([I] in REQUIREMENTS), overridable with ``min_effect``.
DEFAULT_MIN_EFFECT_SHARE = 0.03


@dataclass(frozen=True)
class CompareSettings:
    """The knobs of a comparison (defaults follow Miller 2024 and REQUIREMENTS B).

    ``min_effect``: the smallest difference worth detecting, in metric units, for every
    metric (a mapping scorer → value sets it per scorer); ``None`` means 3% of the metric's
    range. ``min_clusters``: fewer clusters than this in a group and clustered errors are not
    used there (with few clusters they are themselves too noisy: Cameron & Miller 2015).
    """

    alpha: float = 0.05
    power: float = 0.8
    confidence: float = 0.95
    correction: Correction = "holm"
    min_effect: float | Mapping[str, float] | None = None
    min_clusters: int = 10
    finite_cluster_correction: bool = True
    n_resamples: int = 5_000
    seed: int = 0
    #: Non-inferiority margin δ in metric units (``--margin``): B may be worse than A by less
    #: than δ. ``equivalence`` asks for |B − A| < δ instead (TOST).
    margin: float | None = None
    equivalence: bool = False
    #: How the scores of a judge that changed between the runs compare (``--migration-note``);
    #: without it, metrics that judge graded get no improved/regressed verdict (C5).
    migration_note: str | None = None


@dataclass(frozen=True)
class GroupComparison:
    """One group (``all`` or a slice ``key=value``) of one metric: the paired difference b − a.

    ``interval``/``p_value`` come from ``test``; ``p_adjusted`` after the multiple-comparison
    correction. ``se_paired``/``se_unpaired``/``correlation`` show what pairing bought.
    ``a_only``/``b_only`` are McNemar's discordant counts (samples only A, or only B, got
    right) for pass/fail scores. ``note`` explains a choice the reader should know about.
    """

    slice_key: str | None
    slice_value: str | None
    n: int
    mean_a: float
    mean_b: float
    difference: float
    interval: Interval
    test: str
    p_value: float
    p_adjusted: float
    mde: float
    verdict: str
    se_paired: float
    se_unpaired: float
    correlation: float
    n_clusters: int | None
    se_clustered: float | None
    binary: bool
    a_only: int | None
    b_only: int | None
    bootstrap: Interval | None
    permutation_p: float | None
    note: str | None = None
    #: With a margin: ``non-inferior`` / ``not shown non-inferior`` (or ``equivalent`` /
    #: ``not shown equivalent``), decided by ``margin_interval`` (the test's interval at 1 − 2α).
    margin_verdict: str | None = None
    margin_interval: Interval | None = None

    @property
    def group(self) -> str:
        return "all" if self.slice_key is None else f"{self.slice_key}={self.slice_value}"

    @property
    def se_reduction(self) -> float:
        """1 − SE_paired/SE_unpaired: how much pairing shrank the standard error."""
        if not self.se_unpaired or math.isnan(self.se_unpaired) or math.isnan(self.se_paired):
            return math.nan
        return 1 - self.se_paired / self.se_unpaired


@dataclass(frozen=True)
class MetricComparison:
    """One scorer for one pair of subjects: the aggregate, each slice, and the verdict.

    ``verdict`` is the aggregate's, or ``mixed: slice regression`` when a slice regressed
    while the aggregate did not (B9). ``only_a``/``only_b`` are the ids of samples graded in
    one run only (left out of the comparison).
    """

    subject_a: str
    subject_b: str
    scorer: str
    aggregate: GroupComparison
    slices: list[GroupComparison]
    verdict: str
    min_effect: float
    only_a: list[str]
    only_b: list[str]
    epochs_a: float
    epochs_b: float
    #: The C6 lift detector's reading when a slice key has a control set (see
    #: :func:`instrument_drift_reading`); ``None`` when there is no control slice.
    drift: dict[str, Any] | None = None

    @property
    def margin_verdict(self) -> str | None:
        """The aggregate's non-inferiority or equivalence verdict, when a margin was given."""
        return self.aggregate.margin_verdict

    @property
    def subject(self) -> str:
        return (
            self.subject_a
            if self.subject_a == self.subject_b
            else f"{self.subject_a} → {self.subject_b}"
        )

    @property
    def groups(self) -> list[GroupComparison]:
        return [self.aggregate, *self.slices]

    @property
    def regressed_slices(self) -> list[GroupComparison]:
        from assay.stats import slice_regressed

        return [s for s in self.slices if slice_regressed(s.verdict, s.difference, s.mde)]


@dataclass(frozen=True)
class RunComparison:
    """Run A (the baseline) against run B (the candidate): differences are B − A."""

    run_a: RunInfo
    run_b: RunInfo
    changes: list[ManifestChange]
    subject_pairs: list[tuple[str, str]]
    slices: list[str]
    metrics: list[MetricComparison]
    settings: CompareSettings
    warnings: list[str] = field(default_factory=list)
    #: ``judge_changed`` flags between or within the runs (:mod:`assay.analyse.judge_guard`).
    judge_changes: list[Any] = field(default_factory=list)
    #: Compared from plain data (:func:`assay.compare_scores`): no manifests, no run ids.
    from_data: bool = False

    @property
    def failing(self) -> list[MetricComparison]:
        """Metrics whose verdict is ``regressed`` or ``mixed: slice regression``."""
        return [m for m in self.metrics if m.verdict in FAILING]

    @property
    def verdict(self) -> str:
        """The headline: regressed > mixed > improved > no detectable difference > underpowered."""
        verdicts = {m.verdict for m in self.metrics}
        for label in (INSTRUMENT_DRIFT, REGRESSED, MIXED, JUDGE_CHANGED, IMPROVED, NO_DIFFERENCE):
            if label in verdicts:
                return label
        return "underpowered"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        return {
            "run_a": self.run_a.model_dump(mode="json"),
            "run_b": self.run_b.model_dump(mode="json"),
            "verdict": self.verdict,
            "judge_changes": [c.model_dump(mode="json") for c in self.judge_changes],
            "changes": [c.model_dump(mode="json") for c in self.changes],
            "subject_pairs": [list(p) for p in self.subject_pairs],
            "slices": self.slices,
            "settings": {
                "alpha": self.settings.alpha,
                "power": self.settings.power,
                "confidence": self.settings.confidence,
                "correction": self.settings.correction,
                "min_clusters": self.settings.min_clusters,
                "finite_cluster_correction": self.settings.finite_cluster_correction,
                "n_resamples": self.settings.n_resamples,
                "seed": self.settings.seed,
                "margin": self.settings.margin,
                "equivalence": self.settings.equivalence,
            },
            "warnings": self.warnings,
            "metrics": [_metric_dict(m) for m in self.metrics],
        }


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _interval_dict(i: Interval | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {
        "estimate": _num(i.estimate),
        "low": _num(i.low),
        "high": _num(i.high),
        "n": i.n,
        "method": i.method,
        "confidence": i.confidence,
        "standard_error": _num(i.standard_error),
    }


def _group_dict(g: GroupComparison) -> dict[str, Any]:
    return {
        "group": g.group,
        "slice_key": g.slice_key,
        "slice_value": g.slice_value,
        "n": g.n,
        "mean_a": _num(g.mean_a),
        "mean_b": _num(g.mean_b),
        "difference": _num(g.difference),
        "interval": _interval_dict(g.interval),
        "test": g.test,
        "p_value": _num(g.p_value),
        "p_adjusted": _num(g.p_adjusted),
        "mde": _num(g.mde),
        "verdict": g.verdict,
        "se_paired": _num(g.se_paired),
        "se_unpaired": _num(g.se_unpaired),
        "se_reduction": _num(g.se_reduction),
        "correlation": _num(g.correlation),
        "n_clusters": g.n_clusters,
        "se_clustered": _num(g.se_clustered),
        "binary": g.binary,
        "a_only": g.a_only,
        "b_only": g.b_only,
        "bootstrap": _interval_dict(g.bootstrap),
        "permutation_p": _num(g.permutation_p),
        "note": g.note,
        "margin_verdict": g.margin_verdict,
        "margin_interval": _interval_dict(g.margin_interval),
    }


def _metric_dict(m: MetricComparison) -> dict[str, Any]:
    return {
        "subject_a": m.subject_a,
        "subject_b": m.subject_b,
        "scorer": m.scorer,
        "verdict": m.verdict,
        "margin_verdict": m.margin_verdict,
        "min_effect": m.min_effect,
        "epochs_a": m.epochs_a,
        "epochs_b": m.epochs_b,
        "n_only_a": len(m.only_a),
        "n_only_b": len(m.only_b),
        "only_a": m.only_a,
        "only_b": m.only_b,
        "regressed_slices": [s.group for s in m.regressed_slices],
        "groups": [_group_dict(g) for g in m.groups],
        "instrument_drift": m.drift,
    }


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


def default_min_effect(values: NDArray[np.float64]) -> float:
    """3% of the metric's range: 0.03 for scores within [0, 1], else 3% of the observed span."""
    if values.size == 0:
        return DEFAULT_MIN_EFFECT_SHARE
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        return DEFAULT_MIN_EFFECT_SHARE
    return DEFAULT_MIN_EFFECT_SHARE * (high - low) if high > low else DEFAULT_MIN_EFFECT_SHARE


def _scale(values: NDArray[np.float64]) -> float:
    low, high = float(values.min()), float(values.max())
    return 1.0 if low >= 0 and high <= 1 else max(high - low, 1e-12)


@dataclass
class _Row:
    """A group's numbers before the multiple-comparison correction."""

    slice_key: str | None
    slice_value: str | None
    fields: dict[str, Any]
    p_value: float


def _compare_group(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    clusters: NDArray[Any] | None,
    binary: bool,
    scale: float,
    settings: CompareSettings,
) -> tuple[dict[str, Any], float]:
    n = int(a.size)
    pd = paired_difference(a, b, confidence=settings.confidence)
    chosen = estimate_group(
        a,
        b,
        clusters,
        binary,
        confidence=settings.confidence,
        alpha=settings.alpha,
        min_clusters=settings.min_clusters,
    )
    n_clusters = chosen.n_clusters
    use_clusters = n_clusters is not None and n_clusters >= settings.min_clusters
    interval, p, se, test, note = (
        chosen.interval,
        chosen.p_value,
        chosen.standard_error,
        chosen.test,
        chosen.note,
    )
    a_only = b_only = None
    if binary:
        mc = mcnemar_exact(a, b)
        a_only, b_only = mc.a_only, mc.b_only
    margin_label = margin_interval = None
    if settings.margin is not None:
        margin_label, margin_interval = margin_verdict(
            chosen, settings.margin, settings.alpha, settings.equivalence
        )
    se_for_mde = float(se) if se is not None else math.nan
    if se_for_mde == 0 and n >= 1:
        # No variation in the differences: the observed SE of 0 would claim infinite power.
        # Use the rule-of-three bound instead (Hanley & Lippman-Hand 1983): a difference that
        # never varied in n samples may still vary in up to 3/n of them.
        se_for_mde = scale * math.sqrt(min(1.0, 3 / n) / n)
        note = (note + "; " if note else "") + "no variation in the differences"
    mde = (
        minimum_detectable_effect(se_for_mde, alpha=settings.alpha, power=settings.power)
        if n >= 2
        else math.nan
    )
    bootstrap = permutation = None
    if n >= 2 and settings.n_resamples > 0:
        bootstrap = paired_bootstrap_interval(
            a,
            b,
            clusters=clusters if use_clusters else None,
            method="percentile" if use_clusters else "bca",
            n_resamples=settings.n_resamples,
            confidence=settings.confidence,
            seed=settings.seed,
        )
        permutation = sign_flip_test(a, b, n_resamples=settings.n_resamples, seed=settings.seed)
    fields = {
        "n": n,
        "mean_a": pd.mean_a,
        "mean_b": pd.mean_b,
        "difference": pd.difference,
        "interval": interval,
        "test": test,
        "mde": mde,
        "se_paired": pd.se_paired,
        "se_unpaired": pd.se_unpaired,
        "correlation": pd.correlation,
        "n_clusters": n_clusters,
        "se_clustered": se if n_clusters is not None and n_clusters >= 2 else None,
        "binary": binary,
        "a_only": a_only,
        "b_only": b_only,
        "bootstrap": bootstrap,
        "permutation_p": None if permutation is None else permutation.p_value,
        "note": note,
        "margin_verdict": margin_label,
        "margin_interval": margin_interval,
    }
    return fields, p


def _metric_rows(
    scores_a: RunScores,
    scores_b: RunScores,
    subject_a: str,
    subject_b: str,
    scorer: str,
    slices: Sequence[str],
    settings: CompareSettings,
    warnings: list[str],
) -> tuple[list[_Row], dict[str, Any]] | None:
    va = scores_a.per_sample(subject_a, scorer)
    vb = scores_b.per_sample(subject_b, scorer)
    shared = sorted(set(va) & set(vb))
    only_a = sorted(set(va) - set(vb))
    only_b = sorted(set(vb) - set(va))
    label = (
        f"{subject_a}/{scorer}" if subject_a == subject_b else f"{subject_a}→{subject_b}/{scorer}"
    )
    if only_a or only_b:
        warnings.append(
            f"{label}: {len(only_a)} samples graded only in run A and {len(only_b)} only in run B "
            "are left out (the runs are joined by sample id)"
        )
    if len(shared) == 0:
        warnings.append(f"{label}: the runs share no graded sample; nothing to compare")
        return None
    # Each sample's mean over its epochs (a Python mean per sample: np.mean on 100,000 short
    # lists cost seconds in `assay compare`).
    a = np.array([fmean(va[i]) for i in shared])
    b = np.array([fmean(vb[i]) for i in shared])
    binary = all(len(v[i]) == 1 and v[i][0] in (0.0, 1.0) for v in (va, vb) for i in shared)
    labels_a = [scores_a.cluster(i) for i in shared]
    labels_b = [scores_b.cluster(i) for i in shared]
    cluster_labels = [x if x is not None else y for x, y in zip(labels_a, labels_b, strict=True)]
    clusters: NDArray[Any] | None = None
    if any(c is not None for c in cluster_labels):
        # A sample without a cluster label is a cluster of its own.
        clusters = np.array(
            [
                c if c is not None else f"\x00sample:{i}"
                for c, i in zip(cluster_labels, shared, strict=True)
            ]
        )
    both = np.concatenate([a, b])
    scale = _scale(both)
    rows: list[_Row] = []
    groups: list[tuple[str | None, str | None, NDArray[np.intp]]] = [
        (None, None, np.arange(len(shared)))
    ]
    for key in slices:
        labels = []
        for i in shared:
            la, lb = scores_a.slice_label(i, key), scores_b.slice_label(i, key)
            labels.append(la if la != NO_LABEL else lb)
        mismatched = sum(
            1
            for i in shared
            if scores_a.slice_label(i, key) != scores_b.slice_label(i, key)
            and scores_a.has_sample(i)
            and scores_b.has_sample(i)
        )
        if mismatched:
            warnings.append(
                f"{label}: {mismatched} samples have different '{key}' labels in the two runs; "
                "run A's labels are used"
            )
        label_array = np.array(labels)
        for value in sorted(set(labels)):
            groups.append((key, value, np.flatnonzero(label_array == value)))
    for group_key, group_value, idx in groups:
        fields, p = _compare_group(
            a[idx],
            b[idx],
            None if clusters is None else clusters[idx],
            binary,
            scale,
            settings,
        )
        rows.append(_Row(group_key, group_value, fields, p))
    if isinstance(settings.min_effect, Mapping):
        min_effect = settings.min_effect.get(scorer, default_min_effect(both))
    elif settings.min_effect is not None:
        min_effect = float(settings.min_effect)
    else:
        min_effect = default_min_effect(both)
    meta = {
        "subject_a": subject_a,
        "subject_b": subject_b,
        "scorer": scorer,
        "min_effect": min_effect,
        "only_a": only_a,
        "only_b": only_b,
        "epochs_a": float(np.mean([len(va[i]) for i in shared])),
        "epochs_b": float(np.mean([len(vb[i]) for i in shared])),
    }
    return rows, meta


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
    for subject_a, subject_b in pairs:
        collected = []
        for scorer in common_scorers:
            found = _metric_rows(
                scores_a, scores_b, subject_a, subject_b, scorer, slice_keys, settings, warnings
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
            label = overall_verdict(
                aggregate.verdict, [(s.verdict, s.difference, s.mde) for s in slice_rows]
            )
            drift = instrument_drift_reading(slice_rows, settings.confidence)
            if drift is not None and drift["suspected"] and label != NO_DIFFERENCE:
                label = INSTRUMENT_DRIFT
            metrics.append(
                MetricComparison(
                    aggregate=aggregate, slices=slice_rows, verdict=label, drift=drift, **meta
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


#: The verdict that replaces ``improved``/``regressed`` when every slice, a control set
#: included, moved by about the same amount (C6): the signature of a changed judge.
INSTRUMENT_DRIFT = "instrument drift suspected"

#: Slice values that mark a control set: samples the change under test cannot affect (the
#: same convention as ``assay data lint``'s ``no_control_set`` smell).
CONTROL_VALUES = frozenset({"control"})


def instrument_drift_reading(
    slices: Sequence[GroupComparison], confidence: float
) -> dict[str, Any] | None:
    """The C6 lift detector (:func:`assay.audit.drift.instrument_drift`) on one metric's
    slices: for each slice key that has a control value, the slices' differences and
    intervals. ``None`` when no slice key has a control set; else the reading of the first
    such key (``as_dict()`` of the report, plus ``slice_key``)."""
    from assay.audit.drift import SliceDelta, instrument_drift

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
) -> RunComparison:
    """Compare stored run ``run_b`` (the candidate) with ``run_a`` (the baseline).

    ``subjects`` pairs subjects explicitly (see :func:`pair_subjects`); ``scorers`` limits
    the metrics (default: every scorer both runs have); ``slices`` the slice keys (default:
    both runs' declared slices). A pure function of the store: the same runs and settings
    always give the same numbers (the resampling is seeded).
    """
    return compare_scores(
        load_scores(store, run_a),
        load_scores(store, run_b),
        subjects=subjects,
        scorers=scorers,
        slices=slices,
        settings=settings,
    )
