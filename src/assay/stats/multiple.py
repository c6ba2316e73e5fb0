"""Corrections for testing many slices and metrics at once.

Compare ten slices at α = 0.05 and, with no real change anywhere, the chance that at least one
comes out "significant" is 40%. The corrections here (via ``statsmodels``) keep that in check:
Holm controls the family-wise error rate, Benjamini-Hochberg the false discovery rate.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Correction = Literal["holm", "bh", "none"]

_STATSMODELS_NAME = {"holm": "holm", "bh": "fdr_bh"}


def adjust_p_values(
    p_values: ArrayLike, method: Correction = "holm", *, alpha: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Adjusted p-values and which hypotheses are rejected at ``alpha``.

    ``holm``: Holm (1979) step-down, p₍ᵢ₎ × (m − i + 1) made monotone; controls the
    probability of any false rejection, valid under any dependence. ``bh``: Benjamini &
    Hochberg (1995) step-up, p₍ᵢ₎ × m / i made monotone; controls the expected share of false
    rejections among rejections (valid for independent or positively dependent tests, the
    usual case for slices of one run). ``none`` returns the p-values unchanged. BH is computed
    by ``statsmodels.stats.multitest.multipletests``; Holm by the closed form above (checked
    against ``multipletests`` in the tests), because statsmodels 0.14-0.15 ends its Holm branch
    with ``gc.collect()``: a full collection on every call, 27-226 ms per comparison with
    the heap of a loaded run.

    NaN p-values (comparisons that could not be tested) are left NaN, not rejected, and do not
    count towards m. Adjusted values are capped at 1.
    """
    if method not in ("holm", "bh", "none"):
        raise ValueError(f"unknown correction {method!r}; use 'holm', 'bh' or 'none'")
    p = np.asarray(p_values, dtype=float).reshape(-1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    known = ~np.isnan(p)
    if not known.any():
        return adjusted, reject
    if method == "none":
        adjusted[known] = p[known]
    elif method == "holm":
        adjusted[known] = _holm(p[known])
    else:
        from statsmodels.stats.multitest import multipletests

        _, corrected, _, _ = multipletests(p[known], alpha=alpha, method=_STATSMODELS_NAME[method])
        adjusted[known] = np.minimum(corrected, 1.0)
    reject[known] = adjusted[known] < alpha
    return adjusted, reject


def _holm(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Holm (1979) adjusted p-values: sorted ascending, p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)
    p₍ⱼ₎), returned in the input order. Ties keep their input order (a stable sort), which
    gives the same values as ``multipletests(method="holm")``."""
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(m, 0, -1)))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted
