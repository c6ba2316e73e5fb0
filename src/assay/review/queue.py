"""Review queues in the store: create one, put items in it, assign reviewers, and find the next
item a reviewer should label.

An item is a draft case, a trace or a run's sample (``kind``), identified within its queue by
``ref`` (the case id, the trace id, ``RUN:SUBJECT:SAMPLE``) and carrying a ``payload``: the
content the reviewer sees, copied when the item entered the queue (for traces, the redacted
text the store holds). Each item wants ``reviews_per_item`` labels from distinct reviewers.
``assigned_to`` lists the reviewers an item is reserved for; a reviewer's own assigned items
come first, then items that still have an unreserved review to give.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from assay.core import StoreError
from assay.review._db import dumps, now, reading, writing
from assay.review.rubric import Rubric
from assay.store import Store
from assay.store.tables import review_items, review_labels, review_queues

ITEM_KINDS = ("draft", "trace", "sample")
#: Who a reviewer is (D6's rater roles, plus a domain expert).
REVIEWER_ROLES = ("labeler", "expert", "internal", "end_user")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REVIEWER = re.compile(r"[^\s,][^,\x00-\x1f]{0,63}")
#: Most reviews one item may ask for.
MAX_REVIEWS_PER_ITEM = 20


class UnknownReviewRef(StoreError):
    """Raised when a queue or an item named by the user is not in the store."""

    code = "not_found"


@dataclass(frozen=True)
class ReviewLabel:
    """One reviewer's label of an item (a reviewer's latest label replaces the earlier one)."""

    id: str
    item_id: str
    rater: str
    role: str
    verdict: str | None
    value: float | None
    note: str | None
    correction: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "item": self.item_id,
            "rater": self.rater,
            "role": self.role,
            "verdict": self.verdict,
            "score": self.value,
            "note": self.note,
            "correction": self.correction,
            "time": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ReviewItem:
    """An item waiting in a queue, with the labels it has."""

    id: str
    queue: str
    kind: str
    ref: str
    payload: dict[str, Any]
    assigned_to: tuple[str, ...]
    created_at: datetime
    labels: tuple[ReviewLabel, ...] = ()

    @property
    def raters(self) -> set[str]:
        return {label.rater for label in self.labels}

    def label_of(self, rater: str) -> ReviewLabel | None:
        return next((label for label in self.labels if label.rater == rater), None)

    def pending_assignees(self) -> list[str]:
        """Reviewers the item is reserved for who have not labelled it yet."""
        return [r for r in self.assigned_to if r not in self.raters]

    def open_reviews(self, wanted: int) -> int:
        """Reviews still wanted that no assignment reserves."""
        return max(0, wanted - len(self.labels) - len(self.pending_assignees()))

    def is_open_to(self, rater: str, wanted: int) -> bool:
        """Whether ``rater`` should label it: not labelled by them, and either reserved for
        them or still wanting an unreserved review."""
        if rater in self.raters:
            return False
        return rater in self.assigned_to or self.open_reviews(wanted) > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue": self.queue,
            "kind": self.kind,
            "ref": self.ref,
            "content": self.payload,
            "assigned_to": list(self.assigned_to),
            "created_at": self.created_at.isoformat(),
            "labels": [label.as_dict() for label in self.labels],
        }


@dataclass(frozen=True)
class ReviewQueue:
    """A queue: its rubric and how many independent reviews each item wants."""

    name: str
    rubric: Rubric
    reviews_per_item: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rubric": self.rubric.as_dict(),
            "reviews_per_item": self.reviews_per_item,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class NewItem:
    """An item to put in a queue (see :mod:`assay.review.sources`)."""

    kind: str
    ref: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AddReport:
    """What :func:`add_items` did: ids of the items added, refs already in the queue."""

    added: list[str]
    already: list[str]


# -- names ---------------------------------------------------------------------------------


def check_queue_name(name: str) -> str:
    """A queue name: letters, digits, ``.``, ``_`` and ``-``, at most 100 (it goes in URLs)."""
    if not isinstance(name, str) or not _QUEUE_NAME.fullmatch(name):
        raise StoreError(
            f"{name!r} is not a queue name",
            where="queue",
            fix="use letters, digits, '.', '_' and '-' (at most 100), e.g. support-triage",
        )
    return name


def check_reviewer(name: str, where: str = "--as") -> str:
    """A reviewer's name: 1 to 64 characters, no commas, not only spaces."""
    text = name.strip() if isinstance(name, str) else ""
    if not _REVIEWER.fullmatch(text):
        raise StoreError(
            f"{name!r} is not a reviewer name",
            where=where,
            fix="give a name of 1-64 characters without commas, e.g. alice",
        )
    return text


def check_role(role: str, where: str = "--role") -> str:
    """One of :data:`REVIEWER_ROLES`."""
    if role not in REVIEWER_ROLES:
        raise StoreError(
            f"unknown reviewer role {role!r}", where=where, fix=f"use {', '.join(REVIEWER_ROLES)}"
        )
    return role


