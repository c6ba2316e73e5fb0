"""Clustered standard errors for a mean: when samples come in groups that share a source.

Questions drawn from the same document, template or conversation are not independent: a model
that misreads the document misses all of its questions. Treating them as independent
understates the standard error, sometimes by a factor of three (Miller 2024, "Adding Error Bars
to Evals", arXiv 2411.00640, §2.2 and Appendix A). The clustered (cluster-robust, "sandwich")
estimator sums the residuals inside each cluster before squaring them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats.intervals import Interval


@dataclass(frozen=True)
class ClusteredStandardError:
    """A clustered standard error of a mean, with what it was computed from.

    ``corrected`` says whether the finite-cluster factor C/(C−1) was applied.
    ``design_effect`` is the ratio of the clustered variance to the variance the samples would
    have if they were independent (1 for no clustering; above 1 when clusters share outcomes).
    """

    mean: float
    standard_error: float
    n: int
    n_clusters: int
    corrected: bool
    design_effect: float


def _cluster_codes(clusters: ArrayLike, n: int) -> tuple[NDArray[np.intp], int]:
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise ValueError(f"need one cluster label per value: {labels.shape[0]} labels for {n}")
    if labels.dtype.kind in "iu" and n:
        low, high = int(labels.min()), int(labels.max())
        if low >= 0 and high < 4 * n:
            # Small non-negative integers (``assay compare`` passes its clusters as codes in
            # 0..k-1, a slice's a subset of them): each label's rank among the distinct
            # labels from a count per value, the inverse ``np.unique`` gives, without a sort.
            ints = labels.astype(np.intp)
            present = np.bincount(ints, minlength=high + 1) > 0
            if bool(present.all()):  # already 0..k-1: the codes are the labels
                return ints, high + 1
            rank = np.cumsum(present, dtype=np.intp) - 1
            return rank[ints], int(rank[-1]) + 1
    if labels.dtype.kind in "iub":
        # Integer labels: a sort-based factorisation without building an object array.
        _, codes = np.unique(labels, return_inverse=True)
    else:
        _, codes = np.unique(labels.astype(str), return_inverse=True)
    codes = codes.reshape(-1)
    return codes.astype(np.intp), int(codes.max()) + 1 if n else 0


def clustered_standard_error(
    values: ArrayLike, clusters: ArrayLike, *, finite_cluster_correction: bool = True
) -> ClusteredStandardError:
    """The cluster-robust standard error of the mean of ``values``.

    With eᵢ = xᵢ − x̄, n values and C clusters (Miller 2024, Appendix A; Liang & Zeger 1986):

        Var(x̄) = (1/n²) · Σ_c (Σ_{i∈c} eᵢ)²                       (CR0)

    and, with ``finite_cluster_correction`` (the default), that times C/(C−1) (CR1, the
    small-sample factor Stata and statsmodels apply to an intercept-only model). The factor
    matters when clusters are few: with 10 clusters it widens the standard error by 5%.
    With every sample in its own cluster, CR1 equals the classic s/√n exactly.

    Edge cases: fewer than two clusters gives a NaN standard error, not 0 — one cluster
    carries no information about how clusters vary, and 0 would claim perfect certainty.
    n = 0 gives NaN throughout. Computed with one ``bincount``: about 0.1 s for 10⁶ samples.
    """
    x = np.asarray(values, dtype=float).reshape(-1)
    n = int(x.size)
    if n == 0:
        return ClusteredStandardError(math.nan, math.nan, 0, 0, finite_cluster_correction, math.nan)
    codes, n_clusters = _cluster_codes(clusters, n)
    mean = float(x.mean())
    if n_clusters < 2:
        return ClusteredStandardError(
            mean, math.nan, n, n_clusters, finite_cluster_correction, math.nan
        )
    residual_sums = np.bincount(codes, weights=x - mean, minlength=n_clusters)
    variance = float(residual_sums @ residual_sums) / (n * n)
    if finite_cluster_correction:
        variance *= n_clusters / (n_clusters - 1)
    iid_variance = float(x.var(ddof=1)) / n if n > 1 else math.nan
    design_effect = variance / iid_variance if iid_variance > 0 else math.nan
    return ClusteredStandardError(
        mean, math.sqrt(variance), n, n_clusters, finite_cluster_correction, design_effect
    )


def clustered_interval(
    values: ArrayLike,
    clusters: ArrayLike,
    confidence: float = 0.95,
    *,
    finite_cluster_correction: bool = True,
) -> Interval:
    """x̄ ± t_{C−1, 1−α/2} · SE_clustered (see :func:`clustered_standard_error`).

    The t quantile has C − 1 degrees of freedom, not n − 1: the number of clusters, not of
    samples, limits what the data say about the variance (Cameron & Miller 2015, "A
    Practitioner's Guide to Cluster-Robust Inference", J. Human Resources 50:317). With few
    clusters that interval is wide, as it should be. Fewer than two clusters give NaN bounds.
    ``method`` is ``clustered`` (CR1, the default) or ``clustered-cr0``.
    """
    se = clustered_standard_error(
        values, clusters, finite_cluster_correction=finite_cluster_correction
    )
    method = "clustered" if finite_cluster_correction else "clustered-cr0"
    if math.isnan(se.standard_error):
        return Interval(se.mean, math.nan, math.nan, se.n, method, confidence)
    from scipy.special import stdtrit

    q = float(stdtrit(se.n_clusters - 1, 1 - (1 - confidence) / 2))
    half = q * se.standard_error
    return Interval(
        se.mean, se.mean - half, se.mean + half, se.n, method, confidence, se.standard_error
    )
