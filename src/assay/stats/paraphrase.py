"""Prompt sensitivity: comparing two models over several paraphrased prompt templates
(issue 13, item 4).

Both models answer the same n items under the same T templates; ``a[i, t]`` and ``b[i, t]`` are
their scores. The comparison is marginalised over templates (each item's difference averaged
over the T phrasings, then a paired t interval), and three questions are answered:

* does the difference depend on the phrasing? Hotelling's T² on the T − 1 contrasts
  d_it − d_i1 of the per-template differences (items are the independent units; the templates'
  estimates share items, so tests that treat them as independent are wrong; Anderson 2003,
  *An Introduction to Multivariate Statistical Analysis*, §5.3);
* does the order flip? ``ranking_flips_under_paraphrase`` is raised when some template's
  difference lies more than one standard error on the other side of zero from the marginal
  difference *and* the phrasing effect is significant at α: a sign change that noise alone
  could explain (a 5-point win measured as −1 point) is not flagged;
* how much does phrasing move each model? Its prompt variance component, the variance of its
  T template means less their sampling variance, σ²_prompt = max(0, Var_t(ȳ_t) − mean_t s²_t/n)
  (method of moments).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats.intervals import Interval, t_interval

RANKING_FLIPS = "ranking_flips_under_paraphrase"


@dataclass(frozen=True)
class ParaphraseSensitivity:
    """B − A marginalised over templates, per template, and the flip flag."""

    marginal: Interval
    per_template: list[Interval]
    interaction_p: float
    prompt_variance_a: float
    prompt_variance_b: float
    flags: list[str]

    @property
    def flips(self) -> bool:
        return RANKING_FLIPS in self.flags


def _prompt_variance(x: NDArray[np.float64]) -> float:
    n = x.shape[0]
    means = x.mean(axis=0)
    noise = float(np.mean(x.var(axis=0, ddof=1))) / n
    return max(0.0, float(means.var(ddof=1)) - noise) if means.size > 1 else 0.0


def paraphrase_sensitivity(
    a: ArrayLike, b: ArrayLike, *, alpha: float = 0.05, confidence: float = 0.95
) -> ParaphraseSensitivity:
    """See the module docstring. ``a`` and ``b`` are items × templates arrays (same items,
    same templates, same order)."""
    from scipy.stats import f as f_dist

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 2 or x.shape[0] < 3:
        raise ValueError("need two items × templates arrays of one shape, with 3+ items")
    d = y - x
    n, t = d.shape
    marginal = t_interval(d.mean(axis=1), confidence)
    per = [t_interval(d[:, k], confidence) for k in range(t)]
    p = math.nan
    if t > 1:
        c = d[:, 1:] - d[:, :1]
        q = t - 1
        mean = c.mean(axis=0)
        cov = np.atleast_2d(np.cov(c, rowvar=False))
        if n > q and np.all(np.isfinite(cov)):
            try:
                t2 = float(n * mean @ np.linalg.solve(cov, mean))
                stat = (n - q) / (q * (n - 1)) * t2
                p = float(f_dist.sf(stat, q, n - q))
            except np.linalg.LinAlgError:
                p = 1.0 if np.allclose(mean, 0) else 0.0
    flags = []
    sign = np.sign(marginal.estimate)
    opposite = any(
        sign != 0 and i.standard_error > 0 and -sign * i.estimate / i.standard_error > 1
        for i in per
    )
    if opposite and not math.isnan(p) and p < alpha:
        flags.append(RANKING_FLIPS)
    return ParaphraseSensitivity(
        marginal=marginal,
        per_template=per,
        interaction_p=p,
        prompt_variance_a=_prompt_variance(x),
        prompt_variance_b=_prompt_variance(y),
        flags=flags,
    )
