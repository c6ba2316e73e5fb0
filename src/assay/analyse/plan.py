"""Planning a comparison: how many samples (and epochs) it needs (``assay plan``).

Two answers. From proportions alone, the classic two-proportion sample size (REQUIREMENTS
B1). From two earlier runs, the paired design of Miller (2024, §4): the variance of the
per-sample differences (ω²) and the within-sample noise are estimated from the runs, joined by
sample id, and the sample size follows for the difference you want to detect, with the epochs
trade-off when a budget is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analyse.compare import pair_subjects
from assay.analyse.scores import load_scores
from assay.core import AssayError
from assay.stats import (
    EpochPlan,
    PairedVariance,
    best_epochs,
    estimate_paired_variance,
    minimum_detectable_effect,
    paired_minimum_detectable_effect,
    paired_power,
    paired_sample_size,
    two_proportion_mde,
    two_proportion_sample_size,
)
from assay.store import Store


@dataclass(frozen=True)
class ProportionPlan:
    """Two independent proportions: n per arm to detect ``baseline`` → ``target``, and the
    MDE (upwards from the baseline) at ``n`` when given."""

    baseline: float
    target: float | None
    alpha: float
    power: float
    n_per_arm: int | None
    n: int | None
    mde_at_n: float | None


def plan_proportions(
    baseline: float,
    target: float | None = None,
    *,
    n: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> ProportionPlan:
    """Sample size per arm for ``baseline`` → ``target`` and/or the MDE at ``n``."""
    if target is None and n is None:
        raise AssayError(
            "nothing to plan: give a target rate or a sample size",
            where="assay plan",
            fix="add --target 0.85 (the rate to detect) or --n 400 (to get the detectable effect)",
        )
    try:
        n_per_arm = (
            two_proportion_sample_size(baseline, target, alpha=alpha, power=power)
            if target is not None
            else None
        )
        mde = two_proportion_mde(baseline, n, alpha=alpha, power=power) if n is not None else None
    except ValueError as error:
        raise AssayError(str(error), where="assay plan") from error
    return ProportionPlan(baseline, target, alpha, power, n_per_arm, n, mde)


@dataclass(frozen=True)
class VariancePlan:
    """A paired design sized from a given ω² (no stored runs): Miller (2024, §4).

    ``omega2`` is the variance across samples of the per-sample difference B − A (the square
    of the per-sample SD of differences); ``within_variance`` is σ²_A + σ²_B, the answer-to-
    answer noise, divided by ``epochs``. ``n_required`` detects ``delta`` (when given);
    ``mde_at_n`` and ``power_at_n`` are what ``n`` samples achieve (when given).
    """

    omega2: float
    within_variance: float
    epochs: int
    alpha: float
    power: float
    delta: float | None
    n_required: int | None
    n: int | None
    mde_at_n: float | None
    power_at_n: float | None


def plan_paired(
    *,
    omega2: float | None = None,
    sd_difference: float | None = None,
    delta: float | None = None,
    n: int | None = None,
    within_variance: float = 0.0,
    epochs: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
) -> VariancePlan:
    """Size a paired comparison from ω² given directly (``assay plan --omega2``).

    n = (z_{1−α/2} + z_{1−β})² · (ω² + (σ²_A + σ²_B)/K) / δ² (Miller 2024, §4, eq. 8);
    ``sd_difference`` s gives ω² = s². Miller's worked example, δ = 0.03 and ω² = 1/9,
    needs n = 969. Raises :class:`AssayError` on impossible values.
    """
    if (omega2 is None) == (sd_difference is None):
        raise AssayError(
            "give ω² or the SD of the per-sample differences, not both"
            if omega2 is not None
            else "nothing to plan from: no ω²",
            where="--omega2",
            fix="add --omega2 0.111 (variance of per-sample differences) or --sd-diff 0.333",
        )
    if sd_difference is not None:
        if not sd_difference > 0 or math.isinf(sd_difference):
            raise AssayError(
                f"the SD of differences must be positive, got {sd_difference}", where="--sd-diff"
            )
        omega2 = sd_difference**2
    assert omega2 is not None
    if not omega2 >= 0 or math.isinf(omega2):
        raise AssayError(f"ω² must be 0 or more, got {omega2}", where="--omega2")
    if within_variance < 0 or math.isnan(within_variance):
        raise AssayError(
            f"the within-sample variance must be 0 or more, got {within_variance}",
            where="--within-variance",
        )
    if epochs < 1:
        raise AssayError(f"epochs must be at least 1, got {epochs}", where="--epochs")
    if omega2 == 0 and within_variance == 0:
        raise AssayError(
            "ω² and the within-sample variance are both 0: every difference would be "
            "detected by one sample",
            where="--omega2",
            fix="give the variance of the per-sample differences (e.g. --omega2 0.111)",
        )
    if delta is None and n is None:
        raise AssayError(
            "nothing to plan: give the difference to detect or a sample size",
            where="assay plan",
            fix="add --delta 0.03 (or --baseline/--target), or --n 500",
        )
    if delta is not None and (delta == 0 or math.isnan(delta)):
        raise AssayError("the difference to detect must be non-zero", where="--delta")
    if n is not None and n < 1:
        raise AssayError(f"--n must be at least 1, got {n}", where="--n")
    n_required = (
        paired_sample_size(
            delta, omega2, within_variance=within_variance, epochs=epochs, alpha=alpha, power=power
        )
        if delta is not None
        else None
    )
    mde = achieved = None
    if n is not None:
        mde = paired_minimum_detectable_effect(
            n, omega2, within_variance=within_variance, epochs=epochs, alpha=alpha, power=power
        )
        if delta is not None:
            achieved = paired_power(
                delta, n, omega2, within_variance=within_variance, epochs=epochs, alpha=alpha
            )
    return VariancePlan(
        omega2=omega2,
        within_variance=within_variance,
        epochs=epochs,
        alpha=alpha,
        power=power,
        delta=delta,
        n_required=n_required,
        n=n,
        mde_at_n=mde,
        power_at_n=achieved,
    )


@dataclass(frozen=True)
class PairedPlan:
    """A paired design planned from two earlier runs (differences are B − A).

    ``n_required``: samples needed to detect ``delta`` with ``epochs`` answers per sample;
    ``mde_at_current_n`` and ``power_at_current_n``: what the runs' own n achieves;
    ``unpaired_n_per_arm``: what the same difference would need with independent samples,
    from the two runs' per-sample variances (the price of not pairing).

    Every MDE names its design: ``mde_at_current_n`` is paired and unclustered. When the runs
    declare a cluster key, ``assay compare`` uses clustered errors; ``clustered_mde`` is then
    the MDE ``assay compare`` will report for the whole group (its standard error, from the
    same estimator), on ``n_clusters`` clusters of ``cluster_key``.
    """

    run_a: str
    run_b: str
    subject_a: str
    subject_b: str
    scorer: str
    delta: float
    epochs: int
    alpha: float
    power: float
    variance: PairedVariance
    n_required: int
    n_current: int
    mde_at_current_n: float
    power_at_current_n: float
    unpaired_n_per_arm: int
    epoch_plan: EpochPlan | None
    cluster_key: str | None = None
    n_clusters: int | None = None
    clustered_mde: float | None = None


def plan_from_runs(
    store: Store,
    run_a: str,
    run_b: str,
    *,
    delta: float,
    subject: tuple[str, str] | None = None,
    scorer: str | None = None,
    epochs: int | None = None,
    budget: float | None = None,
    cost_per_sample: float = 0.0,
    n_available: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PairedPlan:
    """Estimate ω² and the within-sample noise from two runs, then size a paired comparison.

    ``subject`` pairs the subjects (default as in ``assay compare``: the only subjects, or
    the first pair with the same name); ``scorer`` defaults to the first scorer both runs
    have. ``epochs`` defaults to the runs' own. With ``budget`` (answers per run), the
    epochs trade-off of :func:`~assay.stats.best_epochs` is included.
    """
    if delta == 0 or math.isnan(delta):
        raise AssayError("the difference to detect must be non-zero", where="--target/--delta")
    scores_a, scores_b = load_scores(store, run_a), load_scores(store, run_b)
    pairs: Sequence[tuple[str, str]] = pair_subjects(
        scores_a.subjects, scores_b.subjects, [subject] if subject else None
    )
    subject_a, subject_b = pairs[0]
    common = [s for s in scores_a.scorers if s in scores_b.scorers]
    if scorer is None:
        if not common:
            raise AssayError("the two runs share no scorer", where="--pairs-from")
        scorer = common[0]
    elif scorer not in common:
        raise AssayError(
            f"scorer {scorer!r} is not in both runs",
            where="--scorer",
            fix=f"scorers in both runs: {', '.join(common) or '(none)'}",
        )
    va = scores_a.per_sample(subject_a, scorer)
    vb = scores_b.per_sample(subject_b, scorer)
    shared = sorted(set(va) & set(vb))
    if len(shared) < 2:
        raise AssayError(
            f"runs {run_a} and {run_b} share {len(shared)} graded samples; need at least 2",
            where="--pairs-from",
            fix="plan from two runs over the same dataset",
        )
    a_values = np.concatenate([va[i] for i in shared])
    b_values = np.concatenate([vb[i] for i in shared])
    a_index = np.repeat(np.arange(len(shared)), [len(va[i]) for i in shared])
    b_index = np.repeat(np.arange(len(shared)), [len(vb[i]) for i in shared])
    variance = estimate_paired_variance(a_values, a_index, b_values, b_index)
    k = epochs or max(1, round(min(variance.epochs_a, variance.epochs_b)))
    within = variance.within_variance if variance.separable else 0.0
    # Without epochs in both runs ω² already contains the answer noise (at the runs' own K).
    n_required = paired_sample_size(
        delta, variance.omega2, within_variance=within, epochs=k, alpha=alpha, power=power
    )
    n_current = len(shared)
    mde = paired_minimum_detectable_effect(
        n_current, variance.omega2, within_variance=within, epochs=k, alpha=alpha, power=power
    )
    achieved = paired_power(
        delta, n_current, variance.omega2, within_variance=within, epochs=k, alpha=alpha
    )
    means_a = np.array([np.mean(va[i]) for i in shared])
    means_b = np.array([np.mean(vb[i]) for i in shared])
    unpaired_variance = float(means_a.var(ddof=1) + means_b.var(ddof=1))
    unpaired = paired_sample_size(
        delta, unpaired_variance, alpha=alpha, power=power
    )  # same formula, with Var(a) + Var(b) in place of the variance of the differences
    cluster_key, n_clusters, clustered_mde = _clustered_mde(
        scores_a, scores_b, shared, means_a, means_b, alpha=alpha, power=power
    )
    epoch_plan = None
    if budget is not None:
        epoch_plan = best_epochs(
            budget,
            variance.omega2,
            within,
            cost_per_sample=cost_per_sample,
            n_available=n_available,
            alpha=alpha,
            power=power,
        )
    return PairedPlan(
        run_a=scores_a.run_id,
        run_b=scores_b.run_id,
        subject_a=subject_a,
        subject_b=subject_b,
        scorer=scorer,
        delta=delta,
        epochs=k,
        alpha=alpha,
        power=power,
        variance=variance,
        n_required=n_required,
        n_current=n_current,
        mde_at_current_n=mde,
        power_at_current_n=achieved,
        unpaired_n_per_arm=unpaired,
        epoch_plan=epoch_plan,
        cluster_key=cluster_key,
        n_clusters=n_clusters,
        clustered_mde=clustered_mde,
    )


def _clustered_mde(
    scores_a: Any,
    scores_b: Any,
    shared: list[str],
    means_a: NDArray[np.float64],
    means_b: NDArray[np.float64],
    *,
    alpha: float,
    power: float,
) -> tuple[str | None, int | None, float | None]:
    """(cluster key, clusters, MDE) of the clustered comparison ``assay compare`` will run,
    from the standard error of the very estimator it uses; ``(None, None, None)`` when the
    runs declare no cluster key."""
    from assay.analyse.compare import CompareSettings
    from assay.analyse.paired_estimators import estimate_group

    key = scores_b.manifest.cluster or scores_a.manifest.cluster
    labels = [scores_a.cluster(i) or scores_b.cluster(i) for i in shared]
    if key is None and all(label is None for label in labels):
        return None, None, None
    clusters = np.array(
        [c if c is not None else f"\x00sample:{i}" for c, i in zip(labels, shared, strict=True)]
    )
    binary = bool(np.isin(np.concatenate([means_a, means_b]), (0.0, 1.0)).all())
    settings = CompareSettings(alpha=alpha, power=power)
    chosen = estimate_group(
        means_a,
        means_b,
        clusters,
        binary,
        confidence=settings.confidence,
        alpha=alpha,
        min_clusters=settings.min_clusters,
    )
    if chosen.n_clusters is None or chosen.n_clusters < 2:
        return key, chosen.n_clusters, None
    mde = minimum_detectable_effect(chosen.standard_error, alpha=alpha, power=power, df=chosen.df)
    return key or "cluster", chosen.n_clusters, mde
