"""What ``assay compare`` returns: settings, per-group and per-metric comparisons, the run
comparison, and their JSON form (``to_dict``). The numbers are computed in
:mod:`assay.analyse.compare_groups` and assembled in :mod:`assay.analyse.compare`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.core import ManifestChange
from assay.stats import (
    FAILING,
    IMPROVED,
    MIXED,
    NO_DIFFERENCE,
    REGRESSED,
    Correction,
    Interval,
)
from assay.store import RunInfo

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
        """The slices that regressed (B9); a slice whose verdict a changed judge withheld is
        not one (:func:`~assay.stats.slice_regressed` reads no withheld label)."""
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
    #: The paired per-sample cost difference B − A per subject with priced calls, when asked
    #: for (``compare_runs(..., with_cost=True)``); ``None`` otherwise.
    cost: list[dict[str, Any]] | None = None

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


#: The verdict that replaces ``improved``/``regressed`` when every slice, a control set
#: included, moved by about the same amount (C6): the signature of a changed judge.
INSTRUMENT_DRIFT = "instrument drift suspected"

#: Slice values that mark a control set: samples the change under test cannot affect (the
#: same convention as ``assay data lint``'s ``no_control_set`` smell).
CONTROL_VALUES = frozenset({"control"})
