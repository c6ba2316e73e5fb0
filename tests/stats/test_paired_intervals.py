"""Score intervals for differences of proportions (issue 13, item 6).

Coverage is computed exactly, by enumerating every paired table of n samples with its
multinomial probability, not estimated by simulation; one seeded simulation checks the
enumeration itself.
"""

import numpy as np
import pytest
from scipy.special import bdtr, gammaln

from assay.analyse.paired_estimators import mcnemar_consistent_interval
from assay.stats import mcnemar_exact_counts
from assay.stats.paired_intervals import (
    newcombe_paired_interval,
    paired_proportion_difference,
    tango_bounds,
    tango_interval,
    tango_p_value,
    unpaired_proportion_difference,
)


def test_tango_matches_the_published_cavo_2012_interval():
    # Fagerland, Lydersen & Laake (2017), §8.5; R contingencytables: 59/6/16/80, N = 161,
    # estimate -0.0621 (95% CI -0.1240 to -0.0054). Δ = (6 - 16)/161: 6 "B only", 16 "A only".
    i = tango_interval(6, 16, 161)
    assert i.estimate == pytest.approx(-0.0621, abs=5e-5)
    assert (i.low, i.high) == (pytest.approx(-0.1240, abs=5e-5), pytest.approx(-0.0054, abs=5e-5))


def test_newcombe_paired_matches_the_published_cavo_2012_interval():
    i = newcombe_paired_interval(59, 6, 16, 80)
    assert (i.low, i.high) == (pytest.approx(-0.1186, abs=5e-5), pytest.approx(-0.0046, abs=5e-5))


def test_unpaired_intervals_match_newcombe_1998_table_ii():
    # Newcombe (1998), Stat Med 17:873, Table II, example (a): 56/70 - 48/80.
    mn = unpaired_proportion_difference(48, 80, 56, 70)
    assert (mn.low, mn.high) == (pytest.approx(0.0528, abs=5e-5), pytest.approx(0.3382, abs=5e-5))
    nc = unpaired_proportion_difference(48, 80, 56, 70, method="newcombe")
    assert (nc.low, nc.high) == (pytest.approx(0.0524, abs=5e-5), pytest.approx(0.3339, abs=5e-5))


def test_the_probe_that_printed_plus_102_points_stays_inside_100():
    # n = 20, 17 samples only B got right, 1 only A: the paired t interval reached +102.7 pts.
    a = np.array([0.0] * 17 + [1.0] + [1.0] * 2)
    b = np.array([1.0] * 17 + [0.0] + [1.0] * 2)
    t_high = (b - a).mean() + 2.093 * (b - a).std(ddof=1) / np.sqrt(20)
    assert t_high > 1.0  # what the t interval did
    p = paired_proportion_difference(a, b)
    assert -1 <= p.interval.low < p.interval.estimate < p.interval.high <= 1
    for b_only in range(21):
        for a_only in range(21 - b_only):
            i = tango_interval(b_only, a_only, 20)
            assert -1 <= i.low <= i.estimate <= i.high <= 1


def test_tango_excludes_zero_exactly_when_mcnemars_asymptotic_test_rejects():
    # Z(0) is McNemar's statistic, so the equivalence is exact on every table.
    n = 200
    b, a = np.array([(b, a) for b in range(n + 1) for a in range(n + 1 - b)]).T
    low, high = tango_bounds(b, a, n)
    excludes = (low > 0) | (high < 0)
    z = np.where(b + a > 0, (b - a) / np.sqrt(np.maximum(b + a, 1)), 0)
    assert np.array_equal(excludes, np.abs(z) > 1.959963984540054)


def _tables(n):
    b, a = np.array([(b, a) for b in range(n + 1) for a in range(n + 1 - b)]).T
    return b, a


def _exact_p(b, a):
    return np.where(b + a == 0, 1.0, np.minimum(1.0, 2 * bdtr(np.minimum(b, a), b + a, 0.5)))


