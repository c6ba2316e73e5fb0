import math

import numpy as np
import pytest

from assay.stats import (
    IMPROVED,
    MIXED,
    NO_DIFFERENCE,
    REGRESSED,
    UNDERPOWERED,
    mcnemar_exact,
    minimum_detectable_effect,
    overall_verdict,
    paired_difference,
    two_proportion_mde,
    verdict,
)


def test_requirement_b2_three_points_on_100_items_is_underpowered():
    # Two runs of 100 items at 82% and 85%: not significant, CI crosses 0, MDE ≈ 12.6 points.
    rng = np.random.default_rng(0)
    a = np.r_[np.ones(82), np.zeros(18)]
    b = a.copy()
    # 5 items only B gets right, 2 only A gets right: 82% -> 85%
    b[rng.choice(np.flatnonzero(a == 0), 5, replace=False)] = 1
    b[rng.choice(np.flatnonzero(a == 1), 2, replace=False)] = 0
    assert (a.mean(), b.mean()) == (0.82, 0.85)
    pd = paired_difference(a, b)
    assert pd.interval.low < 0 < pd.interval.high
    p = mcnemar_exact(a, b).p_value
    mde = two_proportion_mde(0.82, 100)
    assert verdict(pd.difference, p, mde, min_effect=0.03) == UNDERPOWERED
    # The paired MDE is smaller (pairing helps) but still far above 3 points.
    assert minimum_detectable_effect(pd.se_paired) > 0.03


def test_requirement_b9_aggregate_gain_with_a_slice_regression_is_mixed():
    # +0.4 pt aggregate with -8 pt on slice multi_step (n sufficient) -> mixed: slice regression.
    aggregate = verdict(0.004, 0.6, 0.01, min_effect=0.03)
    assert aggregate == NO_DIFFERENCE
    slices = [(verdict(-0.08, 1e-5, 0.03, min_effect=0.03), -0.08, 0.03), (IMPROVED, 0.05, 0.03)]
    assert slices[0][0] == REGRESSED
    assert overall_verdict(aggregate, slices) == MIXED
    assert overall_verdict(IMPROVED, slices) == MIXED


def test_a_slice_drop_beyond_its_mde_counts_even_when_correction_hides_it():
    # Not significant after correction, but larger than the slice's own MDE: still flagged.
    assert overall_verdict(IMPROVED, [(UNDERPOWERED, -0.07, 0.06)]) == MIXED
    assert overall_verdict(IMPROVED, [(UNDERPOWERED, -0.04, 0.06)]) == IMPROVED


def test_verdict_rules():
    assert verdict(0.05, 0.001, 0.02, min_effect=0.03) == IMPROVED
    assert verdict(-0.05, 0.001, 0.02, min_effect=0.03) == REGRESSED
    assert verdict(0.01, 0.4, 0.02, min_effect=0.03) == NO_DIFFERENCE
    assert verdict(0.01, 0.4, 0.05, min_effect=0.03) == UNDERPOWERED
    assert verdict(0.01, math.nan, 0.05, min_effect=0.03) == UNDERPOWERED
    assert verdict(0.01, 0.01, math.nan, min_effect=0.03) == UNDERPOWERED
    assert overall_verdict(REGRESSED, [(IMPROVED, 0.1, 0.02)]) == REGRESSED
    with pytest.raises(ValueError):
        overall_verdict("better", [])
