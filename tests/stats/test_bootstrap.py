import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assay.stats import (
    bootstrap_interval,
    cluster_bootstrap_interval,
    paired_bootstrap_interval,
    resample_means,
)


def test_resampled_means_of_pass_fail_data_follow_the_exact_binomial_law():
    # For 0/1 data the bootstrap mean is Binomial(n, p̂)/n exactly; the fast path draws counts
    # of the two values, so its quantiles must match the binomial's.
    x = np.r_[np.ones(37), np.zeros(63)]
    means = resample_means(x, n_resamples=200_000, seed=11)
    assert means.mean() == pytest.approx(0.37, abs=0.001)
    assert means.var() == pytest.approx(0.37 * 0.63 / 100, rel=0.02)
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(means, q) == pytest.approx(
            stats.binom.ppf(q, 100, 0.37) / 100, abs=0.0101
        )


@pytest.mark.parametrize("draw", ["exponential", "lognormal"])
def test_grouped_resampling_of_continuous_data_matches_resampling_by_index(draw):
    rng = np.random.default_rng(4)
    # 3000 distinct values: the grouped (approximate) path, on a skewed and a heavy tail.
    x = rng.exponential(size=3000) if draw == "exponential" else rng.lognormal(0, 1.5, size=3000)
    se = x.std() / math.sqrt(x.size)
    fast = resample_means(x, n_resamples=20_000, seed=1)
    brute = x[rng.integers(0, x.size, size=(20_000, x.size))].mean(axis=1)
    assert fast.std() == pytest.approx(brute.std(), rel=0.03)
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(fast, q) == pytest.approx(np.quantile(brute, q), abs=0.1 * se)


@pytest.mark.parametrize("method,scipy_method", [("percentile", "percentile"), ("bca", "BCa")])
def test_mean_interval_agrees_with_scipy_bootstrap(method, scipy_method):
    rng = np.random.default_rng(8)
    x = rng.lognormal(0, 1, size=300)  # skewed: BCa and percentile differ
    se = x.std(ddof=1) / math.sqrt(x.size)
    ours = bootstrap_interval(x, method=method, n_resamples=50_000, seed=2)
    ref = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=50_000,
        method=scipy_method,
        random_state=np.random.default_rng(3),
    ).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.1 * se)
    assert ours.high == pytest.approx(ref.high, abs=0.1 * se)
    assert ours.method == f"bootstrap-{method}" and ours.estimate == pytest.approx(x.mean())


def test_bca_shifts_right_for_right_skewed_data():
    x = np.random.default_rng(8).lognormal(0, 1, size=300)
    pct = bootstrap_interval(x, method="percentile", seed=0)
    bca = bootstrap_interval(x, method="bca", seed=0)
    assert bca.low > pct.low and bca.high > pct.high


def test_other_statistics_go_through_scipy_bootstrap():
    x = np.random.default_rng(2).normal(size=80)
    ours = bootstrap_interval(x, statistic=np.median, method="percentile", n_resamples=2000, seed=5)
    ref = stats.bootstrap(
        (x,),
        np.median,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(5),
    )
    assert (ours.low, ours.high) == (ref.confidence_interval.low, ref.confidence_interval.high)
    assert ours.estimate == pytest.approx(np.median(x))


def test_cluster_bootstrap_matches_resampling_whole_clusters_by_hand():
    rng = np.random.default_rng(6)
    sizes = rng.integers(2, 12, size=25)
    g = np.repeat(np.arange(25), sizes)
    x = rng.normal(size=25)[g] + rng.normal(size=g.size)
    ours = cluster_bootstrap_interval(x, g, n_resamples=40_000, seed=0)
    sums, counts = np.bincount(g, weights=x), np.bincount(g).astype(float)
    picks = rng.integers(0, 25, size=(40_000, 25))
    brute = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    spread = brute.std()
    assert ours.low == pytest.approx(np.quantile(brute, 0.025), abs=0.1 * spread)
    assert ours.high == pytest.approx(np.quantile(brute, 0.975), abs=0.1 * spread)
    # Clustering widens the interval against treating the samples as independent.
    iid = bootstrap_interval(x, method="percentile", seed=0)
    assert ours.high - ours.low > 1.5 * (iid.high - iid.low)


def test_cluster_bca_is_close_to_percentile_for_symmetric_data():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(40), 5)
    x = rng.normal(size=40)[g] + rng.normal(size=200)
    pct = cluster_bootstrap_interval(x, g, method="percentile", seed=1)
    bca = cluster_bootstrap_interval(x, g, method="bca", seed=1)
    width = pct.high - pct.low
    assert abs(bca.low - pct.low) < 0.1 * width and abs(bca.high - pct.high) < 0.1 * width


def test_paired_bootstrap_is_the_bootstrap_of_the_differences():
    rng = np.random.default_rng(0)
    a = rng.random(200)
    b = a + rng.normal(0.05, 0.1, 200)
    paired = paired_bootstrap_interval(a, b, seed=4)
    direct = bootstrap_interval(b - a, seed=4)
    assert (paired.low, paired.high) == (direct.low, direct.high)
    assert paired.method == "paired-bootstrap-bca"
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap_interval(a, b[:-1])


def test_paired_bootstrap_of_100k_pairs_agrees_with_the_clt_interval():
    rng = np.random.default_rng(9)
    a = rng.normal(size=100_000)
    b = a + rng.normal(0.01, 1.0, size=100_000)
    d = b - a
    ci = paired_bootstrap_interval(a, b, n_resamples=10_000, seed=0)
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert ci.low == pytest.approx(d.mean() - 1.96 * se, abs=0.05 * se)
    assert ci.high == pytest.approx(d.mean() + 1.96 * se, abs=0.05 * se)


def test_degenerate_samples():
    const = bootstrap_interval([0.7, 0.7, 0.7])
    assert (const.low, const.high) == pytest.approx((0.7, 0.7))
    one = bootstrap_interval([3.0])
    assert (one.low, one.high) == (3.0, 3.0)
    with pytest.raises(ValueError):
        bootstrap_interval([])
    with pytest.raises(ValueError):
        bootstrap_interval([1.0, 2.0], method="studentized")
    assert math.isnan(cluster_bootstrap_interval([1.0, 2.0, 3.0], ["a", "a", "a"]).low)


def test_seeded_resampling_is_reproducible():
    x = np.random.default_rng(0).random(500)
    assert bootstrap_interval(x, seed=7) == bootstrap_interval(x, seed=7)
    assert bootstrap_interval(x, seed=7) != bootstrap_interval(x, seed=8)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=200))
def test_bootstrap_interval_contains_the_mean_and_stays_within_the_data(values):
    x = np.array(values)
    for method in ("percentile", "bca"):
        ci = bootstrap_interval(x, method=method, n_resamples=500, seed=0)
        assert x.min() - 1e-9 <= ci.low <= ci.high <= x.max() + 1e-9
        if method == "percentile" and x.max() > x.min():
            assert ci.low <= x.mean() + 1e-9 and x.mean() - 1e-9 <= ci.high
