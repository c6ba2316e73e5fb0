"""Writing spans to the store: redact, then insert, in one transaction per batch.

:func:`store_spans` is the only way spans enter the store (the receiver, the importers and the
traffic simulator all call it). One call is one transaction:

1. the batch's placeholder numbering is read (``trace_placeholders``) and every span and event
   is redacted (:mod:`assay.trace.redact`) — nothing unredacted is ever handed to the database;
2. spans already stored (an exporter's retry after a lost response, a re-import) are skipped,
   so ``(trace_id, span_id)`` is written once and the trace's counts are not inflated;
3. spans, retrievals, tool calls, events and evaluation scores are inserted with one
   driver-level ``executemany`` per table (as the run writer does: SQLAlchemy's per-row
   processing would be most of the cost), and each trace row is upserted from its new spans
   (start = min, end = max, counts and tokens summed, status ``error`` if any span errored);
4. the batch's redaction report (counts per detector type, never values) is written.

A failed transaction stores nothing of the batch, and the caller (the receiver) answers 503 so
the exporter retries: a span is stored exactly once or the client knows it was not.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from assay.store import Store
from assay.store.tables import (
    redaction_reports,
    store_settings,
    trace_placeholders,
    traces,
)
from assay.store.tables import spans as spans_t
from assay.trace.model import SpanEvent, SpanRecord
from assay.trace.redact import SpanRedactor

KEY_ENV = "ASSAY_REDACTION_KEY"
EVALUATION_EVENT = "gen_ai.evaluation.result"
_KEY_SETTING = "redaction_key"
_IN_CHUNK = 400


@dataclass
class IngestReport:
    """What one :func:`store_spans` call stored."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    events: int = 0
    traces: int = 0
    redacted: bool = True
    findings: Counter[str] = field(default_factory=Counter)

    def merge(self, other: IngestReport) -> None:
        self.received += other.received
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.events += other.events
        self.traces += other.traces
        self.findings.update(other.findings)


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def redaction_key(store: Store) -> bytes:
    """The key of the keyed hashes behind placeholders and pseudonyms: ``ASSAY_REDACTION_KEY``
    (give every receiver of one store the same), else a random key created once per store."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    cached = getattr(store, "_assay_redaction_key", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    with store.engine.begin() as conn:
        row = conn.execute(
            select(store_settings.c.value).where(store_settings.c.key == _KEY_SETTING)
        ).first()
        if row is None:
            insert_ignore(
                conn, store_settings, [{"key": _KEY_SETTING, "value": secrets.token_hex(32)}]
            )
            row = conn.execute(
                select(store_settings.c.value).where(store_settings.c.key == _KEY_SETTING)
            ).first()
    key = str(row[0]).encode()
    store._assay_redaction_key = key  # type: ignore[attr-defined]
    return key


def insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING`` of ``rows`` as one driver ``executemany``.

    Timestamps are converted as the column type would (naive UTC text on SQLite).
    """
    if not rows:
        return
    dialect = conn.dialect.name
    columns = tuple(rows[0])
    if dialect == "sqlite":
        marks = ", ".join(f":{c}" for c in columns)
        rows = [
            {k: _sqlite_time(v) if isinstance(v, datetime) else v for k, v in row.items()}
            for row in rows
        ]
    elif dialect == "postgresql":
        marks = ", ".join(f"%({c})s" for c in columns)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported stores
        conn.execute(table.insert(), rows)
        return
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    conn.exec_driver_sql(sql, rows)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _known_placeholders(
    conn: Connection, trace_ids: Sequence[str]
) -> dict[str, dict[tuple[str, str], int]]:
    known: dict[str, dict[tuple[str, str], int]] = {}
    for start in range(0, len(trace_ids), _IN_CHUNK):
        chunk = trace_ids[start : start + _IN_CHUNK]
        rows = conn.execute(
            select(
                trace_placeholders.c.trace_id,
                trace_placeholders.c.kind,
                trace_placeholders.c.value_hash,
                trace_placeholders.c.number,
            ).where(trace_placeholders.c.trace_id.in_(chunk))
        )
        for trace_id, kind, digest, number in rows:
            known.setdefault(trace_id, {})[(kind, digest)] = number
    return known


