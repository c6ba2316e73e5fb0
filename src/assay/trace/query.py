"""Reading traces back: the list with its filters, and one trace with everything hanging off it.

Pure reads of the store (SQLAlchemy Core over the tables of :mod:`assay.store.tables`); the CLI
(``assay traces list|search|show``), the web pages and the JSON API all call these and render
the JSON-ready dicts they return, so the three surfaces can never disagree.

Scale: a listing reads one page of ``traces`` rows through the ``start_time`` index, newest
first, and the spans of that page's traces only; a filter on spans (model, attribute, text) is
an ``EXISTS`` probe per candidate trace through the spans' primary key (``trace_id`` leads).
Filters that SQL cannot decide exactly on both backends (an attribute's value inside
``attributes_json``, text inside JSON, the failure label of :mod:`assay.trace.labels`) are a
``LIKE`` prefilter in SQL and an exact check in Python on the candidates, fetched in batches
until the page is full. Measured on 100,000 traces (200,000 spans): a page in 5–30 ms on
SQLite and PostgreSQL, with any one column, model or attribute filter.

Full-text search limits: a substring match (no stemming, no ranking) over span names, span
input/output and the content of span events and log records (where GenAI message content may
live); tool-call and retrieved-document text are not searched. It is case-insensitive for
ASCII letters on SQLite and for all of Unicode on PostgreSQL (``ILIKE``). A rare needle probes
every trace in the time range (about 0.3–0.5 s per 100,000 traces): narrow it with
``since``/``until`` on a large store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, literal, or_, select, union_all
from sqlalchemy.exc import SQLAlchemyError

from assay.core import AssayError, StoreError
from assay.store import Store
from assay.store.tables import (
    cases,
    feedback,
    outcomes,
    retrievals,
    span_events,
    spans,
    tool_calls,
    trace_scores,
    traces,
)
from assay.trace.messages import MESSAGE_EVENTS, as_messages, messages_from_events

#: The statuses a trace or span can have (the OTLP status codes).
STATUSES = ("unset", "ok", "error")
#: The labels that mark a trace as failed (:mod:`assay.trace.labels`).
FAILED_LABELS = ("failed", "failed_delayed")
#: Every label a trace can have.
LABELS = (*FAILED_LABELS, "ok", "unlabelled")
#: Most traces one listing returns.
MAX_LIMIT = 1000
#: Most spans :func:`get_trace` reads for one trace (a runaway agent loop may hold more).
MAX_SPANS = 5000
# Candidates fetched per round when a filter needs an exact check in Python.
_BATCH = 200
# Most ids in one IN (...) list: well under SQLite's bound-parameter limit.
_MAX_IN = 500
_HEX = re.compile(r"[0-9a-f]+")
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_LIST_HINT = "run `assay traces list` to see the stored trace ids"


class TraceNotFound(AssayError):
    """Raised when a trace reference matches no stored trace (or is ambiguous)."""

    code = "not_found"


# -- filters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceFilter:
    """What :func:`list_traces` keeps. Every field is optional; all given must hold.

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


# -- listing -------------------------------------------------------------------------------------


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text  # not JSON after all (or absurdly deep): show it as it is


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_forms(text: str) -> list[str]:
    """``text`` as it may appear inside stored JSON text: raw, JSON-escaped, ASCII-escaped."""
    forms = [text, json.dumps(text, ensure_ascii=False)[1:-1], json.dumps(text)[1:-1]]
    return list(dict.fromkeys(forms))


def _like(column: Any, text: str, dialect: str) -> Any:
    """``column`` contains ``text`` literally (case-insensitively where the backend can)."""
    pattern = f"%{_like_escape(text)}%"
    if dialect == "postgresql":
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")


