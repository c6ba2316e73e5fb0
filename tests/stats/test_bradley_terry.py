"""Bradley-Terry ratings from pairwise verdicts (issue 13, item 3): k = 8 simulated systems of
known ability, each pair judged on 20 items in both presentation orders (1,120 verdicts),
Davidson ties (ν = 0.3)."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import kendalltau

from assay.stats.bradley_terry import _Design, fit_bradley_terry

THETA = np.linspace(-1.5, 1.5, 8)
TRUTH = THETA - THETA.mean()


def _verdicts(uniforms, gamma, nu=0.3, length_beta=0.0, lengths=None, orders=(0, 1)):
    """Verdicts of the sim judge from fixed uniforms, so two judges can see the same luck."""
    first, second, outcome, groups, z = [], [], [], [], []
    n = 0
    for i in range(8):
        for j in range(i + 1, 8):
            for item in range(uniforms.shape[1]):
                lz = 0.0 if lengths is None else lengths[i, j, item]
                for o, (a, b, sign) in enumerate(((i, j, 1), (j, i, -1))):
                    if o not in orders:
                        continue
                    eta = THETA[a] - THETA[b] + gamma + length_beta * sign * lz
                    u, v = np.exp(eta / 2), np.exp(-eta / 2)
                    r = uniforms[n // uniforms.shape[1] % uniforms.shape[0], item, o]
                    d = u + v + nu
                    outcome.append(1.0 if r < u / d else 0.0 if r < (u + v) / d else 0.5)
                    first.append(f"s{a}")
                    second.append(f"s{b}")
                    groups.append((i, j, item))
                    z.append(sign * lz)
                n += 1
    return first, second, np.array(outcome), groups, np.array(z)


def _aligned(fit, values):
    idx = [fit.names.index(f"s{i}") for i in range(8)]
    return values[np.ix_(idx, idx)] if values.ndim == 2 else values[idx]


def test_ratings_recover_the_true_order_and_intervals_cover_the_true_differences():
    # 40 worlds (seed 41), a judge with a planted position bias γ = 0.8, 300 bootstrap refits
    # each. Measured: Kendall τ mean 0.994 (min 0.93); the 95% intervals (estimate ± z·SD of
    # the refits) of the 28 differences θ_i − θ_j cover the truth in 94.9% of the 1,120
    # checks. The percentile intervals of the same refits covered 93.3% here: see the module
    # docstring of assay.stats.bradley_terry. A larger run with the same estimator
    # (/tmp experiment, recorded in docs/design.md): 95.1% over 300 worlds at seed 7 (γ = 0.8).
    rng = np.random.default_rng(41)
    taus, covered = [], []
    iu = np.triu_indices(8, 1)
    true_diff = TRUTH[:, None] - TRUTH[None, :]
    for w in range(40):
        first, second, y, groups, _ = _verdicts(rng.random((28, 20, 2)), gamma=0.8)
        fit = fit_bradley_terry(first, second, y, groups=groups, n_resamples=300, seed=w)
        taus.append(kendalltau(_aligned(fit, fit.theta), TRUTH).statistic)
        low, high = _aligned(fit, fit.difference_low), _aligned(fit, fit.difference_high)
        covered.extend((low[iu] <= true_diff[iu]) & (true_diff[iu] <= high[iu]))
    assert np.mean(taus) >= 0.9 and min(taus) >= 0.85
    assert 0.94 <= np.mean(covered) <= 0.96


def test_a_position_biased_judge_does_not_move_the_ratings_when_both_orders_are_used():
    # The same luck judged by a fair judge and by one that favours the first slot (γ = 0.8).
    # Measured: mean |θ_biased − θ_fair| = 0.033 with both orders and the position term;
    # γ recovered as 0.88. With one order only, the bias moves the ratings by 0.49 on average.
    rng = np.random.default_rng(42)
    u = rng.random((28, 40, 2))
    fair = fit_bradley_terry(*_verdicts(u, 0.0)[:3], n_resamples=0)
    biased = fit_bradley_terry(*_verdicts(u, 0.8)[:3], n_resamples=0)
    moved = np.abs(_aligned(biased, biased.theta) - _aligned(fair, fair.theta)).mean()
    assert moved < 0.06
    assert biased.position == pytest.approx(0.8, abs=0.15) and abs(fair.position) < 0.15
    one_fair = fit_bradley_terry(*_verdicts(u, 0.0, orders=(0,))[:3], n_resamples=0, position=False)
    one_biased = fit_bradley_terry(
        *_verdicts(u, 0.8, orders=(0,))[:3], n_resamples=0, position=False
    )
    one_moved = np.abs(_aligned(one_biased, one_biased.theta) - _aligned(one_fair, one_fair.theta))
    assert one_moved.mean() > 0.3  # what judging both orders protects against


def test_the_length_covariate_separates_style_from_ability():
    # A judge that also rewards length (β = 1 per SD of length difference) while the systems'
    # lengths differ: with the covariate, θ is recovered and β ≈ 1 (style-controlled).
    # Measured: β = 0.98; mean |θ − truth| 0.084 controlled, 0.445 raw.
    rng = np.random.default_rng(43)
    lengths = rng.normal(0.6, 1, (8, 8, 30))  # the first-listed system of a pair is wordier
    first, second, y, _, z = _verdicts(rng.random((28, 30, 2)), 0.0, 0.3, 1.0, lengths)
    controlled = fit_bradley_terry(first, second, y, covariates=z[:, None], n_resamples=0)
    raw = fit_bradley_terry(first, second, y, n_resamples=0)
    assert controlled.covariates[0] == pytest.approx(1.0, abs=0.2)
    err_controlled = np.abs(_aligned(controlled, controlled.theta) - TRUTH).mean()
    err_raw = np.abs(_aligned(raw, raw.theta) - TRUTH).mean()
    assert err_controlled < 0.15 < err_raw


def test_without_ties_the_fit_is_statsmodels_logistic_regression():
    rng = np.random.default_rng(5)
    first = [f"s{i}" for i in rng.integers(0, 4, 800)]
    second = [f"s{(int(f[1]) + 1 + rng.integers(0, 3)) % 4}" for f in first]
    eta = np.array(
        [THETA[int(a[1])] - THETA[int(b[1])] + 0.3 for a, b in zip(first, second, strict=True)]
    )
    y = (rng.random(800) < 1 / (1 + np.exp(-eta))).astype(float)
    fit = fit_bradley_terry(first, second, y, n_resamples=0, ridge=0.0)
    d = _Design(
        np.array([int(x[1]) for x in first]), np.array([int(x[1]) for x in second]), y,
        np.zeros((800, 0)), 4, True,
    )  # fmt: skip
    ref = sm.Logit(y, d.x).fit(disp=0).params
    theta = np.r_[0.0, ref[:3]]
    assert fit.theta == pytest.approx(theta - theta.mean(), abs=1e-6)
    assert fit.position == pytest.approx(ref[3], abs=1e-6)
    assert fit.tie_weight == 0 and fit.elo[np.argmax(fit.theta)] > 1000
