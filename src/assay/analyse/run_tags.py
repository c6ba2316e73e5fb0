"""Tags and a note on a run (``assay run --tag v2 --note "..."``), kept in ``run_labels``; a
run's first tag is its label on every page (:mod:`assay.analyse.run_labels`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select

from assay.core import AssayError
from assay.store import Store, codec
from assay.store.engine import WRITE_OPTION
from assay.store.tables import run_labels, runs


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags stripped, empty ones dropped, duplicates removed (first kept); a tag with a comma
    or longer than 64 characters is refused."""
    out: list[str] = []
    for raw in tags:
        tag = raw.strip()
        if not tag:
            continue
        if "," in tag or len(tag) > 64:
            raise AssayError(
                f"cannot use tag {raw!r}",
                where="--tag",
                fix="give one short tag per --tag (no commas, at most 64 characters)",
            )
        if tag not in out:
            out.append(tag)
    return out


def set_run_tags(store: Store, run_id: str, tags: Iterable[str], note: str | None) -> None:
    """Give a stored run its tags and note (replacing any it had)."""
    tag_list = clean_tags(tags)
    text = note.strip() if note and note.strip() else None
    row = {
        "run_id": run_id,
        "tags_json": codec.dumps(tag_list),
        "note": text,
        "updated_at": datetime.now(UTC),
    }
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise AssayError(f"no run with id {run_id!r} in {store.url}", where="run")
        conn.execute(delete(run_labels).where(run_labels.c.run_id == run_id))
        conn.execute(insert(run_labels), [row])


def run_tags(store: Store, run_ids: Sequence[str]) -> dict[str, tuple[list[str], str | None]]:
    """Tags and note of each of ``run_ids`` that has any."""
    out: dict[str, tuple[list[str], str | None]] = {}
    ids = list(dict.fromkeys(run_ids))
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = select(run_labels).where(run_labels.c.run_id.in_(ids[start : start + 500]))
            for row in conn.execute(query):
                out[row.run_id] = (list(codec.loads(row.tags_json) or []), row.note)
    return out