def _contains(column: Any, text: str, dialect: str) -> Any:
    """``column`` holds ``text`` in any of its JSON forms."""
    return or_(*(_like(column, form, dialect) for form in _json_forms(text)))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _attribute_prefilter(column: Any, key: str, value: str, dialect: str) -> Any:
    """A superset of the spans whose attributes hold ``key`` = ``value``: the key in quotes,
    and the value's text unless it is a number (``3`` may be stored as ``3.0``)."""
    clauses = [or_(*(_like(column, f'"{form}"', dialect) for form in _json_forms(key)))]
    wanted = value.strip()
    if wanted and not _is_number(wanted):
        bool_text = wanted.lower() in ("true", "false")
        clauses.append(_contains(column, wanted.lower() if bool_text else value, dialect))
    return and_(*clauses)


def _text_in_spans(text: str, dialect: str) -> Any:
    return or_(
        _contains(spans.c.name, text, dialect),
        _contains(spans.c.input_json, text, dialect),
        _contains(spans.c.output_json, text, dialect),
    )


def _text_in_events(text: str, dialect: str) -> Any:
    return or_(
        _contains(span_events.c.body_json, text, dialect),
        _contains(span_events.c.attributes_json, text, dialect),
    )


def _base_query(flt: TraceFilter, dialect: str) -> Select[Any]:
    """The traces the SQL part of ``flt`` keeps (exact for plain columns, a superset for
    attributes and text), newest first."""
    query = select(traces)
    if flt.since is not None:
        query = query.where(traces.c.start_time >= flt.since)
    if flt.until is not None:
        query = query.where(traces.c.start_time < flt.until)
    for column, value in (
        (traces.c.status, flt.status),
        (traces.c.session_id, flt.session),
        (traces.c.user_id, flt.user),
        (traces.c.service, flt.service),
        (traces.c.route, flt.route),
        (traces.c.environment, flt.environment),
    ):
        if value is not None:
            query = query.where(column == value)
    if flt.model is not None:
        query = query.where(
            exists().where(
                spans.c.trace_id == traces.c.id,
                or_(spans.c.model_requested == flt.model, spans.c.model_resolved == flt.model),
            )
        )
    for key, value in flt.attributes:
        query = query.where(
            exists().where(
                spans.c.trace_id == traces.c.id,
                _attribute_prefilter(spans.c.attributes_json, key, value, dialect),
            )
        )
    if flt.text is not None:
        needle = flt.text.strip()
        # One EXISTS over a UNION ALL, not two EXISTS joined by OR: PostgreSQL turns the OR
        # form into a hashed subplan that scans every span in the store whatever the time
        # range; this form probes each candidate trace through the indexes on trace_id.
        in_spans = select(literal(1)).where(
            spans.c.trace_id == traces.c.id, _text_in_spans(needle, dialect)
        )
        in_events = select(literal(1)).where(
            span_events.c.trace_id == traces.c.id, _text_in_events(needle, dialect)
        )
        query = query.where(exists(union_all(in_spans, in_events)))
    return query.order_by(traces.c.start_time.desc(), traces.c.id.desc())


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _MAX_IN):
        yield items[start : start + _MAX_IN]


def _strings(value: Any) -> Iterable[str]:
    """Every string leaf of a JSON value (not the keys); JSON text inside strings is opened."""
    if isinstance(value, str):
        yield value
        if value[:1] in ("[", "{"):
            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                return
            yield from _strings(inner)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _holds_text(texts: Iterable[str | None], needle: str, *, json_columns: bool = True) -> bool:
    folded = needle.casefold()
    for text in texts:
        if text is None:
            continue
        leaves = _strings(_loads(text)) if json_columns else (text,)
        if any(folded in leaf.casefold() for leaf in leaves):
            return True
    return False


