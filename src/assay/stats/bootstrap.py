"""Bootstrap intervals: percentile and BCa, for samples, clusters and paired differences.

For the mean (the statistic every eval reports) the resamples are drawn with the fast exact
scheme of :mod:`assay.stats._resample`, and the BCa acceleration comes from the closed-form
jackknife of the mean, so 10,000 resamples of 100,000 values take well under a second. Any
other statistic goes to ``scipy.stats.bootstrap``. Every function is seeded (default 0), so
an analysis re-run on the same store gives the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats._resample import (
    as_rng,
    bootstrap_sums,
    cluster_bootstrap_sums,
    group_values,
)
from assay.stats.clustered import _cluster_codes
from assay.stats.intervals import Interval

BootstrapMethod = Literal["percentile", "bca"]
Seed = int | np.random.Generator | None


def _check(method: str, n_resamples: int, confidence: float) -> None:
    if method not in ("percentile", "bca"):
        raise ValueError(f"unknown bootstrap method {method!r}; use 'percentile' or 'bca'")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _bca_bounds(
    estimate: float, resampled: NDArray[np.float64], acceleration: float, confidence: float
) -> tuple[float, float]:
    """BCa percentiles (Efron 1987, "Better Bootstrap Confidence Intervals", JASA 82:171), as
    ``scipy.stats.bootstrap`` computes them.

    z₀ = Φ⁻¹(share of resampled statistics below the estimate, ties counted half);
    αᵢ = Φ(z₀ + (z₀ + z_αᵢ) / (1 − a·(z₀ + z_αᵢ))); the bounds are those percentiles.
    """
    from scipy.special import ndtr, ndtri

    below = (np.count_nonzero(resampled < estimate) + np.count_nonzero(resampled <= estimate)) / (
        2 * resampled.size
    )
    if below <= 0 or below >= 1:
        # Every resample on one side: BCa is undefined (z₀ infinite); fall back to percentile.
        return _percentile_bounds(resampled, confidence)
    z0 = float(ndtri(below))
    alpha = (1 - confidence) / 2
    levels = []
    for z_alpha in (float(ndtri(alpha)), float(ndtri(1 - alpha))):
        shifted = z0 + z_alpha
        levels.append(float(ndtr(z0 + shifted / (1 - acceleration * shifted))))
    low, high = np.quantile(resampled, levels)
    return float(low), float(high)


def _percentile_bounds(resampled: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(resampled, [alpha, 1 - alpha])
    return float(low), float(high)


def _acceleration(jackknife: NDArray[np.float64]) -> float:
    """a = Σ(θ̄₍.₎ − θ₍ᵢ₎)³ / (6 · (Σ(θ̄₍.₎ − θ₍ᵢ₎)²)^{3/2}) (Efron 1987)."""
    d = jackknife.mean() - jackknife
    denominator = 6 * float(d @ d) ** 1.5
    return float((d**3).sum()) / denominator if denominator > 0 else 0.0


def resample_means(values: ArrayLike, n_resamples: int = 10_000, seed: Seed = 0) -> NDArray[Any]:
    """Means of ``n_resamples`` bootstrap resamples of ``values`` (each n draws with replacement).

    Exact in distribution when the values take at most 256 distinct values; otherwise see
    :mod:`assay.stats._resample` (groups of sorted values drawn exactly, within-group spread
    as a normal term). Costs about n_resamples × 256 draws whatever n is.
    """
    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size == 0:
        raise ValueError("cannot bootstrap an empty sample")
    return bootstrap_sums(group_values(x), n_resamples, as_rng(seed)) / x.size


def bootstrap_interval(
    values: ArrayLike,
    *,
    method: BootstrapMethod = "bca",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: Seed = 0,
    statistic: Callable[..., Any] | None = None,
) -> Interval:
    """A bootstrap confidence interval for the mean of ``values`` (or for ``statistic``).

    ``percentile``: the α/2 and 1−α/2 quantiles of the resampled statistics (Efron &
    Tibshirani 1993, ch. 13). ``bca`` (default): bias-corrected and accelerated percentiles
    (Efron 1987), second-order accurate; for the mean the jackknife values are
    θ₍ᵢ₎ = (n·x̄ − xᵢ)/(n − 1), so the acceleration is computed in closed form.

    ``statistic``, when given, must be a numpy-style reduction accepting ``axis=`` (e.g.
    ``np.median``); the interval then comes from ``scipy.stats.bootstrap``.

    Edge cases: one value, or identical values, give a zero-width interval at the value
    (every resample is the same); an empty sample raises ``ValueError``.
    """
    _check(method, n_resamples, confidence)
    x = np.asarray(values, dtype=float).reshape(-1)
    n = int(x.size)
    if n == 0:
        raise ValueError("cannot bootstrap an empty sample")
    if statistic is not None:
        return _scipy_interval(x, statistic, method, n_resamples, confidence, seed)
    estimate = float(x.mean())
    name = f"bootstrap-{method}"
    if n == 1 or float(x.max()) == float(x.min()):
        return Interval(estimate, estimate, estimate, n, name, confidence)
    means = resample_means(x, n_resamples, seed)
    if method == "percentile":
        low, high = _percentile_bounds(means, confidence)
    else:
        jackknife = (n * estimate - x) / (n - 1)
        low, high = _bca_bounds(estimate, means, _acceleration(jackknife), confidence)
    return Interval(estimate, low, high, n, name, confidence)


def _scipy_interval(
    x: NDArray[np.float64],
    statistic: Callable[..., Any],
    method: str,
    n_resamples: int,
    confidence: float,
    seed: Seed,
) -> Interval:
    from scipy import stats

    estimate = float(statistic(x, axis=-1))
    if x.size == 1 or float(x.max()) == float(x.min()):
        return Interval(estimate, estimate, estimate, int(x.size), f"bootstrap-{method}")
    result = stats.bootstrap(
        (x,),
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="BCa" if method == "bca" else "percentile",
        vectorized=True,
        random_state=as_rng(seed),
    )
    ci = result.confidence_interval
    return Interval(
        estimate,
        float(ci.low),
        float(ci.high),
        int(x.size),
        f"bootstrap-{method}",
        confidence,
        float(result.standard_error),
    )


def cluster_bootstrap_interval(
    values: ArrayLike,
    clusters: ArrayLike,
    *,
    method: BootstrapMethod = "percentile",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> Interval:
    """A bootstrap interval for the mean that resamples whole clusters with replacement.

    Each resample draws C clusters out of C and takes the mean of every value in them,
    Σ S_c / Σ n_c (the "pairs cluster bootstrap" of Cameron, Gelbach & Miller 2008, REStat
    90:414), so within-cluster correlation is kept intact. ``bca`` uses the delete-one-cluster
    jackknife θ₍c₎ = (S − S_c)/(n − n_c) for the acceleration.

    Edge cases: fewer than two clusters give NaN bounds (nothing to resample between);
    identical values give a zero-width interval.
    """
    _check(method, n_resamples, confidence)
    x = np.asarray(values, dtype=float).reshape(-1)
    n = int(x.size)
    if n == 0:
        raise ValueError("cannot bootstrap an empty sample")
    codes, n_clusters = _cluster_codes(clusters, n)
    estimate = float(x.mean())
    name = f"cluster-bootstrap-{method}"
    if n_clusters < 2:
        return Interval(estimate, math.nan, math.nan, n, name, confidence)
    if float(x.max()) == float(x.min()):
        return Interval(estimate, estimate, estimate, n, name, confidence)
    sums = np.bincount(codes, weights=x, minlength=n_clusters).astype(float)
    sizes = np.bincount(codes, minlength=n_clusters).astype(float)
    totals, counts = cluster_bootstrap_sums(sums, sizes, n_resamples, as_rng(seed))
    means = totals / counts
    if method == "percentile":
        low, high = _percentile_bounds(means, confidence)
    else:
        jackknife = (sums.sum() - sums) / (n - sizes)
        low, high = _bca_bounds(estimate, means, _acceleration(jackknife), confidence)
    return Interval(estimate, low, high, n, name, confidence)


def paired_bootstrap_interval(
    a: ArrayLike,
    b: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    method: BootstrapMethod = "bca",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> Interval:
    """A bootstrap interval for the mean paired difference mean(b − a).

    Pairs are resampled together (a sample's two scores stay with each other), which is the
    same as bootstrapping the differences dᵢ = bᵢ − aᵢ; with ``clusters``, whole clusters of
    pairs are resampled (:func:`cluster_bootstrap_interval`). ``a`` and ``b`` must already
    be joined by sample id.
    """
    x = np.asarray(a, dtype=float).reshape(-1)
    y = np.asarray(b, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} and {y.size}")
    d = y - x
    if clusters is not None:
        interval = cluster_bootstrap_interval(
            d,
            clusters,
            method=method,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
    else:
        interval = bootstrap_interval(
            d, method=method, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
    return Interval(
        interval.estimate,
        interval.low,
        interval.high,
        interval.n,
        "paired-" + interval.method,
        confidence,
    )
