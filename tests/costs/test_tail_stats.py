"""The estimators behind the cost and latency reports: published values and coverage by
simulation (seeds and measured rates stated in each test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, quantile_test

from assay.stats.baselines import trailing_ratios
from assay.stats.concentration import concentration, gini, lorenz_curve, top_share
from assay.stats.correlation import spearman_interval
from assay.stats.decomposition import shapley_factors
from assay.stats.forecast import forecast_total, percentile_mixture
from assay.stats.quantiles import (
    adequacy_warnings,
    order_statistic_bounds,
    quantile_intervals,
    samples_needed,
)
from assay.stats.survival import censored_quantiles, exceedance, smallest_cap


@pytest.mark.parametrize("n,q", [(20, 0.5), (101, 0.9), (1000, 0.99), (5000, 0.999)])
def test_order_statistic_interval_is_scipys_quantile_test_interval(n: int, q: float) -> None:
    x = np.random.default_rng(n).lognormal(0, 1, n)
    ci = quantile_test(x, q=1.0, p=q).confidence_interval(0.95)
    (est,) = quantile_intervals(x, [q])
    expected_low = ci.low if not math.isnan(ci.low) else None
    expected_high = ci.high if not math.isnan(ci.high) else None
    got = est.as_dict()
    assert (got["low"], got["high"]) == (expected_low, expected_high)
    assert est.estimate == pytest.approx(np.percentile(x, 100 * q))


def test_order_statistic_bounds_published_example() -> None:
    # Hahn & Meeker (1991) Table A.15 / Conover (1999) ex. 3.2.x: for n = 20 the 95% interval
    # of the median runs from the 6th to the 15th order statistic.
    low, high = order_statistic_bounds(20, 0.5, 0.95)
    assert (low + 1, high + 1) == (6, 15)


def test_quantile_intervals_cover_the_true_quantile_at_their_stated_rate() -> None:
    """Seed 11, 2,000 lognormal(0, 1) samples of n = 400 per quantile. Measured coverage of the
    nominal 95% interval: p50 0.956, p90 0.960, p99 0.965 (the interval is exact-conservative:
    ≥ 95% for any continuous distribution)."""
    rng = np.random.default_rng(11)
    reps, n = 2000, 400
    qs = (0.5, 0.9, 0.99)
    hits = dict.fromkeys(qs, 0)
    for _ in range(reps):
        x = rng.lognormal(0, 1, n)
        for est in quantile_intervals(x, qs):
            truth = math.exp(norm.ppf(est.q))
            hits[est.q] += est.low <= truth <= est.high
    rates = {q: hits[q] / reps for q in qs}
    for q, rate in rates.items():
        assert 0.94 <= rate <= 0.985, (q, rate)


def test_kaplan_meier_intervals_cover_under_censoring_at_a_cap() -> None:
    """Seed 12, 600 samples of n = 500 lognormal(5, 0.8) lengths cut at the true p95 (5%
    censored). Measured coverage of the nominal 95% Brookmeyer–Crowley interval: p50 0.957,
    p90 0.952."""
    rng = np.random.default_rng(12)
    cap = math.exp(5 + 0.8 * norm.ppf(0.95))
    reps = 600
    hits = {0.5: 0, 0.9: 0}
    for _ in range(reps):
        x = rng.lognormal(5, 0.8, 500)
        cut = x >= cap
        for est in censored_quantiles(np.minimum(x, cap), cut, (0.5, 0.9)):
            truth = math.exp(5 + 0.8 * norm.ppf(est.q))
            hits[est.q] += est.low <= truth <= est.high
    for q, k in hits.items():
        assert 0.92 <= k / reps <= 0.98, (q, k / reps)


def test_quantiles_beyond_the_cap_are_hidden_not_guessed() -> None:
    x = np.arange(1, 1001, dtype=float)
    cut = x >= 950
    (p99,) = censored_quantiles(np.minimum(x, 950), cut, [0.99])
    assert math.isnan(p99.estimate) and p99.censored == 51
    assert math.isnan(exceedance(np.minimum(x, 950), cut, 980).share)
    assert exceedance(np.minimum(x, 950), cut, 900).share == pytest.approx(0.1)
    assert smallest_cap(x, np.zeros(1000, bool), 0.005) == 995.0


def test_sample_adequacy_rule() -> None:
    assert samples_needed(0.995) == 20_000 and samples_needed(0.99) == 10_000
    assert samples_needed(0.5) == 200
    assert adequacy_warnings(1000, (0.5, 0.99, 0.995)) == [
        "insufficient_samples_for_p99",
        "insufficient_samples_for_p99.5",
    ]


def test_gini_published_values() -> None:
    assert gini([1, 2, 3, 4, 5]) == pytest.approx(4 / 15)  # (2·Σ i·xᵢ)/(nΣx) − (n+1)/n
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # 1 − 1/n
    # Lognormal: G = 2Φ(σ/√2) − 1 (Aitchison & Brown 1957); σ = 1 → 0.5205. Pareto α = 3 → 1/5.
    lognormal = np.random.default_rng(1).lognormal(0, 1, 400_000)
    assert gini(lognormal) == pytest.approx(2 * norm.cdf(1 / math.sqrt(2)) - 1, abs=0.003)
    pareto = np.random.default_rng(2).pareto(3, 400_000) + 1
    assert gini(pareto) == pytest.approx(0.2, abs=0.004)


def test_top_share_and_lorenz() -> None:
    values = [1.0] * 99 + [66.0]  # one unit of 100 holds 40%
    assert top_share(values, 0.01) == pytest.approx(0.4)
    _p, curve = lorenz_curve(values, 101)
    assert curve[0] == 0 and curve[-1] == pytest.approx(1.0)
    assert curve[99] == pytest.approx(0.6)  # the poorest 99% hold 60%


def test_concentration_intervals_cover_the_population_top_share() -> None:
    """Seed 13, 200 samples of 1,000 users with lognormal(0, 1) spend, 200 bootstrap resamples
    each. The population's top-10% share is 1 − Φ(Φ⁻¹(0.9) − σ) = 0.389 (Lorenz of the
    lognormal). Measured coverage of the nominal 95% percentile-bootstrap interval: 0.915
    (the percentile bootstrap of a top share is known to run a little narrow at n = 1,000)."""
    rng = np.random.default_rng(13)
    truth = 1 - norm.cdf(norm.ppf(0.9) - 1.0)
    reps = 200
    hits = 0
    for k in range(reps):
        c = concentration(rng.lognormal(0, 1, 1000), (0.1,), n_resamples=200, seed=k)
        iv = c.top_shares[0.1]
        hits += iv.low <= truth <= iv.high
    assert 0.88 <= hits / reps <= 0.99


def test_forecast_fan_holds_the_future_total_at_its_stated_rate() -> None:
    """Seed 14, 300 worlds: observe 400 users (lognormal(0, 1) spend), forecast 1,000 new
    users, draw their real total. Measured share of real totals inside the 5–95% fan: 0.88
    (nominal 0.90; heavy tails make the bootstrap slightly narrow at n = 400)."""
    rng = np.random.default_rng(14)
    reps, inside = 300, 0
    for k in range(reps):
        observed = rng.lognormal(0, 1, 400)
        fan = forecast_total(observed, 1000, n_resamples=400, seed=k).quantiles
        future = rng.lognormal(0, 1, 1000).sum()
        inside += fan[0.05] <= future <= fan[0.95]
    assert 0.84 <= inside / reps <= 0.96


def test_forecast_expected_total_and_mixture() -> None:
    x = np.arange(1.0, 101.0)
    f = forecast_total(x, 50, n_resamples=300)
    assert f.expected == pytest.approx(50 * x.mean())
    mixture = percentile_mixture(x)
    assert [m["units"] for m in mixture] == [50, 40, 9, 1]
    assert mixture[-1]["share_of_total"] == pytest.approx(100 / x.sum())
    clt = forecast_total(x, 1e7, n_resamples=200)
    assert "CLT" in clt.method and clt.quantiles[0.05] < clt.expected < clt.quantiles[0.95]


def test_shapley_factors_multiply_to_the_ratio_and_split_a_product_exactly() -> None:
    def f(d):  # type: ignore[no-untyped-def]
        return d["a"] * d["b"] * (d["c"] + 1)

    base, target = {"a": 1.0, "b": 2.0, "c": 1.0}, {"a": 3.0, "b": 2.0, "c": 3.0}
    factors = shapley_factors(f, base, target)
    assert math.prod(factors.values()) == pytest.approx(f(target) / f(base))
    assert factors["a"] == pytest.approx(3.0) and factors["b"] == pytest.approx(1.0)
    assert factors["c"] == pytest.approx(2.0)


def test_spearman_interval_matches_scipy_and_covers() -> None:
    """Seed 15, 500 samples of n = 200 bivariate normal pairs with ρ_pearson = 0.6, whose
    Spearman ρ is (6/π)·asin(0.3) = 0.5821. Measured coverage of the 95% Fisher-z interval
    (variance 1.06/(n − 3)): 0.97."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(15)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert spearman_interval(x, y).estimate == pytest.approx(spearmanr(x, y).statistic)
    truth = 6 / math.pi * math.asin(0.3)
    cov = [[1, 0.6], [0.6, 1]]
    hits = 0
    for _ in range(500):
        a, b = rng.multivariate_normal([0, 0], cov, 200).T
        iv = spearman_interval(a, b)
        hits += iv.low <= truth <= iv.high
    assert 0.92 <= hits / 500 <= 0.98


