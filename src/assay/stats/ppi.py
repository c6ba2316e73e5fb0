"""Human-corrected judge metrics by prediction-powered inference (PPI++).

A run has judge scores f on all N samples and human labels Y on a random n of them. The judge
alone is precise but biased (it measures the judge, not the humans); the humans alone are
unbiased but few. PPI uses the judge on all N samples and the humans to measure and remove its
bias, giving an unbiased estimate of the humans' mean that is narrower than the humans alone
whenever the judge predicts them (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic 2023,
"Prediction-powered inference", Science 382:669; with power tuning, Angelopoulos, Duchi &
Zrnic 2023, "PPI++: Efficient prediction-powered inference", arXiv 2311.01453).

The ``ppi-python`` package implements the same estimator but depends on numba and gdown (a
downloader of its example data sets); for a mean the formulas are a few lines, written here.
The labelled samples must be a random subset of the judged ones: PPI corrects the judge's
bias, not a biased choice of what the humans looked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from assay.stats.intervals import Interval, mean_interval


@dataclass(frozen=True)
class PredictionPowered:
    """Three estimates of the humans' mean, side by side, each with its effective n.

    ``judge_only``: the judge's mean over all N samples (its interval is about E[f], so it is
    biased for the humans' mean by ``judge_bias``; effective n = N). ``human_only``: the
    labels alone (effective n = n). ``ppi``: the PPI++ estimate; its effective n is how many
    human labels alone would give the same standard error, Var(Y)/SE². ``lam`` is the
    power-tuning weight λ̂ (0 ignores the judge, 1 is plain PPI).
    """

    judge_only: Interval
    human_only: Interval
    ppi: Interval
    n_labelled: int
    n_unlabelled: int
    lam: float
    judge_bias: float
    correlation: float
    effective_n: dict[str, float]
    p_value: float

    @property
    def width_ratio(self) -> float:
        """PPI width / human-only width (below 1: the judge bought precision)."""
        h = self.human_only.high - self.human_only.low
        return (self.ppi.high - self.ppi.low) / h if h > 0 else math.nan


def _degenerate_p(estimate: float, null: float) -> float:
    return 1.0 if estimate == null else 0.0


def predicted_width_ratio(correlation: float, n_labelled: int, n_unlabelled: int) -> float:
    """The PPI++ / human-only width ratio the judge's accuracy predicts: with the optimal λ,
    Var = Var(Y)·(1 − ρ²/(1 + n/N))/n (Angelopoulos, Duchi & Zrnic 2023, §2), so the ratio is
    √(1 − ρ²·N/(N + n)), ρ the judge-human correlation (N unlabelled, n labelled)."""
    return math.sqrt(1 - correlation**2 * n_unlabelled / (n_unlabelled + n_labelled))


def prediction_powered_mean(
    labels: ArrayLike,
    judge_on_labelled: ArrayLike,
    judge_on_unlabelled: ArrayLike,
    confidence: float = 0.95,
    *,
    null: float = 0.0,
) -> PredictionPowered:
    """The PPI++ estimate of the humans' mean, with power tuning.

    With n labelled pairs (Yᵢ, fᵢ) and N unlabelled judge scores f̃ⱼ (Angelopoulos, Duchi &
    Zrnic 2023, eqs. 3 and 6, for the mean):

        θ̂_λ = λ·mean(f̃) + mean(Y − λf),
        Var(θ̂_λ) = λ²·Var(f̃)/N + Var(Y − λf)/n,
        λ̂ = Cov(Y, f) / ((1 + n/N)·Var(f)),

    Var(f) pooled over labelled and unlabelled scores. The interval is θ̂ ± z·SE (normal;
    asymptotically valid with the estimated λ̂, their Theorem 1). λ̂ is not clipped to [0, 1]:
    the judge's scale need not match the labels' (a 1-5 rubric against pass/fail), and λ is
    then a regression weight, not a share of trust. ``p_value`` tests θ = ``null``.
    The judge-only and human-only intervals are :func:`~assay.stats.mean_interval`'s (Wilson
    for 0/1, t otherwise).

    Raises ``ValueError`` with fewer than two labelled or unlabelled samples, or when the
    labelled arrays differ in length.
    """
    from scipy.special import ndtr, ndtri

    y = np.asarray(labels, dtype=float).reshape(-1)
    f = np.asarray(judge_on_labelled, dtype=float).reshape(-1)
    g = np.asarray(judge_on_unlabelled, dtype=float).reshape(-1)
    if y.shape != f.shape:
        raise ValueError(f"{y.size} labels but {f.size} judge scores on the labelled samples")
    n, big_n = int(y.size), int(g.size)
    if n < 2 or big_n < 2:
        raise ValueError("PPI needs at least two labelled and two unlabelled samples")
    pooled = np.concatenate([f, g])
    var_f = float(pooled.var(ddof=1))
    cov = float(np.cov(y, f, ddof=1)[0, 1])
    lam = cov / ((1 + n / big_n) * var_f) if var_f > 0 else 0.0
    rectified = y - lam * f
    estimate = lam * float(g.mean()) + float(rectified.mean())
    se = math.sqrt(lam**2 * float(g.var(ddof=1)) / big_n + float(rectified.var(ddof=1)) / n)
    z = float(ndtri(1 - (1 - confidence) / 2))
    ppi = Interval(
        estimate, estimate - z * se, estimate + z * se, n + big_n, "ppi++", confidence, se
    )
    judge_only = mean_interval(pooled, confidence)
    human_only = mean_interval(y, confidence)
    var_y = float(y.var(ddof=1))
    sd_y, sd_f = math.sqrt(var_y), float(f.std(ddof=1))
    correlation = cov / (sd_y * sd_f) if sd_y > 0 and sd_f > 0 else math.nan
    # A zero standard error: p is 1 at the null and 0 anywhere else.
    p = float(2 * ndtr(-abs(estimate - null) / se)) if se > 0 else _degenerate_p(estimate, null)
    return PredictionPowered(
        judge_only=Interval(
            judge_only.estimate, judge_only.low, judge_only.high, n + big_n,
            f"judge-only ({judge_only.method})", confidence, judge_only.standard_error,
        ),
        human_only=Interval(
            human_only.estimate, human_only.low, human_only.high, n,
            f"human-only ({human_only.method})", confidence, human_only.standard_error,
        ),
        ppi=ppi,
        n_labelled=n,
        n_unlabelled=big_n,
        lam=lam,
        judge_bias=float(f.mean() - y.mean()),
        correlation=correlation,
        effective_n={
            "judge_only": float(n + big_n),
            "human_only": float(n),
            "ppi": var_y / se**2 if se > 0 else math.inf,
        },
        p_value=p,
    )  # fmt: skip