def _stored_keys(conn: Connection, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        rows = conn.execute(
            select(spans_t.c.trace_id, spans_t.c.span_id).where(
                tuple_(spans_t.c.trace_id, spans_t.c.span_id).in_(chunk)
            )
        )
        found.update((t, s) for t, s in rows)
    return found


def _span_row(span: SpanRecord, cost_source: str | None = None) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "kind": span.kind,
        "name": span.name,
        "convention": span.convention,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "duration_ms": span.duration_ms,
        "status": span.status,
        "status_message": span.status_message,
        "service": span.service,
        "operation": span.operation,
        "provider": span.provider,
        "model_requested": span.model_requested,
        "model_resolved": span.model_resolved,
        "system_fingerprint": span.system_fingerprint,
        "response_id": span.response_id,
        "finish_reasons_json": _dumps(span.finish_reasons),
        "input_tokens": span.input_tokens,
        "output_tokens": span.output_tokens,
        "cost": span.cost,
        "session_id": span.session_id,
        "user_id": span.user_id,
        "input_json": _dumps(span.input),
        "output_json": _dumps(span.output),
        "attributes_json": _dumps(span.attributes) or "{}",
        "flags_json": _dumps(span.flags) if span.flags else None,
        "cached_input_tokens": span.cached_input_tokens,
        "cache_write_tokens": span.cache_write_tokens,
        "reasoning_tokens": span.reasoning_tokens,
        "input_audio_tokens": span.input_audio_tokens,
        "output_audio_tokens": span.output_audio_tokens,
        "input_image_tokens": span.input_image_tokens,
        "request_max_tokens": span.request_max_tokens,
        "ttft_ms": span.ttft_ms,
        "queue_ms": span.queue_ms,
        "cost_source": cost_source if span.cost is not None else None,
    }


def _event_row(event: SpanEvent) -> dict[str, Any]:
    """An event row; its id is a hash of its content, so a retried batch stores it once."""
    body = _dumps(event.body)
    attributes = _dumps(event.attributes) or "{}"
    identity = "\x00".join(
        (
            event.trace_id,
            event.span_id or "",
            event.name,
            event.time.isoformat(),
            event.source,
            body or "",
            attributes,
        )
    )
    return {
        "id": hashlib.blake2b(identity.encode(), digest_size=16).hexdigest(),
        "trace_id": event.trace_id,
        "span_id": event.span_id,
        "name": event.name,
        "time": event.time,
        "source": event.source,
        "body_json": body,
        "attributes_json": attributes,
    }


def _route(span: SpanRecord) -> str | None:
    for key in ("app.route", "route", "gen_ai.agent.name", "http.route"):
        value = span.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _environment(span: SpanRecord) -> str | None:
    for key in ("deployment.environment.name", "deployment.environment"):
        value = span.resource.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _trace_rows(spans: Iterable[SpanRecord], now: datetime, redacted: bool) -> list[dict[str, Any]]:
    """One partial trace row per trace, folded from the batch's new spans."""
    rows: dict[str, dict[str, Any]] = {}
    for span in spans:
        row = rows.get(span.trace_id)
        is_root = span.parent_id is None
        if row is None:
            row = rows[span.trace_id] = {
                "id": span.trace_id,
                "start_time": span.start_time,
                "end_time": max(span.end_time, span.start_time),
                "root_name": None,
                "service": span.service,
                "session_id": span.session_id,
                "user_id": span.user_id,
                "route": None,
                "environment": _environment(span),
                "status": "ok",
                "n_spans": 0,
                "n_errors": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": None,
                "redacted": redacted,
                # The resource (service, deployment, host, geo …) of the first span seen.
                "attributes_json": _dumps(span.resource) if span.resource else None,
                "updated_at": now,
            }
        row["start_time"] = min(row["start_time"], span.start_time)
        row["end_time"] = max(row["end_time"], span.end_time, span.start_time)
        row["n_spans"] += 1
        if span.status == "error":
            row["n_errors"] += 1
            row["status"] = "error"
        row["input_tokens"] += span.input_tokens or 0
        row["output_tokens"] += span.output_tokens or 0
        if span.cost is not None:
            row["cost"] = (row["cost"] or 0.0) + span.cost
        for key in ("service", "session_id", "user_id"):
            if row[key] is None:
                row[key] = getattr(span, key)
        row["environment"] = row["environment"] or _environment(span)
        route = _route(span)
        if is_root:
            row["root_name"] = span.name
            row["route"] = route or row["route"] or span.name
        elif row["route"] is None and route is not None:
            row["route"] = route
    return list(rows.values())


