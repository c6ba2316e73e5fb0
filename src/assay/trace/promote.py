"""Traces become tests (A3, A4, E1, E2): cases made from traces, drafts, triage, deletion.

A *case* is an eval sample born from a trace, kept in the ``cases`` table and, once it is
accepted into a dataset, appended to that dataset's JSONL file in the row shape
:func:`assay.load_dataset` reads (so every eval that uses the file runs it):

- ``input``: the trace's input, already redacted at ingest — the first LLM span's messages,
  else the root span's input;
- ``target``: the latest corrected answer a rater gave for the trace, if any;
- ``metadata.negative_example``: the observed output when the trace failed (what the model
  must not answer again), with ``created_from`` (the trace id) and the failure's reasons;
- ``provenance``: ``origin`` ``incident`` (or ``sampled`` for ``sampled-production`` cases),
  ``source_type`` ``trace`` and ``source_ref`` the trace id, so per-origin counts (A3) and the
  dataset linter see where the case came from.

The promotion policy (E2): every trace labelled failed (:mod:`assay.trace.labels`) yields
exactly one *draft* case (:func:`sync_drafts`; its id is a hash of the trace id, so running the
policy twice, or in two processes at once, makes one draft). A draft waits for triage: accepted
(optionally into a dataset file) or rejected; drafts untriaged for more than 7 days are the
triage backlog (:func:`list_drafts`). A trace that already has a case of any status gets no new
draft, so a rejected or deleted case does not come back.

An incident-born case is never deleted quietly (A3): :func:`delete_case` needs ``force`` and a
reason, keeps the row (``deleted_at``, ``delete_reason``) and removes the row from the dataset
file.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from assay.core import AssayError, DatasetError, StoreError, content_hash
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import cases
from assay.trace.ingest import insert_ignore
from assay.trace.labels import DEFAULT_WINDOW, TraceVerdict, failed_traces, trace_verdicts
from assay.trace.material import SampleInput, TraceMaterial, trace_material

ORIGINS: tuple[str, ...] = ("incident", "sampled-production", "authored", "synthetic")
CASE_STATUSES: tuple[str, ...] = ("draft", "accepted", "rejected", "deleted")
#: Drafts older than this without triage are the backlog E2 surfaces.
TRIAGE_DEADLINE = timedelta(days=7)
#: A case's origin as :class:`assay.core.Provenance` spells it.
PROVENANCE_ORIGIN = {
    "incident": "incident",
    "sampled-production": "sampled",
    "authored": "authored",
    "synthetic": "synthetic",
}
_IN_CHUNK = 400


# -- cases --------------------------------------------------------------------------------------


@dataclass
class Case:
    """One row of ``cases`` (see the module docstring)."""

    id: str
    dataset: str
    status: str
    origin: str
    created_from: str | None
    reason: str | None
    input: SampleInput
    target: str | None
    negative_example: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    triaged_at: datetime | None = None
    deleted_at: datetime | None = None
    delete_reason: str | None = None

    def age(self, now: datetime | None = None) -> timedelta:
        """How long the case has existed (for a draft: waited for triage)."""
        return (now or datetime.now(UTC)) - self.created_at

    def sample_record(self) -> dict[str, Any]:
        """The case as one dataset row in the layout :func:`assay.load_dataset` reads."""
        metadata: dict[str, Any] = {"origin": self.origin}
        if self.created_from:
            metadata["created_from"] = self.created_from
        for key in ("label", "session_id"):
            if self.metadata.get(key) is not None:
                metadata[key] = self.metadata[key]
        if self.reason:
            metadata["failure"] = self.reason
        if self.negative_example is not None:
            metadata["negative_example"] = self.negative_example
        provenance: dict[str, Any] = {
            "origin": PROVENANCE_ORIGIN.get(self.origin, "authored"),
            "source_type": "trace" if self.created_from else None,
            "source_ref": self.created_from,
            "collected_at": self.metadata.get("trace_start"),
            "transform": "redacted at ingest (assay.trace)" if self.created_from else None,
        }
        record: dict[str, Any] = {"id": self.id, "input": self.input}
        if self.target is not None:
            record["target"] = self.target
        record["metadata"] = metadata
        record["provenance"] = {k: v for k, v in provenance.items() if v is not None}
        return record

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset or None,
            "status": self.status,
            "origin": self.origin,
            "created_from": self.created_from,
            "reason": self.reason,
            "input": self.input,
            "target": self.target,
            "negative_example": self.negative_example,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
            "age_days": round(self.age(now).total_seconds() / 86400, 2),
            "triaged_at": self.triaged_at.isoformat() if self.triaged_at else None,
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
            "delete_reason": self.delete_reason,
        }


def _loads(text: str | None) -> Any:
    """A JSON column's value (text that is not JSON, written by hand, is kept as text)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _case_from_row(row: Any) -> Case:
    return Case(
        id=row.id,
        dataset=row.dataset,
        status=row.status,
        origin=row.origin,
        created_from=row.created_from,
        reason=row.reason,
        input=_loads(row.input_json),
        target=_loads(row.target_json),
        negative_example=row.negative_example,
        metadata=_loads(row.metadata_json) or {},
        created_at=row.created_at,
        triaged_at=row.triaged_at,
        deleted_at=row.deleted_at,
        delete_reason=row.delete_reason,
    )


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "dataset": case.dataset,
        "status": case.status,
        "origin": case.origin,
        "created_from": case.created_from,
        "reason": case.reason,
        "input_json": json.dumps(case.input, ensure_ascii=False),
        "target_json": None if case.target is None else json.dumps(case.target, ensure_ascii=False),
        "negative_example": case.negative_example,
        "metadata_json": json.dumps(case.metadata, ensure_ascii=False, sort_keys=True),
        "created_at": case.created_at,
        "triaged_at": case.triaged_at,
        "deleted_at": case.deleted_at,
        "delete_reason": case.delete_reason,
    }


