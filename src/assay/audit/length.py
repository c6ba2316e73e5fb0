"""Length bias: raw versus length-controlled win rate, and the verbosity attack (REQUIREMENTS C2).

LLM judges prefer longer answers. Two measurements of the same defect:

* :func:`length_check` — the win rate of B over A, raw and length-controlled (AlpacaEval 2.0's
  GLM with the length term set to zero; Dubois et al. 2024, arXiv 2404.04475, through
  :func:`assay.stats.length_controlled_win_rate`). A judge whose verdicts length explains
  shows a gap between the two.
* :func:`verbosity_check` — the verbosity attack: the same answer padded with content-free
  filler against itself unpadded (Zheng et al. 2023, MT-Bench §3.3 "verbosity attack"). The
  padding adds nothing, so a judge without length bias prefers the padded copy at most half
  the time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from assay.core.certificate import CheckResult, CheckVerdict
from assay.stats import GamedBaseline, length_controlled_win_rate, mean_interval


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def length_check(
    preferences: ArrayLike,
    len_a: ArrayLike,
    len_b: ArrayLike,
    *,
    item_ids: ArrayLike | None = None,
    difficulty: Mapping[Any, float] | tuple[ArrayLike, ArrayLike] | None = None,
    gamed: Sequence[GamedBaseline] = (),
    matched: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
    tolerance: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 200,
    seed: int = 0,
) -> CheckResult:
    """Raw versus length-controlled win rate of B over A.

    ``preferences[i]`` is the judge's preference for B over A on item i, on [0, 1] (0.5 a
    tie; NaN an error, left out and counted); ``len_a``/``len_b`` the outputs' lengths in
    characters; ``item_ids``, ``difficulty`` and ``gamed`` go to
    :func:`assay.stats.length_controlled_win_rate` (B is its "model", A its "baseline").

    ``matched`` = (preferences, len_a, len_b) of the same pairs with the shorter answer padded
    to the longer one's length. They join the model's rows of the GLM (not the raw rate).
    Without them, when one side is always the longer, tanh(Δ/sd(Δ)) is ≈ 1 on every row and
    the length term is confounded with the model term, so only the gamed rows pin it. Those
    compare an answer with its own padded copy, with no quality difference, and a logistic
    model is not collapsible: the same length effect moves the win rate less on real pairs,
    where quality differences decide many items. So the gamed slope over-corrects the real
    comparison (issue 20: 79.1% raw became 7.1% LC on an equal-quality pair; C2 wants 50% ±
    5). Length-matched rows give the model's rows their own Δ ≈ 0 anchor, so the length
    coefficient is fitted on the compared pair, quality heterogeneity included, and the gamed
    rows act only as AlpacaEval's weak prior (λ = 0.2).

    Figure: raw − LC, the share of B's win rate that length explains (positive when B is
    longer and length helps it). Its interval is raw minus the LC's percentile bootstrap
    interval (``n_resamples`` item resamples, ``seed``): it treats raw as fixed, which is
    conservative, since raw and LC move together across resamples. ``details`` has raw (with
    :func:`assay.stats.mean_interval`), LC (with its bootstrap interval), the GLM's length
    coefficient and the mean length gap.

    Verdict, flag ``length_bias``: ``fail`` when |raw − LC| > ``tolerance`` *and* the LC
    interval excludes the raw rate (length control moves the verdict by more than the
    tolerance, and not by chance); ``warn`` when only one of the two holds; ``pass``
    otherwise. With ``n_resamples`` = 0 there is no LC interval and only the size rule can
    fire (at most ``warn``). When the cross-validated L1 penalty zeroes every coefficient the
    data show no length effect, and the "LC" of 50% would be an artefact: ``pass`` with figure
    0.
    """
    p = np.asarray(preferences, dtype=float).reshape(-1)
    la = np.asarray(len_a, dtype=float).reshape(-1)
    lb = np.asarray(len_b, dtype=float).reshape(-1)
    if not p.size == la.size == lb.size:
        raise ValueError("preferences, len_a and len_b differ in length")
    keep = ~np.isnan(p)
    errors = int((~keep).sum())
    raw_rows = p[keep]
    ids = None if item_ids is None else np.asarray(item_ids).reshape(-1)
    if matched is not None:
        mp, ma, mb = (np.asarray(x, dtype=float).reshape(-1) for x in matched)
        if not mp.size == ma.size == mb.size:
            raise ValueError("matched preferences and lengths differ in length")
        if difficulty is not None:
            raise ValueError("matched rows carry no item ids to join a difficulty to")
        real_gap = float(np.mean(lb[keep] - la[keep])) if keep.any() else math.nan
        p, la, lb = np.concatenate([p, mp]), np.concatenate([la, ma]), np.concatenate([lb, mb])
        ids = None
    else:
        real_gap = float(np.mean(lb[keep] - la[keep])) if keep.any() else math.nan
    if raw_rows.size < 2:
        return CheckResult(
            check="length_bias",
            verdict="skipped",
            message=f"need at least two judged pairs for length control (have {raw_rows.size})",
            details={"errors": errors},
        )
    fit = length_controlled_win_rate(
        p,
        lb,
        la,
        item_ids=ids,
        difficulty=difficulty,
        gamed=gamed,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    raw_ci = mean_interval(raw_rows, confidence)
    raw, lc = float(raw_rows.mean()), fit.win_rate
    diff = raw - lc
    details: dict[str, Any] = {
        "raw_win_rate": raw,
        "raw_low": _clip(raw_ci.low) if not math.isnan(raw_ci.low) else None,
        "raw_high": _clip(raw_ci.high) if not math.isnan(raw_ci.high) else None,
        "lc_win_rate": lc,
        "length_coefficient": fit.weights.length,
        "C": fit.C,
        "mean_length_gap_b_minus_a": real_gap,
        "matched_rows": 0 if matched is None else int(np.count_nonzero(~np.isnan(mp))),
        "errors": errors,
        "tolerance": tolerance,
    }
    held: list[str] = []
    low = high = None
    if fit.weights.length == 0.0 and fit.weights.model == 0.0:
        # The L1 penalty cross-validation chose zeroed every coefficient: there is no length
        # effect to remove, and "LC" would be sigmoid(0) = 50%, an artefact of the penalty.
        details["conditions_held"] = held
        return CheckResult(
            check="length_bias",
            figure=0.0,
            n=int(raw_rows.size),
            verdict="pass",
            message=f"B's win rate {100 * raw:.1f}% raw; the length model found no length "
            "effect to control for (coefficient 0)",
            details=details,
        )
    if abs(diff) > tolerance:
        held.append("beyond_tolerance")
    if fit.interval is not None:
        details.update(lc_low=fit.interval.low, lc_high=fit.interval.high)
        low, high = raw - fit.interval.high, raw - fit.interval.low
        if not fit.interval.low <= raw <= fit.interval.high:
            held.append("lc_interval_excludes_raw")
    details["conditions_held"] = held
    verdict: CheckVerdict = "fail" if len(held) == 2 else "warn" if held else "pass"
    message = (
        f"B's win rate {100 * raw:.1f}% raw, {100 * lc:.1f}% length-controlled "
        f"(difference {100 * diff:+.1f} points)"
    )
    if verdict == "fail":
        message += ": the judge's verdicts depend on length"
    return CheckResult(
        check="length_bias",
        figure=diff,
        low=low,
        high=high,
        n=int(raw_rows.size),
        verdict=verdict,
        flag="length_bias" if verdict == "fail" else None,
        message=message,
        details=details,
    )


def verbosity_check(
    preferences_padded_over_original: ArrayLike,
    *,
    tolerance: float = 0.05,
    confidence: float = 0.95,
) -> CheckResult:
    """The verbosity attack's success rate: how often the padded copy beats the original.

    ``preferences_padded_over_original[i]`` is the preference for the padded answer over the
    same answer unpadded on [0, 1] (1 padded wins, 0.5 a tie: ties count half; NaN an error,
    left out and counted). Figure: the mean, with :func:`assay.stats.mean_interval` (Wilson
    for 0/1, t otherwise). A judge without length bias is at or below 0.5.

    Verdict: ``fail`` with flag ``gameable`` (REQUIREMENTS C1) when the whole interval lies
    above 0.5 + ``tolerance`` (default: the padded copy wins significantly more than 55% of
    the time, so the interval also excludes 50%); ``warn`` when the interval lies above 0.5
    (or the point estimate above 0.5 + ``tolerance``) but not the fail rule; ``pass``
    otherwise. C1 names a judge that prefers longer answers ``gameable`` and blocks the gates
    that use it: padding that adds nothing and still wins beyond the tolerance is exactly a
    way to game it (issue 20: the demo judge's padding won 93.5% and only earned
    ``length_bias``, which does not block). ``length_bias`` stays the flag of
    :func:`length_check` (raw vs LC on a real comparison), which describes the data, not an
    attack.
    """
    p = np.asarray(preferences_padded_over_original, dtype=float).reshape(-1)
    errors = int(np.isnan(p).sum())
    kept = p[~np.isnan(p)]
    if np.any((kept < 0) | (kept > 1)):
        raise ValueError("preferences must lie in [0, 1]")
    if kept.size == 0:
        return CheckResult(
            check="verbosity_attack",
            verdict="skipped",
            message="no judged padded/original pairs",
            details={"errors": errors},
        )
    ci = mean_interval(kept, confidence)
    rate = float(ci.estimate)
    low = _clip(ci.low) if not math.isnan(ci.low) else rate
    high = _clip(ci.high) if not math.isnan(ci.high) else rate
    line = 0.5 + tolerance
    verdict: CheckVerdict
    if low > line:
        verdict = "fail"
    elif low > 0.5 or rate > line:
        verdict = "warn"
    else:
        verdict = "pass"
    message = (
        f"the padded copy wins {100 * rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}] "
        f"against the original"
    )
    if verdict == "fail":
        message += f", above {100 * line:.0f}%: the judge rewards length and is gameable"
    return CheckResult(
        check="verbosity_attack",
        figure=rate,
        low=low,
        high=high,
        n=int(kept.size),
        verdict=verdict,
        flag="gameable" if verdict == "fail" else None,
        message=message,
        details={
            "errors": errors,
            "wins": int(np.count_nonzero(kept == 1)),
            "ties": int(np.count_nonzero(kept == 0.5)),
            "losses": int(np.count_nonzero(kept == 0)),
            "tolerance": tolerance,
            "interval_method": ci.method,
        },
    )