def _upsert_traces(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert

        least, greatest = func.min, func.max
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert

        least, greatest = func.least, func.greatest
    stmt = dialect_insert(traces)
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[traces.c.id],
        set_={
            "start_time": least(traces.c.start_time, new.start_time),
            "end_time": greatest(traces.c.end_time, new.end_time),
            "root_name": func.coalesce(new.root_name, traces.c.root_name),
            "route": _route_update(new),
            "service": func.coalesce(traces.c.service, new.service),
            "session_id": func.coalesce(traces.c.session_id, new.session_id),
            "user_id": func.coalesce(traces.c.user_id, new.user_id),
            "environment": func.coalesce(traces.c.environment, new.environment),
            "attributes_json": func.coalesce(traces.c.attributes_json, new.attributes_json),
            "status": func.coalesce(func.nullif(new.status, "ok"), traces.c.status),
            "n_spans": traces.c.n_spans + new.n_spans,
            "n_errors": traces.c.n_errors + new.n_errors,
            "input_tokens": traces.c.input_tokens + new.input_tokens,
            "output_tokens": traces.c.output_tokens + new.output_tokens,
            "cost": _add_nullable(traces.c.cost, new.cost),
            "redacted": traces.c.redacted & new.redacted,
            "updated_at": new.updated_at,
        },
    )
    conn.execute(stmt, rows)


def _route_update(new: Any) -> Any:
    """A root span's route wins (it names the request); otherwise keep the first seen."""
    from sqlalchemy import case

    return case(
        (new.root_name.is_not(None), new.route),
        else_=func.coalesce(traces.c.route, new.route),
    )


def _add_nullable(old: Any, new: Any) -> Any:
    from sqlalchemy import case

    return case(
        (old.is_(None), new),
        (new.is_(None), old),
        else_=old + new,
    )


def store_spans(
    store: Store,
    spans: Sequence[SpanRecord],
    events: Sequence[SpanEvent] = (),
    *,
    redact: bool = True,
    source: str = "import",
    note: str | None = None,
    price: Any = None,
) -> IngestReport:
    """Redact and store ``spans`` and ``events`` in one transaction (see the module docstring).

    ``redact=False`` stores text as received and records that (with ``note``, the reason) in
    the batch's redaction report; it must be asked for explicitly. ``price`` is a
    :class:`~assay.core.prices.PriceBook` (the default: cached, reasoning, audio and image tokens
    at their own rates, at the span's date) or a ``PriceTable``, for spans that carry no cost of
    their own.
    """
    report = IngestReport(received=len(spans), redacted=redact)
    now = datetime.now(UTC)
    unique: dict[tuple[str, str], SpanRecord] = {}
    for span in spans:
        unique.setdefault((span.trace_id, span.span_id), span)
    report.duplicates = len(spans) - len(unique)
    if price is None:
        price = _default_prices()
    key = redaction_key(store) if redact else b""
    with store.engine.begin() as conn:
        stored = _stored_keys(conn, list(unique))
        fresh = [span for k, span in unique.items() if k not in stored]
        report.duplicates += len(unique) - len(fresh)
        all_events = [*events, *(e for span in fresh for e in span.events)]
        if redact:
            trace_ids = sorted({s.trace_id for s in fresh} | {e.trace_id for e in events})
            redactor = SpanRedactor(key, _known_placeholders(conn, trace_ids))
            for span in fresh:
                redactor.span(span)
            for event in events:
                redactor.event(event)
            report.findings = redactor.counts
            placeholder_rows = redactor.new_rows()
        else:
            placeholder_rows = []
        priced: set[int] = set()
        for span in fresh:
            if span.cost is None and span.kind in ("llm", "embedding"):
                span.cost = _price_span(price, span)
                if span.cost is not None:
                    priced.add(id(span))
        insert_ignore(
            conn,
            spans_t,
            [_span_row(s, "priced" if id(s) in priced else "reported") for s in fresh],
        )
        _insert_children(conn, fresh, [e for e in events if e.name == EVALUATION_EVENT])
        kept = [e for e in all_events if e.name != EVALUATION_EVENT]
        insert_ignore(conn, _table("span_events"), [_event_row(e) for e in kept])
        trace_rows = _trace_rows(fresh, now, redact)
        _upsert_traces(conn, trace_rows)
        # Placeholder numbers: ON CONFLICT DO NOTHING; a concurrent receiver that numbered the
        # same value first wins on its next batch (the unique number constraint keeps two
        # values of one trace from sharing a number).
        insert_ignore(conn, trace_placeholders, placeholder_rows)
        insert_ignore(
            conn,
            redaction_reports,
            [
                {
                    "id": uuid.uuid4().hex,
                    "received_at": now,
                    "source": source[:16],
                    "n_items": len(fresh) + len(events),
                    "redacted": redact,
                    "counts_json": json.dumps(dict(sorted(report.findings.items()))),
                    "note": note,
                }
            ],
        )
    report.stored = len(fresh)
    report.events = len(all_events)
    report.traces = len(trace_rows)
    return report