def _verify(
    store: Store, conn: Connection, flt: TraceFilter, ids: list[str], dialect: str
) -> set[str]:
    """The ids among ``ids`` that really pass the attribute, text and label filters."""
    keep = set(ids)
    if flt.label is not None:
        verdicts = trace_verdicts(store, ids)
        keep = {i for i in ids if verdicts.get(i, ("unlabelled", []))[0] == flt.label}
    for key, value in flt.attributes:
        holding: set[str] = set()
        for chunk in _chunks([i for i in ids if i in keep]):
            rows = conn.execute(
                select(spans.c.trace_id, spans.c.attributes_json).where(
                    spans.c.trace_id.in_(chunk),
                    _attribute_prefilter(spans.c.attributes_json, key, value, dialect),
                )
            )
            for trace_id, attributes_json in rows:
                attributes = _loads(attributes_json)
                if (
                    isinstance(attributes, dict)
                    and key in attributes
                    and attribute_matches(attributes[key], value)
                ):
                    holding.add(trace_id)
        keep &= holding
    if flt.text is not None:
        needle = flt.text.strip()
        found: set[str] = set()
        for chunk in _chunks([i for i in ids if i in keep]):
            span_rows = conn.execute(
                select(
                    spans.c.trace_id, spans.c.name, spans.c.input_json, spans.c.output_json
                ).where(spans.c.trace_id.in_(chunk), _text_in_spans(needle, dialect))
            )
            for trace_id, name, input_json, output_json in span_rows:
                if _holds_text([name], needle, json_columns=False) or _holds_text(
                    [input_json, output_json], needle
                ):
                    found.add(trace_id)
            event_rows = conn.execute(
                select(
                    span_events.c.trace_id, span_events.c.body_json, span_events.c.attributes_json
                ).where(span_events.c.trace_id.in_(chunk), _text_in_events(needle, dialect))
            )
            for trace_id, body_json, attributes_json in event_rows:
                if _holds_text([body_json, attributes_json], needle):
                    found.add(trace_id)
        keep &= found
    return keep


def _after(row: Any) -> Any:
    """Keyset condition: the traces after ``row`` in newest-first order."""
    return or_(
        traces.c.start_time < row.start_time,
        and_(traces.c.start_time == row.start_time, traces.c.id < row.id),
    )


def _trace_rows(
    store: Store, conn: Connection, flt: TraceFilter, *, limit: int, offset: int, dialect: str
) -> tuple[list[Any], bool]:
    """One page of trace rows and whether more follow."""
    query = _base_query(flt, dialect)
    if not flt.attributes and flt.text is None and flt.label is None:
        rows = list(conn.execute(query.limit(limit + 1).offset(offset)))
        return rows[:limit], len(rows) > limit
    wanted = offset + limit + 1
    kept: list[Any] = []
    last = None
    while len(kept) < wanted:
        batch_query = query if last is None else query.where(_after(last))
        batch = list(conn.execute(batch_query.limit(_BATCH)))
        if not batch:
            break
        passing = _verify(store, conn, flt, [row.id for row in batch], dialect)
        kept.extend(row for row in batch if row.id in passing)
        if len(batch) < _BATCH:
            break
        last = batch[-1]
    page = kept[offset : offset + limit]
    return page, len(kept) > offset + limit


def _duration_ms(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() * 1000.0)


