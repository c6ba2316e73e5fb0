"""Outcome and segment checks (E4, E5, E6, G7): where an aggregate that passes hides a part
that fails.

- :func:`segment_satisfaction` (E4): a satisfaction score (CSAT 1–5, a thumbs share) whose
  aggregate meets its threshold while a segment's (an intent's, a locale's) does not: the
  segment is flagged ``segment_fails(<segment>)`` when its whole interval lies below the
  threshold.
- :func:`acceptance_vs_correctness` (E5): per cohort, how often suggestions are accepted
  unedited against how often they are correct. High acceptance with many accepted-but-wrong
  suggestions is ``automation_bias``; low acceptance of mostly correct suggestions is
  ``algorithm_aversion`` (under-trust).
- :func:`coverage_gaps` (E6): a product surface whose share of traffic grew to a material share
  while the eval set holds (almost) no case of it: ``coverage_gap(<surface>)``.
- :func:`tokenizer_drift` (G7): provider-reported token counts against local estimates, per
  language; a language whose ratio's interval lies beyond the tolerance is flagged
  ``tokenizer_drift(<language>)=<percent>``.

Every rate carries a Wilson interval, every mean a t interval, and the ratio a bootstrap
interval; flags need the interval, not only the point, to be on the wrong side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from assay.stats.intervals import Interval, t_interval, wilson_interval


@dataclass(frozen=True)
class Flag:
    """A named finding (``automation_bias``, ``coverage_gap(mobile)`` …) with its evidence."""

    name: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"flag": self.name, **self.detail}


def _interval(i: Interval) -> dict[str, Any]:
    def clean(v: float) -> float | None:
        return None if math.isnan(v) else round(float(v), 6)

    return {"estimate": clean(i.estimate), "low": clean(i.low), "high": clean(i.high), "n": i.n}


def segment_satisfaction(
    scores: ArrayLike,
    segments: Sequence[str],
    *,
    threshold: float,
    confidence: float = 0.95,
    min_n: int = 10,
) -> list[Flag]:
    """E4: flag every segment (with at least ``min_n`` scores) whose t interval lies wholly
    below ``threshold`` while the aggregate mean meets it."""
    x = np.asarray(scores, dtype=float)
    if x.size != len(segments):
        raise ValueError("one segment per score")
    overall = t_interval(x, confidence)
    if not overall.estimate >= threshold:
        return []
    flags = []
    labels = np.asarray(segments, dtype=object)
    for segment in sorted(set(segments)):
        part = x[labels == segment]
        if part.size < min_n:
            continue
        interval = t_interval(part, confidence)
        if interval.high < threshold:
            flags.append(
                Flag(
                    f"segment_fails({segment})",
                    {
                        "segment": segment,
                        "threshold": threshold,
                        "segment_mean": _interval(interval),
                        "aggregate_mean": _interval(overall),
                    },
                )
            )
    return flags


def acceptance_vs_correctness(
    cohorts: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    high_acceptance: float = 0.9,
    wrong_when_accepted: float = 0.2,
    low_acceptance: float = 0.1,
    correct_when_declined: float = 0.8,
    confidence: float = 0.95,
) -> list[Flag]:
    """E5: per cohort, ``(accepted, correct)`` arrays (1/0; ``correct`` NaN where ungraded).

    ``automation_bias``: acceptance ≥ ``high_acceptance`` and the Wilson lower bound of the
    incorrect share among accepted, graded suggestions ≥ ``wrong_when_accepted``.
    ``algorithm_aversion``: acceptance ≤ ``low_acceptance`` and the lower bound of the correct
    share among graded suggestions ≥ ``correct_when_declined``."""
    flags = []
    for name, (accepted_raw, correct_raw) in cohorts.items():
        accepted = np.asarray(accepted_raw, dtype=float)
        correct = np.asarray(correct_raw, dtype=float)
        acc = wilson_interval(int(accepted.sum()), int(accepted.size), confidence)
        graded = ~np.isnan(correct)
        wrong_acc = wilson_interval(
            int(((accepted == 1) & graded & (correct == 0)).sum()),
            int(((accepted == 1) & graded).sum()),
            confidence,
        )
        right = wilson_interval(int((graded & (correct == 1)).sum()), int(graded.sum()), confidence)
        detail = {
            "cohort": name,
            "acceptance": _interval(acc),
            "incorrect_among_accepted": _interval(wrong_acc),
            "correct": _interval(right),
        }
        if acc.estimate >= high_acceptance and wrong_acc.low >= wrong_when_accepted:
            flags.append(Flag("automation_bias", detail))
        elif acc.estimate <= low_acceptance and right.low >= correct_when_declined:
            flags.append(Flag("algorithm_aversion", detail))
    return flags


def coverage_gaps(
    traffic_before: Mapping[str, int],
    traffic_now: Mapping[str, int],
    eval_cases: Mapping[str, int],
    *,
    min_share: float = 0.1,
    max_cases: int = 0,
    confidence: float = 0.95,
) -> list[Flag]:
    """E6: ``coverage_gap(<surface>)`` for every surface whose traffic share now has a Wilson
    lower bound ≥ ``min_share``, that grew since the earlier window, and that has at most
    ``max_cases`` eval cases."""
    total_before = sum(traffic_before.values())
    total_now = sum(traffic_now.values())
    flags = []
    for surface, count in sorted(traffic_now.items()):
        share = wilson_interval(count, total_now, confidence)
        before = wilson_interval(traffic_before.get(surface, 0), total_before, confidence)
        cases = int(eval_cases.get(surface, 0))
        grew = math.isnan(before.estimate) or share.estimate > before.estimate
        if share.low >= min_share and grew and cases <= max_cases:
            flags.append(
                Flag(
                    f"coverage_gap({surface})",
                    {
                        "surface": surface,
                        "share_before": _interval(before),
                        "share_now": _interval(share),
                        "eval_cases": cases,
                    },
                )
            )
    return flags


def tokenizer_drift(
    local: ArrayLike,
    provider: ArrayLike,
    languages: Sequence[str],
    *,
    tolerance: float = 0.05,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> list[Flag]:
    """G7: per language, the provider's total tokens over the local estimate's, minus 1, with a
    percentile bootstrap interval over requests (Efron & Tibshirani 1993, §13.3); flagged
    ``tokenizer_drift(<lang>)=<pct>%`` when the whole interval lies beyond ±``tolerance``."""
    lo = np.asarray(local, dtype=float)
    pr = np.asarray(provider, dtype=float)
    labels = np.asarray(languages, dtype=object)
    if not lo.size == pr.size == labels.size:
        raise ValueError("local, provider and languages must have one entry per request")
    rng = np.random.default_rng(seed)
    flags = []
    alpha = 1 - confidence
    for lang in sorted(set(languages)):
        mask = labels == lang
        a, b = lo[mask], pr[mask]
        if a.sum() <= 0 or a.size < 2:
            continue
        ratio = b.sum() / a.sum() - 1
        idx = rng.integers(0, a.size, size=(resamples, a.size))
        boot = b[idx].sum(axis=1) / a[idx].sum(axis=1) - 1
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        if low > tolerance or high < -tolerance:
            flags.append(
                Flag(
                    f"tokenizer_drift({lang})={100 * ratio:.0f}%",
                    {
                        "language": lang,
                        "ratio_minus_one": round(float(ratio), 6),
                        "low": round(float(low), 6),
                        "high": round(float(high), 6),
                        "n": int(a.size),
                    },
                )
            )
    return flags
