"""Forecasting a total over many future units (users) from a heavy-tailed sample of them.

A mean times a volume is the right *expected* total and the wrong budget: with heavy tails the
total's spread, and how much of it a few users make, is the question. The forecast here
resamples *users* (each with all of their requests), never requests, so a user who sends a
thousand expensive requests stays one user.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from assay.stats._resample import as_rng

#: Quantiles of the forecast's fan (5–95, 25–75 and the median).
FAN_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Percentile bands of the mixture table: bottom half, next 40%, next 9%, top 1%.
MIXTURE_BANDS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.9), (0.9, 0.99), (0.99, 1.0))
_EXACT_DRAWS = 4_000_000


@dataclass(frozen=True)
class Forecast:
    """The forecast total for ``units`` future units: its expectation, the fan's quantiles
    (``{q: value}``) and the percentile mixture it is made of."""

    units: float
    expected: float
    quantiles: dict[float, float]
    mixture: list[dict[str, float]]
    method: str
    n_observed: int

    def as_dict(self) -> dict[str, object]:
        return {
            "units": self.units,
            "expected": self.expected,
            "quantiles": {f"p{100 * q:g}": v for q, v in self.quantiles.items()},
            "mixture": self.mixture,
            "method": self.method,
            "n_observed": self.n_observed,
        }


def percentile_mixture(
    unit_totals: ArrayLike, bands: Sequence[tuple[float, float]] = MIXTURE_BANDS
) -> list[dict[str, float]]:
    """The sample as a mixture of percentile bands of units: for each band (e.g. the top 1%
    of users by spend) its share of units, mean per unit and share of the total. The forecast
    is Σ_bands share_of_units × mean × units, i.e. the mean times the volume, but written so
    that what the tail contributes is visible."""
    x = np.sort(np.asarray(unit_totals, dtype=float))
    n, total = x.size, float(x.sum())
    out = []
    for lo, hi in bands:
        a, b = round(lo * n), round(hi * n)
        part = x[a:b]
        out.append(
            {
                "from": lo,
                "to": hi,
                "units": int(part.size),
                "mean": float(part.mean()) if part.size else 0.0,
                "share_of_total": float(part.sum() / total) if total > 0 else math.nan,
            }
        )
    return out


def forecast_total(
    unit_totals: ArrayLike,
    units: float,
    *,
    quantiles: Sequence[float] = FAN_QUANTILES,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Forecast:
    """The total over ``units`` future units, as a predictive distribution.

    Each of B replicates first resamples the n observed units with replacement (the
    uncertainty of having seen only n users, Efron & Tibshirani 1993 §6), then draws the
    future total from that resample: exactly, as the sum of ``units`` draws from it, while
    B·units ≤ 4M; beyond that by the central limit theorem on the resample,
    T = units·μ* + √units·σ*·Z (the sum of many independent users; the resample's μ* and σ*
    carry the tail that was observed). The fan is the replicates' quantiles; ``expected`` is
    units × the sample mean. Fractional ``units`` are rounded for the exact draws.
    Source: the parametric-free predictive bootstrap of Harris (1989), Biometrika 76:675.
    """
    x = np.asarray(unit_totals, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0 or units <= 0:
        return Forecast(units, math.nan, {q: math.nan for q in quantiles}, [], "none", n)
    rng = as_rng(seed)
    whole = max(1, round(units))
    totals = np.empty(n_resamples)
    exact = n_resamples * whole <= _EXACT_DRAWS
    chunk = max(1, 2_000_000 // max(n, whole if exact else 1))
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        resampled = x[rng.integers(0, n, size=(size, n))]
        if exact:
            picks = rng.integers(0, n, size=(size, whole))
            totals[done : done + size] = np.take_along_axis(resampled, picks, axis=1).sum(axis=1)
        else:
            mu = resampled.mean(axis=1)
            sd = resampled.std(axis=1, ddof=1) if n > 1 else np.zeros(size)
            totals[done : done + size] = units * mu + math.sqrt(units) * sd * rng.standard_normal(
                size
            )
        done += size
    method = f"predictive bootstrap over units (B={n_resamples}, " + (
        "exact draws)" if exact else "CLT on each resample)"
    )
    fan = {
        q: float(v) for q, v in zip(quantiles, np.quantile(totals, list(quantiles)), strict=False)
    }
    return Forecast(units, float(units * x.mean()), fan, percentile_mixture(x), method, n)
