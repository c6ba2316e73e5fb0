"""Many candidates at once: rank distributions, simultaneous rank intervals and the model
confidence set.

``scores`` is an items × candidates array (or items × candidates × epochs, NaN for a missing
epoch), every candidate answering the same items. Three views of "which is best":

* the bootstrap distribution of ranks over items (P(best), expected rank) — descriptive, and
  nested (items, then epochs within each item) when there are epochs (Field & Welsh 2007,
  "Bootstrapping clustered data", JRSS-B 69:369; Miller 2024, §3);
* rank confidence intervals with *simultaneous* coverage, from bootstrap max-|t| intervals of
  every pairwise difference: candidate j ranks no better than 1 + #{k significantly above j}
  and no worse than K − #{k significantly below j} (Mogstad, Romano, Shaikh & Wilhelm 2024,
  "Inference for ranks with applications to mobility across neighbourhoods and academic
  achievement across countries", Rev Econ Stud 91:476). Percentile intervals of the bootstrap
  ranks themselves do not cover (the rank is not a smooth function of the means);
* the model confidence set of Hansen, Lunde & Nason (2011, Econometrica 79:453): the
  candidates statistically indistinguishable from the best, by ``arch.bootstrap.MCS`` (losses =
  −scores, an i.i.d. bootstrap over items: stationary bootstrap with mean block length 1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class RankDistribution:
    """Bootstrap ranks (1 = best) and simultaneous rank intervals for K candidates.

    ``distribution[j, r]`` is the share of resamples in which candidate j ranked r + 1 (ties
    share ranks equally). ``rank_low``/``rank_high`` hold every true rank jointly with
    probability ``confidence`` (Mogstad et al. 2024).
    """

    means: NDArray[np.float64]
    p_best: NDArray[np.float64]
    expected_rank: NDArray[np.float64]
    distribution: NDArray[np.float64]
    rank_low: NDArray[np.int64]
    rank_high: NDArray[np.int64]
    confidence: float
    n_items: int
    n_resamples: int
    nested: bool


def _per_item(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    if scores.ndim == 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(np.nanmean(scores, axis=2), dtype=float)
    return scores


def _resampled_means(
    scores: NDArray[np.float64], n_resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Means per candidate over bootstrap resamples of items (and of epochs within each item
    when ``scores`` has an epoch axis): shape (B, K)."""
    n = scores.shape[0]
    out = np.empty((n_resamples, scores.shape[1]))
    for start in range(0, n_resamples, 200):
        stop = min(n_resamples, start + 200)
        items = rng.integers(0, n, size=(stop - start, n))
        if scores.ndim == 3:
            e = scores.shape[2]
            picked = scores[items]  # (b, n, K, e)
            epochs = rng.integers(0, e, size=picked.shape)
            draws = np.take_along_axis(picked, epochs, axis=3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all redrawn epochs missing
                per_item = np.nanmean(draws, axis=3)
            # An item whose redrawn epochs were all missing keeps its own mean.
            own = _per_item(scores)[items]
            per_item = np.where(np.isnan(per_item), own, per_item)
            out[start:stop] = np.nanmean(per_item, axis=1)
        else:
            out[start:stop] = scores[items].mean(axis=1)
    return out


def _resampled_item_means(
    x: NDArray[np.float64], n_resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """The i.i.d. item bootstrap as multinomial weights: counts (B × n) @ x / n."""
    n = x.shape[0]
    draws = rng.integers(0, n, size=(n_resamples, n))
    offsets = (np.arange(n_resamples)[:, None] * n + draws).ravel()
    counts = np.bincount(offsets, minlength=n_resamples * n).reshape(n_resamples, n)
    return np.asarray(counts @ x / n, dtype=float)


def _ranks(means: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rank 1 = highest mean, ties averaged (rows are resamples)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(-means, axis=-1, method="average"), dtype=float)


def rank_distribution(
    scores: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2_000,
    seed: int | None = 0,
) -> RankDistribution:
    """Bootstrap rank distribution, P(best), expected rank and simultaneous rank intervals.

    Pairwise intervals: d̂_jk ± c·se_jk with se_jk = sd(x_ij − x_ik)/√n and c the
    ``confidence`` quantile of max_{j<k} |d*_jk − d̂_jk| / se_jk over the same bootstrap
    resamples (a max-|t| band, simultaneous over all pairs; Romano & Wolf 2005). Candidate j
    is above k when its band excludes 0. P(best) splits ties evenly.
    """
    raw = np.asarray(scores, dtype=float)
    if raw.ndim not in (2, 3) or raw.shape[1] < 2:
        raise ValueError("need an items × candidates (× epochs) array with two or more candidates")
    x = _per_item(raw)
    n, k = x.shape
    if n < 2:
        raise ValueError("need at least two items")
    rng = np.random.default_rng(seed)
    if raw.ndim == 3:
        boot = _resampled_means(raw, n_resamples, rng)
    else:
        boot = _resampled_item_means(x, n_resamples, rng)
    means = x.mean(axis=0)
    ranks = _ranks(boot)
    distribution = np.zeros((k, k))
    for j in range(k):
        # A tie at average rank r.5 counts half for each of the two ranks it spans.
        low = np.floor(ranks[:, j]).astype(int)
        frac = ranks[:, j] - low
        np.add.at(distribution[j], low - 1, 1 - frac)
        np.add.at(distribution[j], np.minimum(low, k - 1), frac)
    distribution /= n_resamples
    top = boot == boot.max(axis=1, keepdims=True)
    p_best = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    pairs = [(j, m) for j in range(k) for m in range(j + 1, k)]
    diffs = np.array([means[j] - means[m] for j, m in pairs])
    se = np.array([(x[:, j] - x[:, m]).std(ddof=1) / math.sqrt(n) for j, m in pairs])
    boot_d = np.stack([boot[:, j] - boot[:, m] for j, m in pairs], axis=1)
    safe = np.where(se > 0, se, np.inf)
    crit = float(np.quantile(np.max(np.abs(boot_d - diffs) / safe, axis=1), confidence))
    above = np.zeros((k, k), dtype=bool)  # above[j, m]: j significantly better than m
    for (j, m), d, s in zip(pairs, diffs, se, strict=True):
        if s == 0:
            if d != 0:
                above[j, m], above[m, j] = d > 0, d < 0
            continue
        if d - crit * s > 0:
            above[j, m] = True
        elif d + crit * s < 0:
            above[m, j] = True
    rank_low = 1 + above.sum(axis=0)
    rank_high = k - above.sum(axis=1)
    return RankDistribution(
        means=means,
        p_best=p_best,
        expected_rank=ranks.mean(axis=0),
        distribution=distribution,
        rank_low=rank_low.astype(np.int64),
        rank_high=rank_high.astype(np.int64),
        confidence=confidence,
        n_items=n,
        n_resamples=n_resamples,
        nested=raw.ndim == 3,
    )


@dataclass(frozen=True)
class ConfidenceSet:
    """The model confidence set: ``included`` candidates (indices) cannot be told from the
    best at level ``size``; ``p_values[j]`` is candidate j's MCS p-value."""

    included: list[int]
    excluded: list[int]
    p_values: NDArray[np.float64]
    size: float


def model_confidence_set(
    scores: ArrayLike, *, size: float = 0.05, n_resamples: int = 1_000, seed: int | None = 0
) -> ConfidenceSet:
    """Hansen, Lunde & Nason's (2011) model confidence set of the highest-scoring candidates,
    computed by ``arch.bootstrap.MCS`` on losses −score (range statistic ``R``, i.i.d.
    resampling of items: a stationary bootstrap with mean block length 1). With epochs,
    scores are averaged per item first. The set contains every truly best candidate with
    probability ≥ 1 − ``size`` asymptotically (their Theorem 1)."""
    from arch.bootstrap import MCS

    x = _per_item(np.asarray(scores, dtype=float))
    mcs = MCS(-x, size=size, reps=n_resamples, block_size=1, bootstrap="stationary", seed=seed)
    mcs.compute()
    p = np.full(x.shape[1], np.nan)
    # arch 8 labels a step that eliminates several tied candidates at once with an array of
    # indices, which its own ``included``/``excluded`` cannot sort; read the p-values instead.
    table = mcs.pvalues
    for idx, value in zip(list(table.index), table.to_numpy()[:, 0], strict=True):
        for j in np.ravel(idx):
            p[int(j)] = float(value)
    included = [j for j in range(x.shape[1]) if p[j] > size]
    excluded = [j for j in range(x.shape[1]) if not p[j] > size]
    return ConfidenceSet(included, excluded, p, size)
