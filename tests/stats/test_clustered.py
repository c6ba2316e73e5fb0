import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import clustered_interval, clustered_standard_error, t_interval


def _statsmodels_cluster_se(x, groups, correction):
    # An intercept-only OLS: its coefficient is the mean, its cluster-robust SE Miller's App. A
    # estimator; statsmodels' small-sample factor for one regressor is exactly C/(C-1).
    fit = sm.OLS(x, np.ones_like(x)).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": correction}
    )
    return float(fit.bse[0])


@pytest.mark.parametrize("correction", [True, False])
def test_clustered_se_matches_statsmodels_cluster_robust_ols(correction):
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 23, size=500)
    effect = rng.normal(0, 1, size=23)
    x = effect[groups] + rng.normal(0, 1, size=500)
    ours = clustered_standard_error(x, groups, finite_cluster_correction=correction)
    assert ours.standard_error == pytest.approx(
        _statsmodels_cluster_se(x, groups, correction), rel=1e-10
    )
    assert ours.n_clusters == 23 and ours.corrected is correction


def test_cr1_over_cr0_is_exactly_c_over_c_minus_1():
    rng = np.random.default_rng(0)
    x, g = rng.random(200), rng.integers(0, 10, 200)
    cr1 = clustered_standard_error(x, g).standard_error
    cr0 = clustered_standard_error(x, g, finite_cluster_correction=False).standard_error
    assert (cr1 / cr0) ** 2 == pytest.approx(10 / 9, rel=1e-12)


def test_singleton_clusters_with_correction_equal_the_classic_standard_error():
    x = np.array([0.2, 0.9, 0.4, 0.7, 0.65, 0.3, 0.8])
    se = clustered_standard_error(x, np.arange(7)).standard_error
    assert se == pytest.approx(t_interval(x).standard_error, rel=1e-12)
    assert clustered_standard_error(x, np.arange(7)).design_effect == pytest.approx(1.0)


def test_shared_cluster_outcomes_inflate_the_standard_error():
    # Ten clusters of ten identical answers: really 10 observations, not 100.
    x = np.repeat([1, 0, 1, 1, 0, 1, 0, 1, 1, 1], 10).astype(float)
    g = np.repeat(np.arange(10), 10)
    clustered = clustered_standard_error(x, g)
    naive = x.std(ddof=1) / math.sqrt(100)
    assert clustered.standard_error > 2.5 * naive
    assert clustered.design_effect == pytest.approx((clustered.standard_error / naive) ** 2)
    # ... and equals the SE of the ten cluster means (up to C/(C-1) vs ddof conventions).
    means = x.reshape(10, 10).mean(axis=1)
    assert clustered.standard_error == pytest.approx(means.std(ddof=1) / math.sqrt(10), rel=1e-12)


def test_fewer_than_two_clusters_give_nan_not_zero():
    one = clustered_standard_error([0.0, 1.0, 1.0], ["doc", "doc", "doc"])
    assert math.isnan(one.standard_error) and one.mean == pytest.approx(2 / 3)
    assert math.isnan(clustered_interval([0.0, 1.0], ["a", "a"]).low)
    empty = clustered_standard_error([], [])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_string_and_integer_labels_give_the_same_answer():
    rng = np.random.default_rng(1)
    x, g = rng.random(50), rng.integers(0, 7, 50)
    assert clustered_standard_error(x, g).standard_error == pytest.approx(
        clustered_standard_error(x, [f"doc-{i}" for i in g]).standard_error
    )
    with pytest.raises(ValueError, match="one cluster label per value"):
        clustered_standard_error(x, g[:10])


def test_clustered_interval_uses_t_with_clusters_minus_one_degrees_of_freedom():
    from scipy import stats

    rng = np.random.default_rng(5)
    x, g = rng.random(120), np.repeat(np.arange(6), 20)
    ci = clustered_interval(x, g, 0.9)
    se = clustered_standard_error(x, g).standard_error
    q = stats.t.ppf(0.95, df=5)
    assert (ci.low, ci.high) == pytest.approx((x.mean() - q * se, x.mean() + q * se), rel=1e-12)
    assert ci.method == "clustered" and ci.standard_error == pytest.approx(se)
    assert clustered_interval(x, g, finite_cluster_correction=False).method == "clustered-cr0"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=4, max_size=60),
    st.integers(2, 6),
    st.floats(-50, 50, allow_nan=False),
)
def test_clustered_se_is_shift_invariant_and_scales_with_the_data(values, n_groups, shift):
    x = np.array(values)
    g = np.arange(x.size) % n_groups
    base = clustered_standard_error(x, g).standard_error
    assert clustered_standard_error(x + shift, g).standard_error == pytest.approx(base, abs=1e-6)
    assert clustered_standard_error(3 * x, g).standard_error == pytest.approx(3 * base, abs=1e-6)
    assert base >= 0
