"""Human agreement over time (C8): import human labels, measure judge-human and human-human
agreement per period and per rater, and attribute a composite change to its cause.

Humans are an instrument too: rater pools turn over every few weeks, raters tire, grow picky
or lenient, and a vendor change is a step change in the implicit rubric (REQUIREMENTS C8,
"The Eval Rubric Pulled By Two Drift Vectors"). A composite score that rose two points in a
quarter may mean a better system, a more lenient human cohort, or a judge that changed. The
frozen anchor set answers it: the anchors' outputs never change, so a shift in the humans'
mean on them is the cohort's and a shift in the judge's mean is the judge's; what remains of
the composite change on fresh production samples is the system's.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from assay.audit.self_preference import welch_difference
from assay.core.certificate import CheckResult
from assay.core.errors import DatasetError
from assay.stats import cohens_kappa, krippendorff_alpha, paired_difference

__all__ = [
    "DriftAttribution",
    "HumanLabel",
    "PeriodAgreement",
    "RaterAgreement",
    "RaterPeriod",
    "Shift",
    "agreement_by_period",
    "agreement_by_rater",
    "attribute_drift",
    "human_agreement_check",
    "labels_by_period",
    "load_human_labels",
    "period_of",
]

PeriodName = Literal["label", "day", "week", "month", "quarter"]
Period = PeriodName | Callable[["HumanLabel"], str]
KappaWeights = Literal["linear", "quadratic"] | None
Level = Literal["nominal", "ordinal", "interval", "ratio"]

_FIELDS = ("sample", "rater", "label", "time")
_TIME_FIX = "use an ISO 8601 date (2024-05-01) or datetime (2024-05-01T09:30:00Z)"


@dataclass(frozen=True)
class HumanLabel:
    """One human rating: ``rater`` gave ``label`` to ``sample`` at ``time`` (timezone-aware;
    UTC when the file gave none). ``period`` is the file's own period name, if any; ``where``
    is the row's ``file:line``."""

    sample: str
    rater: str
    label: Any
    time: datetime
    period: str | None = None
    where: str = ""


# -- loading --------------------------------------------------------------------------------


