"""One-sample tests on proportions."""

from __future__ import annotations

import math


def subset_z_score(subset_mean: float, overall_mean: float, n: int) -> float:
    """Z = (x̄ − μ) / √(μ(1 − μ)/n): how far a subset's accuracy sits from the whole set's.

    Used by Llama 2 (Touvron et al. 2023, Appendix A.6, Table 51) to ask whether samples that
    overlap the training data ("dirty") score higher than the benchmark as a whole; scores as
    fractions. Example: MMLU 70B dirty subset, n = 1536, x̄ = 0.782, μ = 0.689 → Z ≈ 7.87.
    μ must be strictly between 0 and 1.
    """
    if not 0 < overall_mean < 1:
        raise ValueError(f"overall_mean must be strictly between 0 and 1, got {overall_mean}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return (subset_mean - overall_mean) / math.sqrt(overall_mean * (1 - overall_mean) / n)
