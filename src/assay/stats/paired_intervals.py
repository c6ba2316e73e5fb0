"""Score intervals for a difference of two proportions, paired and unpaired.

The t interval on 0/1 differences misbehaves where evals live: at n = 20 it can print
+81.2 [+59.8, +102.7] points, beyond what a difference of proportions can be, and it can
exclude 0 while McNemar's test finds nothing. The intervals here are *score* intervals:
the set of differences Δ₀ a score test does not reject, so they stay inside [−1, 1], keep
close to nominal coverage at small n and, for paired data, agree with McNemar's test at
Δ₀ = 0 by construction.

Paired data: a pass/fail outcome of run A and run B on each of n samples. Only the
discordant counts move the difference: ``b_only`` (B passed, A failed) and ``a_only``
(A passed, B failed); Δ = p_B − p_A is estimated by (b_only − a_only)/n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats.intervals import Interval

_TOL = 1e-9


def _z(confidence: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(1 - (1 - confidence) / 2))


def _restricted_q(
    delta: NDArray[np.float64],
    b_only: NDArray[np.float64],
    a_only: NDArray[np.float64],
    n: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The restricted MLE of P(A passes, B fails) under H₀: p_B − p_A = Δ (Tango 1998, eq. 4).

    Profiling the multinomial likelihood with p(B only) = q + Δ gives
    2N·q² + W·q − a_only·Δ(1 − Δ) = 0, W = −b_only − a_only + (2N − b_only + a_only)·Δ,
    whose non-negative root is q = (√(W² + 8N·a_only·Δ(1 − Δ)) − W) / 4N.
    """
    w = -b_only - a_only + (2 * n - b_only + a_only) * delta
    disc = np.maximum(w * w + 8 * n * a_only * delta * (1 - delta), 0.0)
    return np.asarray((np.sqrt(disc) - w) / (4 * n), dtype=float)


def tango_statistic(
    b_only: ArrayLike, a_only: ArrayLike, n: ArrayLike, delta: ArrayLike
) -> NDArray[np.float64]:
    """Tango's score statistic for H₀: p_B − p_A = Δ₀ (vectorised over all arguments).

    Z(Δ₀) = (b_only − a_only − N·Δ₀) / √(N·(2q̃ + Δ₀(1 − Δ₀))), with q̃ the restricted MLE of
    P(A only) (:func:`_restricted_q`). Tango (1998), "Equivalence test and confidence interval
    for the difference in proportions for the paired-sample design", Stat Med 17:891-908.
    At Δ₀ = 0 it is McNemar's statistic (b_only − a_only)/√(b_only + a_only).
    A zero variance (no discordant pairs and Δ₀ = 0) gives Z = 0.
    """
    b = np.asarray(b_only, dtype=float)
    a = np.asarray(a_only, dtype=float)
    nn = np.asarray(n, dtype=float)
    d = np.asarray(delta, dtype=float)
    q = _restricted_q(d, b, a, nn)
    var = nn * (2 * q + d * (1 - d))
    num = b - a - nn * d
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, num / np.sqrt(np.maximum(var, 1e-300)), np.sign(num) * np.inf)
    return np.asarray(np.where((var <= 0) & (num == 0), 0.0, z), dtype=float)


