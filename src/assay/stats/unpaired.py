"""Differences between two independent samples: production windows before and after a change.

Runs on the same samples are paired (``assay.stats.paired``); two windows of production traffic
are not — different requests, different users — so the monitors compare them with unpaired
estimators: the Newcombe hybrid score interval for a difference of proportions, Welch's t for a
difference of means, and a two-sample bootstrap for a ratio of medians (lengths, latencies and
costs are heavy-tailed, where a mean says little).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from assay.stats.intervals import wilson_interval


@dataclass(frozen=True)
class Difference:
    """An estimate of (after − before) or (after / before) with a two-sided interval.

    ``method`` names the estimator; ``n_before``/``n_after`` are the sample sizes. Bounds are
    NaN when a side has too little data for the estimator.
    """

    estimate: float
    low: float
    high: float
    n_before: int
    n_after: int
    method: str
    confidence: float = 0.95

    def excludes(self, value: float) -> bool:
        """Whether the interval lies wholly on one side of ``value`` (0 for a difference, 1
        for a ratio): the change is distinguishable from none."""
        return bool(self.low > value or self.high < value)

    def as_dict(self) -> dict[str, float | int | str | None]:
        def clean(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return {
            "estimate": clean(self.estimate),
            "low": clean(self.low),
            "high": clean(self.high),
            "n_before": self.n_before,
            "n_after": self.n_after,
            "method": self.method,
            "confidence": self.confidence,
        }


def newcombe_difference(
    k_after: int, n_after: int, k_before: int, n_before: int, confidence: float = 0.95
) -> Difference:
    """p̂₂ − p̂₁ with the Newcombe hybrid score interval (Newcombe 1998, *Statistics in
    Medicine* 17:873, method 10): with Wilson intervals (l₁, u₁) and (l₂, u₂) of each rate,
    δ = p̂₂ − p̂₁, low = δ − √((p̂₂ − l₂)² + (u₁ − p̂₁)²), high = δ + √((u₂ − p̂₂)² + (p̂₁ − l₁)²).
    It stays inside [−1, 1] and keeps near-nominal coverage for rates near 0 or 1, where the
    Wald interval fails. Newcombe's worked example: 56/70 − 48/80 = 0.2000, 95 % interval
    0.0524 to 0.3339. Equal to statsmodels' ``confint_proportions_2indep(method="newcomb")``.
    Either side empty gives NaN.
    """
    if n_after == 0 or n_before == 0:
        return Difference(math.nan, math.nan, math.nan, n_before, n_after, "newcombe", confidence)
    a = wilson_interval(k_after, n_after, confidence)
    b = wilson_interval(k_before, n_before, confidence)
    delta = a.estimate - b.estimate
    low = delta - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = delta + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Difference(delta, low, high, n_before, n_after, "newcombe", confidence)


def welch_difference(after: ArrayLike, before: ArrayLike, confidence: float = 0.95) -> Difference:
    """x̄₂ − x̄₁ ± t_ν · √(s₁²/n₁ + s₂²/n₂), with the Welch–Satterthwaite degrees of freedom
    ν = (s₁²/n₁ + s₂²/n₂)² / ((s₁²/n₁)²/(n₁ − 1) + (s₂²/n₂)²/(n₂ − 1)) (Welch 1947,
    *Biometrika* 34:28). Equal to ``scipy.stats.ttest_ind(equal_var=False)``'s interval. Fewer
    than two values on a side gives NaN bounds; two constant samples give a zero-width
    interval."""
    x2 = np.asarray(after, dtype=float)
    x1 = np.asarray(before, dtype=float)
    n1, n2 = int(x1.size), int(x2.size)
    if n1 == 0 or n2 == 0:
        return Difference(math.nan, math.nan, math.nan, n1, n2, "welch", confidence)
    delta = float(x2.mean() - x1.mean())
    if n1 < 2 or n2 < 2:
        return Difference(delta, math.nan, math.nan, n1, n2, "welch", confidence)
    v1 = float(x1.var(ddof=1)) / n1
    v2 = float(x2.var(ddof=1)) / n2
    se = math.sqrt(v1 + v2)
    if se == 0:
        return Difference(delta, delta, delta, n1, n2, "welch", confidence)
    nu = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    from scipy.special import stdtrit

    q = float(stdtrit(nu, 1 - (1 - confidence) / 2))
    return Difference(delta, delta - q * se, delta + q * se, n1, n2, "welch", confidence)


def median_ratio(
    after: ArrayLike,
    before: ArrayLike,
    confidence: float = 0.95,
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> Difference:
    """median(after) / median(before) with a two-sample percentile bootstrap interval: each
    sample is resampled with replacement on its own (the samples are independent), and the
    interval is the α/2 and 1 − α/2 quantiles of the resampled ratios (Efron & Tibshirani
    1993, *An Introduction to the Bootstrap*, §13.3 and §8.3 for two samples). Deterministic
    for a ``seed``. A side with no values, or a before-median of 0, gives NaN."""
    x2 = np.asarray(after, dtype=float)
    x1 = np.asarray(before, dtype=float)
    n1, n2 = int(x1.size), int(x2.size)
    if n1 == 0 or n2 == 0:
        return Difference(math.nan, math.nan, math.nan, n1, n2, "median_ratio", confidence)
    m1 = float(np.median(x1))
    if m1 == 0:
        return Difference(math.nan, math.nan, math.nan, n1, n2, "median_ratio", confidence)
    estimate = float(np.median(x2)) / m1
    rng = np.random.default_rng(seed)
    # Large samples: resample in chunks so memory stays bounded.
    ratios = np.empty(resamples)
    chunk = max(1, 2_000_000 // max(n1, n2))
    for lo in range(0, resamples, chunk):
        hi = min(resamples, lo + chunk)
        b1 = np.median(x1[rng.integers(0, n1, size=(hi - lo, n1))], axis=1)
        b2 = np.median(x2[rng.integers(0, n2, size=(hi - lo, n2))], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[lo:hi] = b2 / b1
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return Difference(estimate, math.nan, math.nan, n1, n2, "median_ratio", confidence)
    alpha = 1 - confidence
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return Difference(estimate, float(low), float(high), n1, n2, "median_ratio", confidence)