def test_trailing_ratios_and_the_loop_detectors_false_alarm_rate() -> None:
    """Seed 16: 500 jobs × 60 days of lognormal(0, 1) daily spend (heavy day-to-day noise) and
    an independent 5% chance per job-day that a trace shows an identical tool call repeated
    (legitimate polling). Measured: the spend rule alone (≥ 10× the trailing 7-day mean) fires
    on 0.66% of job-days; with the signature required, agent_loop_suspected fires on 0.04% —
    under the stated 0.1%."""
    ratios, baselines = trailing_ratios([[1, 1, 1, 1, 1, 1, 1, 10, 0]], window=7, min_history=3)
    assert math.isnan(ratios[0, 2]) and ratios[0, 3] == 1.0 and ratios[0, 7] == 10.0
    assert baselines[0, 8] == pytest.approx(16 / 7)
    rng = np.random.default_rng(16)
    daily = rng.lognormal(0, 1, (500, 60))
    ratios, _ = trailing_ratios(daily)
    valid = ~np.isnan(ratios)
    spikes = (ratios >= 10) & valid
    signature = rng.random(daily.shape) < 0.05
    spike_rate = spikes.sum() / valid.sum()
    alarm_rate = (spikes & signature).sum() / valid.sum()
    assert spike_rate < 0.01
    assert alarm_rate < 0.001
