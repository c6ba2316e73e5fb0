"""Fast Monte Carlo draws of resampled sums, shared by the bootstrap and the sign-flip test.

Resampling n values B times by index costs n·B random draws: 10⁹ for 10,000 resamples of
100,000 pairs, about 13 s in numpy on one core. Both procedures here only need the *sum* of
each resample, and a sum depends only on how many times each distinct value was drawn, so:

* when the data take at most ``MAX_GROUPS`` distinct values (pass/fail scores and their
  differences, 1-10 ratings, means over a few epochs: nearly every eval) the draws are made
  on the counts of the distinct values, which is exact: a multinomial for the bootstrap
  (Efron & Tibshirani 1993, §6.2) and one Binomial(k, ½) per value for random sign flips
  (drawn as the set bits of k random bits up to k = 1,024, by numpy's binomial above);
* otherwise the sorted values are cut into at most ``MAX_GROUPS`` groups of neighbouring
  values (half the cuts at equal counts, half at equal widths, so that long tails are cut
  finely too); the counts of the groups are drawn exactly, and the spread of values inside
  each group enters as one normal term with the exact within-group variance of the
  resampled sum. The mean and variance of every resampled sum are therefore exact; only
  the shape of the within-group part is approximated, and that part is a tiny share of the
  variance (measured on 100,000 values: 0.01% for normal or exponential data, 0.04% for
  lognormal, 0.2% for Cauchy).

Cost: B·G draws instead of B·n. The loop below runs over chunks of resamples (to bound
memory), never over single resamples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MAX_GROUPS = 256
_CHUNK_CELLS = 2_000_000  # resamples x groups drawn at once (16 MB of int64)


@dataclass(frozen=True)
class ValueGroups:
    """Distinct values (or groups of neighbouring sorted values) with their counts.

    ``centres`` are the values (group means); ``counts`` how many data points each holds;
    ``spread`` the sum of squared deviations from the centre inside each group (all zero
    when ``exact``).
    """

    centres: NDArray[np.float64]
    counts: NDArray[np.int64]
    spread: NDArray[np.float64]
    exact: bool

    @property
    def n(self) -> int:
        return int(self.counts.sum())


def group_values(x: NDArray[np.float64], max_groups: int = MAX_GROUPS) -> ValueGroups:
    """Summarise ``x`` by its distinct values, or by at most ``max_groups`` groups of
    neighbouring sorted values."""
    values, counts = np.unique(x, return_counts=True)
    if values.size <= max_groups:
        return ValueGroups(
            values.astype(np.float64), counts.astype(np.int64), np.zeros(values.size), True
        )
    xs = np.sort(x)
    # Half the cuts at equal counts (fine where the data are dense), half at equal widths
    # (fine in long tails, where equal-count groups would span wide ranges of values).
    half = max_groups // 2
    by_count = np.linspace(0, xs.size, half + 1).round().astype(np.int64)
    by_width = np.searchsorted(xs, np.linspace(xs[0], xs[-1], half + 1)[1:-1])
    edges = np.unique(np.concatenate([by_count, by_width]))
    starts = edges[:-1][np.diff(edges) > 0]
    sizes = np.diff(np.append(starts, xs.size))
    centres = np.add.reduceat(xs, starts) / sizes
    deviations = xs - np.repeat(centres, sizes)
    spread = np.add.reduceat(deviations * deviations, starts)
    return ValueGroups(centres, sizes.astype(np.int64), spread, False)


def _chunks(n_resamples: int, n_groups: int) -> list[int]:
    size = max(1, _CHUNK_CELLS // max(n_groups, 1))
    return [min(size, n_resamples - start) for start in range(0, n_resamples, size)]


def bootstrap_sums(
    groups: ValueGroups, n_resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Sums of ``n_resamples`` bootstrap resamples (n draws with replacement) of the data."""
    n = groups.n
    p = groups.counts / n
    within_var = groups.spread / groups.counts  # variance of one draw from inside a group
    out: list[NDArray[np.float64]] = []
    for size in _chunks(n_resamples, groups.centres.size):
        drawn = rng.multinomial(n, p, size=size)
        sums = drawn @ groups.centres
        if not groups.exact:
            sums = sums + np.sqrt(drawn @ within_var) * rng.standard_normal(size)
        out.append(sums)
    return np.concatenate(out) if out else np.empty(0)