def trace_verdicts(store: Store, trace_ids: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    """Each trace's label (``failed``, ``failed_delayed``, ``ok`` or ``unlabelled``) and the
    reasons for it, from feedback, scores and delayed outcomes (:mod:`assay.trace.labels`).

    Imported lazily: the labels are another module's, and a build without it lists traces
    without labels rather than failing."""
    if not trace_ids:
        return {}
    try:
        from assay.trace.labels import trace_verdicts as verdicts_of
    except ImportError:
        return {}
    verdicts = verdicts_of(store, list(trace_ids))
    return {t: (v.label, list(v.reasons)) for t, v in verdicts.items()}


def _summary(row: Any, models: list[str], verdict: tuple[str, list[str]] | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "start_time": _iso(row.start_time),
        "end_time": _iso(row.end_time),
        "duration_ms": _duration_ms(row.start_time, row.end_time),
        "root_name": row.root_name,
        "service": row.service,
        "route": row.route,
        "environment": row.environment,
        "session_id": row.session_id,
        "user_id": row.user_id,
        "status": row.status,
        "label": verdict[0] if verdict else None,
        "failed": bool(verdict and verdict[0] in FAILED_LABELS),
        "n_spans": row.n_spans,
        "n_errors": row.n_errors,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost": row.cost,
        "models": models,
        "redacted": bool(row.redacted),
    }


def _models_of(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    """The distinct models (resolved, else requested) of each trace's spans."""
    out: dict[str, dict[str, None]] = {i: {} for i in ids}
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(spans.c.trace_id, spans.c.model_requested, spans.c.model_resolved)
            .where(
                spans.c.trace_id.in_(chunk),
                or_(spans.c.model_requested.is_not(None), spans.c.model_resolved.is_not(None)),
            )
            .order_by(spans.c.trace_id, spans.c.start_time)
        )
        for trace_id, requested, resolved in rows:
            out[trace_id][resolved or requested] = None
    return {i: list(models) for i, models in out.items()}


@contextmanager
def _reading(store: Store, action: str) -> Iterator[Connection]:
    """A read connection; database errors become :class:`StoreError`."""
    try:
        with store.engine.connect() as conn:
            yield conn
    except SQLAlchemyError as error:
        reason = (str(getattr(error, "orig", None) or error).splitlines() or ["?"])[0]
        raise StoreError(f"cannot {action} in {store.url}: {reason}") from error


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise AssayError(
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}",
            where="limit",
            fix="page through with offset",
        )
    if offset < 0:
        raise AssayError(f"offset must not be negative, got {offset}", where="offset")


def list_traces(
    store: Store, flt: TraceFilter | None = None, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """One page of the traces ``flt`` keeps, newest first.

    Returns ``{"traces": [...], "filter", "limit", "offset", "has_more"}``; each trace is its
    ``traces`` row (times in ISO 8601, ``duration_ms``), the distinct models of its spans and
    its label (``failed``, ``failed_delayed``, ``ok``, ``unlabelled``; ``None`` without the
    labels module) with ``failed`` true for the first two.
    """
    flt = flt or TraceFilter()
    _check_page(limit, offset)
    with _reading(store, "list traces") as conn:
        dialect = conn.dialect.name
        rows, has_more = _trace_rows(store, conn, flt, limit=limit, offset=offset, dialect=dialect)
        ids = [row.id for row in rows]
        models = _models_of(conn, ids)
    verdicts = trace_verdicts(store, ids)
    return {
        "traces": [_summary(row, models[row.id], verdicts.get(row.id)) for row in rows],
        "filter": flt.as_dict(),
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
    }


def resolve_trace_id(store: Store, ref: str) -> str:
    """The id of the trace ``ref`` names: a full trace id or a unique prefix of one (hex, any
    case). :class:`TraceNotFound` when nothing matches; :class:`AssayError` when ambiguous."""
    text = ref.strip().lower()
    if not text or len(text) > 32 or not _HEX.fullmatch(text):
        raise TraceNotFound(
            f"{ref!r} is not a trace id: trace ids are up to 32 hexadecimal digits",
            where="trace",
            fix=_LIST_HINT,
        )
    with _reading(store, f"resolve trace {text!r}") as conn:
        if conn.execute(select(traces.c.id).where(traces.c.id == text)).first() is not None:
            return text
        # A range, not LIKE: it uses the primary key's index on both backends (ids are
        # lower-case hex, and "g" sorts after every hex digit in any collation).
        matches = [
            m
            for m in conn.execute(
                select(traces.c.id)
                .where(traces.c.id >= text, traces.c.id < text + "g")
                .order_by(traces.c.id)
                .limit(11)
            ).scalars()
            if m.startswith(text)
        ]
    if len(matches) == 1:
        return str(matches[0])
    if matches:
        shown = ", ".join(matches[:10]) + (", …" if len(matches) > 10 else "")
        raise AssayError(
            f"trace id prefix {text!r} is ambiguous: it starts {shown}",
            where="trace",
            fix="give more digits of the id",
        )
    raise TraceNotFound(f"no trace with id {text!r} in {store.url}", where="trace", fix=_LIST_HINT)


# -- one trace -----------------------------------------------------------------------------------


def _span_tree(rows: list[Any]) -> tuple[list[Any], dict[str, int], dict[str, list[str]], set[str]]:
    """Spans in depth-first order (children by start time), their depths, children and the
    orphans: spans whose parent never arrived (or whose parents form a cycle)."""
    by_id = {row.span_id: row for row in rows}
    children: dict[str, list[str]] = {row.span_id: [] for row in rows}
    roots: list[str] = []
    orphans: set[str] = set()
    for row in rows:  # rows come sorted by start time, so children lists are too
        parent = row.parent_id
        if parent is None:
            roots.append(row.span_id)
        elif parent in by_id and parent != row.span_id:
            children[parent].append(row.span_id)
        else:
            roots.append(row.span_id)
            orphans.add(row.span_id)
    ordered: list[Any] = []
    depth: dict[str, int] = {}

    def walk(root: str) -> None:
        stack = [(root, 0)]
        while stack:
            span_id, level = stack.pop()
            if span_id in depth:
                continue
            depth[span_id] = level
            ordered.append(by_id[span_id])
            stack.extend((child, level + 1) for child in reversed(children[span_id]))

    for root in roots:
        walk(root)
    for row in rows:  # unreached: a cycle of parents; shown as orphan roots
        if row.span_id not in depth:
            orphans.add(row.span_id)
            walk(row.span_id)
    return ordered, depth, children, orphans


def _event_dict(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "time": _iso(row.time),
        "source": row.source,
        "body": _loads(row.body_json),
        "attributes": _loads(row.attributes_json) or {},
    }


def _score_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "span_id": row.span_id,
        "name": row.name,
        "value": row.value,
        "label": row.label,
        "explanation": row.explanation,
        "response_id": row.response_id,
        "source": row.source,
        "created_at": _iso(row.created_at),
    }


