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


def test_holm_matches_statsmodels_multipletests():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(20)  # seed 20: the number
    for m in (1, 2, 5, 17, 200):
        for _ in range(3):  # each statsmodels call runs a full gc.collect()
            p = rng.random(m) ** rng.uniform(0.5, 4)
            if m > 3:
                p[1] = p[0]  # ties
            ours, reject = adjust_p_values(p, "holm")
            _, theirs, _, _ = multipletests(p, alpha=0.05, method="holm")
            assert ours == pytest.approx(np.minimum(theirs, 1.0), abs=1e-15)
            assert reject.tolist() == (ours < 0.05).tolist()


def test_holm_triggers_no_garbage_collection():
    # statsmodels' Holm branch calls gc.collect() on every call (27-226 ms with a run's heap
    # in memory, issue 20); a comparison corrects p-values many times.
    import gc

    adjust_p_values([0.01, 0.2], "holm")  # imports done
    full: list[int] = []

    def count(phase, info):  # type: ignore[no-untyped-def]
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(count)
    try:
        for _ in range(20):
            adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm")
            adjust_p_values([0.01, 0.04, 0.03, 0.005], "bh")
    finally:
        gc.callbacks.remove(count)
    assert full == []
