"""Judge-human and human-human agreement per period and per rater (C8).

Cohen's kappa of the humans against the judge, Krippendorff's alpha among the humans, and each
rater's leniency and offset from the judge over time, over
:class:`~assay.audit.humans_labels.HumanLabel` s grouped by
:func:`~assay.audit.humans_labels.period_of`. The single-number check that a
certificate carries is :func:`assay.audit.humans.human_agreement_check`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from assay.audit.humans_labels import HumanLabel, Period, _group
from assay.audit.self_preference import welch_difference
from assay.stats import cohens_kappa, krippendorff_alpha

KappaWeights = Literal["linear", "quadratic"] | None
Level = Literal["nominal", "ordinal", "interval", "ratio"]


# -- agreement ------------------------------------------------------------------------------


def _latest(labels: Sequence[HumanLabel]) -> dict[tuple[str, str], Any]:
    """(rater, sample) → that rater's latest label of the sample."""
    latest: dict[tuple[str, str], HumanLabel] = {}
    for label in labels:
        key = (label.rater, label.sample)
        if key not in latest or label.time >= latest[key].time:
            latest[key] = label
    return {key: label.label for key, label in latest.items()}


def _alpha(labels: Sequence[HumanLabel], level: Level) -> tuple[float | None, int]:
    """Krippendorff's alpha among humans (latest label per rater and sample) and the number
    of samples with at least two raters; None when no sample has two."""
    latest = _latest(labels)
    raters = sorted({r for r, _ in latest})
    per_sample: dict[str, int] = defaultdict(int)
    for _r, s in latest:
        per_sample[s] += 1
    shared = sorted(s for s, count in per_sample.items() if count >= 2)
    if len(raters) < 2 or not shared:
        return None, len(shared)
    table = [[latest.get((r, s)) for s in shared] for r in raters]
    value = krippendorff_alpha(table, level)
    return (None if math.isnan(value) else value), len(shared)


def _pairs(
    labels: Sequence[HumanLabel], judge: Mapping[str, Any]
) -> tuple[list[Any], list[Any], list[str]]:
    human, machine, samples = [], [], []
    for label in labels:
        value = judge.get(label.sample)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        human.append(label.label)
        machine.append(value)
        samples.append(label.sample)
    return human, machine, samples


def _categories(*values: Sequence[Any]) -> list[Any]:
    distinct = {v for vs in values for v in vs}
    try:
        return sorted(distinct)
    except TypeError:
        raise ValueError(
            "human and judge labels mix numbers and text "
            f"({sorted(map(repr, distinct))[:6]}); map them to one kind of label first"
        ) from None


def _numeric_mean(values: Sequence[Any]) -> float | None:
    if not values or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        return None
    return float(np.mean(np.asarray(values, dtype=float)))


@dataclass(frozen=True)
class KappaFigure:
    """Cohen's kappa of humans against the judge with its asymptotic interval."""

    kappa: float | None
    low: float | None
    high: float | None
    observed: float | None
    n: int


def _kappa(
    human: Sequence[Any], judge: Sequence[Any], weights: KappaWeights, confidence: float
) -> KappaFigure:
    if len(human) < 2:
        return KappaFigure(None, None, None, None, len(human))
    cats = _categories(human, judge)
    k = cohens_kappa(human, judge, weights=weights, categories=cats, confidence=confidence)

    def clean(v: float) -> float | None:
        return v if math.isfinite(v) else None

    return KappaFigure(clean(k.kappa), clean(k.low), clean(k.high), clean(k.observed), k.n)


@dataclass(frozen=True)
class PeriodAgreement:
    """Agreement in one period: judge vs human (Cohen's kappa over every human label that
    has a judge label, ``n_pairs`` of them) and human vs human (Krippendorff's alpha over
    the ``n_shared`` samples rated by at least two raters; None when there are none).
    ``human_mean``/``judge_mean`` are the mean labels over the pairs (numeric labels only)."""

    period: str
    start: datetime
    end: datetime
    n_labels: int
    n_samples: int
    n_raters: int
    n_pairs: int
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    observed_agreement: float | None
    human_alpha: float | None
    n_shared: int
    human_mean: float | None
    judge_mean: float | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def agreement_by_period(
    human_labels: Sequence[HumanLabel],
    judge_labels: Mapping[str, Any],
    *,
    period: Period = "month",
    judge_by_period: Mapping[str, Mapping[str, Any]] | None = None,
    weights: KappaWeights = None,
    level: Level = "nominal",
    confidence: float = 0.95,
) -> list[PeriodAgreement]:
    """Judge-human and human-human agreement per period, periods in time order.

    ``judge_labels`` maps sample id → the judge's label; when the judge re-scored the
    samples each period, ``judge_by_period`` gives ``{period: {sample: label}}`` and takes
    precedence for the periods it names. Kappa: :func:`assay.stats.cohens_kappa` (Cohen
    1960; ``weights`` for ordinal labels, Cohen 1968) over every (human label, judge label)
    pair of the period, so a sample rated by three humans counts three times; its interval
    is the asymptotic one (Fleiss, Cohen & Everitt 1969). Human agreement:
    :func:`assay.stats.krippendorff_alpha` at ``level`` over raters × samples, a rater's
    latest label per sample. A period with fewer than two pairs has no kappa (None).
    """
    out = []
    for name, group in _group(human_labels, period).items():
        judge = (judge_by_period or {}).get(name, judge_labels)
        human, machine, _ = _pairs(group, judge)
        kappa = _kappa(human, machine, weights, confidence)
        alpha, shared = _alpha(group, level)
        out.append(
            PeriodAgreement(
                period=name,
                start=min(x.time for x in group),
                end=max(x.time for x in group),
                n_labels=len(group),
                n_samples=len({x.sample for x in group}),
                n_raters=len({x.rater for x in group}),
                n_pairs=len(human),
                kappa=kappa.kappa,
                kappa_low=kappa.low,
                kappa_high=kappa.high,
                observed_agreement=kappa.observed,
                human_alpha=alpha,
                n_shared=shared,
                human_mean=_numeric_mean(human),
                judge_mean=_numeric_mean(machine),
            )
        )
    return out


