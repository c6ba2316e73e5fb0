"""Unpaired differences: Newcombe's published example, Welch against scipy, the bootstrap ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.stats.unpaired import median_ratio, newcombe_difference, welch_difference


def test_newcombe_reproduces_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, method 10: 56/70 - 48/80.
    d = newcombe_difference(56, 70, 48, 80)
    assert d.estimate == pytest.approx(0.2)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)
    assert d.excludes(0.0)
    assert math.isnan(newcombe_difference(0, 0, 3, 10).low)


def test_welch_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 2, 30), rng.normal(0, 1, 50)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval()
    d = welch_difference(a, b)
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high))
    assert math.isnan(welch_difference([1.0], [2.0, 3.0]).low)


def test_median_ratio_covers_the_true_ratio() -> None:
    # 200 pairs of lognormal samples whose medians differ by 1.6x: the 95% interval covers
    # 1.6 in at least 90% of them (seeds 0..199).
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        before = np.exp(rng.normal(5, 0.6, 120))
        after = np.exp(rng.normal(5 + math.log(1.6), 0.6, 80))
        d = median_ratio(after, before, resamples=400, seed=seed)
        covered += d.low <= 1.6 <= d.high
    assert covered >= 180
