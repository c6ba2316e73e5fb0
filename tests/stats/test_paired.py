import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assay.stats import (
    clustered_standard_error,
    mcnemar_exact,
    mcnemar_exact_counts,
    paired_difference,
    sign_flip_test,
)


def test_paired_difference_matches_scipy_paired_t_test():
    rng = np.random.default_rng(0)
    skill = rng.normal(size=150)
    a = skill + rng.normal(0, 0.5, 150)
    b = skill + 0.1 + rng.normal(0, 0.5, 150)
    result = paired_difference(a, b)
    ref = stats.ttest_rel(b, a)
    assert result.difference == pytest.approx(np.mean(b - a))
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    low, high = ref.confidence_interval(0.95)
    assert (result.interval.low, result.interval.high) == pytest.approx((low, high), rel=1e-10)
    assert result.se_paired == pytest.approx(stats.sem(b - a))


def test_pairing_shrinks_the_standard_error_by_the_between_run_correlation():
    rng = np.random.default_rng(1)
    skill = rng.normal(size=400)
    a = skill + rng.normal(0, 0.6, 400)
    b = skill + rng.normal(0, 0.6, 400)
    r = paired_difference(a, b)
    var_a, var_b = a.var(ddof=1), b.var(ddof=1)
    assert r.se_unpaired == pytest.approx(math.sqrt((var_a + var_b) / 400))
    assert r.correlation == pytest.approx(np.corrcoef(a, b)[0, 1])
    # Var(b - a) = Var(a) + Var(b) - 2 cov: the SE ratio follows from the correlation alone.
    expected_ratio = math.sqrt(1 - 2 * r.correlation * math.sqrt(var_a * var_b) / (var_a + var_b))
    assert r.se_paired / r.se_unpaired == pytest.approx(expected_ratio, rel=1e-10)
    assert r.se_reduction > 0.4 and r.sample_size_factor == pytest.approx(
        1 / (1 - r.se_reduction) ** 2
    )


def test_clustered_paired_errors_are_the_clustered_se_of_the_differences():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(12), 10)
    a = rng.random(120)
    b = a + rng.normal(0, 0.2, 12)[g] + rng.normal(0, 0.1, 120)
    r = paired_difference(a, b, clusters=g)
    assert r.se_clustered == pytest.approx(clustered_standard_error(b - a, g).standard_error)
    assert r.n_clusters == 12 and r.se_clustered > 2 * r.se_paired
    q = stats.t.ppf(0.975, df=11)
    assert r.clustered_interval.high - r.clustered_interval.low == pytest.approx(
        2 * q * r.se_clustered
    )
    assert r.clustered_p_value == pytest.approx(
        2 * stats.t.sf(abs(r.difference / r.se_clustered), 11)
    )


def test_paired_difference_edge_cases():
    with pytest.raises(ValueError, match="share no sample"):
        paired_difference([], [])
    with pytest.raises(ValueError, match="join them by sample id"):
        paired_difference([1, 0], [1])
    one = paired_difference([0.0], [1.0])
    assert one.difference == 1.0 and math.isnan(one.interval.low) and math.isnan(one.p_value)
    same = paired_difference([1, 0, 1], [1, 0, 1])
    assert same.p_value == 1.0 and same.interval.low == same.interval.high == 0.0
    shifted = paired_difference([0, 0, 0], [1, 1, 1])
    assert shifted.p_value == 0.0 and math.isnan(shifted.correlation)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_exact_matches_the_two_sided_binomial_test(a_only, b_only):
    result = mcnemar_exact_counts(a_only, b_only)
    expected = 1.0 if a_only + b_only == 0 else stats.binomtest(b_only, a_only + b_only, 0.5).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert result.p_value == mcnemar_exact_counts(b_only, a_only).p_value  # symmetric


def test_mcnemar_counts_discordant_pairs_from_outcomes():
    a = [1, 1, 0, 0, 1, 0, 1]
    b = [1, 0, 1, 1, 1, 1, 0]
    r = mcnemar_exact(a, b)
    assert (r.a_only, r.b_only, r.n_discordant) == (2, 3, 5)
    with pytest.raises(ValueError, match="pass/fail"):
        mcnemar_exact([0.5, 1], [1, 1])


def test_sign_flip_is_exact_for_small_samples():
    d = np.array([0.3, 1.2, 0.5, 0.9, -0.2, 0.7, 0.0, 1.1])
    r = sign_flip_test(np.zeros(8), d)
    nonzero = d[d != 0]
    patterns = np.array(np.meshgrid(*[[-1, 1]] * nonzero.size)).reshape(nonzero.size, -1).T
    expected = np.mean(np.abs(patterns @ nonzero) >= abs(nonzero.sum()) - 1e-12)
    assert r.exact and r.n_resamples == 2**7
    assert r.p_value == pytest.approx(expected)


def test_sign_flip_monte_carlo_agrees_with_the_exact_enumeration():
    rng = np.random.default_rng(3)
    d = rng.normal(0.4, 1.0, size=18)
    exact = sign_flip_test(np.zeros(18), d, n_resamples=2**18)
    sampled = sign_flip_test(np.zeros(18), d, n_resamples=20_000, seed=1)
    assert exact.exact and not sampled.exact
    assert sampled.p_value == pytest.approx(
        exact.p_value, abs=4 * math.sqrt(exact.p_value / 20_000) + 1e-4
    )


def test_sign_flip_on_pass_fail_pairs_agrees_with_mcnemar():
    # On 0/1 pairs the sign-flip test is McNemar's exact test (only discordant pairs flip).
    a = np.r_[np.ones(50), np.zeros(40), np.ones(3), np.zeros(11)]
    b = np.r_[np.ones(50), np.zeros(40), np.zeros(3), np.ones(11)]
    flip = sign_flip_test(a, b, n_resamples=200_000, seed=0)
    assert flip.p_value == pytest.approx(mcnemar_exact(a, b).p_value, abs=0.003)
    assert sign_flip_test([1, 1], [1, 1]).p_value == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=40))
def test_swapping_the_runs_negates_the_difference_and_keeps_the_p_values(pairs):
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    ab, ba = paired_difference(a, b), paired_difference(b, a)
    assert ab.difference == pytest.approx(-ba.difference, abs=1e-12)
    if not math.isnan(ab.p_value):
        assert ab.p_value == pytest.approx(ba.p_value, abs=1e-9)
        assert ab.interval.low == pytest.approx(-ba.interval.high, abs=1e-9)
    assert sign_flip_test(a, b).p_value == pytest.approx(sign_flip_test(b, a).p_value)
    assert 0 <= ab.p_value <= 1 or math.isnan(ab.p_value)