def _feedback_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "trace_id": row.trace_id,
        "span_id": row.span_id,
        "session_id": row.session_id,
        "kind": row.kind,
        "value": row.value,
        "label": row.label,
        "correction": row.correction,
        "comment": row.comment,
        "rater_id": row.rater_id,
        "rater_role": row.rater_role,
        "surface": row.surface,
        "intent": row.intent,
        "created_at": _iso(row.created_at),
    }


def _outcome_dict(row: Any, trace_start: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "trace_id": row.trace_id,
        "session_id": row.session_id,
        "event": row.event,
        "value": row.value,
        "bad": bool(row.bad),
        "occurred_at": _iso(row.occurred_at),
        "after_trace_hours": (row.occurred_at - trace_start).total_seconds() / 3600.0,
        "attributes": _loads(row.attributes_json),
    }


def _span_dict(
    row: Any,
    *,
    depth: int,
    children: list[str],
    orphan: bool,
    start: datetime,
    total_ms: float,
    events: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    documents: list[dict[str, Any]],
    scores: list[dict[str, Any]],
) -> dict[str, Any]:
    input_value, output_value = _loads(row.input_json), _loads(row.output_json)
    input_messages, output_messages = as_messages(input_value), as_messages(output_value)
    messages_from = "span" if input_messages or output_messages else None
    message_events = [e for e in events if e["name"] in MESSAGE_EVENTS]
    if message_events and (input_messages is None or output_messages is None):
        from_events = messages_from_events(message_events)
        if input_messages is None and input_value is None and from_events[0]:
            input_messages, messages_from = from_events[0], "events"
        if output_messages is None and output_value is None and from_events[1]:
            output_messages, messages_from = from_events[1], messages_from or "events"
    offset_ms = max(0.0, (row.start_time - start).total_seconds() * 1000.0)
    duration_ms = float(row.duration_ms)
    return {
        "span_id": row.span_id,
        "parent_id": row.parent_id,
        "depth": depth,
        "children": children,
        "orphan": orphan,
        "name": row.name,
        "kind": row.kind,
        "convention": row.convention,
        "status": row.status,
        "status_message": row.status_message,
        "service": row.service,
        "operation": row.operation,
        "provider": row.provider,
        "model_requested": row.model_requested,
        "model_resolved": row.model_resolved,
        "system_fingerprint": row.system_fingerprint,
        "response_id": row.response_id,
        "finish_reasons": _loads(row.finish_reasons_json),
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost": row.cost,
        "session_id": row.session_id,
        "user_id": row.user_id,
        "start_time": _iso(row.start_time),
        "end_time": _iso(row.end_time),
        "offset_ms": offset_ms,
        "duration_ms": duration_ms,
        "left_pct": min(100.0, 100.0 * offset_ms / total_ms) if total_ms > 0 else 0.0,
        "width_pct": min(100.0, 100.0 * duration_ms / total_ms) if total_ms > 0 else 0.0,
        "input_messages": input_messages,
        "output_messages": output_messages,
        "messages_from": messages_from,
        "input": None if input_messages is not None else input_value,
        "output": None if output_messages is not None else output_value,
        "tool_calls": calls,
        "retrievals": documents,
        "scores": scores,
        "events": [
            e for e in events if e["name"] not in MESSAGE_EVENTS and e["name"] != _EVAL_EVENT
        ],
        "attributes": _loads(row.attributes_json) or {},
        "flags": _loads(row.flags_json) or {},
    }