def tango_bounds(
    b_only: ArrayLike, a_only: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Tango's score interval for p_B − p_A, vectorised: arrays of lower and upper bounds.

    The interval is {Δ₀ : |Z(Δ₀)| ≤ z_{1−α/2}} (:func:`tango_statistic`); Z decreases in Δ₀,
    so each bound is found by bisection (60 halvings of [−1, Δ̂] and [Δ̂, 1]: 1e-18 wide).
    Both bounds are bisected together, one array of twice the length, so that a single
    interval costs 60 calls of the statistic rather than 120.
    """
    b = np.atleast_1d(np.asarray(b_only, dtype=float))
    a = np.atleast_1d(np.asarray(a_only, dtype=float))
    nn = np.atleast_1d(np.asarray(n, dtype=float))
    b, a, nn = np.broadcast_arrays(b, a, nn)
    z = _z(confidence)
    est = (b - a) / nn

    # The lower bound's search in the first half of each array, the upper bound's in the second.
    b2, a2, n2 = (np.concatenate([v.ravel(), v.ravel()]) for v in (b, a, nn))
    flat = est.ravel()
    lo = np.concatenate([np.full_like(flat, -1.0), flat])
    hi = np.concatenate([flat, np.full_like(flat, 1.0)])
    target = np.concatenate([np.full_like(flat, z), np.full_like(flat, -z)])
    for _ in range(60):
        mid = (lo + hi) / 2
        above = tango_statistic(b2, a2, n2, mid) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    bounds = (lo + hi) / 2
    lower = bounds[: flat.size].reshape(est.shape)
    upper = bounds[flat.size :].reshape(est.shape)
    # An estimate at ±1 (every pair discordant one way) is its own bound on that side.
    lower = np.where(est <= -1 + _TOL, -1.0, lower)
    upper = np.where(est >= 1 - _TOL, 1.0, upper)
    return np.clip(np.minimum(lower, est), -1, 1), np.clip(np.maximum(upper, est), -1, 1)


def tango_interval(b_only: int, a_only: int, n: int, confidence: float = 0.95) -> Interval:
    """Tango's (1998) asymptotic score interval for the paired difference p_B − p_A.

    Inverts the score test of :func:`tango_statistic`: the interval holds every Δ₀ with
    |Z(Δ₀)| ≤ z. It never leaves [−1, 1], and it excludes 0 exactly when McNemar's
    asymptotic test (no continuity correction) rejects at the same level, since Z(0) is
    McNemar's statistic. Against McNemar's *exact* test it can disagree only near the
    boundary (exact p just above α), because the exact test is conservative.
    Recommended by Fagerland, Lydersen & Laake (2014), Stat Med 33:2850, for all sample
    sizes. Published check: Cavo et al. (2012), 59/6/16/80 (N = 161): −0.0621
    (95% CI −0.1240 to −0.0054) (Fagerland et al. 2017, *Statistical Analysis of
    Contingency Tables*, §8.5; R package contingencytables).

    n = 0 gives NaN bounds.
    """
    if min(b_only, a_only) < 0 or b_only + a_only > n:
        raise ValueError(f"need 0 <= b_only + a_only <= n, got {b_only}, {a_only}, {n}")
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "tango-score", confidence)
    low, high = tango_bounds(b_only, a_only, n, confidence)
    return Interval(
        (b_only - a_only) / n, float(low[0]), float(high[0]), n, "tango-score", confidence
    )


def tango_p_value(
    b_only: int,
    a_only: int,
    n: int,
    delta0: float = 0.0,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> float:
    """The p-value of Tango's score test of H₀: p_B − p_A = Δ₀.

    ``greater`` tests H₁: p_B − p_A > Δ₀ (p = 1 − Φ(Z)); with Δ₀ = −δ that is the
    non-inferiority test "B is not worse than A by δ or more" (Tango 1998, §3).
    ``less`` tests H₁: p_B − p_A < Δ₀; ``two-sided`` doubles the smaller tail.
    """
    from scipy.special import ndtr

    if n == 0:
        return math.nan
    z = float(tango_statistic(b_only, a_only, n, delta0))
    if alternative == "greater":
        return float(ndtr(-z))
    if alternative == "less":
        return float(ndtr(z))
    return float(min(1.0, 2 * ndtr(-abs(z))))


def newcombe_paired_interval(
    both: int, b_only: int, a_only: int, neither: int, confidence: float = 0.95
) -> Interval:
    """Newcombe's (1998) square-and-add interval for p_B − p_A from a paired 2×2 table.

    Method 10 of Newcombe, "Improved confidence intervals for the difference between binomial
    proportions based on paired data", Stat Med 17:2635-2650: Wilson intervals (l₁, u₁) for
    p_B and (l₂, u₂) for p_A, combined with the correlation ψ of the two margins,
    L = Δ̂ − √((p̂_B − l₁)² + (u₂ − p̂_A)² − 2ψ(p̂_B − l₁)(u₂ − p̂_A)) and U symmetrically,
    where ψ = (AD − BC − N/2)/√(margins) when AD − BC > N/2, 0 when 0 ≤ AD − BC ≤ N/2,
    and (AD − BC)/√(margins) below 0 (as in Fagerland et al.'s contingencytables).
    Published check: Cavo et al. (2012) gives −0.0621 (−0.1186 to −0.0046).
    """
    from statsmodels.stats.proportion import proportion_confint

    n = both + b_only + a_only + neither
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "newcombe-paired", confidence)
    pass_b, pass_a = both + b_only, both + a_only
    p_b, p_a = pass_b / n, pass_a / n
    alpha = 1 - confidence
    l1, u1 = (float(v) for v in proportion_confint(pass_b, n, alpha=alpha, method="wilson"))
    l2, u2 = (float(v) for v in proportion_confint(pass_a, n, alpha=alpha, method="wilson"))
    if min(pass_b, n - pass_b, pass_a, n - pass_a) == 0:
        psi = 0.0
    else:
        product = pass_b * (n - pass_b) * pass_a * (n - pass_a)
        cross = both * neither - b_only * a_only
        if cross > n / 2:
            psi = (cross - n / 2) / math.sqrt(product)
        elif cross >= 0:
            psi = 0.0
        else:
            psi = cross / math.sqrt(product)
    est = p_b - p_a
    low = est - math.sqrt(
        max((p_b - l1) ** 2 + (u2 - p_a) ** 2 - 2 * psi * (p_b - l1) * (u2 - p_a), 0.0)
    )
    high = est + math.sqrt(
        max((p_a - l2) ** 2 + (u1 - p_b) ** 2 - 2 * psi * (p_a - l2) * (u1 - p_b), 0.0)
    )
    return Interval(est, max(low, -1.0), min(high, 1.0), n, "newcombe-paired", confidence)


@dataclass(frozen=True)
class PairedProportions:
    """Paired pass/fail outcomes summarised: the 2×2 table and the score interval."""

    n: int
    both: int
    b_only: int
    a_only: int
    neither: int
    interval: Interval

    @property
    def difference(self) -> float:
        return self.interval.estimate


def paired_proportion_difference(
    a: ArrayLike, b: ArrayLike, confidence: float = 0.95
) -> PairedProportions:
    """The Tango score interval (:func:`tango_interval`) for paired 0/1 arrays ``a`` and
    ``b`` (same samples, same order). Raises ``ValueError`` for values other than 0 and 1."""
    x = np.asarray(a, dtype=float).reshape(-1)
    y = np.asarray(b, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length ({x.size} and {y.size})")
    if not (np.all((x == 0) | (x == 1)) and np.all((y == 0) | (y == 1))):
        raise ValueError("a paired difference of proportions needs pass/fail (0/1) scores")
    both = int(np.sum((x == 1) & (y == 1)))
    b_only = int(np.sum((x == 0) & (y == 1)))
    a_only = int(np.sum((x == 1) & (y == 0)))
    n = int(x.size)
    return PairedProportions(
        n,
        both,
        b_only,
        a_only,
        n - both - b_only - a_only,
        tango_interval(b_only, a_only, n, confidence),
    )


UnpairedMethod = Literal["miettinen-nurminen", "newcombe"]


def _mn_restricted(x1: int, n1: int, x2: int, n2: int, delta: float) -> tuple[float, float]:
    """Restricted MLEs (p̃₁, p̃₂ = p̃₁ − δ) of two binomial proportions under p₁ − p₂ = δ: the
    closed-form root of the likelihood's cubic (Farrington & Manning 1990, Stat Med 9:1447,
    eq. 4; Miettinen & Nurminen 1985, Appendix)."""
    p1, p2, theta = x1 / n1, x2 / n2, n2 / n1
    a = 1 + theta
    b = -(1 + theta + p1 + theta * p2 + delta * (theta + 2))
    c = delta * delta + delta * (2 * p1 + theta + 1) + p1 + theta * p2
    d = -p1 * delta * (1 + delta)
    v = b**3 / (27 * a**3) - b * c / (6 * a * a) + d / (2 * a)
    u = math.copysign(1.0, v) * math.sqrt(max(b * b / (9 * a * a) - c / (3 * a), 0.0))
    cosine = 0.0 if u == 0 else max(-1.0, min(1.0, v / u**3))
    w = (math.pi + math.acos(cosine)) / 3
    q1 = min(1.0, max(0.0, 2 * u * math.cos(w) - b / (3 * a)))
    return q1, min(1.0, max(0.0, q1 - delta))


def miettinen_nurminen_statistic(
    successes_a: int, n_a: int, successes_b: int, n_b: int, delta0: float
) -> float:
    """The Miettinen-Nurminen score statistic for H₀: p_B − p_A = Δ₀:
    Z = (p̂_B − p̂_A − Δ₀) / √((p̃_B(1 − p̃_B)/n_B + p̃_A(1 − p̃_A)/n_A) · N/(N − 1)),
    with the restricted MLEs of :func:`_mn_restricted` and N = n_A + n_B."""
    q_b, q_a = _mn_restricted(successes_b, n_b, successes_a, n_a, delta0)
    n = n_a + n_b
    var = (q_b * (1 - q_b) / n_b + q_a * (1 - q_a) / n_a) * n / (n - 1)
    num = successes_b / n_b - successes_a / n_a - delta0
    if var <= 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def unpaired_proportion_difference(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    confidence: float = 0.95,
    method: UnpairedMethod = "miettinen-nurminen",
) -> Interval:
    """A score interval for p_B − p_A from two independent samples.

    ``miettinen-nurminen`` (default): Miettinen & Nurminen (1985), "Comparative analysis of
    two rates", Stat Med 4:213-226: every Δ₀ with |Z(Δ₀)| ≤ z
    (:func:`miettinen_nurminen_statistic`), found by Brent's method (``scipy.optimize``).
    Published check: Newcombe (1998, Stat Med 17:873, Table II, example a):
    56/70 − 48/80 gives 0.0528 to 0.3382. (statsmodels' ``confint_proportions_2indep``
    ``score`` method gives 0.0526 to 0.3440 there, so it is not used.)
    ``newcombe``: Newcombe's hybrid score (square-and-add Wilson) interval, method 10 of the
    same paper, computed by statsmodels (``method="newcomb"``; 0.0524 to 0.3339 there).
    Either stays inside [−1, 1]. An empty arm gives NaN bounds.
    """
    if n_a == 0 or n_b == 0:
        return Interval(math.nan, math.nan, math.nan, n_a + n_b, method, confidence)
    est = successes_b / n_b - successes_a / n_a
    if method == "newcombe":
        from statsmodels.stats.proportion import confint_proportions_2indep

        low, high = confint_proportions_2indep(
            successes_b, n_b, successes_a, n_a, method="newcomb", alpha=1 - confidence
        )
        low, high = float(low), float(high)
    else:
        from scipy.optimize import brentq

        z = _z(confidence)

        def f(d: float, target: float) -> float:
            return miettinen_nurminen_statistic(successes_a, n_a, successes_b, n_b, d) - target

        edge = 1 - 1e-12
        low = -1.0 if est <= -edge or f(-edge, z) < 0 else float(brentq(f, -edge, est, args=(z,)))
        high = 1.0 if est >= edge or f(edge, -z) > 0 else float(brentq(f, est, edge, args=(-z,)))
    return Interval(
        est, max(-1.0, min(low, est)), min(1.0, max(high, est)), n_a + n_b, method, confidence
    )
