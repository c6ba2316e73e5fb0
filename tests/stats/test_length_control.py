import math

import numpy as np
import pytest
from scipy.special import expit

from assay.stats import (
    GamedBaseline,
    GlmWeights,
    alpaca_eval_preference,
    length_controlled_win_rate,
    lookup_by_id,
    predict_length_controlled_win_rate,
    win_rate,
)


def _length_biased_world(seed, n=2000):
    """Pairs of equal quality by construction; the model's answers are longer by a random
    factor (shorter now and then); the judge picks the longer answer more surely the bigger
    the gap (a coin flip at equal length), about 80% of the time overall."""
    rng = np.random.default_rng(seed)
    baseline = rng.lognormal(7, 0.5, n)
    model = baseline * np.exp(rng.normal(0.5, 0.5, n))
    gap = baseline - model
    p_model = expit(-5 * np.tanh(gap / gap.std(ddof=1)))
    preference = (rng.random(n) < p_model).astype(float)
    return preference, model, baseline


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_length_control_removes_a_planted_length_bias(seed):
    # REQUIREMENTS C2: raw WR of the systematically longer system ≈ 0.8, LC-WR ≈ 0.5 (±0.05).
    preference, model, baseline = _length_biased_world(seed)
    longer_picked = np.mean(np.where(model > baseline, preference, 1 - preference))
    assert longer_picked == pytest.approx(0.8, abs=0.05)
    fit = length_controlled_win_rate(preference, model, baseline)
    assert fit.raw.win_rate == pytest.approx(0.8, abs=0.04)
    assert fit.win_rate == pytest.approx(0.5, abs=0.05)
    assert fit.weights.length < -2  # longer (negative gap) wins
    assert fit.predicted.mean() == pytest.approx(fit.win_rate)


def test_length_control_keeps_a_real_quality_difference():
    rng = np.random.default_rng(3)
    n = 2000
    baseline = rng.lognormal(7, 0.5, n)
    model = baseline * np.exp(rng.normal(0.0, 0.5, n))
    preference = (rng.random(n) < expit(0.8)).astype(float)  # better, whatever the length
    fit = length_controlled_win_rate(preference, model, baseline)
    assert fit.win_rate == pytest.approx(expit(0.8), abs=0.03)
    assert fit.win_rate == pytest.approx(fit.raw.win_rate, abs=0.02)


def test_difficulty_is_joined_by_item_id_whatever_the_row_order():
    rng = np.random.default_rng(4)
    n = 600
    ids = np.arange(1000, 1000 + n)
    difficulty = dict(zip(ids.tolist(), rng.normal(size=n).tolist(), strict=True))
    gamma = np.array([difficulty[i] for i in ids])
    baseline = rng.lognormal(7, 0.5, n)
    model = baseline * np.exp(rng.normal(0.3, 0.5, n))
    gap = baseline - model
    p = expit(-1.5 * np.tanh(gap / gap.std(ddof=1)) + 0.8 * gamma - 0.5)
    pref = (rng.random(n) < p).astype(float)
    # A fixed penalty: cross-validation folds follow row order, the join must not.
    fixed = {"cs": (10.0,), "n_splits": 1}
    fit = length_controlled_win_rate(
        pref, model, baseline, item_ids=ids, difficulty=difficulty, **fixed
    )
    order = rng.permutation(n)
    shuffled = length_controlled_win_rate(
        pref[order],
        model[order],
        baseline[order],
        item_ids=ids[order],
        difficulty=difficulty,
        **fixed,
    )
    assert shuffled.win_rate == pytest.approx(fit.win_rate, abs=1e-3)
    assert shuffled.weights.difficulty == pytest.approx(fit.weights.difficulty, abs=1e-2)
    assert fit.weights.difficulty > 0.3
    with pytest.raises(ValueError, match="pass item_ids"):
        length_controlled_win_rate(pref, model, baseline, difficulty=difficulty)
    with pytest.raises(ValueError, match="no difficulty for item id"):
        length_controlled_win_rate(
            pref, model, baseline, item_ids=ids + 5000, difficulty=difficulty
        )


def test_gamed_baseline_rows_pin_the_length_coefficient():
    # A system that is always longer: its own rows cannot separate length from quality, the
    # gamed baseline's rows (same quality, different length) can.
    rng = np.random.default_rng(5)
    n = 800
    ids = np.arange(n)
    baseline = rng.lognormal(7, 0.4, n)
    model = baseline * np.exp(rng.normal(0.9, 0.15, n))
    pref = (
        rng.random(n) < expit(-2.0 * np.tanh((baseline - model) / (baseline - model).std(ddof=1)))
    ).astype(float)
    verbose = baseline * np.exp(rng.normal(0.0, 0.6, n))
    g_gap = baseline - verbose
    gamed = GamedBaseline(
        preference=expit(-2.0 * np.tanh(g_gap / g_gap.std(ddof=1))),
        baseline_length=baseline,
        gamed_length=verbose,
        item_ids=ids,
    )
    with_prior = length_controlled_win_rate(pref, model, baseline, gamed=[gamed], item_ids=ids)
    assert with_prior.win_rate == pytest.approx(0.5, abs=0.1)
    assert with_prior.raw.win_rate > 0.8


