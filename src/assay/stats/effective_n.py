"""How many independent graders a panel of correlated graders is worth (REQUIREMENTS B5, C9).

Three judges from the same model family tend to make the same mistakes; a "majority of three"
then buys far less than three independent opinions. The design-effect formula for equally
correlated units answers how much less.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def effective_sample_size(n: int, rho: float) -> float:
    """n_eff = n / (1 + (n − 1)·ρ) for n units with common pairwise correlation ρ.

    The variance of the mean of n equicorrelated units is σ²(1 + (n − 1)ρ)/n, the variance of
    the mean of n_eff independent ones (Kish 1965, *Survey Sampling*, design effect).
    Example (REQUIREMENTS B5): 3 graders with ρ = 0.6 are worth 3/2.2 ≈ 1.36. ρ = 0 gives n,
    ρ = 1 gives 1. ρ must lie in [−1/(n − 1), 1], the range a correlation matrix allows.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if n == 1:
        return 1.0
    if not -1 / (n - 1) - 1e-12 <= rho <= 1 + 1e-12:
        raise ValueError(f"rho must lie in [-1/(n-1), 1] = [{-1 / (n - 1):.3f}, 1], got {rho}")
    denominator = 1 + (n - 1) * rho
    return math.inf if denominator <= 0 else n / denominator


def error_correlation(errors: ArrayLike) -> float:
    """Mean pairwise Pearson correlation of graders' errors.

    ``errors`` is a graders × items matrix: 1 where a grader got an item wrong, 0 where right
    (or signed residuals for numeric grades). The mean is over grader pairs whose errors both
    vary; pairs involving a grader that never (or always) errs are left out, since a
    correlation with a constant is undefined. NaN when no pair is left.
    """
    e = np.asarray(errors, dtype=float)
    if e.ndim != 2 or e.shape[0] < 2:
        raise ValueError("need a graders x items matrix with at least two graders")
    varying = e.std(axis=1) > 0
    e = e[varying]
    if e.shape[0] < 2:
        return math.nan
    r = np.corrcoef(e)
    upper = r[np.triu_indices(e.shape[0], k=1)]
    return float(upper.mean())


def effective_number_of_graders(errors: ArrayLike) -> float:
    """n_eff of a grader panel from its errors: :func:`effective_sample_size` with n graders
    and ρ their mean pairwise :func:`error_correlation` (REQUIREMENTS C9). NaN when the
    correlation is undefined."""
    e = np.asarray(errors, dtype=float)
    rho = error_correlation(e)
    if math.isnan(rho):
        return math.nan
    n = e.shape[0]
    return effective_sample_size(n, max(rho, -1 / (n - 1)))