@dataclass(frozen=True)
class RaterPeriod:
    """One rater in one period: ``n`` labels, kappa against the judge, mean label
    (leniency) and mean offset from the judge on the same samples (human − judge)."""

    period: str
    n: int
    kappa: float | None
    mean_label: float | None
    mean_offset: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RaterAgreement:
    """One rater over all periods.

    ``mean_offset`` (human − judge on the same samples) is leniency measured against a
    fixed instrument, so a rater's drift is the change of it: ``offset_shift`` is the last
    period's offsets minus the first's, with Welch's interval (None with fewer than two
    periods or non-numeric labels).
    """

    rater: str
    n: int
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    mean_label: float | None
    mean_offset: float | None
    periods: tuple[RaterPeriod, ...]
    offset_shift: float | None = None
    offset_shift_low: float | None = None
    offset_shift_high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["periods"] = [p.as_dict() for p in self.periods]
        return out


def _offsets(human: Sequence[Any], judge: Sequence[Any]) -> NDArray[np.float64] | None:
    if _numeric_mean(human) is None or _numeric_mean(judge) is None:
        return None
    offsets: NDArray[np.float64] = np.asarray(human, dtype=float) - np.asarray(judge, dtype=float)
    return offsets


def agreement_by_rater(
    human_labels: Sequence[HumanLabel],
    judge_labels: Mapping[str, Any],
    *,
    period: Period = "month",
    judge_by_period: Mapping[str, Mapping[str, Any]] | None = None,
    weights: KappaWeights = None,
    confidence: float = 0.95,
) -> list[RaterAgreement]:
    """Per rater (sorted by name): kappa against the judge overall and per period, the
    rater's leniency (mean label) and offset from the judge over time, and the shift of that
    offset from the rater's first period to their last (see :class:`RaterAgreement`)."""
    by_rater: dict[str, list[HumanLabel]] = defaultdict(list)
    for label in human_labels:
        by_rater[label.rater].append(label)
    out = []
    for rater in sorted(by_rater):
        rows: list[RaterPeriod] = []
        all_human: list[Any] = []
        all_judge: list[Any] = []
        offsets_by_period: list[NDArray[np.float64] | None] = []
        for name, group in _group(by_rater[rater], period).items():
            judge = (judge_by_period or {}).get(name, judge_labels)
            human, machine, _ = _pairs(group, judge)
            all_human += human
            all_judge += machine
            offsets = _offsets(human, machine)
            offsets_by_period.append(offsets)
            rows.append(
                RaterPeriod(
                    period=name,
                    n=len(group),
                    kappa=_kappa(human, machine, weights, confidence).kappa,
                    mean_label=_numeric_mean([x.label for x in group]),
                    mean_offset=None
                    if offsets is None or not offsets.size
                    else float(offsets.mean()),
                )
            )
        kappa = _kappa(all_human, all_judge, weights, confidence)
        offsets = _offsets(all_human, all_judge)
        shift = low = high = None
        first, last = offsets_by_period[0], offsets_by_period[-1]
        if len(rows) >= 2 and first is not None and last is not None and first.size and last.size:
            welch = welch_difference(last, first, confidence=confidence)
            shift = welch.difference
            low = welch.low if math.isfinite(welch.low) else None
            high = welch.high if math.isfinite(welch.high) else None
        out.append(
            RaterAgreement(
                rater=rater,
                n=len(by_rater[rater]),
                kappa=kappa.kappa,
                kappa_low=kappa.low,
                kappa_high=kappa.high,
                mean_label=_numeric_mean([x.label for x in by_rater[rater]]),
                mean_offset=None if offsets is None or not offsets.size else float(offsets.mean()),
                periods=tuple(rows),
                offset_shift=shift,
                offset_shift_low=low,
                offset_shift_high=high,
            )
        )
    return out
