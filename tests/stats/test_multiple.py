import numpy as np
import pytest

from assay.stats import adjust_p_values


def test_holm_step_down_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    adjusted, reject = adjust_p_values(p, "holm")
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert reject.tolist() == [True, False, False, True]


def test_benjamini_hochberg_step_up_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    adjusted, reject = adjust_p_values(p, "bh")
    # sorted 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert reject.all()


def test_nan_p_values_are_left_out_of_the_family():
    adjusted, reject = adjust_p_values([0.01, np.nan, 0.02], "holm")
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.02)
    assert np.isnan(adjusted[1]) and not reject[1]
    none, _ = adjust_p_values([np.nan], "bh")
    assert np.isnan(none[0])


def test_no_correction_and_bad_input():
    adjusted, reject = adjust_p_values([0.2, 0.01], "none")
    assert adjusted.tolist() == [0.2, 0.01] and reject.tolist() == [False, True]
    with pytest.raises(ValueError):
        adjust_p_values([1.2])
    with pytest.raises(ValueError):
        adjust_p_values([0.1], "bonferroni-ish")  # type: ignore[arg-type]


def test_correction_never_lowers_a_p_value():
    p = np.random.default_rng(0).random(30) ** 3
    for method in ("holm", "bh"):
        adjusted, _ = adjust_p_values(p, method)
        assert np.all(adjusted >= p - 1e-15) and np.all(adjusted <= 1)