def draft_id(trace_id: str) -> str:
    """The id of a trace's draft case: a hash of the trace id, so the policy makes one."""
    return "case-" + content_hash(["draft", trace_id], length=12)


def _writing(store: Store) -> Any:
    return store.engine.execution_options(**{WRITE_OPTION: True}).begin()


def get_case(store: Store, ref: str) -> Case:
    """The case with id ``ref`` (or the one whose id starts with it)."""
    ref = ref.strip()
    with store.engine.connect() as conn:
        row = conn.execute(select(cases).where(cases.c.id == ref)).first()
        if row is None and len(ref) >= 4:
            found = conn.execute(select(cases).where(cases.c.id.startswith(ref)).limit(2)).all()
            if len(found) > 1:
                raise StoreError(
                    f"case id {ref!r} is ambiguous",
                    where="CASE",
                    fix="give more characters of the id (see `assay traces cases list`)",
                )
            row = found[0] if found else None
    if row is None:
        raise StoreError(
            f"no case {ref!r} in {store.url}",
            where="CASE",
            fix="see `assay traces cases list` or `assay traces drafts` for case ids",
        )
    return _case_from_row(row)


def _material_case(
    material: TraceMaterial,
    verdict: TraceVerdict,
    *,
    case_id: str,
    status: str,
    origin: str,
    dataset: str,
    reason: str | None,
    now: datetime,
) -> Case:
    if material.input is None:
        raise AssayError(
            f"trace {material.trace_id} holds no input to make a case from (no LLM span "
            "messages and no root span input)",
            where="TRACE",
            fix="check the trace with `assay traces show`; instrument the app so the LLM "
            "span records its input messages",
        )
    return Case(
        id=case_id,
        dataset=dataset,
        status=status,
        origin=origin,
        created_from=material.trace_id,
        reason=reason or ("; ".join(verdict.reasons) or None),
        input=material.input,
        target=material.target,
        negative_example=material.output if verdict.failed else None,
        metadata={
            "label": verdict.label,
            "reasons": list(verdict.reasons),
            "session_id": material.session_id,
            "trace_start": material.start_time.isoformat(),
        },
        created_at=now,
    )