def test_lc_bootstrap_interval_is_seeded_and_contains_the_estimate():
    preference, model, baseline = _length_biased_world(7, n=600)
    a = length_controlled_win_rate(preference, model, baseline, n_resamples=60, seed=1)
    b = length_controlled_win_rate(preference, model, baseline, n_resamples=60, seed=1)
    assert a.interval == b.interval
    assert a.interval.low < a.win_rate < a.interval.high


def test_win_rate_counts_draws_as_half():
    wr = win_rate([1.0, 0.0, 0.5, 0.75, 0.2])
    assert wr.win_rate == pytest.approx(0.49)
    assert wr.discrete_win_rate == pytest.approx((1 + 0 + 0.5 + 1 + 0) / 5)
    assert (wr.n_wins, wr.n_wins_base, wr.n_draws, wr.n_total) == (2, 2, 1, 5)
    assert wr.standard_error == pytest.approx(np.std([1, 0, 0.5, 0.75, 0.2], ddof=1) / math.sqrt(5))
    with pytest.raises(ValueError):
        win_rate([1.5])


def test_alpaca_eval_encoding_is_converted():
    assert alpaca_eval_preference([1, 2, 1.5, 0, 1.25]).tolist() == [0, 1, 0.5, 0.5, 0.25]
    assert math.isnan(alpaca_eval_preference([math.nan])[0])
    with pytest.raises(ValueError):
        alpaca_eval_preference([0.5])


def test_prediction_from_weights():
    w = GlmWeights(length=-1.5, difficulty=0.0, model=0.0)
    assert predict_length_controlled_win_rate(w, [0.3, -1.0]) == pytest.approx(0.5)
    w = GlmWeights(length=-1.5, difficulty=1.0, model=-1.0)
    gamma = np.array([0.0, 2.0])
    assert predict_length_controlled_win_rate(w, gamma) == pytest.approx(np.mean(expit(-1 + gamma)))
    base = GlmWeights(0.0, 0.5, -0.5)
    assert predict_length_controlled_win_rate(w, gamma, base) == pytest.approx(
        np.mean(expit(-0.5 + 0.5 * gamma))
    )
    assert lookup_by_id(["b", "a"], (["a", "b"], [1.0, 2.0])).tolist() == [2.0, 1.0]


def test_a_gamed_baseline_without_usable_rows_is_an_error_not_a_silent_refit():
    # Issue 20: with all-NaN preferences (as the shared data has them) the gamed set dropped
    # out and the fit quietly became the unregularised one.
    rng = np.random.default_rng(20)
    n = 60
    ids = np.arange(n)
    model, baseline = rng.integers(100, 400, n), rng.integers(100, 400, n)
    pref = rng.random(n)
    empty = GamedBaseline(
        preference=np.full(n, np.nan),
        baseline_length=baseline,
        gamed_length=baseline * 2,
        item_ids=ids,
    )
    with pytest.raises(ValueError, match="gamed baseline 0 has no usable rows"):
        length_controlled_win_rate(pref, model, baseline, gamed=[empty], item_ids=ids)
    named = GamedBaseline(empty.preference, baseline, baseline * 2, ids, name="base_verbose")
    with pytest.raises(
        ValueError, match=r"gamed baseline base_verbose has no usable rows.*gamed=\(\)"
    ):
        length_controlled_win_rate(pref, model, baseline, gamed=[named], item_ids=ids)
    # Fitting without the prior stays possible, on purpose.
    assert 0 < length_controlled_win_rate(pref, model, baseline, item_ids=ids).win_rate < 1


def test_unjudged_rows_still_count_in_the_length_standardisation():
    # glm_winrate.py takes sd(Δ) over all the model's rows, then drops those without a
    # preference: an unjudged item with a long answer still widens sd(Δ).
    from assay.stats.length_control import _standardised_length_gap

    rng = np.random.default_rng(7)
    n = 400
    baseline = rng.lognormal(7, 0.5, n)
    model = baseline * np.exp(rng.normal(0.3, 0.5, n))
    model[:40] *= 5  # long answers, left unjudged
    pref = (rng.random(n) < 0.6).astype(float)
    pref[:40] = np.nan
    keep = ~np.isnan(pref)
    gap = baseline - model
    expected = np.tanh(gap[keep] / gap.std(ddof=1))
    assert _standardised_length_gap(baseline, model, keep) == pytest.approx(expected)
    assert not np.allclose(expected, np.tanh(gap[keep] / gap[keep].std(ddof=1)))
    fixed = {"cs": (10.0,), "n_splits": 1}
    with_unjudged = length_controlled_win_rate(pref, model, baseline, **fixed)
    dropped = length_controlled_win_rate(pref[keep], model[keep], baseline[keep], **fixed)
    assert with_unjudged.raw.n_total == dropped.raw.n_total == n - 40
    assert with_unjudged.weights.length != pytest.approx(dropped.weights.length, abs=1e-3)
    missing = model.copy()
    missing[50] = np.nan  # a judged item without its answer's length
    with pytest.raises(ValueError, match="length is missing"):
        length_controlled_win_rate(pref, missing, baseline)
