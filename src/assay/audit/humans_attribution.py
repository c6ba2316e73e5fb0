"""Attributing a composite change to the human cohort, the judge or the system (C8).

The frozen anchor set's outputs never change, so a shift in the humans' mean on them is the
cohort's and a shift in the judge's mean is the judge's; what remains of the composite change
on fresh production samples is the system's (:func:`attribute_drift`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.audit.self_preference import welch_difference
from assay.core.certificate import CheckResult
from assay.stats import paired_difference


@dataclass(frozen=True)
class Shift:
    """A change from period 1 to period 2 with its interval and standard error. ``method`` is
    ``paired-t`` (the same anchors in both periods), ``welch`` (different items) or
    ``difference`` (composite minus instrument shifts, normal interval)."""

    estimate: float
    low: float
    high: float
    standard_error: float
    n: int
    method: str

    @property
    def significant(self) -> bool:
        return bool(self.low > 0 or self.high < 0)

    def as_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "estimate": clean(self.estimate),
            "low": clean(self.low),
            "high": clean(self.high),
            "standard_error": clean(self.standard_error),
            "n": self.n,
            "method": self.method,
            "significant": self.significant,
        }


def _per_item_means(values: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for item, value in values.items():
        seq = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
        try:
            numbers = [float(v) for v in seq if v is not None and math.isfinite(float(v))]
        except (TypeError, ValueError):
            raise ValueError(
                f"anchor {item!r} has a non-numeric score {value!r}; attribution compares "
                "means, so map labels to numbers (pass = 1, fail = 0) first"
            ) from None
        if numbers:
            out[str(item)] = float(np.mean(numbers))
    return out


def _anchor_shift(
    before: Mapping[str, Any], after: Mapping[str, Any], confidence: float, what: str
) -> Shift:
    """Period-2 minus period-1 mean on the anchors: paired by anchor when at least two
    anchors were scored in both periods, else Welch over the two periods' anchors."""
    a, b = _per_item_means(before), _per_item_means(after)
    common = [x for x in a if x in b]
    if len(common) >= 2:
        result = paired_difference(
            [a[x] for x in common], [b[x] for x in common], confidence=confidence
        )
        iv = result.interval
        return Shift(result.difference, iv.low, iv.high, result.se_paired, result.n, "paired-t")
    if not a or not b:
        raise ValueError(f"the {what} have no scored anchor in one of the two periods")
    welch = welch_difference(list(b.values()), list(a.values()), confidence=confidence)
    return Shift(
        welch.difference,
        welch.low,
        welch.high,
        welch.standard_error,
        welch.n_x + welch.n_y,
        "welch",
    )


@dataclass(frozen=True)
class DriftAttribution:
    """The C8 attribution table between ``periods[0]`` and ``periods[1]``.

    ``human`` and ``judge`` are the shifts of the humans' and the judge's mean on the frozen
    anchor set (the system's change there is zero by construction, so each is pure
    instrument drift); ``composite`` the change of the composite score on fresh production
    samples and ``system`` what remains after the instrument shifts. ``contributions`` are
    each cause's share of the composite change (``human_weight`` × human shift,
    (1 − ``human_weight``) × judge shift, the system shift); ``dominant`` is the
    significant cause with the largest |contribution|, or ``none``.
    """

    periods: tuple[str, str]
    human: Shift
    judge: Shift
    composite: Shift | None
    system: Shift | None
    human_weight: float
    contributions: dict[str, float]
    dominant: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "periods": list(self.periods),
            "human_cohort": self.human.as_dict(),
            "judge": self.judge.as_dict(),
            "composite": self.composite.as_dict() if self.composite else None,
            "system": self.system.as_dict() if self.system else None,
            "human_weight": self.human_weight,
            "contributions": dict(self.contributions),
            "dominant": self.dominant,
            "message": self.message,
        }

    def to_check(self) -> CheckResult:
        """``fail``/``drifted`` when the judge is the dominant cause, ``warn`` when the human
        cohort is (the reference moved), ``pass`` for ``system`` or ``none``."""
        if self.dominant == "judge":
            verdict, flag = "fail", "drifted"
        elif self.dominant == "human_cohort":
            verdict, flag = "warn", None
        else:
            verdict, flag = "pass", None
        main = self.composite or self.judge
        return CheckResult(
            check="drift_attribution",
            figure=main.estimate,
            low=main.low if math.isfinite(main.low) else None,
            high=main.high if math.isfinite(main.high) else None,
            n=main.n,
            verdict=verdict,
            flag=flag,
            message=self.message,
            details=self.as_dict(),
        )


