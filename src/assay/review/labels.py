"""Labelling an item, and what a label changes elsewhere in the store.

A reviewer's label is stored with their name, role and the time; labelling the same item again
replaces their earlier label (one label per reviewer and item, the latest). In the same
transaction the label feeds the rest of assay:

* a **draft case** whose item has all its reviews is triaged by majority: more passes than
  fails accepts it (the newest correction among the passing labels becomes its target), more
  fails rejects it, a tie leaves it a draft. A case someone else triaged is left alone; one this
  queue triaged follows later relabels.
* a **trace** gets the label as a score (``trace_scores``, ``source='review'``, named
  ``review:QUEUE``, labelled pass/fail), so trace pages and monitors see human verdicts beside
  judges', and a ``fail`` labels the trace failed for the promotion policy
  (:mod:`assay.trace.labels`).
* a **sample** label is what ``assay audit humans --queue`` reads (see
  :mod:`assay.review.humans`).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from assay.core import AssayError
from assay.review._db import dumps, now, writing
from assay.review.queue import (
    ReviewItem,
    ReviewLabel,
    ReviewQueue,
    check_reviewer,
    check_role,
    get_item,
    get_queue,
    select_items,
)
from assay.store import Store
from assay.store.tables import cases, review_items, review_labels, trace_scores

MAX_NOTE = 10_000
MAX_CORRECTION = 100_000


@dataclass(frozen=True)
class LabelOutcome:
    """A stored label, the item as it now stands, and the draft case's new status when the
    label decided it (``accepted``/``rejected``; None otherwise)."""

    label: ReviewLabel
    item: ReviewItem
    case_status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label.as_dict(),
            "item": self.item.id,
            "n_labels": len(self.item.labels),
            "case_status": self.case_status,
        }


def _text(value: str | None, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AssayError(f"{name} must be text", where=f"--{name}")
    text = value.strip()
    if len(text) > limit:
        raise AssayError(
            f"the {name} has {len(text):,} characters, more than {limit:,}",
            where=f"--{name}",
            fix=f"shorten the {name}",
        )
    return text or None


def check_label(
    queue: ReviewQueue, verdict: str | None, score: float | None
) -> tuple[str | None, float | None]:
    """The (verdict, value) to store for a label on ``queue``'s rubric, or an error saying
    what the rubric wants. On a score scale the verdict is derived from ``pass_at``."""
    rubric = queue.rubric
    if rubric.scale == "pass_fail":
        if score is not None:
            raise AssayError(
                f"queue {queue.name!r} labels pass or fail, not scores",
                where="--score",
                fix="give --verdict pass or --verdict fail",
            )
        if verdict not in ("pass", "fail"):
            raise AssayError(
                f"verdict must be pass or fail, not {verdict!r}",
                where="--verdict",
                fix="give --verdict pass or --verdict fail",
            )
        return verdict, 1.0 if verdict == "pass" else 0.0
    assert rubric.min is not None and rubric.max is not None
    scale = f"{rubric.min}-{rubric.max}"
    if verdict is not None:
        raise AssayError(
            f"queue {queue.name!r} labels scores {scale}, not pass/fail",
            where="--verdict",
            fix=f"give --score with a whole number {scale}",
        )
    if score is None or isinstance(score, bool):
        raise AssayError(
            f"queue {queue.name!r} needs a score {scale}",
            where="--score",
            fix=f"give --score with a whole number {scale}",
        )
    value = float(score)
    if not math.isfinite(value) or not value.is_integer() or not rubric.min <= value <= rubric.max:
        raise AssayError(
            f"score {score!r} is not a whole number in {scale}",
            where="--score",
            fix=f"give a whole number {scale}",
        )
    passed = rubric.passes(None, value)
    return (None if passed is None else "pass" if passed else "fail"), value


def label_item(
    store: Store,
    item_id: str,
    *,
    rater: str,
    role: str = "labeler",
    verdict: str | None = None,
    score: float | None = None,
    note: str | None = None,
    correction: str | None = None,
    queue: str | None = None,
    at: datetime | None = None,
) -> LabelOutcome:
    """Store ``rater``'s label of an item (id or unique prefix; within ``queue`` if given),
    replacing their earlier one, and let it feed drafts and traces (see the module's
    docstring). ``at`` is the label's time (default now)."""
    rater = check_reviewer(rater)
    role = check_role(role)
    note = _text(note, "note", MAX_NOTE)
    correction = _text(correction, "correction", MAX_CORRECTION)
    found = get_item(store, item_id, queue)
    info = get_queue(store, found.queue)
    verdict, value = check_label(info, verdict, score)
    stamp = at or now()
    row = {
        "id": uuid.uuid4().hex,
        "item_id": found.id,
        "rater_id": rater,
        "rater_role": role,
        "verdict": verdict,
        "value": value,
        "note": note,
        "correction": correction,
        "created_at": stamp,
    }
    with writing(store, f"label review item {found.id}") as conn:
        _upsert_label(conn, store, row)
        item = select_items(conn, review_items.c.id == found.id)[0]
        case_status = None
        if item.kind == "draft":
            case_status = _triage_draft(conn, info, item, stamp)
        elif item.kind == "trace":
            _score_trace(conn, store, info, item, row)
    label = item.label_of(rater)
    assert label is not None
    return LabelOutcome(label, item, case_status)


