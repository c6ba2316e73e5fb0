"""The SQL of a trace listing: a filter as a query over ``traces`` (exact for plain columns,
a superset for attributes and text, through ``LIKE`` prefilters), the exact check of those
candidates in Python, and the keyset paging that fetches candidates until a page is full.

See :mod:`assay.trace.query` for the scale this is built for and the limits of full-text
search.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, literal, or_, select, union_all

from assay.store import Store
from assay.store.tables import span_events, spans, traces
from assay.trace.query_filter import TraceFilter, attribute_matches

# Candidates fetched per round when a filter needs an exact check in Python.
_BATCH = 200
# Most ids in one IN (...) list: well under SQLite's bound-parameter limit.
_MAX_IN = 500


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