def attribute_drift(
    anchor_human_by_period: Mapping[str, Mapping[str, Any]],
    anchor_judge_by_period: Mapping[str, Mapping[str, Any]],
    system_by_period: Mapping[str, Sequence[float]] | None = None,
    *,
    periods: tuple[str, str] | None = None,
    human_weight: float = 0.5,
    confidence: float = 0.95,
) -> DriftAttribution:
    """Attribute a composite change to the human cohort, the judge or the system (C8).

    Inputs are ``{period: {anchor id: score or [scores]}}`` for the humans (several raters'
    labels of an anchor are averaged; :func:`labels_by_period` builds this from
    :class:`HumanLabel` s) and the judge on the frozen anchor set, and optionally
    ``{period: [composite scores]}`` on fresh production samples. ``periods`` picks the two
    periods (default: the first and last, in sorted order, named by the anchor data).

    Holding one population fixed while the other moves:

    * human shift h = humans' mean on the anchors, period 2 − period 1 (paired by anchor:
      :func:`assay.stats.paired_difference`; Welch when fewer than two anchors were rated in
      both periods);
    * judge shift j, the same for the judge's scores;
    * composite change c = mean of period-2 production composites − period 1's (Welch);
      the composite mixes human and judge scores with weight w = ``human_weight``, so its
      instrument drift is w·h + (1 − w)·j and the system shift is s = c − w·h − (1 − w)·j,
      with SE √(SE_c² + w²SE_h² + (1 − w)²SE_j²) (the three come from separate samples) and
      a normal interval. This assumes each instrument's drift is an additive shift that
      applies equally to anchors and production samples.

    The dominant cause is the one whose interval excludes 0 with the largest |contribution|
    (w·h, (1 − w)·j, s); ``none`` when no interval excludes 0.
    """
    if not 0 <= human_weight <= 1:
        raise ValueError(f"human_weight must lie in [0, 1], got {human_weight}")
    names = sorted(set(anchor_human_by_period) | set(anchor_judge_by_period))
    if periods is None:
        if len(names) < 2:
            raise ValueError(f"attribution needs two periods, got {names}")
        periods = (names[0], names[-1])
    p1, p2 = periods
    for what, data in (("humans", anchor_human_by_period), ("judge", anchor_judge_by_period)):
        for p in periods:
            if p not in data:
                raise ValueError(f"the {what} have no anchor scores for period {p!r}")
    human = _anchor_shift(
        anchor_human_by_period[p1], anchor_human_by_period[p2], confidence, "humans"
    )
    judge = _anchor_shift(
        anchor_judge_by_period[p1], anchor_judge_by_period[p2], confidence, "judge"
    )
    w = human_weight
    contributions = {"human_cohort": w * human.estimate, "judge": (1 - w) * judge.estimate}
    significant = {"human_cohort": human.significant, "judge": judge.significant}
    composite = system = None
    if system_by_period is not None:
        for p in periods:
            if p not in system_by_period or len(system_by_period[p]) == 0:
                raise ValueError(f"no composite scores for period {p!r}")
        welch = welch_difference(system_by_period[p2], system_by_period[p1], confidence=confidence)
        composite = Shift(
            welch.difference,
            welch.low,
            welch.high,
            welch.standard_error,
            welch.n_x + welch.n_y,
            "welch",
        )
        estimate = composite.estimate - contributions["human_cohort"] - contributions["judge"]
        se = math.sqrt(
            composite.standard_error**2
            + (w * human.standard_error) ** 2
            + ((1 - w) * judge.standard_error) ** 2
        )
        from scipy.special import ndtri

        half = float(ndtri(1 - (1 - confidence) / 2)) * se
        system = Shift(estimate, estimate - half, estimate + half, se, composite.n, "difference")
        contributions["system"] = estimate
        significant["system"] = system.significant
    candidates = [c for c in contributions if significant[c]]
    dominant = max(candidates, key=lambda c: abs(contributions[c])) if candidates else "none"

    def fmt(shift: Shift) -> str:
        return f"{shift.estimate:+.3g} [{shift.low:+.3g}, {shift.high:+.3g}]"

    parts = [f"humans on anchors {fmt(human)}", f"judge on anchors {fmt(judge)}"]
    if composite is not None and system is not None:
        parts = [f"composite {fmt(composite)}", *parts, f"system {fmt(system)}"]
    cause = {
        "human_cohort": "the human cohort",
        "judge": "the judge",
        "system": "the system",
        "none": "nothing detectable",
    }[dominant]
    message = f"{p1} → {p2}: change attributed to {cause} (" + "; ".join(parts) + ")"
    return DriftAttribution(
        periods=(p1, p2),
        human=human,
        judge=judge,
        composite=composite,
        system=system,
        human_weight=w,
        contributions=contributions,
        dominant=dominant,
        message=message,
    )