def sign_flip_sums(
    groups: ValueGroups, n_resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Sums Σ sᵢ·xᵢ over ``n_resamples`` draws of independent random signs sᵢ = ±1.

    ``groups`` should summarise |x| (the sign of x does not matter under random flips).
    """
    out: list[NDArray[np.float64]] = []
    residual_sd = float(np.sqrt(groups.spread.sum()))
    # A value seen once gets one fair sign: a random bit, drawn eight to a byte (about 20x
    # faster than a binomial draw per value, which dominated the comparison of continuous
    # scores). A value (or group) seen k > 1 times gets 2·Binomial(k, ½) − k signs up: for k
    # up to _BIT_COUNT_MAX, counted as the set bits of k random bits (exactly Binomial(k, ½));
    # above it, drawn by numpy's binomial, whose cost does not grow with k.
    single = groups.counts == 1
    small = ~single & (groups.counts <= _BIT_COUNT_MAX)
    large = groups.counts > _BIT_COUNT_MAX
    ones = groups.centres[single]
    bit_values, bit_counts = groups.centres[small], groups.counts[small]
    big_values, big_counts = groups.centres[large], groups.counts[large]
    for size in _chunks(n_resamples, groups.centres.size):
        sums = np.zeros(size)
        if ones.size:
            packed = rng.integers(0, 256, size=(size, (ones.size + 7) // 8), dtype=np.uint8)
            bits = np.unpackbits(packed, axis=1, count=ones.size)
            sums += 2.0 * (bits @ ones) - ones.sum()
        if bit_counts.size:
            sums += (2.0 * _set_bits(bit_counts, size, rng) - bit_counts) @ bit_values
        if big_counts.size:
            positive = rng.binomial(big_counts, 0.5, size=(size, big_counts.size))
            sums += (2 * positive - big_counts) @ big_values
        if not groups.exact:
            sums = sums + residual_sd * rng.standard_normal(size)
        out.append(sums)
    return np.concatenate(out) if out else np.empty(0)


#: Groups of at most this many values draw their signs as bits (:func:`_set_bits`): a binomial
#: draw costs about as much as 1,300 random bits counted (numpy 2.4, one core), whatever k.
_BIT_COUNT_MAX = 1024
_BLOCK_WORDS = 1 << 17  # random words drawn and counted at once (1 MB: stays in cache)
_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)
_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _set_bits(
    counts: NDArray[np.int64], size: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``size`` rows of one Binomial(k, ½) draw per count k (as floats, for the product that
    follows): how many of k fair random bits are set, which is Binomial(k, ½) by definition.
    Each count gets ⌈k/64⌉ random 64-bit words, its last word masked to its k mod 64 low
    bits; the set bits are counted per word and summed per count (a cumulative sum along the
    row, read at each count's last word). Rows are drawn a cache-sized block at a time."""
    words = (counts + 63) // 64
    ends = np.cumsum(words) - 1
    total = int(ends[-1]) + 1
    tail = (counts % 64).astype(np.uint64)
    mask = np.where(tail == 0, _ALL_BITS, (np.uint64(1) << tail) - np.uint64(1))
    out = np.empty((size, counts.size))
    step = max(1, _BLOCK_WORDS // total)
    for lo in range(0, size, step):
        rows = min(step, size - lo)
        raw = rng.integers(0, _ALL_BITS, size=(rows, total), dtype=np.uint64, endpoint=True)
        raw[:, ends] &= mask
        if hasattr(np, "bitwise_count"):  # numpy >= 2.0
            per_word = np.bitwise_count(raw)
        else:
            per_word = _BYTE_BITS[raw.view(np.uint8)].reshape(rows, total, 8).sum(axis=2)
        running = np.cumsum(per_word, axis=1, dtype=np.int64)[:, ends]
        out[lo : lo + rows] = np.diff(running, axis=1, prepend=0)
    return out


def cluster_bootstrap_sums(
    cluster_sums: NDArray[np.float64],
    cluster_sizes: NDArray[np.float64],
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Resample whole clusters with replacement; return (Σ values, Σ sizes) per resample."""
    c = cluster_sums.size
    totals: list[NDArray[np.float64]] = []
    sizes: list[NDArray[np.float64]] = []
    for size in _chunks(n_resamples, c):
        picks = rng.integers(0, c, size=(size, c))
        totals.append(cluster_sums[picks].sum(axis=1))
        sizes.append(cluster_sizes[picks].sum(axis=1))
    if not totals:
        return np.empty(0), np.empty(0)
    return np.concatenate(totals), np.concatenate(sizes)


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A generator from a seed (``None`` draws fresh entropy; analyses pass a fixed seed so
    that re-running them on the same store gives the same numbers)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
