"""Where the noise comes from: items, epochs (seeds) and judges (issue 13, item 5).

Scores x_iej of item i, epoch (answer) e and judge j, a balanced crossed design, follow

    x_iej = μ + a_i + c_ie + b_j + (ab)_ij + ε_iej

with random item effects a (σ²_item), answer-to-answer variation within an item c (σ²_epoch,
the seed), judge severity b (σ²_judge), item × judge disagreement (σ²_item×judge) and a judge's
noise on one answer ε (σ²_residual). The ANOVA (method of moments) estimators equate mean
squares to their expectations (Searle, Casella & McCulloch 1992, *Variance Components*, ch. 4):

    E[MS_item]   = σ²_ε + J·σ²_c + E·σ²_ab + EJ·σ²_a      (n − 1 df)
    E[MS_epoch]  = σ²_ε + J·σ²_c                            (n(E − 1) df)
    E[MS_judge]  = σ²_ε + E·σ²_ab + nE·σ²_b                 (J − 1 df)
    E[MS_i×j]    = σ²_ε + E·σ²_ab                           ((n − 1)(J − 1) df)
    E[MS_resid]  = σ²_ε                                     (n(E − 1)(J − 1) df)

each truncated at 0. Intervals: a percentile bootstrap over items for the item, epoch,
item × judge and residual components (items are the sampled unit), and for the judge component,
which rests on J − 1 degrees of freedom whatever n is, Satterthwaite's χ² interval (Satterthwaite
1946, Biometrics 2:110; Searle et al. §4.4). The variance of the grand mean,

    σ²_a/n + σ²_c/(nE) + σ²_b/J + σ²_ab/(nJ) + σ²_ε/(nEJ),

says what to buy: the report gives the standard error after doubling items, epochs or judges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

COMPONENTS = ("item", "epoch", "judge", "item_x_judge", "residual")


@dataclass(frozen=True)
class VarianceComponents:
    """Estimates and intervals per component, and what doubling each resource buys."""

    estimates: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    n_items: int
    n_epochs: int
    n_judges: int
    standard_error: float
    standard_error_if_doubled: dict[str, float]
    confidence: float

    @property
    def advice(self) -> str:
        """Which resource, doubled, shrinks the standard error of the mean most."""
        best = min(self.standard_error_if_doubled, key=self.standard_error_if_doubled.__getitem__)
        cut = 1 - self.standard_error_if_doubled[best] / self.standard_error
        return f"buy more {best}: doubling them cuts the standard error by {100 * cut:.0f}%"


def _mean_squares(
    s: dict[str, NDArray[np.float64]],
    w: NDArray[np.float64],
    n: int,
    e: int,
    j: int,
) -> dict[str, NDArray[np.float64]]:
    """Mean squares from per-item summaries, for resample weights ``w`` (B × n counts)."""
    total = w.sum(axis=1, keepdims=True)  # = n
    grand = (w * s["mean"]).sum(axis=1) / total[:, 0]
    judge_means = (w @ s["judge_means"]) / total  # (B, J)
    ss_item = e * j * (w * (s["mean"][None, :] - grand[:, None]) ** 2).sum(axis=1)
    ss_judge = n * e * ((judge_means - grand[:, None]) ** 2).sum(axis=1)
    # Σ_i Σ_j (m_ij − m_i − m_j + m)²·E via per-item pieces: Σ_ij (m_ij − m_i)² − n·Σ_j (m_j − m)²
    ss_ij = e * ((w @ s["ij_dev2"]) - n * ((judge_means - grand[:, None]) ** 2).sum(axis=1))
    ss_epoch = w @ s["epoch_ss"]
    ss_resid = w @ s["resid_ss"]
    out = {
        "item": ss_item / max(n - 1, 1),
        "epoch": ss_epoch / max(n * (e - 1), 1),
        "judge": ss_judge / max(j - 1, 1),
        "item_x_judge": ss_ij / max((n - 1) * (j - 1), 1),
        "residual": ss_resid / max(n * (e - 1) * (j - 1), 1),
    }
    return out


def _components(
    ms: dict[str, NDArray[np.float64]], n: int, e: int, j: int
) -> dict[str, NDArray[np.float64]]:
    res = ms["residual"] if e > 1 and j > 1 else np.zeros_like(ms["item"])
    ep = ms["epoch"] if e > 1 else np.zeros_like(ms["item"])
    ij = ms["item_x_judge"] if j > 1 else np.zeros_like(ms["item"])
    # With one judge the residual folds into the epoch term; with one epoch into item × judge.
    if j == 1:
        res = np.zeros_like(res)
    if e == 1:
        res = np.zeros_like(res)
    comp = {
        "residual": res,
        "epoch": (ep - res) / j if e > 1 else np.zeros_like(ep),
        "item_x_judge": (ij - res) / e if j > 1 else np.zeros_like(ij),
        "judge": (ms["judge"] - ij) / (n * e) if j > 1 else np.zeros_like(ij),
        "item": (ms["item"] - (ep if e > 1 else 0) - (ij if j > 1 else 0) + res) / (e * j),
    }
    if e > 1 and j == 1:  # J = 1: MS_item = σ²_c' + E·σ²_a, MS_epoch = σ²_c'
        comp["item"] = (ms["item"] - ep) / e
    elif j > 1 and e == 1:  # E = 1: MS_item = σ²' + J·σ²_a, MS_i×j = σ²'
        comp["item"] = (ms["item"] - ij) / j
    elif e == 1 and j == 1:
        comp["item"] = ms["item"]
    return {k: np.maximum(v, 0.0) for k, v in comp.items()}


def variance_components(
    scores: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1_000,
    seed: int | None = 0,
) -> VarianceComponents:
    """The components of the module docstring from an items × epochs × judges array (no
    missing values: drop incomplete items first). A 2-D array is items × epochs (one judge).
    """
    from scipy.stats import chi2

    x = np.asarray(scores, dtype=float)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or np.isnan(x).any():
        raise ValueError("need a complete items × epochs × judges array")
    n, e, j = x.shape
    if n < 2:
        raise ValueError("need at least two items")
    m_i = x.mean(axis=(1, 2))
    m_ij = x.mean(axis=1)  # (n, J)
    m_ie = x.mean(axis=2)  # (n, E)
    s = {
        "mean": m_i,
        "judge_means": m_ij,
        "ij_dev2": ((m_ij - m_i[:, None]) ** 2).sum(axis=1),
        "epoch_ss": j * ((m_ie - m_i[:, None]) ** 2).sum(axis=1),
        "resid_ss": ((x - m_ij[:, None, :] - m_ie[:, :, None] + m_i[:, None, None]) ** 2).sum(
            axis=(1, 2)
        ),
    }
    ones = np.ones((1, n))
    ms = _mean_squares(s, ones, n, e, j)
    point = {k: float(v[0]) for k, v in _components(ms, n, e, j).items()}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_resamples, n))
    offsets = (np.arange(n_resamples)[:, None] * n + draws).ravel()
    w = np.bincount(offsets, minlength=n_resamples * n).reshape(n_resamples, n).astype(float)
    boot = _components(_mean_squares(s, w, n, e, j), n, e, j)
    alpha = 1 - confidence
    low = {k: float(np.quantile(v, alpha / 2)) for k, v in boot.items()}
    high = {k: float(np.quantile(v, 1 - alpha / 2)) for k, v in boot.items()}
    if j > 1:
        ms_j, ms_ij = float(ms["judge"][0]), float(ms["item_x_judge"][0])
        est = point["judge"] * n * e
        nu = (ms_j - ms_ij) ** 2 / (ms_j**2 / (j - 1) + ms_ij**2 / max((n - 1) * (j - 1), 1))
        if est > 0 and nu > 0:
            low["judge"] = nu * point["judge"] / float(chi2.ppf(1 - alpha / 2, nu))
            high["judge"] = nu * point["judge"] / float(chi2.ppf(alpha / 2, nu))
        else:
            low["judge"], high["judge"] = 0.0, math.nan

    def se(nn: int, ee: int, jj: int) -> float:
        p = point
        v = (
            p["item"] / nn + p["epoch"] / (nn * ee) + p["judge"] / jj
            + p["item_x_judge"] / (nn * jj) + p["residual"] / (nn * ee * jj)
        )  # fmt: skip
        return math.sqrt(v)

    doubled = {"items": se(2 * n, e, j), "epochs": se(n, 2 * e, j)}
    if j > 1:
        doubled["judges"] = se(n, e, 2 * j)
    return VarianceComponents(
        estimates=point, low=low, high=high, n_items=n, n_epochs=e, n_judges=j,
        standard_error=se(n, e, j), standard_error_if_doubled=doubled, confidence=confidence,
    )  # fmt: skip
