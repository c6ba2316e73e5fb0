"""Confidence intervals for the mean of one run's scores.

These are the intervals ``assay show`` prints by default. Richer estimators live beside them
(``clustered``, ``bootstrap``, ``paired``); every function here is a pure function on arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# numpy is imported where arrays are built, not here: `assay show` and `assay run` on pass/fail
# scores (Wilson intervals from plain lists) then start without it (issue 20).

Method = Literal["wilson", "t"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval.

    ``method`` names the estimator; ``n`` is the number of units (samples) behind it.
    ``low`` and ``high`` are NaN when the interval is undefined (n < 2 for a t interval).
    ``standard_error`` is the estimator's standard error where it has one (NaN for Wilson and
    bootstrap intervals, whose width does not come from a single standard error).
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str
    confidence: float = 0.95
    standard_error: float = math.nan

    @property
    def half_width(self) -> float:
        """Half the interval's width (the "±" figure)."""
        return (self.high - self.low) / 2


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion.

    With p̂ = k/n and z the two-sided normal quantile,
    centre = (p̂ + z²/2n) / (1 + z²/n), half-width = z·sqrt(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n).
    Source: Wilson (1927), JASA 22:209. Unlike the Wald interval it stays inside [0, 1] and
    keeps near-nominal coverage for p̂ near 0 or 1 (Brown, Cai & DasGupta 2001).
    Example: 82/100 gives 73.3%–88.3%.

    The closed form above is evaluated here, with z from the standard library's
    ``statistics.NormalDist``; the tests check it against statsmodels'
    ``proportion_confint(method="wilson")`` to 1e-12 over a grid of k, n and levels. Calling
    statsmodels would mean importing ``statsmodels.stats.proportion`` (pandas, scipy.stats:
    1.2-2.6 s) in every ``assay show`` and ``assay run``, whose whole budget is half a second.

    n = 0 returns NaN bounds rather than raising. Bounds are clamped to contain p̂, removing
    floating-point residue at k = 0 and k = n.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "wilson", confidence)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # The Wilson interval always contains p̂ and reaches 0 or 1 exactly at k = 0 or k = n;
    # clamp away the last-bit rounding error so those identities hold in floating point.
    return Interval(p, min(float(low), p), max(float(high), p), n, "wilson", confidence)


def t_interval(values: ArrayLike, confidence: float = 0.95) -> Interval:
    """Student-t interval for a mean: x̄ ± t_{n−1, 1−α/2} · s/√n.

    s is the sample standard deviation (ddof = 1). This is the CLT interval of Miller (2024),
    "Adding Error Bars to Evals" (arXiv 2411.00640), eq. 2, with the t quantile in place of z
    for small n. A single value gives NaN bounds (no variance estimate); a constant vector gives
    a zero-width interval.
    """
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "t", confidence)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, "t", confidence)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    from scipy.special import stdtrit  # the t quantile; far lighter to import than scipy.stats

    q = float(stdtrit(n - 1, 1 - (1 - confidence) / 2))
    return Interval(mean, mean - q * se, mean + q * se, n, "t", confidence, se)


def is_binary(values: ArrayLike) -> bool:
    """Whether every value is exactly 0 or 1 (a pass/fail score)."""
    if isinstance(values, list | tuple):  # plain numbers: the same test, without an array
        return bool(values) and all(float(v) == 0.0 or float(v) == 1.0 for v in values)
    import numpy as np

    x = np.asarray(values, dtype=float)
    return bool(x.size) and bool(np.all((x == 0.0) | (x == 1.0)))


def clip_to_unit(interval: Interval) -> Interval:
    """``interval`` clipped to [0, 1]: an interval on a rate stays a rate (REQUIREMENTS B4).

    For per-sample pass rates averaged over epochs (0.6 for 3 of 5), :func:`mean_interval` is
    a t interval, and t or clustered intervals are symmetric, so near 0 or 1 they cross the
    bound (issue 20: 102%). Clipping cannot lose coverage, since the true rate lies in [0, 1]:
    P(θ ∈ [max(0, L), min(1, U)]) = P(θ ∈ [L, U]). Undefined (NaN) bounds stay NaN; an
    interval already inside (Wilson's always is) is returned unchanged.
    """
    if not (interval.low < 0.0 or interval.high > 1.0):
        return interval
    import numpy as np

    return replace(
        interval,
        low=float(np.clip(interval.low, 0.0, 1.0)),
        high=float(np.clip(interval.high, 0.0, 1.0)),
    )


def mean_interval(values: ArrayLike, confidence: float = 0.95) -> Interval:
    """The interval ``assay show`` uses: Wilson for 0/1 scores, t otherwise.

    ``values`` must already be one number per sample (average epochs per sample first, so
    the unit of analysis is the sample, as Miller 2024 §3 recommends).
    """
    if isinstance(values, list | tuple) and is_binary(values):  # 0/1 numbers: no array needed
        return wilson_interval(int(sum(float(v) for v in values)), len(values), confidence)
    import numpy as np

    x = np.asarray(values, dtype=float)
    if is_binary(x):
        return wilson_interval(int(x.sum()), int(x.size), confidence)
    return t_interval(x, confidence)