# -- queues --------------------------------------------------------------------------------


def _queue_from(row: Any) -> ReviewQueue:
    return ReviewQueue(
        row.name,
        Rubric.from_dict(json.loads(row.rubric_json)),
        row.reviews_per_item,
        row.created_at,
    )


def create_queue(
    store: Store, name: str, rubric: Rubric, *, reviews_per_item: int = 1
) -> ReviewQueue:
    """A new, empty queue; an existing name is an error (queues are never silently redefined)."""
    check_queue_name(name)
    if not 1 <= reviews_per_item <= MAX_REVIEWS_PER_ITEM:
        raise StoreError(
            f"reviews per item must be 1 to {MAX_REVIEWS_PER_ITEM}, not {reviews_per_item}",
            where="--reviews-per-item",
            fix="ask for 2 or 3 independent reviews to measure agreement",
        )
    queue = ReviewQueue(name, rubric, reviews_per_item, now())
    with writing(store, f"create review queue {name!r}") as conn:
        found = conn.execute(select(review_queues.c.name).where(review_queues.c.name == name))
        if found.first() is not None:
            raise StoreError(
                f"review queue {name!r} already exists",
                where="queue",
                fix="choose another name, or add items to it with `assay review add`",
            )
        conn.execute(
            insert(review_queues).values(
                name=name,
                rubric_json=dumps(rubric.as_dict()),
                reviews_per_item=reviews_per_item,
                created_at=queue.created_at,
            )
        )
    return queue


def get_queue(store: Store, name: str) -> ReviewQueue:
    """The queue called ``name``."""
    with reading(store, f"read review queue {name!r}") as conn:
        row = conn.execute(select(review_queues).where(review_queues.c.name == name)).first()
    if row is None:
        raise UnknownReviewRef(
            f"no review queue {name!r}",
            where="queue",
            fix="list queues with `assay review queue list`; create one with "
            "`assay review queue create`",
        )
    return _queue_from(row)


def list_queues(store: Store) -> list[ReviewQueue]:
    """Every queue, oldest first."""
    query = select(review_queues).order_by(review_queues.c.created_at, review_queues.c.name)
    with reading(store, "list review queues") as conn:
        return [_queue_from(row) for row in conn.execute(query)]


def delete_queue(store: Store, name: str) -> int:
    """Delete a queue with its items and labels; returns how many items went with it."""
    get_queue(store, name)
    items = select(review_items.c.id).where(review_items.c.queue == name)
    with writing(store, f"delete review queue {name!r}") as conn:
        conn.execute(delete(review_labels).where(review_labels.c.item_id.in_(items)))
        count = conn.execute(delete(review_items).where(review_items.c.queue == name)).rowcount
        conn.execute(delete(review_queues).where(review_queues.c.name == name))
    return int(count or 0)


# -- items ---------------------------------------------------------------------------------


def add_items(store: Store, name: str, items: Sequence[NewItem]) -> AddReport:
    """Put ``items`` at the end of the queue, in the order given. An item whose (kind, ref) is
    already in the queue is left as it is (its labels kept) and reported in ``already``."""
    get_queue(store, name)
    for item in items:
        if item.kind not in ITEM_KINDS:
            raise ValueError(f"unknown item kind {item.kind!r}")
    added: list[str] = []
    already: list[str] = []
    # Items of one batch are stamped a microsecond apart, so the queue keeps their order.
    start = now()
    with writing(store, f"add items to review queue {name!r}") as conn:
        present = {
            (kind, ref)
            for kind, ref in conn.execute(
                select(review_items.c.kind, review_items.c.ref).where(review_items.c.queue == name)
            )
        }
        rows: list[dict[str, Any]] = []
        for item in items:
            if (item.kind, item.ref) in present:
                already.append(item.ref)
                continue
            present.add((item.kind, item.ref))
            item_id = uuid.uuid4().hex
            rows.append(
                {
                    "id": item_id,
                    "queue": name,
                    "kind": item.kind,
                    "ref": item.ref,
                    "payload_json": dumps(item.payload),
                    "assigned_to": None,
                    "created_at": start + timedelta(microseconds=len(rows)),
                }
            )
            added.append(item_id)
        if rows:
            conn.execute(insert(review_items), rows)
    return AddReport(added, already)


def _label_from(row: Any) -> ReviewLabel:
    return ReviewLabel(
        row.id,
        row.item_id,
        row.rater_id,
        row.rater_role,
        row.verdict,
        row.value,
        row.note,
        row.correction,
        row.created_at,
    )


def _item_from(row: Any, labels: Iterable[ReviewLabel]) -> ReviewItem:
    assigned = tuple(r for r in (row.assigned_to or "").split(",") if r)
    return ReviewItem(
        row.id,
        row.queue,
        row.kind,
        row.ref,
        json.loads(row.payload_json) if row.payload_json else {},
        assigned,
        row.created_at,
        tuple(sorted(labels, key=lambda label: (label.created_at, label.rater))),
    )


