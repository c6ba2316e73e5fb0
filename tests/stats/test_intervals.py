import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from assay.stats import is_binary, mean_interval, t_interval, wilson_interval


def test_wilson_matches_published_82_of_100():
    # REQUIREMENTS B (computed value quoted in the statistical-power essay): 82/100 -> 73.3%-88.3%.
    ci = wilson_interval(82, 100)
    assert ci.estimate == pytest.approx(0.82)
    assert ci.low == pytest.approx(0.733, abs=5e-4)
    assert ci.high == pytest.approx(0.883, abs=5e-4)


def test_wilson_matches_closed_form():
    k, n, z = 37, 140, sps.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    ci = wilson_interval(k, n)
    assert ci.low == pytest.approx(centre - half, rel=1e-12)
    assert ci.high == pytest.approx(centre + half, rel=1e-12)


def test_wilson_edges():
    assert math.isnan(wilson_interval(0, 0).low)
    zero = wilson_interval(0, 20)
    assert zero.low == pytest.approx(0.0, abs=1e-12) and 0.1 < zero.high < 0.2
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_t_interval_matches_scipy():
    x = np.array([0.2, 0.9, 0.4, 0.7, 0.65, 0.3, 0.8])
    low, high = sps.t.interval(0.95, df=len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    ci = t_interval(x)
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-12)
    assert math.isnan(t_interval([1.0]).low)
    assert t_interval([2.0, 2.0, 2.0]).half_width == 0.0


def test_mean_interval_chooses_method():
    assert mean_interval([1, 0, 1, 1]).method == "wilson"
    assert mean_interval([1, 0.5, 1, 0]).method == "t"
    assert is_binary([0.0, 1.0]) and not is_binary([]) and not is_binary([0.5])


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )
)
def test_wilson_contains_estimate_and_stays_in_unit_interval(kn):
    k, n = kn
    ci = wilson_interval(k, n)
    assert 0.0 <= ci.low <= ci.estimate <= ci.high <= 1.0


@pytest.mark.parametrize("p,n", [(0.82, 100), (0.5, 60), (0.1, 200)])
def test_wilson_coverage_by_simulation(p, n):
    rng = np.random.default_rng(20261122)
    draws = rng.binomial(n, p, size=4000)
    covered = np.mean(
        [wilson_interval(int(k), n).low <= p <= wilson_interval(int(k), n).high for k in draws]
    )
    # Wilson's coverage oscillates around the nominal level; for these n it stays within ~2 points.
    assert 0.925 <= covered <= 0.975


def test_t_interval_coverage_by_simulation():
    rng = np.random.default_rng(7)
    truth = 0.3
    hits = 0
    trials = 3000
    for _ in range(trials):
        ci = t_interval(rng.normal(truth, 1.0, size=25))
        hits += ci.low <= truth <= ci.high
    assert 0.94 <= hits / trials <= 0.96


def test_wilson_equals_statsmodels_proportion_confint():
    # The closed form is evaluated in assay (statsmodels' import costs 1.2-2.6 s of every
    # `assay show`); statsmodels' own routine is the oracle.
    from statsmodels.stats.proportion import proportion_confint

    for n in (1, 2, 3, 7, 20, 100, 969, 10_000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for confidence in (0.8, 0.9, 0.95, 0.99):
                ci = wilson_interval(k, n, confidence)
                low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
                assert ci.low == pytest.approx(low, abs=1e-12)
                assert ci.high == pytest.approx(high, abs=1e-12)


def test_clip_to_unit_keeps_rates_in_0_1_without_losing_coverage():
    # B4 (issue 20): per-sample pass rates over 5 epochs near 100%; the t interval passes 1.
    import numpy as np

    from assay.stats import Interval, clip_to_unit, t_interval

    rates = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.8])
    raw = t_interval(rates)
    clipped = clip_to_unit(raw)
    assert raw.high > 1 and clipped.high == 1.0 and clipped.low == raw.low
    assert clipped.estimate == raw.estimate and clipped.method == raw.method
    inside = Interval(0.5, 0.4, 0.6, 10, "wilson")
    assert clip_to_unit(inside) is inside
    undefined = Interval(1.0, float("nan"), float("nan"), 1, "t")
    assert clip_to_unit(undefined) is undefined
    # Coverage by simulation: 6 samples x 5 epochs at a true rate of 0.97. Clipping never
    # turns a covering interval into a missing one, so coverage is identical, and every
    # clipped interval lies in [0, 1].
    rng = np.random.default_rng(20)
    covered_raw = covered_clipped = 0
    for _ in range(2000):
        means = rng.binomial(5, 0.97, size=6) / 5
        a = t_interval(means)
        b = clip_to_unit(a)
        if np.isnan(a.low):
            continue
        assert 0.0 <= b.low <= b.high <= 1.0
        covered_raw += a.low <= 0.97 <= a.high
        covered_clipped += b.low <= 0.97 <= b.high
    assert covered_raw == covered_clipped
