import math

import numpy as np
import pytest

from assay.stats import epoch_variance, flaky_samples, per_sample_means


def test_a_sample_right_three_times_in_five_is_flaky_with_pass_rate_0_6():
    # REQUIREMENTS B4.
    values = [1, 1, 1, 0, 0] + [1] * 5 + [0] * 5
    index = [0] * 5 + [1] * 5 + [2] * 5
    assert per_sample_means(values, index).tolist() == [0.6, 1.0, 0.0]
    assert flaky_samples(values, index).tolist() == [0]
    assert epoch_variance(values, index).n_flaky == 1


def test_flaky_samples_are_ordered_most_unstable_first():
    values = [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1]  # samples 0, 1, 2: 4 epochs each
    index = [0] * 4 + [1] * 4 + [2] * 4
    assert flaky_samples(values, index).tolist() == [1, 0]


def test_variance_split_recovers_planted_between_and_within_parts():
    rng = np.random.default_rng(5)
    n, k = 5000, 4
    truth = rng.normal(0, 0.8, n)  # between-sample variance 0.64
    answers = truth[:, None] + rng.normal(0, 0.5, (n, k))  # within 0.25
    v = epoch_variance(answers.ravel(), np.repeat(np.arange(n), k))
    assert v.within_sample_variance == pytest.approx(0.25, rel=0.03)
    assert v.conditional_mean_variance == pytest.approx(0.64, rel=0.05)
    assert v.between_sample_variance == pytest.approx(0.64 + 0.25 / k, rel=0.05)
    assert v.within_share == pytest.approx((0.25 / k) / (0.64 + 0.25 / k), rel=0.1)
    assert v.mean_epochs == k and v.n_samples == n


def test_ragged_epochs_and_single_answers():
    v = epoch_variance([1.0, 0.0, 1.0, 5.0], [0, 0, 0, 1])
    assert v.mean_epochs == 2.0 and v.n_answers == 4
    assert v.within_sample_variance == pytest.approx(np.var([1, 0, 1], ddof=1))
    single = epoch_variance([1.0, 2.0, 3.0], [0, 1, 2])
    assert math.isnan(single.within_sample_variance)
    assert single.conditional_mean_variance == single.between_sample_variance == 1.0
    with pytest.raises(ValueError):
        epoch_variance([1.0], [0, 1])
