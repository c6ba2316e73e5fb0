"""Repeated answers to the same sample (epochs): per-sample means, variance split, flaky samples.

With K answers per sample the unit of analysis is still the sample: average its answers
first, then compute intervals over samples (Miller 2024, "Adding Error Bars to Evals", §3).
The variance of a run's mean then splits into a between-sample part (questions differ in
difficulty) and a within-sample part (the model answers the same question differently), and
only the second shrinks with more epochs. Inputs are flat arrays of answers with the index
(0..n−1) of the sample each belongs to, so samples may have different numbers of answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _flat(
    values: ArrayLike, sample_index: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.intp], int]:
    x = np.asarray(values, dtype=float).reshape(-1)
    idx = np.asarray(sample_index, dtype=np.intp).reshape(-1)
    if x.shape != idx.shape:
        raise ValueError(f"need one sample index per value: {idx.size} indices for {x.size}")
    if idx.size and idx.min() < 0:
        raise ValueError("sample indices must be non-negative")
    n = int(idx.max()) + 1 if idx.size else 0
    return x, idx, n


def per_sample_means(values: ArrayLike, sample_index: ArrayLike) -> NDArray[np.float64]:
    """Each sample's mean over its answers (NaN for an index with no answers)."""
    x, idx, n = _flat(values, sample_index)
    counts = np.bincount(idx, minlength=n)
    sums = np.bincount(idx, weights=x, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


@dataclass(frozen=True)
class EpochVariance:
    """How a run's variance splits between samples and between answers to one sample.

    ``between_sample_variance``: variance of the per-sample means (ddof 1) — what the usual
    interval over samples uses. ``within_sample_variance``: mean over samples with ≥ 2
    answers of the variance of their answers (ddof 1); NaN with one epoch.
    ``conditional_mean_variance``: variance of the samples' *expected* scores,
    between − within·mean(1/Kᵢ), floored at 0 (the part more epochs cannot remove).
    ``n_flaky``: samples whose answers disagree.
    """

    n_samples: int
    n_answers: int
    mean_epochs: float
    between_sample_variance: float
    within_sample_variance: float
    conditional_mean_variance: float
    n_flaky: int

    @property
    def within_share(self) -> float:
        """Share of the variance of the per-sample means that is answer noise
        (within·mean(1/K) / between); 0 with no noise, NaN when unknown."""
        if math.isnan(self.within_sample_variance) or not self.between_sample_variance:
            return math.nan
        noise = self.between_sample_variance - self.conditional_mean_variance
        return min(1.0, noise / self.between_sample_variance)


def epoch_variance(values: ArrayLike, sample_index: ArrayLike) -> EpochVariance:
    """Split the variance of per-sample means into within- and between-sample parts.

    With Kᵢ answers xᵢₖ to sample i, mᵢ = mean_k xᵢₖ and s²ᵢ = Σₖ(xᵢₖ − mᵢ)²/(Kᵢ − 1):

        between = Var(mᵢ) (ddof 1),   within = mean of s²ᵢ over samples with Kᵢ ≥ 2,
        Var(E[x|i]) ≈ max(0, between − within · mean(1/Kᵢ))

    because Var(mᵢ) = Var(E[x|i]) + E[σ²ᵢ/Kᵢ] (law of total variance; Miller 2024, §3).
    Edge cases: one sample gives a NaN between-sample variance; one answer per sample
    gives NaN within (then the conditional variance is the between variance, an upper bound).
    """
    x, idx, n = _flat(values, sample_index)
    if n == 0:
        raise ValueError("no answers")
    counts = np.bincount(idx, minlength=n).astype(float)
    answered = counts > 0
    sums = np.bincount(idx, weights=x, minlength=n)
    means = np.divide(sums, counts, out=np.zeros(n), where=answered)
    squares = np.bincount(idx, weights=(x - means[idx]) ** 2, minlength=n)
    k = counts[answered]
    m = means[answered]
    ss = squares[answered]
    between = float(m.var(ddof=1)) if m.size > 1 else math.nan
    repeated = k >= 2
    within = float(np.mean(ss[repeated] / (k[repeated] - 1))) if repeated.any() else math.nan
    if math.isnan(within) or math.isnan(between):
        conditional = between
    else:
        conditional = max(0.0, between - within * float(np.mean(1 / k)))
    return EpochVariance(
        n_samples=int(m.size),
        n_answers=int(x.size),
        mean_epochs=float(k.mean()),
        between_sample_variance=between,
        within_sample_variance=within,
        conditional_mean_variance=conditional,
        n_flaky=int(np.count_nonzero(ss > 1e-12 * np.maximum(1.0, np.abs(m)))),
    )


def flaky_samples(values: ArrayLike, sample_index: ArrayLike) -> NDArray[np.intp]:
    """Indices of samples whose answers disagree across epochs, most unstable first.

    A pass/fail sample right 3 times out of 5 (REQUIREMENTS B4: pass rate 0.6) is flaky; one
    right 5 of 5 is not. "Disagree" means a non-zero spread of its answers; the order is by
    within-sample variance, largest first (for pass/fail, pass rates nearest 0.5 first), then
    by index.
    """
    x, idx, n = _flat(values, sample_index)
    if n == 0:
        return np.empty(0, dtype=np.intp)
    counts = np.bincount(idx, minlength=n).astype(float)
    sums = np.bincount(idx, weights=x, minlength=n)
    means = np.divide(sums, counts, out=np.zeros(n), where=counts > 0)
    squares = np.bincount(idx, weights=(x - means[idx]) ** 2, minlength=n)
    variance = np.divide(squares, counts, out=np.zeros(n), where=counts > 0)
    flaky = np.flatnonzero(squares > 1e-12 * np.maximum(1.0, np.abs(means)))
    order = np.lexsort((flaky, -variance[flaky]))
    return flaky[order].astype(np.intp)