def test_the_compare_interval_excludes_zero_exactly_when_mcnemars_exact_test_rejects():
    # Tango alone disagrees with the exact test on 0.9-6.1% of tables (exact p up to 0.125,
    # e.g. 4 discordant pairs all one way); the interval compare prints never does.
    for n in (20, 50, 200):
        b, a = _tables(n)
        p = _exact_p(b, a)
        low, high = tango_bounds(b, a, n)
        tango_disagrees = ((low > 0) | (high < 0)) != (p < 0.05)
        assert tango_disagrees.any() and p[tango_disagrees].max() == pytest.approx(0.125)
        keep = p >= 0.05  # what mcnemar_consistent_interval does, on every table at once
        low, high = (
            np.where(keep, np.minimum(low, 0), low),
            np.where(keep, np.maximum(high, 0), high),
        )
        assert np.array_equal((low > 0) | (high < 0), p < 0.05)
    b, a = _tables(20)  # the function itself, table by table
    for bi, ai, pi in zip(b, a, _exact_p(b, a), strict=True):
        assert mcnemar_exact_counts(int(ai), int(bi)).p_value == pytest.approx(pi)
        i = mcnemar_consistent_interval(int(bi), int(ai), 20, float(pi), 0.05, 0.95)
        assert (i.low > 0 or i.high < 0) == (pi < 0.05)


def _exact_coverage(n, p_b_only, p_a_only):
    b, a = _tables(n)
    c = n - b - a
    log_p = (
        gammaln(n + 1) - gammaln(b + 1) - gammaln(a + 1) - gammaln(c + 1)
        + b * np.log(p_b_only) + a * np.log(p_a_only) + c * np.log(1 - p_b_only - p_a_only)
    )  # fmt: skip
    p = _exact_p(b, a)
    low, high = tango_bounds(b, a, n)
    keep = p >= 0.05  # the compare interval: widened to 0 when the exact test does not reject
    low, high = np.where(keep, np.minimum(low, 0), low), np.where(keep, np.maximum(high, 0), high)
    delta = p_b_only - p_a_only
    return float(np.sum(np.exp(log_p) * ((low <= delta + 1e-12) & (delta <= high + 1e-12))))


DISCORDANCE = (0.05, 0.1, 0.2, 0.4)
SHARE_B = (0.65, 0.8)  # of the discordant pairs, the share B wins: Δ = disc·(2·share − 1) ≠ 0


@pytest.mark.parametrize("n", [20, 50, 200])
def test_compare_interval_covers_at_94_to_96_5_percent(n):
    # Measured (exact): n = 20: 95.2-95.4% at 40% discordance; n = 50: 94.4-96.4% from 10%;
    # n = 200: 94.2-95.1% everywhere. With fewer than 5 discordant pairs expected (n = 20 at
    # 5-20%, n = 50 at 5%) every interval that covers is conservative: 96.3-100% there.
    for disc in DISCORDANCE:
        for share in SHARE_B:
            coverage = _exact_coverage(n, disc * share, disc * (1 - share))
            if n * disc >= 5:
                assert 0.94 <= coverage <= 0.965, (n, disc, share, coverage)
            else:
                assert coverage >= 0.95, (n, disc, share, coverage)


@pytest.mark.parametrize("n", [20, 50, 200])
def test_at_no_difference_coverage_is_one_minus_the_exact_tests_size(n):
    # Δ = 0: the interval covers unless McNemar's exact test rejects, so coverage ≥ 95%.
    for disc in DISCORDANCE:
        assert _exact_coverage(n, disc / 2, disc / 2) >= 0.95


def test_exact_coverage_agrees_with_a_seeded_simulation():
    rng = np.random.default_rng(20261204)
    n, p_b, p_a = 50, 0.16, 0.04
    draws = rng.multinomial(n, [p_b, p_a, 1 - p_b - p_a], size=4000)
    low, high = tango_bounds(draws[:, 0], draws[:, 1], n)
    p = _exact_p(draws[:, 0], draws[:, 1])
    low, high = (
        np.where(p >= 0.05, np.minimum(low, 0), low),
        np.where(p >= 0.05, np.maximum(high, 0), high),
    )
    simulated = np.mean((low <= p_b - p_a) & (p_b - p_a <= high))
    assert simulated == pytest.approx(_exact_coverage(n, p_b, p_a), abs=0.01)  # 3.5 SE


def test_tango_one_sided_p_value_decides_non_inferiority_like_the_bound():
    # H0: Δ ≤ −δ rejected at α = 0.05 exactly when the 90% interval's lower end exceeds −δ.
    for b_only, a_only in ((10, 12), (3, 9), (20, 5), (0, 0), (4, 0)):
        low = tango_interval(b_only, a_only, 100, 0.90).low
        for delta in (0.02, 0.05, 0.1):
            p = tango_p_value(b_only, a_only, 100, -delta, "greater")
            assert (p < 0.05) == (low > -delta), (b_only, a_only, delta, p, low)
