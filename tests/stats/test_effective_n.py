import math

import numpy as np
import pytest

from assay.stats import effective_number_of_graders, effective_sample_size, error_correlation


def test_effective_sample_size_limits():
    assert effective_sample_size(5, 0.0) == 5
    assert effective_sample_size(5, 1.0) == pytest.approx(1.0)
    assert effective_sample_size(1, 0.9) == 1.0
    with pytest.raises(ValueError):
        effective_sample_size(3, -0.6)  # below -1/(n-1)


def test_effective_sample_size_matches_the_variance_of_a_mean_of_correlated_graders():
    rng = np.random.default_rng(0)
    n, rho = 4, 0.3
    cov = np.full((n, n), rho) + np.eye(n) * (1 - rho)
    draws = rng.multivariate_normal(np.zeros(n), cov, size=200_000)
    n_eff = 1 / draws.mean(axis=1).var()
    assert effective_sample_size(n, rho) == pytest.approx(n_eff, rel=0.02)


def test_three_judges_sharing_most_errors_are_worth_fewer_than_1_5():
    # REQUIREMENTS C9: identical errors on 70% of failures -> high error correlation, n_eff < 1.5.
    rng = np.random.default_rng(1)
    items = 2000
    shared = rng.random(items) < 0.14  # the 70% of failures all three judges share
    errors = np.zeros((3, items))
    for j in range(3):
        own = rng.random(items) < 0.06  # each judge's private 30%
        errors[j] = shared | own
    rho = error_correlation(errors)
    assert rho > 0.6
    assert effective_number_of_graders(errors) < 1.5


def test_error_correlation_skips_graders_that_never_err():
    errors = np.array([[0, 1, 0, 1], [0, 1, 0, 1], [0, 0, 0, 0]])
    assert error_correlation(errors) == pytest.approx(1.0)
    assert math.isnan(error_correlation(np.zeros((3, 4))))
    assert math.isnan(effective_number_of_graders(np.zeros((3, 4))))
