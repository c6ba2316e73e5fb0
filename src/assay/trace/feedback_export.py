"""The training signal (D6): feedback filtered by who gave it, where and why, for counts and
exports.

Feedback carries its rater role, surface and intent from the moment it is stored
(:mod:`assay.trace.feedback`); here they decide what a training export contains. The default
:class:`FeedbackView` is the *training signal*: the production surface only, and no internal
raters — a team's clicks on staging or in a debug tool are not users' judgement. Each exported
row carries its trace's (redacted) input and observed output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.core import AssayError
from assay.store import Store
from assay.store.tables import feedback as feedback_t


@dataclass(frozen=True)
class FeedbackView:
    """Which feedback an export or a count includes (D6). Each field is an allow-list; ``None``
    allows everything. The default is the *training signal*: production surface only, and no
    internal raters (a team's clicks on staging or in a debug tool are not users' judgement).
    """

    surfaces: tuple[str, ...] | None = ("prod",)
    rater_roles: tuple[str, ...] | None = ("end_user", "labeler")
    intents: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None

    @classmethod
    def everything(cls) -> FeedbackView:
        """Every feedback row, whoever gave it and wherever."""
        return cls(surfaces=None, rater_roles=None, intents=None, kinds=None)

    def describe(self) -> str:
        parts = []
        for name, values in (
            ("surface", self.surfaces),
            ("rater_role", self.rater_roles),
            ("intent", self.intents),
            ("kind", self.kinds),
        ):
            if values is not None:
                parts.append(f"{name} in {', '.join(values)}")
        return "; ".join(parts) or "all feedback"

    def where(self, query: Any) -> Any:
        for column, values in (
            (feedback_t.c.surface, self.surfaces),
            (feedback_t.c.rater_role, self.rater_roles),
            (feedback_t.c.intent, self.intents),
            (feedback_t.c.kind, self.kinds),
        ):
            if values is not None:
                query = query.where(column.in_(list(values)))
        return query


def check_view_values(name: str, values: Sequence[str] | None, allowed: Sequence[str]) -> None:
    """An :class:`AssayError` naming the option when a value is not one of ``allowed``."""
    for value in values or ():
        if value not in allowed:
            raise AssayError(
                f"unknown {name} {value!r}",
                where=f"--{name.replace('_', '-')}",
                fix=f"use one of {', '.join(allowed)}",
            )


def feedback_counts(store: Store, view: FeedbackView | None = None) -> dict[str, Any]:
    """How many feedback rows the view holds, in total and by kind, surface and rater role
    (thumbs split into up and down)."""
    view = view if view is not None else FeedbackView()
    query = view.where(
        select(feedback_t.c.kind, feedback_t.c.value, feedback_t.c.surface, feedback_t.c.rater_role)
    )
    total = 0
    by: dict[str, dict[str, int]] = {"kind": {}, "surface": {}, "rater_role": {}}
    with store.engine.connect() as conn:
        for kind, value, surface, role in conn.execute(query):
            total += 1
            name = kind
            if kind == "thumbs":
                name = "thumbs_up" if value == 1 else "thumbs_down"
            for key, item in (("kind", name), ("surface", surface), ("rater_role", role)):
                by[key][item] = by[key].get(item, 0) + 1
    return {"view": view.describe(), "total": total, **by}


def iter_feedback(store: Store, view: FeedbackView | None = None) -> Iterator[dict[str, Any]]:
    """The feedback rows the view holds, oldest first, each with its trace's observed input
    and output (already redacted) for training exports: ``input`` is the LLM span's messages
    (or the root span's input), ``output`` the final output text."""
    from assay.trace.material import trace_material

    view = view if view is not None else FeedbackView()
    query = view.where(select(feedback_t)).order_by(feedback_t.c.created_at, feedback_t.c.id)
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    materials: dict[str, Any] = {}
    for row in rows:
        trace_id = row["trace_id"]
        if trace_id not in materials:
            materials[trace_id] = trace_material(store, trace_id, missing_ok=True)
        material = materials[trace_id]
        yield {
            "id": row["id"],
            "trace_id": trace_id,
            "span_id": row["span_id"],
            "session_id": row["session_id"],
            "kind": row["kind"],
            "value": row["value"],
            "label": row["label"],
            "correction": row["correction"],
            "comment": row["comment"],
            "rater_id": row["rater_id"],
            "rater_role": row["rater_role"],
            "surface": row["surface"],
            "intent": row["intent"],
            "time": row["created_at"].isoformat(),
            "input": None if material is None else material.input,
            "output": None if material is None else material.output,
        }


def export_feedback(store: Store, path: str | Path, view: FeedbackView | None = None) -> int:
    """Write the view's feedback as JSONL (see :func:`iter_feedback`); the number of rows."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in iter_feedback(store, view):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        tmp.replace(target)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise AssayError(
            f"cannot write the export: {error.strerror or error}",
            where=str(target),
            fix="check that the folder exists and is writable",
        ) from None
    return n