def _text(value: Any, name: str, where: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise DatasetError(
            f"field {name!r} must be text or a number, not {_kind(value)}",
            where=where,
            fix=f"give every row a {name} (an id such as 'q17' or 'alice')",
        )
    text = str(value).strip()
    if not text:
        raise DatasetError(
            f"field {name!r} is empty",
            where=where,
            fix=f"give every row a {name} (an id such as 'q17' or 'alice')",
        )
    return text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _label(value: Any, where: str) -> Any:
    """Numbers stay numbers (``"4"`` and ``4`` are the same label), booleans and
    ``true``/``false`` become 1/0, other text stays text."""
    fix = "give a category (pass, fail) or a number (0/1, a 1-5 rating)"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DatasetError("field 'label' is empty", where=where, fix=fix)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise DatasetError(f"field 'label' holds {value!r}", where=where, fix=fix)
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return int(text.lower() == "true")
        for parse in (int, float):
            try:
                number = parse(text)
            except ValueError:
                continue
            if isinstance(number, float) and not math.isfinite(number):
                break
            return number
        return text
    raise DatasetError(f"field 'label' holds {_kind(value)}", where=where, fix=fix)


def _time(value: Any, where: str) -> datetime:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DatasetError("field 'time' is empty", where=where, fix=_TIME_FIX)
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
        else:
            raise ValueError(value)
    except (ValueError, OverflowError, OSError):
        raise DatasetError(
            f"field 'time' holds {value!r}, which is not an ISO date or datetime",
            where=where,
            fix=_TIME_FIX,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_human_labels(
    path: str | os.PathLike[str], *, columns: Mapping[str, str] | None = None
) -> list[HumanLabel]:
    """Human labels from a CSV or JSONL file (JSON, YAML and Parquet tables work too).

    Every row needs ``sample``, ``rater``, ``label`` and ``time`` (an ISO 8601 date or
    datetime, or Unix seconds; no offset means UTC); ``period`` is optional (the rater
    pool's own name for the period, used with ``period="label"``). Other columns are
    ignored. ``columns`` renames: ``{"sample": "item_id", "rater": "annotator"}``. Labels that
    read as numbers become numbers in both formats (see :func:`_label`).

    Raises :class:`~assay.core.DatasetError` at the first bad row, naming ``file:line`` and
    the field, with a fix.
    """
    from assay.data.readers import open_rows

    names = {f: (columns or {}).get(f, f) for f in (*_FIELDS, "period")}
    source = open_rows(path)
    labels = []
    for number, row in source.rows:
        where = source.where(number)
        if not isinstance(row, Mapping):
            raise DatasetError(
                f"a label row must be an object, not {_kind(row)}",
                where=where,
                fix='write one object per line: {"sample": "q1", "rater": "ann", '
                '"label": 1, "time": "2024-05-01"}',
            )
        for field in _FIELDS:
            if names[field] not in row:
                hint = f" (column {names[field]!r})" if names[field] != field else ""
                raise DatasetError(
                    f"the row has no field {field!r}{hint}",
                    where=where,
                    fix="every row needs sample, rater, label and time"
                    + ("" if names[field] != field else "; rename columns with `columns=`"),
                )
        period = row.get(names["period"])
        labels.append(
            HumanLabel(
                sample=_text(row[names["sample"]], "sample", where),
                rater=_text(row[names["rater"]], "rater", where),
                label=_label(row[names["label"]], where),
                time=_time(row[names["time"]], where),
                period=None if period is None or str(period).strip() == "" else str(period),
                where=where,
            )
        )
    if not labels:
        raise DatasetError(
            "the file holds no labels",
            where=source.label,
            fix="add one row per (sample, rater) rating",
        )
    return labels


# -- periods --------------------------------------------------------------------------------


def period_of(label: HumanLabel, period: Period = "month") -> str:
    """The period a label falls in: ``day`` (2024-05-01), ``week`` (ISO week, 2024-W18),
    ``month`` (2024-05), ``quarter`` (2024-Q2), ``label`` (the file's ``period`` field), or
    a callable of the label. Times are taken in UTC."""
    if callable(period):
        return str(period(label))
    moment = label.time.astimezone(UTC)
    if period == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if period == "day":
        return moment.date().isoformat()
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if period == "quarter":
        return f"{moment.year:04d}-Q{(moment.month - 1) // 3 + 1}"
    if period == "label":
        if label.period is None:
            raise DatasetError(
                "the label has no period",
                where=label.where or None,
                fix="add a period column, or group by time with period='month'",
            )
        return label.period
    raise ValueError(f"unknown period {period!r}; use day, week, month, quarter or label")


def _group(labels: Sequence[HumanLabel], period: Period) -> dict[str, list[HumanLabel]]:
    """Labels by period, periods in order of their earliest label."""
    groups: dict[str, list[HumanLabel]] = defaultdict(list)
    for label in labels:
        groups[period_of(label, period)].append(label)
    return dict(sorted(groups.items(), key=lambda kv: (min(x.time for x in kv[1]), kv[0])))


def labels_by_period(
    labels: Sequence[HumanLabel], *, period: Period = "month"
) -> dict[str, dict[str, list[Any]]]:
    """``{period: {sample: [labels]}}``, the shape :func:`attribute_drift` takes."""
    return {name: _by_sample(group) for name, group in _group(labels, period).items()}


def _by_sample(labels: Sequence[HumanLabel]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for label in labels:
        out[label.sample].append(label.label)
    return dict(out)


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


# -- the single-number check ----------------------------------------------------------------


def _agreement_weights(k: int, weights: KappaWeights) -> NDArray[np.float64]:
    if weights is None:
        return np.eye(k)
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / max(k - 1, 1)
    return 1 - (distance if weights == "linear" else distance**2)


def _kappa_of_tables(
    tables: NDArray[np.float64], agree: NDArray[np.float64]
) -> NDArray[np.float64]:
    """κ = (p_o − p_e)/(1 − p_e) of many k × k tables at once (the formula of
    :func:`assay.stats.cohens_kappa_table`, vectorised for bootstrap resamples, where calling
    statsmodels per resample would cost ~2 ms each). NaN where p_e = 1."""
    n = tables.sum(axis=(1, 2))
    p = tables / n[:, None, None]
    observed = (p * agree).sum(axis=(1, 2))
    rows, cols = p.sum(axis=2), p.sum(axis=1)
    expected = np.einsum("bi,ij,bj->b", rows, agree, cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa: NDArray[np.float64] = (observed - expected) / (1 - expected)
    kappa[expected >= 1 - 1e-12] = np.nan
    return kappa


def human_agreement_check(
    human_labels: Sequence[HumanLabel],
    judge_labels: Mapping[str, Any],
    *,
    bound: float = 0.4,
    weights: KappaWeights = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> CheckResult:
    """Does the judge agree with humans well enough (C8)?

    κ is Cohen's kappa over every (human label, judge label) pair
    (:func:`assay.stats.cohens_kappa`). Pairs of one sample are not independent (several
    raters saw the same output), so the interval is a percentile bootstrap over *samples*
    (each resample draws samples with replacement and keeps all of a sample's pairs; the
    cluster bootstrap of Cameron, Gelbach & Miller 2008), ``n_resamples`` draws, seeded.
    The default bound 0.4 is the lower edge of "moderate" agreement on the Landis & Koch
    (1977) scale.

    Verdict: ``fail`` with flag ``low_human_agreement`` when the whole interval lies below
    ``bound``; ``warn`` when κ < ``bound`` but the interval reaches it; ``pass`` otherwise;
    ``skipped`` with fewer than two labelled samples that the judge also scored, or when κ is
    undefined (every label the same category).
    """
    human, machine, samples = _pairs(human_labels, judge_labels)
    distinct = sorted(set(samples))
    check = "human_agreement"
    if len(distinct) < 2:
        return CheckResult(
            check=check,
            n=len(distinct),
            verdict="skipped",
            message=(
                f"human agreement needs at least two samples with both human and judge labels "
                f"(got {len(distinct)})"
            ),
            details={"n_pairs": len(human)},
        )
    cats = _categories(human, machine)
    position = {c: i for i, c in enumerate(cats)}
    index = {s: i for i, s in enumerate(distinct)}
    k = len(cats)
    per_sample = np.zeros((len(distinct), k, k))
    for h, m, s in zip(human, machine, samples, strict=True):
        per_sample[index[s], position[h], position[m]] += 1
    kappa = cohens_kappa(human, machine, weights=weights, categories=cats, confidence=confidence)
    alpha, shared = _alpha(human_labels, "nominal" if weights is None else "ordinal")
    details: dict[str, Any] = {
        "bound": bound,
        "confidence": confidence,
        "n_pairs": len(human),
        "n_samples": len(distinct),
        "n_raters": len({x.rater for x in human_labels}),
        "observed_agreement": kappa.observed,
        "weights": weights,
        "categories": [c if isinstance(c, (int, float, str)) else repr(c) for c in cats],
        "asymptotic_interval": [kappa.low, kappa.high],
        "human_alpha": alpha,
        "n_shared": shared,
        "method": "percentile bootstrap over samples",
        "n_resamples": n_resamples,
    }
    if not math.isfinite(kappa.kappa):
        return CheckResult(
            check=check,
            n=len(distinct),
            verdict="skipped",
            message="kappa is undefined: humans and judge used a single category throughout",
            details={**details, "asymptotic_interval": None},
        )
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(distinct), np.full(len(distinct), 1 / len(distinct)), n_resamples)
    tables = (counts @ per_sample.reshape(len(distinct), k * k)).reshape(-1, k, k)
    replicates = _kappa_of_tables(tables, _agreement_weights(k, weights))
    replicates = replicates[np.isfinite(replicates)]
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(replicates, [tail, 1 - tail]))
    figure = kappa.kappa
    span = f"κ = {figure:.3f} [{low:.3f}, {high:.3f}]"
    if high < bound:
        verdict, flag = "fail", "low_human_agreement"
        message = f"the judge agrees poorly with humans: {span}, below {bound}"
    elif figure < bound:
        verdict, flag = "warn", None
        message = f"judge-human agreement {span} may be below {bound}"
    else:
        verdict, flag = "pass", None
        message = f"judge-human agreement {span}"
    return CheckResult(
        check=check,
        figure=figure,
        low=low,
        high=high,
        n=len(distinct),
        verdict=verdict,
        flag=flag,
        message=message,
        details=details,
    )


# -- attribution ----------------------------------------------------------------------------


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