def undrafted_failures(
    store: Store,
    trace_ids: Iterable[str] | None = None,
    *,
    window: timedelta = DEFAULT_WINDOW,
) -> dict[str, Any]:
    """The failed traces (of ``trace_ids``, or of the whole store) that have no case yet, with
    their verdicts: what :func:`sync_drafts` would draft (those with an input). Reads only."""
    failed = failed_traces(store, trace_ids, window=window)
    candidates = sorted(failed)
    with store.engine.connect() as conn:
        for start in range(0, len(candidates), _IN_CHUNK):
            chunk = candidates[start : start + _IN_CHUNK]
            taken = conn.execute(
                select(cases.c.created_from).where(cases.c.created_from.in_(chunk))
            )
            for (trace_id,) in taken:
                failed.pop(trace_id, None)
    return failed


def sync_drafts(
    store: Store,
    trace_ids: Iterable[str] | None = None,
    *,
    window: timedelta = DEFAULT_WINDOW,
) -> list[str]:
    """Apply the promotion policy: a draft case for every failed trace (of ``trace_ids``, or
    of the whole store) that has no case yet. Returns the ids of the drafts made now.

    A failed trace whose spans have not arrived yet (feedback can come first) gets its draft
    on a later run; one with no input at all gets none (there is nothing to replay).
    """
    failed = undrafted_failures(store, trace_ids, window=window)
    if not failed:
        return []
    now = datetime.now(UTC)
    drafts = []
    for trace_id, verdict in sorted(failed.items()):
        material = trace_material(store, trace_id, missing_ok=True)
        if material is None or material.input is None:
            continue
        drafts.append(
            _material_case(
                material,
                verdict,
                case_id=draft_id(trace_id),
                status="draft",
                origin="incident",
                dataset="",
                reason=None,
                now=now,
            )
        )
    if not drafts:
        return []
    with _writing(store) as conn:
        existing = {
            r[0]
            for r in conn.execute(select(cases.c.id).where(cases.c.id.in_([d.id for d in drafts])))
        }
        fresh = [d for d in drafts if d.id not in existing]
        insert_ignore(conn, cases, [_case_row(d) for d in fresh])
    return [d.id for d in fresh]


def list_drafts(
    store: Store, *, older_than: timedelta | None = None, now: datetime | None = None
) -> list[Case]:
    """Drafts waiting for triage, oldest first; with ``older_than`` only those that have
    waited longer than that (the backlog)."""
    now = now or datetime.now(UTC)
    query = select(cases).where(cases.c.status == "draft").order_by(cases.c.created_at, cases.c.id)
    if older_than is not None:
        query = query.where(cases.c.created_at <= now - older_than)
    with store.engine.connect() as conn:
        return [_case_from_row(r) for r in conn.execute(query)]


def list_cases(
    store: Store,
    *,
    dataset: str | os.PathLike[str] | None = None,
    status: str | None = None,
    include_deleted: bool = False,
) -> list[Case]:
    """Cases, oldest first: of one dataset file, of one status; deleted ones only when asked
    (or when ``status`` is ``deleted``)."""
    query = select(cases).order_by(cases.c.created_at, cases.c.id)
    if dataset is not None:
        query = query.where(cases.c.dataset == dataset_key(dataset))
    if status is not None:
        if status not in CASE_STATUSES:
            raise AssayError(
                f"unknown case status {status!r}",
                where="--status",
                fix=f"use one of {', '.join(CASE_STATUSES)}",
            )
        query = query.where(cases.c.status == status)
    elif not include_deleted:
        query = query.where(cases.c.status != "deleted")
    with store.engine.connect() as conn:
        return [_case_from_row(r) for r in conn.execute(query)]


def origin_counts(case_list: Iterable[Case]) -> dict[str, int]:
    """How many cases come from each origin (A3), every origin listed."""
    counts = Counter(c.origin for c in case_list)
    return {origin: counts.get(origin, 0) for origin in ORIGINS} | {
        k: v for k, v in counts.items() if k not in ORIGINS
    }


# -- dataset files ------------------------------------------------------------------------------


def dataset_key(path: str | os.PathLike[str]) -> str:
    """How a dataset file is named in ``cases.dataset``: its absolute path."""
    return str(Path(path).expanduser().resolve())