_EVAL_EVENT = "gen_ai.evaluation.result"


def _by_span(
    rows: Iterable[Any], convert: Callable[[Any], dict[str, Any]]
) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.span_id, []).append(convert(row))
    return out


def get_trace(store: Store, ref: str) -> dict[str, Any]:
    """Everything about one trace (``ref``: an id or a unique prefix).

    ``spans`` are in tree order (depth-first, children by start time) with ``depth``,
    ``children`` and ``orphan`` (the parent never arrived: shown as a root); each carries its
    waterfall position (``offset_ms`` from the trace's start, ``duration_ms``, and both as
    percentages of the trace's duration), its messages (from the span, or rebuilt from GenAI
    events and log records when the span holds none), tool calls, retrieved documents (ids,
    rank, score, document/index/embedding versions) and scores. Also: the trace's scores,
    feedback (on the trace, or on its session without a trace), outcomes (of the trace or its
    session), the cases promoted from it, and its label with the reasons for it.
    """
    trace_id = resolve_trace_id(store, ref)
    with _reading(store, f"read trace {trace_id}") as conn:
        trace = conn.execute(select(traces).where(traces.c.id == trace_id)).one()
        span_rows = list(
            conn.execute(
                select(spans)
                .where(spans.c.trace_id == trace_id)
                .order_by(spans.c.start_time, spans.c.span_id)
                .limit(MAX_SPANS + 1)
            )
        )
        truncated = len(span_rows) > MAX_SPANS
        span_rows = span_rows[:MAX_SPANS]
        where_trace = {
            "events": span_events.c.trace_id == trace_id,
            "calls": tool_calls.c.trace_id == trace_id,
            "docs": retrievals.c.trace_id == trace_id,
            "scores": trace_scores.c.trace_id == trace_id,
        }
        event_rows = conn.execute(
            select(span_events)
            .where(where_trace["events"])
            .order_by(span_events.c.time, span_events.c.id)
            .limit(MAX_SPANS * 20)
        )
        events = _by_span(event_rows, _event_dict)
        calls = _by_span(
            conn.execute(
                select(tool_calls)
                .where(where_trace["calls"])
                .order_by(tool_calls.c.span_id, tool_calls.c.position)
            ),
            lambda r: {
                "position": r.position,
                "source": r.source,
                "call_id": r.call_id,
                "tool": r.tool,
                "arguments": _loads(r.arguments_json),
                "result": _loads(r.result_json),
                "error": r.error,
                "idempotency_key": r.idempotency_key,
            },
        )
        documents = _by_span(
            conn.execute(
                select(retrievals)
                .where(where_trace["docs"])
                .order_by(retrievals.c.span_id, retrievals.c.rank)
            ),
            lambda r: {
                "rank": r.rank,
                "document_id": r.document_id,
                "chunk_id": r.chunk_id,
                "score": r.score,
                "content": r.content,
                "document_version": r.document_version,
                "index_version": r.index_version,
                "embedding_version": r.embedding_version,
            },
        )
        score_rows = list(
            conn.execute(
                select(trace_scores)
                .where(where_trace["scores"])
                .order_by(trace_scores.c.created_at, trace_scores.c.id)
            )
        )
        feedback_query = select(feedback).where(feedback.c.trace_id == trace_id)
        outcome_query = select(outcomes).where(outcomes.c.trace_id == trace_id)
        if trace.session_id is not None:
            feedback_query = select(feedback).where(
                or_(
                    feedback.c.trace_id == trace_id,
                    and_(feedback.c.trace_id.is_(None), feedback.c.session_id == trace.session_id),
                )
            )
            outcome_query = select(outcomes).where(
                or_(outcomes.c.trace_id == trace_id, outcomes.c.session_id == trace.session_id)
            )
        feedback_rows = list(
            conn.execute(feedback_query.order_by(feedback.c.created_at, feedback.c.id))
        )
        outcome_rows = list(
            conn.execute(outcome_query.order_by(outcomes.c.occurred_at, outcomes.c.id))
        )
        case_rows = list(
            conn.execute(
                select(
                    cases.c.id,
                    cases.c.dataset,
                    cases.c.status,
                    cases.c.origin,
                    cases.c.created_at,
                    cases.c.deleted_at,
                )
                .where(cases.c.created_from == trace_id)
                .order_by(cases.c.created_at, cases.c.id)
            )
        )

    ordered, depth, children, orphans = _span_tree(span_rows)
    start = min((r.start_time for r in span_rows), default=trace.start_time)
    end = max((max(r.end_time, r.start_time) for r in span_rows), default=trace.end_time)
    total_ms = _duration_ms(start, end)
    scores = [_score_dict(r) for r in score_rows]
    scores_by_span: dict[str | None, list[dict[str, Any]]] = {}
    for score in scores:
        scores_by_span.setdefault(score["span_id"], []).append(score)
    span_dicts = [
        _span_dict(
            row,
            depth=depth[row.span_id],
            children=children[row.span_id],
            orphan=row.span_id in orphans,
            start=start,
            total_ms=total_ms,
            events=events.get(row.span_id, []),
            calls=calls.get(row.span_id, []),
            documents=documents.get(row.span_id, []),
            scores=scores_by_span.get(row.span_id, []),
        )
        for row in ordered
    ]
    models = list(
        dict.fromkeys(
            r.model_resolved or r.model_requested
            for r in span_rows
            if r.model_resolved or r.model_requested
        )
    )
    verdict = trace_verdicts(store, [trace_id]).get(trace_id)
    summary = _summary(trace, models, verdict)
    summary["label_reasons"] = verdict[1] if verdict else []
    summary["attributes"] = _loads(trace.attributes_json) or {}
    known = {row.span_id for row in span_rows}
    return {
        "trace": summary,
        "spans": span_dicts,
        "roots": [s["span_id"] for s in span_dicts if s["depth"] == 0],
        "n_orphans": len(orphans),
        "truncated": truncated,
        "waterfall": {"start_time": _iso(start), "end_time": _iso(end), "duration_ms": total_ms},
        "scores": scores,
        "trace_events": events.get(None, [])
        + [e for span, es in events.items() if span is not None and span not in known for e in es],
        "feedback": [_feedback_dict(r) for r in feedback_rows],
        "outcomes": [_outcome_dict(r, trace.start_time) for r in outcome_rows],
        "cases": [
            {
                "id": r.id,
                "dataset": r.dataset,
                "status": r.status,
                "origin": r.origin,
                "created_at": _iso(r.created_at),
                "deleted": r.deleted_at is not None,
            }
            for r in case_rows
        ],
    }
