"""Power and sample size: how many samples (and epochs) a comparison needs, and what it can see.

Two designs. *Independent proportions* (two runs on different samples, or the textbook
question "how many items to tell 82% from 85%"), and the *paired* design of Miller (2024,
"Adding Error Bars to Evals", arXiv 2411.00640, §4), where both runs answer the same samples
and only the variance of the per-sample differences counts. All tests are two-sided at level
``alpha`` unless ``two_sided=False``; z quantiles come from ``scipy.special.ndtri``, and the
t quantiles of :func:`minimum_detectable_effect` (given degrees of freedom) from
``scipy.special.stdtrit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _z(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


def _critical_level(alpha: float, two_sided: bool) -> float:
    """The quantile level of the critical value: 1 − α/2 (two-sided) or 1 − α."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return 1 - alpha / 2 if two_sided else 1 - alpha


def _check_power(power: float) -> float:
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    return power


def _z_alpha(alpha: float, two_sided: bool) -> float:
    return _z(_critical_level(alpha, two_sided))


def _z_power(power: float) -> float:
    return _z(_check_power(power))


def _check_proportion(name: str, p: float) -> None:
    if not 0 < p < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {p}")


def two_proportion_sample_size(
    p0: float, p1: float, *, alpha: float = 0.05, power: float = 0.8, two_sided: bool = True
) -> int:
    """Samples per arm for a two-proportion z-test to detect p0 → p1.

        n = (z_{1−α/2}·√(2·p̄q̄) + z_{1−β}·√(p₀q₀ + p₁q₁))² / (p₁ − p₀)²,   p̄ = (p₀ + p₁)/2

    (pooled variance under H₀, unpooled under H₁; Fleiss, Levin & Paik 2003, *Statistical
    Methods for Rates and Proportions*, without continuity correction), rounded up.
    Example (REQUIREMENTS B1): 0.82 → 0.85 at α = 0.05 two-sided and 80% power needs 2,402
    per arm. ``p0 == p1`` raises ``ValueError`` (no finite n detects a zero difference).
    """
    _check_proportion("p0", p0)
    _check_proportion("p1", p1)
    if p0 == p1:
        raise ValueError("p0 and p1 are equal: no sample size detects a zero difference")
    p_bar = (p0 + p1) / 2
    numerator = _z_alpha(alpha, two_sided) * math.sqrt(2 * p_bar * (1 - p_bar)) + _z_power(
        power
    ) * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    # Subtract a hair before rounding up so that an exact integer is not bumped by rounding.
    return math.ceil(numerator**2 / (p1 - p0) ** 2 - 1e-9)


def two_proportion_mde(
    p0: float,
    n: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    direction: str = "increase",
) -> float:
    """The smallest change |p₁ − p₀| a two-proportion test with ``n`` per arm detects.

    Solves :func:`two_proportion_sample_size`'s formula for p₁ (above p₀ for ``increase``,
    below for ``decrease``) with ``scipy.optimize.brentq``. Example (REQUIREMENTS B1):
    p₀ = 0.82 and n = 100 give ≈ 0.126 (12.6 points). Returns NaN when even p₁ = 1 (or 0)
    would need more than ``n`` samples.
    """
    _check_proportion("p0", p0)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if direction not in ("increase", "decrease"):
        raise ValueError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    za, zb = _z_alpha(alpha, two_sided), _z_power(power)

    def required(p1: float) -> float:
        p_bar = (p0 + p1) / 2
        numerator = za * math.sqrt(2 * p_bar * (1 - p_bar)) + zb * math.sqrt(
            p0 * (1 - p0) + p1 * (1 - p1)
        )
        return numerator**2 / (p1 - p0) ** 2 - n

    edge = 1.0 - 1e-12 if direction == "increase" else 1e-12
    if required(edge) > 0:
        return math.nan
    near = p0 + 1e-9 if direction == "increase" else p0 - 1e-9
    from scipy.optimize import brentq

    p1 = float(brentq(required, near, edge, xtol=1e-12))
    return abs(p1 - p0)


