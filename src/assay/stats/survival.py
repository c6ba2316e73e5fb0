"""Length distributions when some lengths are cut off: Kaplan–Meier, through statsmodels.

An output stopped at its ``max_tokens`` cap (finish reason ``length``) is not an output of that
length: it is one that would have been *at least* that long. Treating the cap as the length
biases every upper percentile down exactly where a cap is chosen, so lengths are a
right-censored sample and their distribution is the Kaplan–Meier product-limit estimate
Ŝ(t) = ∏_{tᵢ ≤ t} (1 − dᵢ/nᵢ) (Kaplan & Meier 1958, JASA 53:457), computed by
``statsmodels.duration.survfunc.SurvfuncRight``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from assay.stats.quantiles import QuantileEstimate, quantile_intervals


@dataclass(frozen=True)
class Exceedance:
    """Ŝ(t): the estimated share of outputs longer than ``t``, with a Wilson-type interval
    on the Greenwood standard error (``low``/``high``), or NaN when ``t`` lies beyond the last
    uncensored observation (the data cannot say)."""

    t: float
    share: float
    low: float
    high: float
    standard_error: float


def _fit(lengths: np.ndarray, censored: np.ndarray):  # type: ignore[no-untyped-def]
    from statsmodels.duration.survfunc import SurvfuncRight

    with np.errstate(divide="ignore", invalid="ignore"):
        return SurvfuncRight(lengths, (~censored).astype(int))


def censored_quantiles(
    lengths: ArrayLike,
    censored: ArrayLike,
    qs: Sequence[float],
    confidence: float = 0.95,
) -> list[QuantileEstimate]:
    """Kaplan–Meier quantiles of right-censored ``lengths`` with intervals.

    The q-quantile is the smallest t with 1 − Ŝ(t) ≥ q (``SurvfuncRight.quantile``); its
    interval is Brookmeyer & Crowley's (1982, Biometrics 38:29) test-inversion interval on the
    complementary log-log scale (``SurvfuncRight.quantile_ci``). A quantile beyond the share
    of outputs that finished on their own (q > 1 − Ŝ at the largest uncensored length) cannot
    be estimated and is NaN: the cap hides it. With no censored value the estimator is the
    empirical distribution, and the order-statistic interval of
    :func:`~assay.stats.quantiles.quantile_intervals` is used (exact and distribution-free,
    with the same type-1 quantile definition).
    """
    t = np.asarray(lengths, dtype=float)
    c = np.asarray(censored, dtype=bool)
    if t.shape != c.shape:
        raise ValueError("lengths and censored must have the same shape")
    n, n_censored = int(t.size), int(c.sum())
    if n_censored == 0 or n == 0:
        return quantile_intervals(t, qs, confidence, interpolation="inverted_cdf")
    fit = _fit(t, c)
    out = []
    for q in qs:
        estimate = float(fit.quantile(q))
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                low, high = fit.quantile_ci(q, alpha=1 - confidence, method="cloglog")
        except (ValueError, ZeroDivisionError, FloatingPointError):  # pragma: no cover
            low, high = math.nan, math.nan
        out.append(
            QuantileEstimate(
                q,
                estimate,
                float(low) if low is not None and math.isfinite(low) else math.nan,
                float(high) if high is not None and math.isfinite(high) else math.nan,
                n,
                confidence,
                "kaplan-meier",
                n_censored,
            )
        )
    return out


def exceedance(
    lengths: ArrayLike, censored: ArrayLike, t: float, confidence: float = 0.95
) -> Exceedance:
    """Ŝ(t), the estimated share of outputs longer than ``t`` (what a cap at ``t`` would
    truncate), with the Greenwood standard error (``SurvfuncRight.surv_prob_se``) and a
    log-log interval exp(−exp(log(−log Ŝ) ± z·se/(Ŝ·|log Ŝ|))) (Kalbfleisch & Prentice 2002,
    §1.4), which stays inside [0, 1]. With no censoring Ŝ(t) is the share of lengths above
    ``t`` and its interval Wilson's. NaN when ``t`` is at or beyond the largest censored value
    and no uncensored length exceeds it (the data cannot tell what lies past the cap).
    """
    x = np.asarray(lengths, dtype=float)
    c = np.asarray(censored, dtype=bool)
    n = int(x.size)
    if n == 0:
        return Exceedance(t, math.nan, math.nan, math.nan, math.nan)
    from scipy.special import ndtri

    z = float(ndtri(1 - (1 - confidence) / 2))
    if not c.any():
        from assay.stats.intervals import wilson_interval

        above = int((x > t).sum())
        w = wilson_interval(above, n, confidence)
        return Exceedance(
            t, w.estimate, w.low, w.high, math.sqrt(w.estimate * (1 - w.estimate) / n)
        )
    if t >= float(x[c].max()) and not (x[~c] > t).any():
        return Exceedance(t, math.nan, math.nan, math.nan, math.nan)
    fit = _fit(x, c)
    times = np.asarray(fit.surv_times)
    k = int(np.searchsorted(times, t, side="right")) - 1
    if k < 0:
        return Exceedance(t, 1.0, 1.0, 1.0, 0.0)
    share = float(fit.surv_prob[k])
    se = float(fit.surv_prob_se[k])
    if share <= 0.0 or share >= 1.0 or se == 0.0:
        return Exceedance(t, share, share, share, se)
    log_log = math.log(-math.log(share))
    spread = z * se / (share * abs(math.log(share)))
    bounds = sorted(math.exp(-math.exp(log_log + s)) for s in (-spread, spread))
    return Exceedance(t, share, bounds[0], bounds[1], se)


def smallest_cap(lengths: ArrayLike, censored: ArrayLike, share: float) -> float:
    """The smallest observed length t with Ŝ(t) ≤ ``share``: the shortest cap that would cut
    at most that share of outputs, on the Kaplan–Meier estimate (the empirical distribution
    without censoring). NaN when Ŝ never falls that low below the largest censored value (the
    cap hides it)."""
    x = np.asarray(lengths, dtype=float)
    c = np.asarray(censored, dtype=bool)
    if x.size == 0:
        return math.nan
    if not c.any():
        values = np.sort(x)
        above = x.size - np.searchsorted(values, values, side="right")  # count of lengths > v
        ok = np.flatnonzero(above <= share * x.size + 1e-9)
        return float(values[ok[0]]) if ok.size else math.nan
    fit = _fit(x, c)
    times, surv = np.asarray(fit.surv_times), np.asarray(fit.surv_prob)
    ok = np.flatnonzero(surv <= share + 1e-12)
    return float(times[ok[0]]) if ok.size else math.nan