def select_items(conn: Any, where: Any) -> list[ReviewItem]:
    """The items matching ``where`` (a condition on ``review_items``), with their labels."""
    rows = conn.execute(
        select(review_items).where(where).order_by(review_items.c.created_at, review_items.c.id)
    ).all()
    labels: dict[str, list[ReviewLabel]] = defaultdict(list)
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for label_row in conn.execute(
            select(review_labels).where(review_labels.c.item_id.in_(chunk))
        ):
            labels[label_row.item_id].append(_label_from(label_row))
    return [_item_from(row, labels.get(row.id, ())) for row in rows]


def queue_items(store: Store, name: str) -> list[ReviewItem]:
    """The queue's items in queue order, each with its labels."""
    get_queue(store, name)
    with reading(store, f"read review queue {name!r}") as conn:
        return select_items(conn, review_items.c.queue == name)


def get_item(store: Store, ref: str, queue: str | None = None) -> ReviewItem:
    """An item by id or by a unique prefix of its id (at least 4 characters)."""
    text = ref.strip().lower()
    if len(text) < 4 or not re.fullmatch(r"[0-9a-f]+", text):
        raise UnknownReviewRef(
            f"{ref!r} is not an item id",
            where="item",
            fix="give an item id or its first characters, as `assay review items QUEUE` shows",
        )
    where = review_items.c.id.startswith(text, autoescape=True)
    if queue is not None:
        where = where & (review_items.c.queue == queue)
    with reading(store, f"read review item {ref!r}") as conn:
        found = select_items(conn, where)
    if not found:
        in_queue = f" in queue {queue!r}" if queue else ""
        raise UnknownReviewRef(
            f"no review item {ref!r}{in_queue}",
            where="item",
            fix="list the items with `assay review items QUEUE`",
        )
    if len(found) > 1:
        raise StoreError(
            f"item id {ref!r} is ambiguous: {len(found)} items start with it",
            where="item",
            fix="give more characters of the id",
        )
    return found[0]


# -- reviewers -----------------------------------------------------------------------------


def assign_reviewers(
    store: Store, name: str, reviewers: Sequence[str], *, replace: bool = False
) -> dict[str, int]:
    """Reserve each item's wanted reviews for reviewers from ``reviewers``, round-robin, so
    that each item gets ``reviews_per_item`` distinct reviewers (counting those who already
    labelled it and those already assigned). ``replace`` first drops assignments of
    reviewers who have not labelled yet. Returns the new assignments per reviewer."""
    queue = get_queue(store, name)
    names = [check_reviewer(r, "--to") for r in reviewers]
    if not names:
        raise StoreError("name at least one reviewer", where="--to", fix="e.g. --to alice,bob")
    if len(set(names)) != len(names):
        raise StoreError("a reviewer is named twice", where="--to", fix="name each reviewer once")
    wanted = queue.reviews_per_item
    if len(names) < wanted:
        raise StoreError(
            f"{wanted} reviews per item need at least {wanted} reviewers, got {len(names)}",
            where="--to",
            fix=f"name {wanted} or more reviewers",
        )
    counts = dict.fromkeys(names, 0)
    cursor = 0
    with writing(store, f"assign reviewers in queue {name!r}") as conn:
        for item in select_items(conn, review_items.c.queue == name):
            kept = [r for r in item.assigned_to if r in item.raters or not replace]
            taken = set(kept) | item.raters
            slots = wanted - len(taken)
            chosen: list[str] = []
            tries = 0
            while len(chosen) < slots and tries < len(names):
                candidate = names[cursor % len(names)]
                cursor += 1
                tries += 1
                if candidate not in taken:
                    chosen.append(candidate)
                    taken.add(candidate)
            assigned = kept + chosen
            if tuple(assigned) != item.assigned_to:
                conn.execute(
                    update(review_items)
                    .where(review_items.c.id == item.id)
                    .values(assigned_to=",".join(assigned) or None)
                )
            for reviewer in chosen:
                counts[reviewer] += 1
    return counts


def items_for(items: Sequence[ReviewItem], rater: str, wanted: int) -> list[ReviewItem]:
    """The items ``rater`` should label, in order: those reserved for them first, then those
    still wanting an unreserved review (queue order within each)."""
    mine = [i for i in items if rater in i.assigned_to and rater not in i.raters]
    others = [i for i in items if rater not in i.assigned_to and i.is_open_to(rater, wanted)]
    return mine + others


def next_item(
    store: Store, name: str, rater: str, *, skip: Iterable[str] = ()
) -> ReviewItem | None:
    """The next item for ``rater`` (see :func:`items_for`), leaving out the ids in ``skip``;
    None when nothing is left for them."""
    queue = get_queue(store, name)
    skipped = set(skip)
    candidates = items_for(queue_items(store, name), check_reviewer(rater), queue.reviews_per_item)
    return next((item for item in candidates if item.id not in skipped), None)