def minimum_detectable_effect(
    standard_error: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    df: float | None = None,
) -> float:
    """The true effect a test with this standard error detects with probability ``power``
    (Bloom 1995, "Minimum Detectable Effects", Evaluation Review 19:547).

    A z test (``df`` None): MDE = (z_{1−α/2} + z_{1−β}) · SE, multiplier 2.80 at α = 0.05
    two-sided and 80% power. A t test on ν = ``df`` degrees of freedom (a paired t on n − 1,
    CR2 on its Bell-McCaffrey ν): Bloom's multiplier takes both quantiles from Student's t,

        MDE = (t_{1−α/2,ν} + t_{1−β,ν}) · SE        (one-sided: t_{1−α,ν} for t_{1−α/2,ν}),

    which grows as ν shrinks: 3.107 at ν = 10 (2.228 + 0.879), 3.49 at ν = 5, 5.36 at ν = 2,
    and falls to 2.80 as ν → ∞. (It treats the test statistic under the alternative as a
    shifted central t; the noncentral t gives a power of 79.5% at ν = 5 and 76.6% at ν = 2
    for a stated 80%, against 61.5% and 35% for the z multiplier.) A NaN standard error or
    ``df`` gives NaN; ``df`` must be positive.
    """
    if df is None:
        return (_z_alpha(alpha, two_sided) + _z_power(power)) * standard_error
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    from scipy.special import stdtrit

    level = _critical_level(alpha, two_sided)
    return float(stdtrit(df, level) + stdtrit(df, _check_power(power))) * standard_error


def _paired_variance(omega2: float, within_variance: float, epochs: int) -> float:
    if omega2 < 0 or within_variance < 0:
        raise ValueError("variances must be non-negative")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    return omega2 + within_variance / epochs


def paired_sample_size(
    delta: float,
    omega2: float,
    *,
    within_variance: float = 0.0,
    epochs: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
) -> int:
    """Samples needed for a paired comparison to detect a mean difference ``delta``.

        n = (z_{1−α/2} + z_{1−β})² · (ω² + (σ²_A + σ²_B)/K) / δ²

    (Miller 2024, §4). ω² is the variance across samples of the difference between the
    two runs' *expected* scores; ``within_variance`` is σ²_A + σ²_B, the two runs' mean
    within-sample (answer-to-answer) variances; K = ``epochs`` answers per sample and run.
    Published example: δ = 0.03, ω² = 1/9, no within-sample noise → n = 969.
    """
    if delta == 0:
        raise ValueError("delta is 0: no sample size detects a zero difference")
    variance = _paired_variance(omega2, within_variance, epochs)
    multiplier = _z_alpha(alpha, two_sided) + _z_power(power)
    return max(1, math.ceil(multiplier**2 * variance / delta**2 - 1e-9))


