"""Judge drift (C5-C7): the anchor fingerprint, anchor drift, the instrument-drift signature
and the re-scoring bridge.

A judge is a measuring instrument; like a pH meter it is re-checked against known buffers. The
*anchor set* is a frozen list of (input, output) pairs that the judge re-scores on every run:
since nothing about the graded outputs can change, any shift in the judge's scores on them is
the instrument's. A judge upgraded silently behind an endpoint alias lifted every category by
six points, including a control set the accompanying prompt change could not touch, and the
lift was uniform across categories: "a shape real improvements never have"
(REQUIREMENTS C6). When the judge does change on purpose, history ends up "in two
currencies" unless an overlap set is scored by both and an exchange rate is kept per slice,
because judge changes are uneven (stricter on citations, laxer on verbosity: C7).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from assay.core.certificate import CheckResult, anchor_fingerprint
from assay.stats import Correction, adjust_p_values, paired_difference

__all__ = [
    "ExchangeRate",
    "InstrumentDriftReport",
    "SliceDelta",
    "SliceRate",
    "anchor_drift_check",
    "anchor_fingerprint",
    "exchange_rate",
    "instrument_drift",
]

#: Label of the instrument-drift signature (REQUIREMENTS C6).
INSTRUMENT_DRIFT_SUSPECTED = "instrument drift suspected"


def _finite(value: float) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _score_range(*values: Collection[float]) -> float:
    finite = [float(v) for vs in values for v in vs if math.isfinite(float(v))]
    return max(finite) - min(finite) if finite else 0.0


# -- C5: the fingerprint --------------------------------------------------------------------


# -- C5: drift on the anchor set ------------------------------------------------------------


def anchor_drift_check(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    *,
    tolerance: float | None = None,
    confidence: float = 0.95,
    top: int = 10,
) -> CheckResult:
    """Has the judge's scoring of the frozen anchor set moved since ``previous``?

    Anchors are paired by id (ids present in one mapping only, and missing or NaN scores,
    are listed in ``details`` and left out). The shift is the mean paired difference
    current − previous with the paired t interval
    (:func:`assay.stats.paired_difference`; Miller 2024, "Adding Error Bars to Evals",
    §5): the anchors' own quality is shared by both runs, so only the instrument moves.

    Verdict: ``fail`` with flag ``drifted`` when the interval excludes 0 and |shift| >
    ``tolerance`` (default 3% of the anchors' observed score range, the ``compare``
    ``--min-effect`` convention); ``warn`` when the interval excludes 0 within the
    tolerance; ``pass`` otherwise (a temperature-0 judge that reproduces every score gives a
    zero-width interval at 0); ``skipped`` with fewer than two shared anchors.
    ``details["changed"]`` lists up to ``top`` anchors with the largest |change|.
    """
    common = [
        a
        for a in previous
        if a in current
        and previous[a] is not None
        and current[a] is not None
        and math.isfinite(float(previous[a]))
        and math.isfinite(float(current[a]))
    ]
    only_previous = sorted(str(a) for a in previous if a not in current)
    only_current = sorted(str(a) for a in current if a not in previous)
    shared = set(common)
    missing = sorted(str(a) for a in previous if a in current and a not in shared)
    details: dict[str, Any] = {
        "only_previous": only_previous,
        "only_current": only_current,
        "missing_scores": missing,
        "confidence": confidence,
    }
    check = "anchor_drift"
    if len(common) < 2:
        return CheckResult(
            check=check,
            n=len(common),
            verdict="skipped",
            message=(
                f"anchor drift needs at least two anchors scored in both runs "
                f"(got {len(common)}; {len(only_previous)} only before, "
                f"{len(only_current)} only now)"
            ),
            details=details,
        )
    before = np.array([float(previous[a]) for a in common])
    after = np.array([float(current[a]) for a in common])
    result = paired_difference(before, after, confidence=confidence)
    shift, low, high = result.difference, result.interval.low, result.interval.high
    tol = _score_range(before, after) * 0.03 if tolerance is None else float(tolerance)
    change = after - before
    order = np.argsort(-np.abs(change), kind="stable")
    moved = int(np.count_nonzero(change))
    details.update(
        {
            "tolerance": tol,
            "p_value": _finite(result.p_value),
            "mean_previous": result.mean_a,
            "mean_current": result.mean_b,
            "anchors_changed": moved,
            "changed": [
                {
                    "anchor": str(common[i]),
                    "previous": float(before[i]),
                    "current": float(after[i]),
                    "change": float(change[i]),
                }
                for i in order[:top]
                if change[i] != 0
            ],
        }
    )
    excludes = bool(low > 0 or high < 0)
    span = f"{shift:+.3g} [{low:+.3g}, {high:+.3g}]"
    if excludes and abs(shift) > tol:
        verdict, flag = "fail", "drifted"
        message = (
            f"the judge's scores on the anchor set shifted {span} "
            f"({moved} of {len(common)} anchors changed; tolerance {tol:.3g})"
        )
    elif excludes:
        verdict, flag = "warn", None
        message = f"anchor shift {span} is systematic but within the tolerance {tol:.3g}"
    else:
        verdict, flag = "pass", None
        message = (
            f"no systematic shift on the anchor set: {span} "
            f"({moved} of {len(common)} anchors changed)"
        )
    return CheckResult(
        check=check,
        figure=shift,
        low=_finite(low),
        high=_finite(high),
        n=len(common),
        verdict=verdict,
        flag=flag,
        message=message,
        details=details,
    )


# -- C6: the instrument-drift signature -----------------------------------------------------


@dataclass(frozen=True)
class SliceDelta:
    """One slice's change between two runs: ``delta`` with its interval ``[low, high]`` at
    ``confidence`` over ``n`` samples (e.g. a ``compare`` row)."""

    slice: str
    delta: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)

    @property
    def direction(self) -> int:
        """+1 when the interval lies above 0, −1 below, 0 when it covers 0."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    @property
    def standard_error(self) -> float:
        """(high − low) / (2·z_{1−α/2}): the normal-theory SE behind a symmetric interval."""
        from scipy.special import ndtri

        return (self.high - self.low) / (2 * float(ndtri(1 - (1 - self.confidence) / 2)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "delta": self.delta,
            "low": _finite(self.low),
            "high": _finite(self.high),
            "n": self.n,
        }


@dataclass(frozen=True)
class InstrumentDriftReport:
    """The C6 lift detector's reading of a set of per-slice changes.

    ``label`` is ``instrument drift suspected`` when ``suspected``; ``control set moved``
    when a control slice moved but the signature is incomplete; otherwise ``consistent with
    a real change`` (or ``no change``). ``pooled`` is the fixed-effect (inverse-variance)
    mean change with its interval; ``q``, ``q_p_value`` and ``i2`` are Cochran's Q
    heterogeneity test and Higgins' I².
    """

    suspected: bool
    label: str
    reason: str
    slices: tuple[SliceDelta, ...]
    control: tuple[str, ...]
    direction: int
    pooled: float
    pooled_low: float
    pooled_high: float
    q: float
    q_p_value: float
    i2: float
    heterogeneity_alpha: float
    max_i2: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "suspected": self.suspected,
            "label": self.label,
            "reason": self.reason,
            "slices": [s.as_dict() for s in self.slices],
            "control": list(self.control),
            "direction": self.direction,
            "pooled": _finite(self.pooled),
            "pooled_low": _finite(self.pooled_low),
            "pooled_high": _finite(self.pooled_high),
            "q": _finite(self.q),
            "q_p_value": _finite(self.q_p_value),
            "i2": _finite(self.i2),
            "heterogeneity_alpha": self.heterogeneity_alpha,
            "max_i2": self.max_i2,
        }

    def to_check(self) -> CheckResult:
        """``fail``/``drifted`` when suspected, ``warn`` when only the control set moved,
        ``pass`` otherwise."""
        if self.suspected:
            verdict, flag = "fail", "drifted"
        elif self.label == "control set moved":
            verdict, flag = "warn", None
        else:
            verdict, flag = "pass", None
        return CheckResult(
            check="instrument_drift",
            figure=_finite(self.pooled),
            low=_finite(self.pooled_low),
            high=_finite(self.pooled_high),
            n=sum(s.n for s in self.slices),
            verdict=verdict,
            flag=flag,
            message=f"{self.label}: {self.reason}",
            details=self.as_dict(),
        )