def _check_dataset_path(path: str | os.PathLike[str]) -> Path:
    target = Path(path).expanduser()
    if target.suffix.lower() not in (".jsonl", ".ndjson"):
        raise AssayError(
            f"cases are appended to JSONL files, not {target.suffix or 'files without a suffix'}",
            where=str(path),
            fix="name a .jsonl file (it is created when missing)",
        )
    if target.is_dir():
        raise AssayError("the dataset path is a folder", where=str(path), fix="name a .jsonl file")
    return target.resolve()


def _row_ids(text: str) -> list[str | None]:
    ids: list[str | None] = []
    for line in text.splitlines():
        try:
            row = json.loads(line) if line.strip() else None
        except ValueError:
            row = None
        ids.append(str(row["id"]) if isinstance(row, dict) and "id" in row else None)
    return ids


def _replace_checked(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, after checking that it loads as a dataset."""
    from assay.data import load_dataset

    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.jsonl")
    try:
        tmp.write_text(text, encoding="utf-8")
        if text.strip():
            try:
                load_dataset(tmp)
            except DatasetError as error:
                where = (error.where or "").replace(str(tmp), str(path))
                raise DatasetError(
                    f"the dataset would not load after this change: {error.message}",
                    where=where or str(path),
                    fix=error.fix or "fix the dataset file, then try again",
                ) from None
        os.replace(tmp, path)
    except OSError as error:
        raise AssayError(
            f"cannot write the dataset file: {error.strerror or error}",
            where=str(path),
            fix="check that the folder exists and is writable",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def _append_case(path: Path, case: Case) -> bool:
    """Append ``case`` to the dataset file (created when missing); False when a row with its
    id is already there."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if case.id in _row_ids(existing):
        return False
    if existing and not existing.endswith("\n"):
        existing += "\n"
    line = json.dumps(case.sample_record(), ensure_ascii=False, allow_nan=False)
    _replace_checked(path, existing + line + "\n")
    return True


def _remove_case(path: Path, case_id: str) -> bool:
    """Remove the case's row from the dataset file; False when the file does not hold it."""
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    ids = _row_ids(text)
    kept = [line for line, row_id in zip(lines, ids, strict=True) if row_id != case_id]
    if len(kept) == len(lines):
        return False
    _replace_checked(path, "".join(kept))
    return True


# -- promotion, triage, deletion ----------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did: the case, and whether it was already in the dataset."""

    case: Case
    created: bool
    appended: bool


def promote(
    store: Store,
    trace_id: str,
    dataset: str | os.PathLike[str],
    *,
    origin: str = "incident",
    reason: str | None = None,
    window: timedelta = DEFAULT_WINDOW,
) -> Promotion:
    """Make a case of trace ``trace_id`` and append it to the JSONL ``dataset`` (E1).

    The trace's draft, if it has one, becomes the case (it is triaged by this). Promoting a
    trace again to the same dataset changes nothing and says so.
    """
    if origin not in ("incident", "sampled-production"):
        raise AssayError(
            f"a case promoted from a trace has origin incident or sampled-production, not "
            f"{origin!r}",
            where="--origin",
        )
    path = _check_dataset_path(dataset)
    key = str(path)
    trace_id = trace_id.strip().lower()
    material = trace_material(store, trace_id)
    assert material is not None
    verdict = trace_verdicts(store, [trace_id], window=window)[trace_id]
    now = datetime.now(UTC)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(cases).where(cases.c.created_from == trace_id, cases.c.status != "deleted")
        ).all()
    for row in rows:
        if row.dataset == key and row.status == "accepted":
            case = _case_from_row(row)
            appended = _append_case(path, case)  # restore the row if the file lost it
            return Promotion(case, created=False, appended=appended)
    draft = next((r for r in rows if r.status == "draft"), None)
    case = _material_case(
        material,
        verdict,
        case_id=draft.id if draft is not None else "case-" + uuid.uuid4().hex[:12],
        status="accepted",
        origin=origin,
        dataset=key,
        reason=reason,
        now=now,
    )
    if draft is not None:
        case.created_at = draft.created_at
    case.triaged_at = now
    with _writing(store) as conn:
        if draft is not None:
            values = _case_row(case)
            conn.execute(update(cases).where(cases.c.id == case.id).values(**values))
        else:
            insert_ignore(conn, cases, [_case_row(case)])
        appended = _append_case(path, case)  # inside the transaction: a failed write undoes it
    return Promotion(case, created=draft is None, appended=appended)


