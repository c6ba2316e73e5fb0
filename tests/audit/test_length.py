"""Length bias: raw vs length-controlled win rate (REQUIREMENTS C2) and the verbosity attack,
on synthetic judges with a known truth."""

import math

import numpy as np
import pytest
from scipy.special import expit

from assay.audit.length import length_check, verbosity_check


def _equal_quality_world(seed, n=1500):
    """Pairs of equal quality by construction. B's answers are longer by a random factor
    (shorter now and then); the judge stub looks only at length: it picks the longer answer
    more surely the bigger the gap (a coin flip at equal length), about 80% of the time
    overall, in the GLM's own functional form (logit = 4·tanh(gap/sd(gap)))."""
    rng = np.random.default_rng(seed)
    len_a = rng.lognormal(6.5, 0.5, n).round()
    len_b = (len_a * np.exp(rng.normal(0.6, 0.5, n))).round()
    gap = len_b - len_a
    preference = (rng.random(n) < expit(4 * np.tanh(gap / gap.std(ddof=1)))).astype(float)
    return preference, len_a, len_b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_c2_length_control_removes_a_length_only_judge_and_flags_it(seed):
    preference, len_a, len_b = _equal_quality_world(seed)
    # REQUIREMENTS C2: the stub picks the longer answer ~80% of the time; B is the longer one.
    picked_longer = np.mean(np.where(len_b > len_a, preference, 1 - preference))
    assert picked_longer == pytest.approx(0.8, abs=0.04)
    assert np.mean(len_b > len_a) > 0.85
    check = length_check(preference, len_a, len_b, n_resamples=40, seed=1)
    raw, lc = check.details["raw_win_rate"], check.details["lc_win_rate"]
    assert raw == pytest.approx(0.8, abs=0.05)
    assert lc == pytest.approx(0.5, abs=0.05)
    assert check.figure == pytest.approx(raw - lc)
    assert (check.verdict, check.flag) == ("fail", "length_bias")
    assert check.details["conditions_held"] == ["beyond_tolerance", "lc_interval_excludes_raw"]
    assert check.low < check.figure < check.high
    assert check.details["lc_low"] < lc < check.details["lc_high"]
    assert check.details["length_coefficient"] < 0  # longer (negative gap) wins
    assert check.n == len(preference)


def test_a_judge_that_ignores_length_keeps_its_win_rate_and_passes():
    rng = np.random.default_rng(3)
    n = 800
    len_a = rng.lognormal(6.5, 0.5, n).round()
    len_b = (len_a * np.exp(rng.normal(0.0, 0.5, n))).round()
    preference = (rng.random(n) < 0.7).astype(float)  # B is better, whatever the length
    check = length_check(preference, len_a, len_b, n_resamples=40, seed=2)
    assert check.details["lc_win_rate"] == pytest.approx(check.details["raw_win_rate"], abs=0.03)
    assert check.verdict == "pass" and check.flag is None
    assert check.low <= 0 <= check.high


def test_errors_are_left_out_and_counted_and_tiny_input_is_skipped():
    preference, len_a, len_b = _equal_quality_world(4, n=300)
    preference[:10] = np.nan
    check = length_check(preference, len_a, len_b, n_resamples=0)
    assert check.details["errors"] == 10 and check.n == 290
    # Without an LC interval only the size rule can fire: at most a warning.
    assert check.verdict == "warn" and check.low is None
    assert length_check([np.nan, 1.0], [1, 2], [2, 3]).verdict == "skipped"
    with pytest.raises(ValueError, match="differ in length"):
        length_check([1.0], [1, 2], [2])


def test_verbosity_attack_rule():
    fail = verbosity_check([1.0] * 40 + [0.0] * 10)
    # C1: padding that adds nothing and wins significantly beyond 55% makes the judge gameable.
    assert (fail.verdict, fail.flag, fail.figure) == ("fail", "gameable", 0.8)
    assert "gameable" in fail.message
    # Above 50% but not clearly beyond the tolerance: a warning, no blocking flag.
    close = verbosity_check([1.0] * 33 + [0.0] * 17)
    assert close.low < 0.55 < close.figure and (close.verdict, close.flag) == ("warn", None)
    assert fail.low > 0.55 and fail.details["interval_method"] == "wilson"
    fair = verbosity_check([0.5] * 30 + [1.0] * 5 + [0.0] * 15 + [math.nan] * 3)
    assert (fair.verdict, fair.flag) == ("pass", None)
    assert fair.details == {
        "errors": 3,
        "wins": 5,
        "ties": 30,
        "losses": 15,
        "tolerance": 0.05,
        "interval_method": "t",
    }
    assert fair.figure == pytest.approx((15 + 5) / 50)
    borderline = verbosity_check([1.0] * 6 + [0.0] * 4)  # 60%, interval far below 0.55
    assert borderline.verdict == "warn" and borderline.flag is None
    assert verbosity_check([math.nan]).verdict == "skipped"
    with pytest.raises(ValueError):
        verbosity_check([1.5])


def _verbosity_world(rng, n, p_win, p_tie):
    u = rng.random(n)
    return np.where(u < p_win, 1.0, np.where(u < p_win + p_tie, 0.5, 0.0))


@pytest.mark.parametrize(("p_win", "p_tie"), [(0.25, 0.5), (0.55, 0.2), (0.7, 0.0)])
def test_verbosity_interval_covers_the_true_rate(p_win, p_tie):
    truth = p_win + p_tie / 2
    rng = np.random.default_rng(11)
    worlds, covered = 1000, 0
    for _ in range(worlds):
        check = verbosity_check(_verbosity_world(rng, 120, p_win, p_tie))
        covered += check.low <= truth <= check.high
    assert 0.93 <= covered / worlds <= 0.97


def test_a_clean_judge_is_flagged_in_at_most_5_percent_of_worlds_and_a_biased_one_mostly():
    rng = np.random.default_rng(12)
    clean = [verbosity_check(_verbosity_world(rng, 80, 0.2, 0.6)).verdict for _ in range(1000)]
    assert clean.count("fail") / 1000 <= 0.05
    biased = [verbosity_check(_verbosity_world(rng, 80, 0.75, 0.1)).verdict for _ in range(300)]
    assert biased.count("fail") / 300 > 0.9