def _heterogeneity(slices: Sequence[SliceDelta]) -> tuple[float, float, float, float, float, float]:
    """Cochran's Q, its p, I², and the fixed-effect pooled mean with its interval."""
    from scipy.special import ndtri
    from statsmodels.stats.meta_analysis import combine_effects

    effects = np.array([s.delta for s in slices], dtype=float)
    se = np.array([s.standard_error for s in slices], dtype=float)
    if not np.all(np.isfinite(se)):
        # A slice without an interval (one sample) cannot be weighed: no test, no pool.
        return math.nan, math.nan, math.nan, math.nan, math.nan, math.nan
    # A zero-width interval (a deterministic slice) gets a vanishing, not a zero, variance.
    variance = np.maximum(se**2, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = combine_effects(effects, variance, method_re="chi2")
        homogeneity = result.test_homogeneity()
    q, p = float(homogeneity.statistic), float(homogeneity.pvalue)
    i2 = max(0.0, (q - (len(slices) - 1)) / q) if q > 0 else 0.0
    pooled = float(result.mean_effect_fe)
    z = float(ndtri(1 - (1 - slices[0].confidence) / 2))
    half = z * float(result.sd_eff_w_fe)
    return q, p, i2, pooled, pooled - half, pooled + half


def instrument_drift(
    slices: Sequence[SliceDelta],
    *,
    control: Collection[str],
    heterogeneity_alpha: float = 0.05,
    max_i2: float = 0.5,
) -> InstrumentDriftReport:
    """Does a change between two runs have the signature of a changed instrument (C6)?

    A real improvement moves the slices it touches and leaves a control set it cannot touch
    where it was; a judge that became more lenient moves everything, control included, by
    about the same amount. Instrument drift is *suspected* when all of:

    1. at least one slice of ``control`` is present, and at least two slices in all;
    2. every slice, control included, has an interval that excludes 0, all in the same
       direction;
    3. the slices' changes are homogeneous: Cochran's Q test of equal changes does not
       reject (p > ``heterogeneity_alpha``, 0.05) *and* Higgins' I² = max(0, (Q − df)/Q) ≤
       ``max_i2`` (0.5: at most half the spread between slices is real; Higgins &
       Thompson 2002, Stat Med 21:1539). Q = Σ wᵢ(δᵢ − δ̄)², wᵢ = 1/SEᵢ², df = k − 1
       (Cochran 1954), computed by statsmodels' ``combine_effects``. Each slice's SE is read
       back from its interval as (high − low)/(2·z), which is exact for t/normal intervals
       and an approximation for others. Q has little power with few slices, which is why I²
       is required as well.

    When the control set moved (its interval excludes 0) but the rest of the signature is
    missing, the label is ``control set moved``: something other than the change moved it.
    """
    if not slices:
        raise ValueError("instrument drift needs at least one slice")
    controls = tuple(dict.fromkeys(str(c) for c in control))
    present = [s for s in slices if s.slice in controls]
    q, p, i2, pooled, low, high = (
        _heterogeneity(slices)
        if len(slices) >= 2
        else (math.nan, math.nan, math.nan, slices[0].delta, slices[0].low, slices[0].high)
    )
    directions = {s.direction for s in slices}
    direction = directions.pop() if len(directions) == 1 else 0
    control_moved = any(s.excludes_zero for s in present)
    homogeneous = bool(p > heterogeneity_alpha and i2 <= max_i2)

    def report(suspected: bool, label: str, reason: str) -> InstrumentDriftReport:
        return InstrumentDriftReport(
            suspected=suspected,
            label=label,
            reason=reason,
            slices=tuple(slices),
            control=controls,
            direction=direction,
            pooled=pooled,
            pooled_low=low,
            pooled_high=high,
            q=q,
            q_p_value=p,
            i2=i2,
            heterogeneity_alpha=heterogeneity_alpha,
            max_i2=max_i2,
        )

    heterogeneity = f"Q = {q:.2f}, p = {p:.2g}, I² = {i2:.0%}"
    if not present:
        return report(
            False,
            "no control set",
            f"no control slice ({', '.join(controls) or 'none given'}) among the slices: the "
            "detector cannot tell instrument drift from a real change",
        )
    if len(slices) < 2:
        return report(False, "no control set", "only the control slice was given")
    if direction != 0:
        sign = "rose" if direction > 0 else "fell"
        if homogeneous:
            return report(
                True,
                INSTRUMENT_DRIFT_SUSPECTED,
                f"every slice, the control set included, {sign} by a similar amount "
                f"(pooled {pooled:+.3g} [{low:+.3g}, {high:+.3g}]; {heterogeneity}); a real "
                "change cannot move a control set it does not touch",
            )
        return report(
            False,
            "control set moved",
            f"every slice, the control set included, {sign}, but unevenly ({heterogeneity})",
        )
    if control_moved:
        moved = ", ".join(s.slice for s in present if s.excludes_zero)
        return report(
            False,
            "control set moved",
            f"the control set ({moved}) moved, though not every slice did",
        )
    changed = [s.slice for s in slices if s.excludes_zero]
    if not changed:
        return report(False, "no change", "no slice's interval excludes 0")
    return report(
        False,
        "consistent with a real change",
        f"the control set stayed flat while {', '.join(changed)} moved",
    )


# -- C7: the re-scoring bridge --------------------------------------------------------------


@dataclass(frozen=True)
class SliceRate:
    """The exchange rate of one slice (or ``all``) on the overlap set.

    ``delta`` = mean(new − old) with the paired t interval; ``p_value`` the paired t-test's
    and ``adjusted_p`` after correction across slices; ``changed`` whether the adjusted p
    is below α. ``slope``/``intercept`` map an old score to the new currency by OLS of new
    on old (NaN when the old scores do not vary: then only the offset applies).
    """

    slice: str
    n: int
    mean_old: float
    mean_new: float
    delta: float
    low: float
    high: float
    p_value: float
    adjusted_p: float
    changed: bool
    slope: float
    intercept: float
    correlation: float

    def convert(self, old_value: float) -> float:
        """``old_value`` in the new judge's currency: slope·old + intercept, or old + delta
        when no line could be fitted."""
        if math.isfinite(self.slope) and math.isfinite(self.intercept):
            return self.slope * old_value + self.intercept
        return old_value + self.delta

    def as_dict(self) -> dict[str, Any]:
        return {
            key: (_finite(value) if isinstance(value, float) else value)
            for key, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class ExchangeRate:
    """The C7 bridge report: one :class:`SliceRate` for ``all`` and one per slice."""

    overall: SliceRate
    slices: tuple[SliceRate, ...]
    confidence: float
    correction: str
    unsliced: int = 0
    dropped: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed_slices(self) -> list[str]:
        return [s.slice for s in self.slices if s.changed]

    def rate(self, slice: str) -> SliceRate:
        """The rate for ``slice`` (``all`` for the overall one)."""
        if slice == "all":
            return self.overall
        for rate in self.slices:
            if rate.slice == slice:
                return rate
        raise KeyError(f"no exchange rate for slice {slice!r}")

    def convert(self, slice: str, old_value: float) -> float:
        """An old-judge score of ``slice`` (or ``all``) in the new judge's currency."""
        return self.rate(slice).convert(old_value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "slices": [s.as_dict() for s in self.slices],
            "changed_slices": self.changed_slices,
            "confidence": self.confidence,
            "correction": self.correction,
            "unsliced": self.unsliced,
            "dropped": self.dropped,
            "notes": list(self.notes),
        }

    def to_check(self) -> CheckResult:
        """``warn`` when some slice's scores moved under the new judge (history in the old
        currency must be converted), ``pass`` when none did."""
        changed = self.changed_slices
        if changed:
            message = "the new judge scores differently on " + ", ".join(
                f"{s.slice} ({s.delta:+.3g} [{s.low:+.3g}, {s.high:+.3g}])"
                for s in self.slices
                if s.changed
            )
            verdict = "warn"
        else:
            message = "no slice's scores moved between the old and the new judge"
            verdict = "pass"
        return CheckResult(
            check="exchange_rate",
            figure=self.overall.delta,
            low=_finite(self.overall.low),
            high=_finite(self.overall.high),
            n=self.overall.n,
            verdict=verdict,
            message=message,
            details=self.as_dict(),
        )


def _rate(name: str, old: np.ndarray, new: np.ndarray, confidence: float) -> SliceRate:
    nan = math.nan
    result = paired_difference(old, new, confidence=confidence)
    slope = intercept = nan
    correlation = result.correlation
    if old.size >= 2 and float(old.std()) > 0:
        from scipy.stats import linregress

        fit = linregress(old, new)
        slope, intercept = float(fit.slope), float(fit.intercept)
    return SliceRate(
        slice=name,
        n=result.n,
        mean_old=result.mean_a,
        mean_new=result.mean_b,
        delta=result.difference,
        low=result.interval.low,
        high=result.interval.high,
        p_value=result.p_value,
        adjusted_p=result.p_value,
        changed=False,
        slope=slope,
        intercept=intercept,
        correlation=correlation,
    )


def exchange_rate(
    old_scores: ArrayLike,
    new_scores: ArrayLike,
    slices: Sequence[str | None],
    *,
    confidence: float = 0.95,
    correction: Correction = "holm",
) -> ExchangeRate:
    """The re-scoring bridge (C7): the overlap set scored by the old and the new judge.

    ``old_scores[i]``, ``new_scores[i]`` and ``slices[i]`` belong to overlap item i (None: in
    no slice; it still counts towards ``all``). Items with a missing (NaN) score are left out
    and counted. Per slice and overall:

    * Δ = mean(new − old) with the paired t interval and test
      (:func:`assay.stats.paired_difference`);
    * a line new ≈ slope·old + intercept by ordinary least squares
      (``scipy.stats.linregress``), the conditional mean of the new score given the old, to
      convert old-currency history (OLS rather than Deming because the aim is predicting the
      new judge's score from a recorded old one, not a symmetric relation); when old scores
      do not vary, the offset Δ alone converts.

    A slice is ``changed`` when its paired p-value, corrected across slices
    (``correction``: Holm by default, :func:`assay.stats.adjust_p_values`), is below
    α = 1 − ``confidence``; with ``correction="none"`` that is exactly "the interval excludes
    0". The overall row is not corrected. A slice with a single item has NaN bounds and is
    never ``changed``.
    """
    old = np.asarray(old_scores, dtype=float).reshape(-1)
    new = np.asarray(new_scores, dtype=float).reshape(-1)
    labels = list(slices)
    if not old.size == new.size == len(labels):
        raise ValueError(
            f"old_scores, new_scores and slices differ in length ({old.size}, {new.size}, "
            f"{len(labels)}); join them by sample id"
        )
    keep = np.isfinite(old) & np.isfinite(new)
    dropped = int(old.size - keep.sum())
    old, new = old[keep], new[keep]
    labels = [label for label, k in zip(labels, keep, strict=True) if k]
    if old.size == 0:
        raise ValueError("no overlap item was scored by both judges")
    notes = []
    overall = _rate("all", old, new, confidence)
    names = list(dict.fromkeys(str(label) for label in labels if label is not None))
    per_slice = []
    for name in names:
        mask = np.array([label is not None and str(label) == name for label in labels])
        per_slice.append(_rate(name, old[mask], new[mask], confidence))
        if mask.sum() < 2:
            notes.append(f"slice {name!r} has one overlap item: no interval")
    alpha = 1 - confidence
    adjusted, _ = adjust_p_values([r.p_value for r in per_slice], correction, alpha=alpha)
    rates = tuple(
        SliceRate(
            **{
                **rate.__dict__,
                "adjusted_p": float(adj),
                "changed": bool(math.isfinite(adj) and adj < alpha),
            }
        )
        for rate, adj in zip(per_slice, adjusted, strict=True)
    )
    overall = SliceRate(
        **{
            **overall.__dict__,
            "changed": bool(math.isfinite(overall.p_value) and overall.p_value < alpha),
        }
    )
    unsliced = sum(label is None for label in labels)
    return ExchangeRate(overall, rates, confidence, correction, unsliced, dropped, tuple(notes))