def _upsert_label(conn: Connection, store: Store, row: dict[str, Any]) -> None:
    """Insert the label, or replace the rater's earlier label of the item (keeping its id)."""
    changes = {k: row[k] for k in ("rater_role", "verdict", "value", "note", "correction")}
    changes["created_at"] = row["created_at"]
    _upsert(conn, store, review_labels, row, ["item_id", "rater_id"], changes)


def _upsert(
    conn: Connection,
    store: Store,
    table: Any,
    row: dict[str, Any],
    keys: list[str],
    changes: dict[str, Any],
) -> None:
    dialect = store.engine.dialect.name
    dialect_insert: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # another database: read, then write (two reviewers racing may see an error)
        match = [table.c[k] == row[k] for k in keys]
        if conn.execute(select(table.c[keys[0]]).where(*match)).first() is None:
            conn.execute(table.insert().values(**row))
        else:
            conn.execute(update(table).where(*match).values(**changes))
        return
    stmt = dialect_insert(table).values(**row)
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


def _triage_draft(
    conn: Connection, queue: ReviewQueue, item: ReviewItem, stamp: datetime
) -> str | None:
    """Accept or reject the item's draft case once it has all its reviews (majority of
    passes and fails); returns the new status, or None when nothing changed."""
    if len(item.labels) < queue.reviews_per_item:
        return None
    votes = [queue.rubric.passes(label.verdict, label.value) for label in item.labels]
    passes, fails = votes.count(True), votes.count(False)
    if passes == fails:
        return None
    decision = "accepted" if passes > fails else "rejected"
    case = conn.execute(
        select(cases.c.status, cases.c.metadata_json).where(cases.c.id == item.ref)
    ).first()
    earlier = item.payload.get("decision")
    if case is None or case.status not in ("draft", earlier):
        return None  # gone, or triaged by someone else: theirs stands
    if case.status == decision:
        return None
    metadata = json.loads(case.metadata_json) if case.metadata_json else {}
    metadata["review"] = {"queue": queue.name, "pass": passes, "fail": fails}
    values: dict[str, Any] = {
        "status": decision,
        "triaged_at": stamp,
        "metadata_json": json.dumps(metadata, ensure_ascii=False, sort_keys=True),
    }
    if decision == "accepted":
        corrections = [
            label.correction
            for label in item.labels
            if label.correction and queue.rubric.passes(label.verdict, label.value)
        ]
        if corrections:
            values["target_json"] = dumps(corrections[-1])
    conn.execute(update(cases).where(cases.c.id == item.ref).values(**values))
    conn.execute(
        update(review_items)
        .where(review_items.c.id == item.id)
        .values(payload_json=dumps({**item.payload, "decision": decision}))
    )
    return decision


def _score_trace(
    conn: Connection, store: Store, queue: ReviewQueue, item: ReviewItem, row: dict[str, Any]
) -> None:
    """The label as a score on the trace (one per queue and reviewer, the latest)."""
    key = f"{item.id}\x00{row['rater_id']}".encode()
    score_id = hashlib.sha256(key).hexdigest()[:32]
    explanation = f"{row['rater_id']} ({row['rater_role']})" + (
        f": {row['note']}" if row["note"] else ""
    )
    values = {
        "id": score_id,
        "trace_id": item.ref,
        "span_id": None,
        "name": f"review:{queue.name}",
        "value": row["value"],
        "label": row["verdict"],
        "explanation": explanation,
        "response_id": None,
        "source": "review",
        "created_at": row["created_at"],
    }
    changes = {k: values[k] for k in ("value", "label", "explanation", "created_at")}
    _upsert(conn, store, trace_scores, values, ["id"], changes)
