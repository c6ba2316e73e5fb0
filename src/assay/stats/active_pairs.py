"""Which pair of systems to judge next, and when a ranking is resolved (Arena-style active
sampling for Bradley-Terry ratings; issue 13, item 3).

After each batch of pairwise verdicts the Bradley-Terry-Davidson model of
:mod:`assay.stats.bradley_terry` is refitted and the systems are ordered by θ. For each pair of
*adjacent* systems in that order, r and r + 1, the gap d_r = θ_(r) − θ_(r+1) ≥ 0 has the Wald
standard error from the observed information I (the negative Hessian of the log-likelihood at
the MLE; Agresti 2013, *Categorical Data Analysis*, §11.6; the same covariance is behind
Chatbot Arena's "rating intervals", Chiang et al. 2024, arXiv 2403.04132, §5):

    se_r² = Var θ_(r) + Var θ_(r+1) − 2 Cov(θ_(r), θ_(r+1)),    Var = I⁻¹ (θ block).

The gap is *resolved* when z_r = d_r / se_r ≥ z_{1 − α / (2 (k − 1))}: its two-sided
interval at a Bonferroni level over the k − 1 adjacent gaps excludes 0. The ranking is resolved
when every adjacent gap is. The next pairs to judge are the unresolved adjacent pairs with the
smallest z_r first, i.e. the largest probability Φ(−z_r) that the two adjacent systems are in
the wrong order: the largest uncertainty in the adjacent-rank differences. Far-apart pairs are
never chosen once the warm-up (every pair judged a little) has placed them, which is where the
saving over uniform round-robin sampling comes from (Chiang et al. 2024, §5.2, sample pairs to
reduce the interval widths that matter for the ranking).

Caveat: the stopping rule looks at the data after each batch, so the final intervals are not
exactly at the nominal level (sequential looks); the intervals reported afterwards come from the
full fit of :func:`~assay.stats.bradley_terry.fit_bradley_terry`, and the simulation in
tests/stats/test_active_pairs.py measures how often a stopped ranking is right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from assay.stats.bradley_terry import _centred, _derivatives, _Design, _newton


@dataclass(frozen=True)
class AdjacentGap:
    """One gap between systems adjacent in the current order (``upper`` rated higher)."""

    upper: str
    lower: str
    gap: float
    se: float
    z: float
    resolved: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "upper": self.upper,
            "lower": self.lower,
            "gap": self.gap,
            "se": self.se,
            "z": self.z,
            "resolved": self.resolved,
        }


@dataclass(frozen=True)
class RankingState:
    """The current fit: names, θ (sum 0), its Wald covariance, the adjacent gaps in rating
    order (best first) and the critical z."""

    names: list[str]
    theta: NDArray[np.float64]
    covariance: NDArray[np.float64]
    gaps: list[AdjacentGap]
    critical_z: float

    @property
    def resolved(self) -> bool:
        return all(g.resolved for g in self.gaps)

    def order(self) -> list[str]:
        return [self.names[i] for i in np.argsort(-self.theta, kind="stable")]


def wald_fit(
    first: Sequence[str],
    second: Sequence[str],
    outcome: Sequence[float] | NDArray[np.float64],
    *,
    names: Sequence[str] | None = None,
    position: bool = True,
    ridge: float = 1e-6,
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """The Bradley-Terry-Davidson MLE (θ centred to sum 0) and the Wald covariance of θ:
    I⁻¹ of the free parameters θ_1 … θ_{k−1} (θ_0 = 0 during the fit), mapped to the centred
    θ by the linear map C = I_k − 11ᵀ/k applied to (0, θ_1, …). ``names`` fixes the systems
    (and their order) even when some have no verdict yet: their θ is then held at 0 by the
    ridge and their variance is large."""
    all_names = sorted(set(first) | set(second)) if names is None else list(names)
    index = {n: i for i, n in enumerate(all_names)}
    f = np.array([index[x] for x in first], dtype=np.intp)
    s = np.array([index[x] for x in second], dtype=np.intp)
    y = np.asarray(outcome, dtype=float).reshape(-1)
    k = len(all_names)
    d = _Design(f, s, y, np.zeros((f.size, 0)), k, position)
    n_params = d.p_lin + (1 if d.ties else 0)
    start = np.zeros((1, n_params))
    if d.ties:
        start[0, -1] = math.log(max(d.tie.mean(), 1e-3))
    weights = np.ones((1, f.size))
    params, _ = _newton(d, start, weights, ridge)
    theta = _centred(params, k)[0]
    _, _, info = _derivatives(d, params, weights)
    penalty = np.zeros(n_params)
    penalty[: k - 1] = ridge
    inverse = np.linalg.pinv(info[0] + np.diag(penalty))
    free = np.zeros((k, k))
    free[1:, 1:] = inverse[: k - 1, : k - 1]
    centre = np.eye(k) - 1.0 / k
    return all_names, np.asarray(theta, dtype=float), centre @ free @ centre.T


def ranking_state(
    first: Sequence[str],
    second: Sequence[str],
    outcome: Sequence[float] | NDArray[np.float64],
    *,
    names: Sequence[str] | None = None,
    alpha: float = 0.05,
    position: bool = True,
) -> RankingState:
    """Fit, order the systems by θ and measure every adjacent gap (module docstring)."""
    all_names, theta, cov = wald_fit(first, second, outcome, names=names, position=position)
    k = len(all_names)
    critical = float(norm.ppf(1 - alpha / (2 * max(k - 1, 1))))
    order = np.argsort(-theta, kind="stable")
    gaps = []
    for a, b in pairwise(order):
        gap = float(theta[a] - theta[b])
        var = float(cov[a, a] + cov[b, b] - 2 * cov[a, b])
        se = math.sqrt(var) if var > 0 else math.inf
        z = gap / se if se > 0 else math.inf
        gaps.append(AdjacentGap(all_names[a], all_names[b], gap, se, z, z >= critical))
    return RankingState(all_names, theta, cov, gaps, critical)


def next_pairs(state: RankingState, n: int = 1) -> list[tuple[str, str]]:
    """Up to ``n`` unresolved adjacent pairs, the least resolved (smallest z) first; empty when
    the ranking is resolved."""
    open_gaps = sorted((g for g in state.gaps if not g.resolved), key=lambda g: (g.z, -g.se))
    return [(g.upper, g.lower) for g in open_gaps[:n]]