def paired_minimum_detectable_effect(
    n: int,
    omega2: float,
    *,
    within_variance: float = 0.0,
    epochs: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
) -> float:
    """The MDE of a paired comparison on ``n`` samples: (z_{1−α/2} + z_{1−β})·√(V/n), with
    V = ω² + (σ²_A + σ²_B)/K as in :func:`paired_sample_size`."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    variance = _paired_variance(omega2, within_variance, epochs)
    return minimum_detectable_effect(
        math.sqrt(variance / n), alpha=alpha, power=power, two_sided=two_sided
    )


def paired_power(
    delta: float,
    n: int,
    omega2: float,
    *,
    within_variance: float = 0.0,
    epochs: int = 1,
    alpha: float = 0.05,
) -> float:
    """Power of a two-sided paired z-test on ``n`` samples against a true difference ``delta``:
    Φ(|δ|/SE − z_{1−α/2}) + Φ(−|δ|/SE − z_{1−α/2}), SE = √((ω² + σ²/K)/n)."""
    from scipy.special import ndtr

    variance = _paired_variance(omega2, within_variance, epochs)
    if variance == 0:
        return 1.0 if delta != 0 else alpha
    ratio = abs(delta) / math.sqrt(variance / n)
    za = _z_alpha(alpha, True)
    return float(ndtr(ratio - za) + ndtr(-ratio - za))


@dataclass(frozen=True)
class EpochOption:
    """One way to spend a budget: ``n`` samples answered ``epochs`` times by each run."""

    epochs: int
    n: int
    standard_error: float
    mde: float


@dataclass(frozen=True)
class EpochPlan:
    """Every option considered and the one with the smallest standard error."""

    best: EpochOption
    options: list[EpochOption]


def best_epochs(
    budget: float,
    omega2: float,
    within_variance: float,
    *,
    cost_per_sample: float = 0.0,
    n_available: int | None = None,
    max_epochs: int = 16,
    alpha: float = 0.05,
    power: float = 0.8,
) -> EpochPlan:
    """The number of epochs K that buys the most precision for a fixed budget.

    ``budget`` counts model answers per run; each sample costs K answers plus
    ``cost_per_sample`` (a fixed per-sample cost in the same units: authoring, grading,
    a human label). With n = min(n_available, ⌊budget / (K + cost_per_sample)⌋) the paired
    standard error is √((ω² + σ²/K)/n) (Miller 2024, §4). Minimising it over real K gives
    K* = √(σ²·c_s / ω²) (Cochran 1977, *Sampling Techniques*, ch. 10, two-stage sampling):
    with no per-sample cost and unlimited samples K = 1 always wins — more questions beat
    more answers to the same questions — and epochs pay off only when samples are scarce or
    dear. Every integer K in 1..``max_epochs`` is evaluated; ties go to the smaller K.
    """
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    options: list[EpochOption] = []
    for k in range(1, max_epochs + 1):
        n = int(budget // (k + cost_per_sample))
        if n_available is not None:
            n = min(n, n_available)
        if n < 2:
            continue
        se = math.sqrt(_paired_variance(omega2, within_variance, k) / n)
        options.append(
            EpochOption(k, n, se, minimum_detectable_effect(se, alpha=alpha, power=power))
        )
    if not options:
        raise ValueError("the budget does not cover two samples at one epoch")
    best = min(options, key=lambda o: (round(o.standard_error, 15), o.epochs))
    return EpochPlan(best, options)


@dataclass(frozen=True)
class PairedVariance:
    """Variance components of a paired comparison, estimated from two runs.

    ``omega2``: variance across samples of the difference in expected scores (ω²).
    ``within_a`` / ``within_b``: mean within-sample variance of each run's answers (σ²), NaN
    for a run with one epoch (then ω² still contains that noise: ``separable`` is False, and
    the estimate is right for a one-epoch design but cannot price extra epochs).
    ``difference_variance``: the observed variance of per-sample mean differences.
    """

    n: int
    omega2: float
    within_a: float
    within_b: float
    epochs_a: float
    epochs_b: float
    difference_variance: float
    separable: bool

    @property
    def within_variance(self) -> float:
        """σ²_A + σ²_B (unknown parts count as 0)."""
        return float(np.nansum([self.within_a, self.within_b]))


def _per_sample(
    values: NDArray[np.float64], index: NDArray[np.intp], n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    counts = np.bincount(index, minlength=n).astype(float)
    sums = np.bincount(index, weights=values, minlength=n).astype(float)
    means = np.divide(sums, counts, out=np.full(n, np.nan), where=counts > 0)
    squares = np.bincount(index, weights=(values - means[index]) ** 2, minlength=n).astype(float)
    return means, counts, squares


def estimate_paired_variance(
    a_values: ArrayLike, a_sample: ArrayLike, b_values: ArrayLike, b_sample: ArrayLike
) -> PairedVariance:
    """Estimate ω² and the within-sample variances from two runs on the same samples.

    ``*_values`` are every graded answer (all epochs); ``*_sample`` the sample each belongs to,
    as integers 0..n−1 numbering the samples both runs share (join by sample id first).
    Per sample i: means m_A(i), m_B(i) over its K_i answers, within variances s²(i) (ddof 1).
    Then σ²_A = mean of s²_A(i) over samples with ≥ 2 answers (likewise B), and, since the
    observed difference of means has variance ω² + σ²_A·E[1/K_A] + σ²_B·E[1/K_B],

        ω² = max(0, Var(m_B − m_A) − σ²_A·mean(1/K_A) − σ²_B·mean(1/K_B))

    (Miller 2024, §4; a method-of-moments estimate, like the ANOVA estimator of a variance
    component). Every sample must have at least one answer in each run.
    """
    av = np.asarray(a_values, dtype=float).reshape(-1)
    bv = np.asarray(b_values, dtype=float).reshape(-1)
    ai = np.asarray(a_sample, dtype=np.intp).reshape(-1)
    bi = np.asarray(b_sample, dtype=np.intp).reshape(-1)
    if av.shape != ai.shape or bv.shape != bi.shape:
        raise ValueError("need one sample index per value")
    if ai.size == 0 or bi.size == 0:
        raise ValueError("no answers to estimate from")
    n = int(max(ai.max(), bi.max())) + 1
    mean_a, k_a, ss_a = _per_sample(av, ai, n)
    mean_b, k_b, ss_b = _per_sample(bv, bi, n)
    if np.any(k_a == 0) or np.any(k_b == 0):
        raise ValueError("every sample needs at least one answer in each run")
    if n < 2:
        raise ValueError("need at least two samples")
    d = mean_b - mean_a
    diff_var = float(d.var(ddof=1))

    def within(k: NDArray[np.float64], ss: NDArray[np.float64]) -> float:
        repeated = k >= 2
        if not repeated.any():
            return math.nan
        return float(np.mean(ss[repeated] / (k[repeated] - 1)))

    w_a, w_b = within(k_a, ss_a), within(k_b, ss_b)
    noise = 0.0
    for w, k in ((w_a, k_a), (w_b, k_b)):
        if not math.isnan(w):
            noise += w * float(np.mean(1 / k))
    return PairedVariance(
        n=n,
        omega2=max(0.0, diff_var - noise),
        within_a=w_a,
        within_b=w_b,
        epochs_a=float(k_a.mean()),
        epochs_b=float(k_b.mean()),
        difference_variance=diff_var,
        separable=not (math.isnan(w_a) or math.isnan(w_b)),
    )