def _table(name: str) -> Any:
    from assay.store import tables

    return getattr(tables, name)


def _insert_children(
    conn: Connection, spans: Sequence[SpanRecord], evaluation_logs: Sequence[SpanEvent] = ()
) -> None:
    from assay.store.tables import retrievals, tool_calls, trace_scores
    from assay.trace.conventions import evaluation_from

    docs, calls, scores = [], [], []
    now = datetime.now(UTC)
    for event in evaluation_logs:
        evaluation = evaluation_from(event.attributes, event.body)
        scores.append(
            {
                "id": uuid.uuid5(
                    uuid.NAMESPACE_URL,
                    f"{event.trace_id}/{event.span_id}/{evaluation.name}/{event.time.isoformat()}",
                ).hex,
                "trace_id": event.trace_id,
                "span_id": event.span_id,
                "name": evaluation.name,
                "value": evaluation.value,
                "label": evaluation.label,
                "explanation": evaluation.explanation,
                "response_id": evaluation.response_id,
                "source": "otel",
                "created_at": now,
            }
        )
    for span in spans:
        for doc in span.retrievals:
            docs.append(
                {
                    "trace_id": span.trace_id,
                    "span_id": span.span_id,
                    "rank": doc.rank,
                    "document_id": doc.document_id,
                    "chunk_id": doc.chunk_id,
                    "score": doc.score,
                    "content": doc.content,
                    "document_version": doc.document_version,
                    "index_version": doc.index_version,
                    "embedding_version": doc.embedding_version,
                }
            )
        for call in span.tool_calls:
            calls.append(
                {
                    "trace_id": span.trace_id,
                    "span_id": span.span_id,
                    "position": call.position,
                    "source": call.source,
                    "call_id": call.call_id,
                    "tool": call.tool,
                    "arguments_json": _dumps(call.arguments),
                    "result_json": _dumps(call.result),
                    "error": call.error,
                    "idempotency_key": call.idempotency_key,
                }
            )
        for evaluation in span.evaluations:
            scores.append(
                {
                    "id": uuid.uuid4().hex,
                    "trace_id": span.trace_id,
                    "span_id": span.span_id,
                    "name": evaluation.name,
                    "value": evaluation.value,
                    "label": evaluation.label,
                    "explanation": evaluation.explanation,
                    "response_id": evaluation.response_id,
                    "source": evaluation.source[:16],
                    "created_at": now,
                }
            )
    insert_ignore(conn, retrievals, docs)
    insert_ignore(conn, tool_calls, calls)
    insert_ignore(conn, trace_scores, scores)


_PRICES: list[Any] = []


def _default_prices() -> Any:
    if not _PRICES:
        from assay.core.prices import PriceBook

        _PRICES.append(PriceBook())
    return _PRICES[0]


def _price_span(price: Any, span: SpanRecord) -> float | None:
    """A span's cost from a :class:`~assay.core.prices.PriceBook` (every kind of token at its
    own rate, at the span's date) or a ``PriceTable`` (input and output only)."""
    model = span.model_resolved or span.model_requested
    if not hasattr(price, "price"):
        return price.cost(model, span.input_tokens, span.output_tokens or 0)  # type: ignore[no-any-return]
    if span.input_tokens is None:
        return None
    details = {
        "cached_input": span.cached_input_tokens,
        "cache_write": span.cache_write_tokens,
        "reasoning": span.reasoning_tokens,
        "input_audio": span.input_audio_tokens,
        "output_audio": span.output_audio_tokens,
        "input_image": span.input_image_tokens,
    }
    for name in dict.fromkeys((model, span.model_requested)):  # a snapshot, then the alias
        priced = price.price(
            name,
            span.input_tokens,
            span.output_tokens or 0,
            details,
            provider=span.provider,
            at=span.start_time,
        )
        if priced is not None:
            return priced.total  # type: ignore[no-any-return]
    return None