def _set(conn: Connection, case_id: str, **values: Any) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(**values))


def accept_draft(store: Store, ref: str, dataset: str | os.PathLike[str] | None = None) -> Case:
    """Triage a draft as a real case; with ``dataset`` its row is appended to that file."""
    case = get_case(store, ref)
    if case.status != "draft":
        raise AssayError(
            f"case {case.id} is {case.status}, not a draft",
            where="CASE",
            fix="only drafts are triaged; see `assay traces drafts`",
        )
    now = datetime.now(UTC)
    case.status, case.triaged_at = "accepted", now
    with _writing(store) as conn:
        values: dict[str, Any] = {"status": "accepted", "triaged_at": now}
        if dataset is not None:
            path = _check_dataset_path(dataset)
            case.dataset = values["dataset"] = str(path)
            _set(conn, case.id, **values)
            _append_case(path, case)
        else:
            _set(conn, case.id, **values)
    return case


def reject_draft(store: Store, ref: str, reason: str | None = None) -> Case:
    """Triage a draft as not worth a case; the row stays (so the policy does not remake it)."""
    case = get_case(store, ref)
    if case.status != "draft":
        raise AssayError(
            f"case {case.id} is {case.status}, not a draft",
            where="CASE",
            fix="only drafts are triaged; see `assay traces drafts`",
        )
    now = datetime.now(UTC)
    case.status, case.triaged_at = "rejected", now
    if reason:
        case.metadata["rejected_because"] = reason
    with _writing(store) as conn:
        _set(
            conn,
            case.id,
            status="rejected",
            triaged_at=now,
            metadata_json=json.dumps(case.metadata, ensure_ascii=False, sort_keys=True),
        )
    return case


def delete_case(
    store: Store, ref: str, *, force: bool = False, reason: str | None = None
) -> tuple[Case, bool]:
    """Delete a case: its row is kept, marked with ``deleted_at`` and the reason, and its row
    is removed from its dataset file. An incident-born case needs ``force`` and a non-empty
    ``reason`` (A3). Returns the case and whether a row was removed from the file."""
    case = get_case(store, ref)
    if case.status == "deleted":
        raise AssayError(
            f"case {case.id} was already deleted ({case.delete_reason or 'no reason given'})",
            where="CASE",
        )
    reason = (reason or "").strip() or None
    if case.origin == "incident" and not (force and reason):
        raise AssayError(
            f"case {case.id} was born from an incident (trace {case.created_from}); it is not "
            "deleted without --force and a reason",
            where="CASE",
            fix='pass --force --reason "why this incident no longer needs a test"',
        )
    now = datetime.now(UTC)
    removed = False
    with _writing(store) as conn:
        _set(conn, case.id, status="deleted", deleted_at=now, delete_reason=reason)
        if case.dataset:
            removed = _remove_case(Path(case.dataset), case.id)
    case.status, case.deleted_at, case.delete_reason = "deleted", now, reason
    return case, removed


def promote_trace(
    store: Store,
    trace_id: str,
    *,
    dataset: str,
    origin: str = "incident",
    base_dir: str | os.PathLike[str] | None = None,
) -> Case:
    """:func:`promote` for callers that take the dataset from a request (the web page's
    promote action): ``dataset`` must be a relative ``.jsonl`` path inside ``base_dir`` (the
    working directory by default) — no absolute path, no ``..`` — so a request can only add a
    case to a dataset file of the project the server runs in."""
    base = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
    relative = Path(dataset)
    if relative.is_absolute() or ".." in relative.parts or not dataset.strip():
        raise AssayError(
            f"dataset {dataset!r} must be a relative path inside the project",
            where="dataset",
            fix="name a .jsonl file relative to where the server runs, e.g. evals/incidents.jsonl",
        )
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise AssayError(
            f"dataset {dataset!r} leads outside the project",
            where="dataset",
            fix="use a plain path",
        )
    return promote(store, trace_id, target, origin=origin).case
