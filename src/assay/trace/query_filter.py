"""What a trace listing keeps: :class:`TraceFilter`, and the parsing of the times and
``KEY=VALUE`` attributes the CLI, the web pages and the API build filters from.

No SQL here: :mod:`assay.trace.query_sql` turns a filter into queries, and
:mod:`assay.trace.query` (the public face) runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.core import AssayError

#: The statuses a trace or span can have (the OTLP status codes).
STATUSES = ("unset", "ok", "error")
#: The labels that mark a trace as failed (:mod:`assay.trace.labels`).
FAILED_LABELS = ("failed", "failed_delayed")
#: Every label a trace can have.
LABELS = (*FAILED_LABELS, "ok", "unlabelled")
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class TraceFilter:
    """What :func:`~assay.trace.query.list_traces` keeps. Every field is optional; all given
    must hold.

    ``since``/``until`` bound the trace's start (``since`` inclusive, ``until`` exclusive).
    ``model`` matches the requested or the resolved model of any span. ``attributes`` are
    ``(key, value)`` pairs, each held by some span's attributes (``value`` compared as text;
    numbers numerically, booleans as ``true``/``false``, a list when any item matches). ``text``
    is a substring of a span name, a span's input or output, or a message event's content.
    ``label`` keeps the traces :mod:`assay.trace.labels` labels so (``failed``,
    ``failed_delayed``, ``ok``, ``unlabelled``).
    """

    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    status: str | None = None
    session: str | None = None
    user: str | None = None
    service: str | None = None
    route: str | None = None
    environment: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        texts = [("text", self.text), *((f"attr {k}", f"{k}={v}") for k, v in self.attributes)]
        for name in ("model", "status", "session", "user", "service", "route", "environment"):
            texts.append((name, getattr(self, name)))
        for name, value in texts:
            if value is not None and "\x00" in value:
                raise AssayError(
                    "a filter holds a NUL character", where=name, fix="remove it from the filter"
                )
        if self.label is not None and self.label not in LABELS:
            raise AssayError(
                f"unknown trace label {self.label!r}",
                where="label",
                fix=f"use one of {', '.join(LABELS)}",
            )
        if self.status is not None and self.status not in STATUSES:
            raise AssayError(
                f"unknown trace status {self.status!r}",
                where="status",
                fix=f"use one of {', '.join(STATUSES)}",
            )
        if self.since and self.until and self.until <= self.since:
            raise AssayError(
                "until must be later than since",
                where="until",
                fix="swap the two, or widen the range",
            )
        if self.text is not None and not self.text.strip():
            raise AssayError("the search text is empty", where="text", fix="give some words")

    def as_dict(self) -> dict[str, Any]:
        """The filter as JSON (times in ISO 8601)."""
        out: dict[str, Any] = {}
        for name in ("since", "until"):
            value = getattr(self, name)
            out[name] = value.isoformat() if value else None
        for name in ("model", "status", "session", "user", "service", "route", "environment"):
            out[name] = getattr(self, name)
        out["attributes"] = [f"{k}={v}" for k, v in self.attributes]
        out["text"] = self.text
        out["label"] = self.label
        return out


def parse_time(text: str, *, where: str, now: datetime | None = None) -> datetime:
    """A point in time from a relative age (``90s``, ``30m``, ``24h``, ``7d``, ``2w``: that long
    before ``now``) or an ISO 8601 date or datetime (no offset means UTC)."""
    value = text.strip()
    ago = _AGO.fullmatch(value.lower())
    if ago is not None:
        amount = float(ago.group(1))
        try:
            return (now or datetime.now(UTC)) - timedelta(**{_UNITS[ago.group(2)]: amount})
        except OverflowError:
            raise AssayError(
                f"{text!r} reaches before the year 1", where=where, fix="give a shorter age"
            ) from None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise AssayError(
            f"cannot read {text!r} as a time",
            where=where,
            fix="write an age such as 30m, 24h or 7d, or an ISO time such as 2024-11-22T09:30",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_attribute(text: str, *, where: str = "attr") -> tuple[str, str]:
    """``KEY=VALUE`` as ``(key, value)`` (the value may contain ``=``; it may be empty)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise AssayError(
            f"attribute filter {text!r} is not KEY=VALUE",
            where=where,
            fix="write e.g. gen_ai.request.model=gpt-4o or app.route=/refunds",
        )
    return key.strip(), value


def attribute_matches(value: Any, wanted: str) -> bool:
    """Whether a stored attribute value equals ``wanted`` (see :class:`TraceFilter`)."""
    if isinstance(value, (list, tuple)):
        return any(attribute_matches(v, wanted) for v in value)
    if isinstance(value, bool):
        return wanted.strip().lower() == ("true" if value else "false")
    if isinstance(value, (int, float)):
        try:
            return float(wanted) == float(value)
        except ValueError:
            return False
    if value is None:
        return False
    return str(value) == wanted
