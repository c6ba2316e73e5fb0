"""Feedback and delayed outcomes on traces (D6, E3): checked, redacted, stored.

Two kinds of event arrive after a trace, from the product rather than from the traced app:

- **feedback** on a trace (or one span of it): a thumbs up/down, a score, a corrected answer or
  a free-text label, with *who* rated (``rater_role``: end_user / internal / labeler), *where*
  (``surface``: prod / staging / debug tool) and *why* (``intent``). D6 needs all three at
  write time: an export for training filters on them (:mod:`assay.trace.feedback_export`),
  and staging clicks by the team must not pass for users' judgement.
- **outcomes**: business events about a conversation (``ticket_reopened``, ``refund_issued``,
  ``conversion`` …), joined to its traces by session id within a window
  (:mod:`assay.trace.labels`). ``bad`` says whether the event means the conversation failed;
  it defaults from the event name (:data:`BAD_EVENTS`, :data:`GOOD_EVENTS`) and must be given
  for any other name.

Both are validated by the pydantic models :class:`FeedbackEvent` and :class:`OutcomeEvent` (the
HTTP API uses the same models, so a file row and a request body are held to one rule). Free
text (labels, corrections, comments, intents, outcome attributes) is redacted before the first
write, with the placeholder numbering of the trace it belongs to, so an address that is
``<EMAIL_1>`` in the trace is ``<EMAIL_1>`` in a correction too; session and rater ids that are
themselves personal data become the same keyed pseudonyms the trace writer uses, so outcomes
still join. Row ids are content hashes (or the client's own ``id``), so sending an event twice
stores it once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import Connection, select

from assay.core import AssayError, StoreError, content_hash
from assay.data.pii import Placeholders, redact_value
from assay.data.readers import JSON_DECODER, open_rows
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import feedback as feedback_t
from assay.store.tables import outcomes as outcomes_t
from assay.store.tables import traces as traces_t
from assay.trace.ingest import _known_placeholders, insert_ignore, redaction_key
from assay.trace.redact import TracePlaceholders, pseudonym

FeedbackKind = Literal["thumbs", "score", "correction", "label"]
RaterRole = Literal["end_user", "internal", "labeler"]
Surface = Literal["prod", "staging", "debug"]
FEEDBACK_KINDS: tuple[str, ...] = ("thumbs", "score", "correction", "label")
RATER_ROLES: tuple[str, ...] = ("end_user", "internal", "labeler")
SURFACES: tuple[str, ...] = ("prod", "staging", "debug")

#: Outcome events that mean the conversation went badly (``bad`` defaults to true).
BAD_EVENTS = frozenset(
    {
        "ticket_reopened",
        "ticket_escalated",
        "refund_issued",
        "refund_requested",
        "chargeback",
        "escalated",
        "escalation",
        "complaint",
        "human_handoff",
        "cancellation",
        "cancelled",
        "churned",
        "unsubscribed",
        "negative_review",
        "return_requested",
    }
)
#: Outcome events that mean it went well (``bad`` defaults to false).
GOOD_EVENTS = frozenset(
    {
        "conversion",
        "converted",
        "purchase",
        "resolved",
        "ticket_resolved",
        "ticket_closed",
        "renewal",
        "retained",
        "positive_review",
        "task_completed",
    }
)

_HEX32 = r"^[0-9a-fA-F]{32}$"
_HEX16 = r"^[0-9a-fA-F]{16}$"
TraceId = Annotated[str, StringConstraints(pattern=_HEX32)]
SpanId = Annotated[str, StringConstraints(pattern=_HEX16)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=512)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]
_CHUNK = 1000


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01 in a zone east of UTC
        raise ValueError("the time is out of range (years 1 to 9999 in UTC)") from None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _no_nul(value: Any) -> Any:
    """No NUL characters: PostgreSQL text cannot hold them, and no real text has them."""
    if _has_nul(value):
        raise ValueError("text must not contain NUL (\\x00) characters")
    return value


def _nonzero_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip("0"):
        raise ValueError("an all-zero id is invalid (OpenTelemetry reserves it for 'no id')")
    return value.lower()


class FeedbackEvent(BaseModel):
    """One piece of feedback on a trace (or on one span of it).

    ``kind`` says which field carries it: ``thumbs`` → ``value`` 1 (up) or 0 (down); ``score``
    → ``value`` in [0, 1] (rescale a 1–5 rating first); ``correction`` → ``correction``, the
    answer the output should have been; ``label`` → ``label``, a free-text tag (``wrong``,
    ``off-topic``). ``time`` is when it was given (now when absent; a time without a zone is
    UTC). ``id`` is the client's own event id. An event is stored once however often it is
    sent when it has an ``id`` or a ``time``; without either it is known by its content and the
    moment it arrived.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ShortText | None = Field(None, description="The client's event id (idempotency key).")
    trace_id: TraceId = Field(description="32 hex digits.")
    span_id: SpanId | None = Field(None, description="16 hex digits, or null for the trace.")
    session_id: ShortText | None = None
    kind: FeedbackKind
    value: float | None = Field(
        None, allow_inf_nan=False, validate_default=True, description="thumbs: 1 up, 0 down."
    )
    label: ShortText | None = Field(None, validate_default=True)
    correction: LongText | None = Field(None, validate_default=True)
    comment: LongText | None = None
    rater_id: ShortText | None = None
    rater_role: RaterRole
    surface: Surface
    intent: ShortText | None = None
    time: datetime | None = None

    _ids = field_validator("trace_id", "span_id")(_nonzero_id)
    _text = field_validator("*")(_no_nul)

    @field_validator("value")
    @classmethod
    def _value_fits_kind(cls, value: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("kind")
        if kind == "thumbs" and value not in (0, 1):
            raise ValueError("thumbs feedback needs value 1 (up) or 0 (down)")
        if kind == "score" and (value is None or not 0 <= value <= 1):
            raise ValueError("score feedback needs a value between 0 and 1")
        return value

    @field_validator("label")
    @classmethod
    def _label_for_label(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") == "label" and not (value and value.strip()):
            raise ValueError("label feedback needs a non-empty label")
        return value

    @field_validator("correction")
    @classmethod
    def _correction_for_correction(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") == "correction" and not (value and value.strip()):
            raise ValueError("correction feedback needs the corrected answer in `correction`")
        return value

    @field_validator("time")
    @classmethod
    def _time_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


def default_bad(event: str) -> bool | None:
    """Whether outcome ``event`` is bad by its name (case and ``-``/space insensitive), or
    ``None`` for a name in neither list."""
    name = event.strip().lower().replace("-", "_").replace(" ", "_")
    if name in BAD_EVENTS:
        return True
    if name in GOOD_EVENTS:
        return False
    return None


class OutcomeEvent(BaseModel):
    """A delayed outcome of a conversation: ``event`` at ``time``, for ``session_id`` (the
    conversation) and/or one ``trace_id``. ``bad`` defaults from the event name
    (:data:`BAD_EVENTS`, :data:`GOOD_EVENTS`); any other name must say it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ShortText | None = Field(None, description="The client's event id (idempotency key).")
    session_id: ShortText | None = None
    trace_id: TraceId | None = Field(None, validate_default=True)
    event: ShortText
    value: float | None = Field(None, allow_inf_nan=False)
    bad: bool | None = Field(None, validate_default=True)
    time: datetime
    attributes: dict[str, Any] = Field(default_factory=dict)

    _text = field_validator("*")(_no_nul)

    @field_validator("trace_id")
    @classmethod
    def _joins_something(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and not info.data.get("session_id"):
            raise ValueError("an outcome needs a session_id (the conversation) or a trace_id")
        return _nonzero_id(value)

    @field_validator("bad")
    @classmethod
    def _bad_from_name(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        event = info.data.get("event")
        if value is None and event is not None:
            value = default_bad(event)
            if value is None:
                raise ValueError(
                    f"outcome event {event!r} is not a known name; say whether it is bad "
                    'with "bad": true or false'
                )
        return value

    @field_validator("time")
    @classmethod
    def _time_utc(cls, value: datetime) -> datetime:
        result = _utc(value)
        assert result is not None
        return result


# -- checking rows ------------------------------------------------------------------------------


def _problem(error: ValidationError) -> tuple[str, str]:
    """The first problem of a validation error: (field, message)."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "row"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return where, message


_FIXES = {
    "feedback": "each feedback row needs trace_id (32 hex digits), kind (thumbs, score, "
    "correction, label), rater_role (end_user, internal, labeler) and surface (prod, staging, "
    "debug)",
    "outcome": "each outcome row needs event, time (ISO-8601) and session_id or trace_id; "
    "give bad: true/false for event names assay does not know",
}


def parse_event(kind: Literal["feedback", "outcome"], row: Any, where: str) -> Any:
    """``row`` as a :class:`FeedbackEvent` or :class:`OutcomeEvent`; an :class:`AssayError`
    naming ``where`` and the field at fault when it is not one."""
    model = FeedbackEvent if kind == "feedback" else OutcomeEvent
    if not isinstance(row, dict):
        raise AssayError(
            f"a {kind} row must be an object, got {type(row).__name__}",
            where=where,
            fix=_FIXES[kind],
        )
    try:
        return model.model_validate(row)
    except ValidationError as error:
        field_name, message = _problem(error)
        raise AssayError(message, where=f"{where} ({field_name})", fix=_FIXES[kind]) from None


def _csv_cells(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row's cells as values: empty cells are absent, ``attributes`` is JSON text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, str) and not value.strip():
            continue
        if key == "attributes" and isinstance(value, str):
            with contextlib.suppress(ValueError):  # left as text: the model names the field
                value = json.loads(value)
        out[key] = value
    return out


def read_events(kind: Literal["feedback", "outcome"], path: str | Path) -> Iterator[Any]:
    """The events of a JSONL, JSON (one object or a list) or CSV file, checked row by row;
    the first bad row raises an :class:`AssayError` naming ``file:line`` and the field."""
    label = str(path)
    file = Path(path)
    if file.suffix.lower() == ".json" and file.is_file():
        text = file.read_text(encoding="utf-8-sig")
        if text.lstrip().startswith("{"):
            try:
                row = JSON_DECODER.decode(text)
            except ValueError as error:
                raise AssayError(
                    f"not valid JSON: {error}", where=label, fix="write one JSON object or a list"
                ) from None
            line = text[: len(text) - len(text.lstrip())].count("\n") + 1
            yield parse_event(kind, row, f"{label}:{line}")
            return
    source = open_rows(file)
    for number, row in source.rows:
        if source.text_cells and isinstance(row, dict):
            row = _csv_cells(row)
        yield parse_event(kind, row, source.where(number))


# -- writing ------------------------------------------------------------------------------------


@dataclass
class RecordReport:
    """What one call of :func:`record_feedback` or :func:`record_outcomes` stored."""

    kind: str
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    drafts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "redacted": dict(sorted(self.findings.items())),
            "new_drafts": len(self.drafts),
        }


class _Redactor:
    """Redacts the free text of a batch: with the trace's own numbering when the text belongs
    to a trace, else with a numbering of its own; ids holding PII become pseudonyms."""

    def __init__(self, key: bytes, conn: Connection, trace_ids: Sequence[str]) -> None:
        self.key = key
        self.known = _known_placeholders(conn, sorted(set(trace_ids)))
        self.tables: dict[str, TracePlaceholders] = {}
        self.findings: dict[str, int] = {}

    def text(self, value: Any, trace_id: str | None) -> Any:
        if value is None:
            return None
        if trace_id is None:
            table: Placeholders = Placeholders()
        else:
            found = self.tables.get(trace_id)
            if found is None:
                found = TracePlaceholders(trace_id, self.key, self.known.get(trace_id, {}))
                self.tables[trace_id] = found
            table = found
        redacted, findings = redact_value(value, table)
        for finding in findings:
            self.findings[finding.type] = self.findings.get(finding.type, 0) + 1
        return redacted

    def pseudonym(self, value: str | None) -> str | None:
        return pseudonym(self.key, value)

    def new_placeholders(self) -> list[dict[str, Any]]:
        return [row for table in self.tables.values() for row in table.new]


def _event_id(kind: str, event: BaseModel, row: dict[str, Any]) -> str:
    client_id = getattr(event, "id", None)
    if client_id is not None:
        return content_hash([kind, "client", client_id], length=32)
    identity = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    return content_hash([kind, identity], length=32)


def _feedback_row(event: FeedbackEvent, redactor: _Redactor, now: datetime) -> dict[str, Any]:
    trace_id = event.trace_id
    row = {
        "trace_id": trace_id,
        "span_id": event.span_id.lower() if event.span_id else None,
        "session_id": redactor.pseudonym(event.session_id),
        "kind": event.kind,
        "value": event.value,
        "label": redactor.text(event.label, trace_id),
        "correction": redactor.text(event.correction, trace_id),
        "comment": redactor.text(event.comment, trace_id),
        "rater_id": redactor.pseudonym(event.rater_id),
        "rater_role": event.rater_role,
        "surface": event.surface,
        "intent": redactor.text(event.intent, trace_id),
        "created_at": event.time or now,
    }
    return {"id": _event_id("feedback", event, row), **row}


def _outcome_row(event: OutcomeEvent, redactor: _Redactor, now: datetime) -> dict[str, Any]:
    attributes = redactor.text(event.attributes, event.trace_id) if event.attributes else None
    row = {
        "session_id": redactor.pseudonym(event.session_id),
        "trace_id": event.trace_id,
        "event": redactor.text(event.event, event.trace_id),
        "value": event.value,
        "bad": bool(event.bad),
        "occurred_at": event.time,
        "attributes_json": None
        if attributes is None
        else json.dumps(attributes, ensure_ascii=False, sort_keys=True, default=str),
    }
    key = {k: v for k, v in row.items()}
    event_id = _event_id("outcome", event, key)
    return {"id": event_id, **row, "created_at": now}


def _existing_ids(conn: Connection, table: Any, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 400):
        chunk = ids[start : start + 400]
        found.update(r[0] for r in conn.execute(select(table.c.id).where(table.c.id.in_(chunk))))
    return found


def _write(
    store: Store,
    kind: Literal["feedback", "outcome"],
    events: Sequence[Any],
    report: RecordReport,
) -> set[str]:
    """Redact and insert one chunk in one transaction; the trace ids and sessions it touched."""
    table = feedback_t if kind == "feedback" else outcomes_t
    now = datetime.now(UTC)
    trace_ids = [e.trace_id for e in events if e.trace_id is not None]
    key = redaction_key(store)  # before the write transaction: it may write the key itself
    try:
        with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            redactor = _Redactor(key, conn, trace_ids)
            make = _feedback_row if kind == "feedback" else _outcome_row
            rows = list(
                {row["id"]: row for row in (make(e, redactor, now) for e in events)}.values()
            )
            existing = _existing_ids(conn, table, [r["id"] for r in rows])
            fresh = [r for r in rows if r["id"] not in existing]
            insert_ignore(conn, table, fresh)
            from assay.store.tables import trace_placeholders

            insert_ignore(conn, trace_placeholders, redactor.new_placeholders())
    except AssayError:
        raise
    except Exception as error:  # a database error: say which store and what
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(error, SQLAlchemyError):
            raise
        first = (str(getattr(error, "orig", None) or error).splitlines() or ["?"])[0]
        raise StoreError(f"cannot store {kind} in {store.url}: {first}") from error
    report.received += len(events)
    report.stored += len(fresh)
    report.duplicates += len(events) - len(fresh)
    for name, count in redactor.findings.items():
        report.findings[name] = report.findings.get(name, 0) + count
    # Every event's traces, stored now or before: the policy is idempotent, and a resent
    # outcome with a wider window may fail traces the first one did not.
    touched = {r["trace_id"] for r in rows if r["trace_id"]}
    if kind == "outcome":
        touched |= {f"session:{r['session_id']}" for r in rows if r["session_id"]}
    return touched


def _record(
    store: Store,
    kind: Literal["feedback", "outcome"],
    events: Iterable[Any],
    *,
    sync: bool,
    window: timedelta | None,
    on_progress: Callable[[int], None] | None,
) -> RecordReport:
    report = RecordReport(kind=kind)
    touched: set[str] = set()
    chunk: list[Any] = []
    for event in events:
        if isinstance(event, dict):
            event = parse_event(kind, event, f"{kind}[{report.received + len(chunk)}]")
        chunk.append(event)
        if len(chunk) >= _CHUNK:
            touched |= _write(store, kind, chunk, report)
            chunk = []
            if on_progress is not None:
                on_progress(report.received)
    if chunk:
        touched |= _write(store, kind, chunk, report)
        if on_progress is not None:
            on_progress(report.received)
    if sync and touched:
        from assay.trace.labels import DEFAULT_WINDOW
        from assay.trace.promote import sync_drafts

        trace_ids = {t for t in touched if not t.startswith("session:")}
        sessions = [t.removeprefix("session:") for t in touched if t.startswith("session:")]
        trace_ids |= _session_traces(store, sessions)
        report.drafts = sync_drafts(
            store, sorted(trace_ids), window=window if window is not None else DEFAULT_WINDOW
        )
    return report


def _session_traces(store: Store, sessions: Sequence[str]) -> set[str]:
    found: set[str] = set()
    sessions = sorted(set(sessions))
    with store.engine.connect() as conn:
        for start in range(0, len(sessions), 400):
            chunk = sessions[start : start + 400]
            query = select(traces_t.c.id).where(traces_t.c.session_id.in_(chunk))
            found.update(r[0] for r in conn.execute(query))
    return found


def record_feedback(
    store: Store,
    events: Iterable[FeedbackEvent | dict[str, Any]],
    *,
    sync: bool = True,
    window: timedelta | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RecordReport:
    """Store feedback events (models or dicts of the same shape), redacted, a thousand per
    transaction; events already stored are counted as duplicates. With ``sync`` the traces
    that became failed get their draft case (:func:`assay.trace.promote.sync_drafts`)."""
    return _record(store, "feedback", events, sync=sync, window=window, on_progress=on_progress)


def record_outcomes(
    store: Store,
    events: Iterable[OutcomeEvent | dict[str, Any]],
    *,
    sync: bool = True,
    window: timedelta | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RecordReport:
    """Store outcome events, as :func:`record_feedback` does; the traces of their sessions
    that a bad outcome makes ``failed_delayed`` (within ``window``) get their draft case."""
    return _record(store, "outcome", events, sync=sync, window=window, on_progress=on_progress)


def record_file(
    store: Store,
    kind: Literal["feedback", "outcome"],
    path: str | Path,
    *,
    window: timedelta | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RecordReport:
    """Store the events of a JSONL/JSON/CSV file. Every row is checked first, so a bad row
    (reported as ``file:line (field)``) leaves the store unchanged. ``on_progress(done,
    total)`` is called after each stored chunk."""
    total = sum(1 for _ in read_events(kind, path))
    if total == 0:
        raise AssayError(
            f"the file holds no {kind} events", where=str(path), fix="add at least one row"
        )
    recorder = record_feedback if kind == "feedback" else record_outcomes
    progress = None if on_progress is None else (lambda done: on_progress(done, total))
    return recorder(store, read_events(kind, path), window=window, on_progress=progress)
