"""Rank correlation with an interval: what moves with a latency tail."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from assay.stats.intervals import Interval


def spearman_interval(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> Interval:
    """Spearman's ρ (``scipy.stats.spearmanr``) with a Fisher-z interval.

    tanh(atanh(ρ) ± z·σ), σ = √(1.06/(n − 3)): the variance Fieller, Hartley & Pearson (1957,
    Biometrika 44:470) give for the z-transform of Spearman's ρ, which keeps near-nominal
    coverage for |ρ| < 0.9 (Bonett & Wright 2000, Psychometrika 65:23). Pairs with a NaN are
    dropped; fewer than 4 pairs, or a constant variable, give NaN bounds.
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(a.size)
    method = "spearman (Fisher z)"
    if n < 4 or np.all(a == a[0]) or np.all(b == b[0]):
        return Interval(math.nan, math.nan, math.nan, n, method, confidence)
    from scipy.special import ndtri
    from scipy.stats import spearmanr

    rho = float(spearmanr(a, b).statistic)
    z = float(ndtri(1 - (1 - confidence) / 2))
    centre = math.atanh(max(-0.999999, min(0.999999, rho)))
    spread = z * math.sqrt(1.06 / (n - 3))
    return Interval(
        rho, math.tanh(centre - spread), math.tanh(centre + spread), n, method, confidence
    )
