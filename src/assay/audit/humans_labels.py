"""Human labels for the C8 audit: loading them from a file and grouping them by period.

:func:`load_human_labels` reads a CSV or JSONL file of (sample, rater, label, time) rows into
:class:`HumanLabel` s, checking every row; :func:`period_of` and :func:`labels_by_period` put
them in days, weeks, months, quarters or the file's own periods. The agreement figures live in
:mod:`assay.audit.humans_agreement`, the attribution in :mod:`assay.audit.humans_attribution`;
:mod:`assay.audit.humans` is the public face of all three.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from assay.core.errors import DatasetError

PeriodName = Literal["label", "day", "week", "month", "quarter"]
Period = PeriodName | Callable[["HumanLabel"], str]

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
