"""How concentrated spend is: Lorenz curve, Gini coefficient, top shares, with intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats._resample import as_rng
from assay.stats.intervals import Interval


def _clean(values: ArrayLike) -> NDArray[np.float64]:
    x: NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if (x < 0).any():
        raise ValueError("concentration needs non-negative values (costs, tokens)")
    return x


def gini(values: ArrayLike) -> float:
    """The Gini coefficient G = Σᵢ (2i − n − 1)·x₍ᵢ₎ / (n·Σx), x sorted ascending.

    Half the relative mean absolute difference, G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2n²·x̄) (Gini 1912; this
    closed form over the sorted sample is Glasser 1962, JASA 57:648, without the n/(n − 1)
    small-sample factor, so an equal split gives 0 and one unit holding everything gives
    1 − 1/n). For a lognormal population G = 2Φ(σ/√2) − 1, for a Pareto(α) one 1/(2α − 1)
    (Aitchison & Brown 1957): the tests check both. All-zero or empty input gives NaN.
    """
    x = np.sort(_clean(values))
    n, total = x.size, float(x.sum())
    if n == 0 or total <= 0:
        return math.nan
    ranks = np.arange(1, n + 1, dtype=float)
    return float(((2 * ranks - n - 1) * x).sum() / (n * total))


def top_share(values: ArrayLike, fraction: float) -> float:
    """The share of the total held by the top ``fraction`` of units: the ⌈fraction·n⌉
    largest values over the sum (the "top 1% share" of the inequality literature, e.g.
    Atkinson, Piketty & Saez 2011, JEL 49:3). NaN for an empty or all-zero sample."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    x = _clean(values)
    total = float(x.sum())
    if x.size == 0 or total <= 0:
        return math.nan
    k = max(1, math.ceil(fraction * x.size - 1e-9))
    top = np.partition(x, x.size - k)[x.size - k :]
    return float(top.sum() / total)


def lorenz_curve(
    values: ArrayLike, points: int = 101
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The Lorenz curve L(p): the share of the total held by the poorest share p of units
    (Lorenz 1905, JASA 9:209), at ``points`` evenly spaced p from 0 to 1, interpolated
    linearly between units (so the curve of n units passes through (i/n, Σ₍≤ᵢ₎/Σ))."""
    x = np.sort(_clean(values))
    p = np.linspace(0.0, 1.0, points)
    total = float(x.sum())
    if x.size == 0 or total <= 0:
        return p, np.full(points, math.nan)
    cumulative = np.concatenate([[0.0], np.cumsum(x) / total])
    grid = np.linspace(0.0, 1.0, x.size + 1)
    return p, np.interp(p, grid, cumulative)


@dataclass(frozen=True)
class Concentration:
    """Gini and top shares of one grouping, with bootstrap intervals over its units."""

    n: int
    total: float
    gini: Interval
    top_shares: dict[float, Interval]
    lorenz_p: NDArray[np.float64]
    lorenz_l: NDArray[np.float64]

    def as_dict(self) -> dict[str, object]:
        def iv(v: Interval) -> dict[str, float | None]:
            return {
                "estimate": None if math.isnan(v.estimate) else v.estimate,
                "low": None if math.isnan(v.low) else v.low,
                "high": None if math.isnan(v.high) else v.high,
            }

        return {
            "n": self.n,
            "total": self.total,
            "gini": iv(self.gini),
            "top_shares": {f"{100 * f:g}%": iv(v) for f, v in self.top_shares.items()},
            "lorenz": [
                [float(p), float(v)] for p, v in zip(self.lorenz_p, self.lorenz_l, strict=False)
            ],
        }


def concentration(
    values: ArrayLike,
    fractions: Sequence[float] = (0.01, 0.10),
    *,
    confidence: float = 0.95,
    n_resamples: int = 400,
    seed: int = 0,
    lorenz_points: int = 101,
) -> Concentration:
    """Gini, top shares and the Lorenz curve of per-unit totals (spend per user, customer,
    route), with percentile-bootstrap intervals from resampling the units with replacement
    (Efron & Tibshirani 1993, ch. 13; seeded). The resamples are drawn in chunks of at most
    ~2M cells so memory stays bounded."""
    x = _clean(values)
    n = int(x.size)
    p, curve = lorenz_curve(x, lorenz_points)
    point_gini = gini(x)
    point_top = {f: top_share(x, f) for f in fractions}
    method = f"percentile bootstrap over units (B={n_resamples})"
    if n < 2 or not n_resamples:
        return Concentration(
            n,
            float(x.sum()),
            Interval(point_gini, math.nan, math.nan, n, method, confidence),
            {
                f: Interval(v, math.nan, math.nan, n, method, confidence)
                for f, v in point_top.items()
            },
            p,
            curve,
        )
    rng = as_rng(seed)
    ginis: list[float] = []
    tops: dict[float, list[float]] = {f: [] for f in fractions}
    chunk = max(1, 2_000_000 // n)
    ranks = np.arange(1, n + 1, dtype=float)
    ks = {f: max(1, math.ceil(f * n - 1e-9)) for f in fractions}
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        draws = np.sort(x[rng.integers(0, n, size=(size, n))], axis=1)
        totals = draws.sum(axis=1)
        safe = np.where(totals > 0, totals, np.nan)
        ginis.extend(((2 * ranks - n - 1) * draws).sum(axis=1) / (n * safe))
        for f, k in ks.items():
            tops[f].extend(draws[:, n - k :].sum(axis=1) / safe)
        done += size
    alpha = (1 - confidence) / 2

    def interval(point: float, draws: list[float]) -> Interval:
        arr = np.asarray(draws, dtype=float)
        arr = arr[~np.isnan(arr)]
        if arr.size == 0:
            return Interval(point, math.nan, math.nan, n, method, confidence)
        low, high = np.quantile(arr, [alpha, 1 - alpha])
        return Interval(point, float(low), float(high), n, method, confidence)

    return Concentration(
        n,
        float(x.sum()),
        interval(point_gini, ginis),
        {f: interval(point_top[f], tops[f]) for f in fractions},
        p,
        curve,
    )
