import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import (
    best_epochs,
    estimate_paired_variance,
    minimum_detectable_effect,
    paired_minimum_detectable_effect,
    paired_power,
    paired_sample_size,
    two_proportion_mde,
    two_proportion_sample_size,
)


def test_two_proportion_sample_size_matches_the_closed_form():
    from scipy.stats import norm

    p0, p1 = 0.6, 0.7
    pbar = (p0 + p1) / 2
    z_a, z_b = norm.ppf(0.975), norm.ppf(0.9)
    n = (
        z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    ) ** 2 / 0.01
    assert two_proportion_sample_size(p0, p1, power=0.9) == math.ceil(n)
    # one-sided needs fewer; symmetric in direction
    assert two_proportion_sample_size(p0, p1, two_sided=False) < two_proportion_sample_size(p0, p1)
    assert two_proportion_sample_size(0.82, 0.85) == two_proportion_sample_size(0.85, 0.82)


def test_two_proportion_mde_inverts_the_sample_size():
    mde = two_proportion_mde(0.82, 2402)
    assert mde == pytest.approx(0.03, abs=2e-4)
    down = two_proportion_mde(0.82, 2402, direction="decrease")
    assert 0.025 < down < 0.035
    # From 0.99 no 5-sample study can see anything.
    assert math.isnan(two_proportion_mde(0.99, 5))


def test_power_inputs_are_validated():
    with pytest.raises(ValueError, match="equal"):
        two_proportion_sample_size(0.5, 0.5)
    with pytest.raises(ValueError, match="strictly between"):
        two_proportion_sample_size(0.0, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        paired_sample_size(0.1, 0.1, alpha=1.5)
    with pytest.raises(ValueError, match="delta"):
        paired_sample_size(0.0, 0.1)


def test_minimum_detectable_effect_is_2_8_standard_errors_at_the_defaults():
    assert minimum_detectable_effect(1.0) == pytest.approx(2.8016, abs=1e-4)
    assert math.isnan(minimum_detectable_effect(math.nan))


def test_within_sample_noise_needs_more_samples_and_epochs_buy_it_back():
    base = paired_sample_size(0.03, 1 / 9)
    noisy = paired_sample_size(0.03, 1 / 9, within_variance=0.2)
    four_epochs = paired_sample_size(0.03, 1 / 9, within_variance=0.2, epochs=4)
    assert base == 969 < four_epochs < noisy
    # n scales with the variance: (1/9 + 0.2) / (1/9) = 2.8
    assert noisy == pytest.approx(969 * 2.8, rel=0.002)


def test_paired_power_at_the_required_n_reaches_the_target_power():
    for delta, omega2 in ((0.03, 1 / 9), (0.1, 0.5), (0.01, 0.02)):
        n = paired_sample_size(delta, omega2)
        assert 0.8 <= paired_power(delta, n, omega2) < 0.8 + 0.01
        assert paired_power(delta, n - 1, omega2) < 0.8
        assert paired_minimum_detectable_effect(n, omega2) <= delta


def test_best_epochs_prefers_more_questions_when_they_are_free():
    plan = best_epochs(budget=2000, omega2=0.05, within_variance=0.1)
    assert plan.best.epochs == 1 and plan.best.n == 2000


def test_best_epochs_follows_the_two_stage_optimum_when_samples_are_costly():
    # K* = sqrt(σ²·c_s/ω²) = sqrt(0.2 * 9 / 0.05) = 6
    plan = best_epochs(budget=30_000, omega2=0.05, within_variance=0.2, cost_per_sample=9)
    assert plan.best.epochs == 6
    ses = [o.standard_error for o in plan.options]
    assert min(ses) == plan.best.standard_error


def test_best_epochs_spends_the_budget_on_epochs_when_samples_run_out():
    plan = best_epochs(budget=5000, omega2=0.02, within_variance=0.2, n_available=500)
    assert plan.best.n == 500 and plan.best.epochs == 10
    with pytest.raises(ValueError):
        best_epochs(budget=1, omega2=0.1, within_variance=0.1)


def test_estimate_paired_variance_recovers_planted_components():
    rng = np.random.default_rng(12)
    n, k = 4000, 5
    omega = 0.3
    base = rng.normal(0, 1, n)
    gain = rng.normal(0.1, omega, n)  # per-sample true difference: variance ω² = 0.09
    sd_a, sd_b = 0.5, 0.7
    a = base[:, None] + rng.normal(0, sd_a, (n, k))
    b = (base + gain)[:, None] + rng.normal(0, sd_b, (n, k))
    index = np.repeat(np.arange(n), k)
    v = estimate_paired_variance(a.ravel(), index, b.ravel(), index)
    assert v.separable and v.n == n and v.epochs_a == v.epochs_b == k
    assert v.within_a == pytest.approx(sd_a**2, rel=0.03)
    assert v.within_b == pytest.approx(sd_b**2, rel=0.03)
    assert v.omega2 == pytest.approx(omega**2, rel=0.12)
    assert v.difference_variance == pytest.approx(omega**2 + (sd_a**2 + sd_b**2) / k, rel=0.05)


def test_estimate_paired_variance_with_one_epoch_cannot_separate_noise():
    a, b = np.array([1.0, 0, 1, 1, 0]), np.array([1.0, 1, 1, 0, 1])
    v = estimate_paired_variance(a, np.arange(5), b, np.arange(5))
    assert not v.separable and math.isnan(v.within_a)
    assert v.omega2 == pytest.approx(np.var(b - a, ddof=1))
    with pytest.raises(ValueError, match="at least one answer"):
        estimate_paired_variance([1.0], [0], [1.0, 1.0], [0, 1])


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.5, 0.95),
    st.floats(0.005, 0.04),
    st.floats(0.005, 0.04),
)
def test_sample_size_falls_as_the_effect_grows(p0, d1, d2):
    small, large = sorted((d1, d2))
    if large - small < 1e-3 or p0 + large >= 1:
        return
    assert two_proportion_sample_size(p0, p0 + large) <= two_proportion_sample_size(p0, p0 + small)
    assert paired_sample_size(large, 0.1) <= paired_sample_size(small, 0.1)
