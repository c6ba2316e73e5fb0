"""Prediction-powered inference (issue 13, item 1): a judge biased by +0.10 with noise,
N = 5,000 judged samples, n = 200 of them labelled by humans."""

import math

import numpy as np
import pytest

from assay.stats.ppi import predicted_width_ratio, prediction_powered_mean

N, LABELLED = 5_000, 200
TRUE_MEAN = 0.6


def _world(rng):
    """Humans pass 60%; the judge passes 95% of what humans pass and 32.5% of what they fail:
    E[judge] = 0.7, a +0.10 bias, accuracy 84%."""
    y = (rng.random(N) < TRUE_MEAN).astype(float)
    f = np.where(y == 1, rng.random(N) < 0.95, rng.random(N) < 0.325).astype(float)
    labelled = rng.choice(N, LABELLED, replace=False)
    mask = np.zeros(N, bool)
    mask[labelled] = True
    return y[mask], f[mask], f[~mask]


def test_ppi_covers_the_human_mean_and_the_judge_alone_does_not():
    # 2,000 worlds, seed 13. Measured: PPI 94.75%, human-only (Wilson) 95.05%, judge-only 0.0%.
    rng = np.random.default_rng(13)
    hits = {"ppi": 0, "human": 0, "judge": 0}
    ratios, predicted = [], []
    worlds = 2000
    for _ in range(worlds):
        y, f, g = _world(rng)
        r = prediction_powered_mean(y, f, g)
        hits["ppi"] += r.ppi.low <= TRUE_MEAN <= r.ppi.high
        hits["human"] += r.human_only.low <= TRUE_MEAN <= r.human_only.high
        hits["judge"] += r.judge_only.low <= TRUE_MEAN <= r.judge_only.high
        ratios.append(r.width_ratio)
        predicted.append(predicted_width_ratio(r.correlation, r.n_labelled, r.n_unlabelled))
    assert 0.94 <= hits["ppi"] / worlds <= 0.96
    assert hits["judge"] / worlds < 0.01
    # Narrower than the humans alone by the factor the judge's accuracy predicts:
    # ρ ≈ 0.69 here, so √(1 − ρ²·N/(N + n)) = 0.752 on average; measured mean ratio 0.761.
    assert np.mean(ratios) < 0.8
    assert np.mean(ratios) == pytest.approx(np.mean(predicted), abs=0.02)


def test_a_useless_judge_costs_almost_nothing():
    rng = np.random.default_rng(5)
    y = (rng.random(LABELLED) < 0.6).astype(float)
    r = prediction_powered_mean(y, rng.random(LABELLED), rng.random(N))
    assert abs(r.lam) < 0.5 and r.width_ratio < 1.1


def test_ppi_reduces_to_the_labelled_mean_when_lambda_is_zero_and_reports_three_intervals():
    y = np.array([1, 0, 1, 1, 0, 1.0])
    f = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])  # a constant judge: λ = 0
    r = prediction_powered_mean(y, f, [0.5] * 10)
    assert r.lam == 0 and r.ppi.estimate == pytest.approx(y.mean())
    assert r.ppi.standard_error == pytest.approx(y.std(ddof=1) / math.sqrt(6))
    assert r.effective_n["human_only"] == 6 and r.effective_n["ppi"] == pytest.approx(6)
    assert r.judge_only.estimate == 0.5 and r.judge_bias == pytest.approx(0.5 - 4 / 6)
    with pytest.raises(ValueError):
        prediction_powered_mean([1.0], [1.0], [1.0, 0.0])


def test_matches_a_hand_computed_ppi_plus_plus_example():
    # λ̂ = Cov(Y,f) / ((1 + n/N)·Var(f)) computed by hand for a 4 + 4 example.
    y = np.array([1.0, 0.0, 1.0, 1.0])
    f = np.array([0.9, 0.2, 0.6, 0.8])
    g = np.array([0.7, 0.1, 0.9, 0.4])
    cov = np.cov(y, f)[0, 1]
    var = np.var(np.concatenate([f, g]), ddof=1)
    lam = cov / (2 * var)
    est = lam * g.mean() + (y - lam * f).mean()
    se = math.sqrt(lam**2 * g.var(ddof=1) / 4 + (y - lam * f).var(ddof=1) / 4)
    r = prediction_powered_mean(y, f, g)
    assert r.lam == pytest.approx(lam) and r.ppi.estimate == pytest.approx(est)
    assert r.ppi.standard_error == pytest.approx(se)
