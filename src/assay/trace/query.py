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

The code is in four modules: the filter and its parsing (:mod:`assay.trace.query_filter`),
the SQL of a listing (:mod:`assay.trace.query_sql`), one trace as dicts
(:mod:`assay.trace.query_detail`), and here the entry points (:func:`list_traces`,
:func:`resolve_trace_id`, :func:`get_trace`); this module re-exports the others' public names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select
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
from assay.trace.query_detail import (
    _by_span,
    _event_dict,
    _feedback_dict,
    _outcome_dict,
    _score_dict,
    _span_dict,
    _span_tree,
)
from assay.trace.query_filter import (
    FAILED_LABELS,
    LABELS,
    STATUSES,
    TraceFilter,
    attribute_matches,
    parse_attribute,
    parse_time,
)
from assay.trace.query_sql import _chunks, _iso, _loads, _trace_rows, trace_verdicts

__all__ = [
    "FAILED_LABELS",
    "LABELS",
    "MAX_LIMIT",
    "MAX_SPANS",
    "STATUSES",
    "TraceFilter",
    "TraceNotFound",
    "attribute_matches",
    "get_trace",
    "list_traces",
    "parse_attribute",
    "parse_time",
    "resolve_trace_id",
    "trace_verdicts",
]

#: Most traces one listing returns.
MAX_LIMIT = 1000
#: Most spans :func:`get_trace` reads for one trace (a runaway agent loop may hold more).
MAX_SPANS = 5000
_HEX = re.compile(r"[0-9a-f]+")
_LIST_HINT = "run `assay traces list` to see the stored trace ids"


class TraceNotFound(AssayError):
    """Raised when a trace reference matches no stored trace (or is ambiguous)."""

    code = "not_found"


def _duration_ms(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() * 1000.0)


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
