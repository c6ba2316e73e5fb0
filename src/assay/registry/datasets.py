"""Dataset versions: named datasets with content-hashed versions, their diff by origin, and
the protection of incident-born cases (A3).

A version is a JSONL file's rows, each with an ``id``, stored whole so any version can be
run again (``dataset: {path: "registry:support-qa@3"}`` in a spec). A row's origin is its
``metadata.origin`` (what promoted cases carry), else the ``cases`` table's origin for that id,
else ``authored``. Committing a version that removes or edits an incident-born case needs
``force`` and a reason; the reason and the affected ids are kept with the version.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from assay.core import AssayError, content_hash
from assay.registry.prompts import parse_ref
from assay.store.tables import cases, dataset_versions

if TYPE_CHECKING:
    from assay.store import Store

ORIGINS = ("incident", "sampled-production", "authored", "synthetic")


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file, each a mapping with a unique ``id`` (errors name file:line)."""
    if path.suffix != ".jsonl":
        raise AssayError(
            f"{path} is not a .jsonl file", where=str(path), fix="version datasets as JSONL"
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssayError(f"cannot read {path}: {exc}", where=str(path)) from None
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssayError(f"invalid JSON: {exc.msg}", where=f"{path}:{number}") from None
        if not isinstance(row, dict) or row.get("id") in (None, ""):
            raise AssayError(
                "a versioned row needs an `id`",
                where=f"{path}:{number}",
                fix='give every row a stable id, e.g. {"id": "q17", "input": …}',
            )
        key = str(row["id"])
        if key in seen:
            raise AssayError(
                f"duplicate id {key!r} (first on line {seen[key]})", where=f"{path}:{number}"
            )
        seen[key] = number
        rows.append(row)
    if not rows:
        raise AssayError(f"{path} has no rows", where=str(path))
    return rows


def _origins(store: Store, rows: list[dict[str, Any]]) -> dict[str, str]:
    ids = [str(r["id"]) for r in rows]
    known: dict[str, str] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            known.update(
                conn.execute(select(cases.c.id, cases.c.origin).where(cases.c.id.in_(chunk))).all()
            )
    out = {}
    for row in rows:
        meta = row.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        out[str(row["id"])] = str(meta.get("origin") or known.get(str(row["id"])) or "authored")
    return out


def origin_counts(origins: dict[str, str]) -> dict[str, int]:
    """Rows per origin, every known origin listed."""
    counts = Counter(origins.values())
    return {o: counts.get(o, 0) for o in ORIGINS} | {
        k: v for k, v in counts.items() if k not in ORIGINS
    }


@dataclass(frozen=True)
class DatasetVersion:
    """One stored version of a named dataset."""

    name: str
    version: int
    content_hash: str
    rows: list[dict[str, Any]]
    origins: dict[str, int]
    author: str
    message: str | None
    protected: list[str]
    force_reason: str | None
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self, *, rows: bool = False) -> dict[str, Any]:
        out = {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "n_rows": len(self.rows),
            "origins": self.origins,
            "author": self.author,
            "message": self.message,
            "protected_changes": self.protected,
            "force_reason": self.force_reason,
            "created_at": self.created_at.isoformat(),
        }
        if rows:
            out["rows"] = self.rows
        return out


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        row.name,
        row.version,
        row.content_hash,
        json.loads(row.rows_json),
        json.loads(row.origins_json),
        row.author,
        row.message,
        json.loads(row.protected_json or "[]"),
        row.force_reason,
        row.created_at,
    )


def list_dataset_versions(store: Store, name: str | None = None) -> list[DatasetVersion]:
    query = select(dataset_versions).order_by(dataset_versions.c.name, dataset_versions.c.version)
    if name is not None:
        query = query.where(dataset_versions.c.name == name)
    with store.engine.connect() as conn:
        return [_version(r) for r in conn.execute(query)]


def get_dataset_version(store: Store, ref: str, *, where: str = "REF") -> DatasetVersion:
    """``NAME@N`` or ``NAME`` (the latest)."""
    name, selector = parse_ref(ref, where)
    if selector is not None and not selector.isdigit():
        raise AssayError(f"{ref!r}: dataset versions are numbers", where=where, fix="NAME@3")
    with store.engine.connect() as conn:
        number = (
            int(selector)
            if selector
            else conn.execute(
                select(func.max(dataset_versions.c.version)).where(dataset_versions.c.name == name)
            ).scalar()
        )
        row = conn.execute(
            select(dataset_versions).where(
                dataset_versions.c.name == name, dataset_versions.c.version == number
            )
        ).first()
    if row is None:
        raise AssayError(
            f"no dataset version {ref} in the registry",
            where=where,
            fix="list versions with: assay datasets list",
        )
    return _version(row)


@dataclass(frozen=True)
class DatasetDiff:
    """Rows added, removed and changed between two versions, each id with its origin."""

    old: str
    new: str
    added: dict[str, str]
    removed: dict[str, str]
    changed: dict[str, str]

    def protected(self) -> list[str]:
        """Removed or changed rows that are incident-born (A3)."""
        return sorted(i for i, o in (self.removed | self.changed).items() if o == "incident")

    def to_dict(self) -> dict[str, Any]:
        def by_origin(ids: dict[str, str]) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for i, o in sorted(ids.items()):
                out.setdefault(o, []).append(i)
            return out

        return {
            "old": self.old,
            "new": self.new,
            "added": by_origin(self.added),
            "removed": by_origin(self.removed),
            "changed": by_origin(self.changed),
        }


def diff_rows(
    store: Store, old: list[dict[str, Any]], new: list[dict[str, Any]], names: tuple[str, str]
) -> DatasetDiff:
    a = {str(r["id"]): r for r in old}
    b = {str(r["id"]): r for r in new}
    origin_a, origin_b = _origins(store, old), _origins(store, new)
    return DatasetDiff(
        names[0],
        names[1],
        added={i: origin_b[i] for i in b if i not in a},
        removed={i: origin_a[i] for i in a if i not in b},
        # An edit is judged by the origin the case had: relabelling it away is also an edit.
        changed={i: origin_a[i] for i in a if i in b and a[i] != b[i]},
    )


def commit_dataset(
    store: Store,
    name: str,
    path: Path,
    *,
    author: str,
    message: str | None = None,
    force: bool = False,
    reason: str | None = None,
) -> tuple[DatasetVersion, DatasetDiff | None]:
    """Store the rows of ``path`` as the next version of ``name``.

    Removing or editing an incident-born case needs ``force`` and a ``reason`` (A3): without
    them nothing is stored.
    """
    return commit_rows(
        store,
        name,
        read_rows(path),
        author=author,
        message=message,
        force=force,
        reason=reason,
        where=str(path),
    )


def commit_rows(
    store: Store,
    name: str,
    rows: list[dict[str, Any]],
    *,
    author: str,
    message: str | None = None,
    force: bool = False,
    reason: str | None = None,
    where: str = "ROWS",
) -> tuple[DatasetVersion, DatasetDiff | None]:
    """:func:`commit_dataset` of rows already read (``where`` names their source in errors)."""
    parse_ref(name, "NAME")
    path = where
    digest = content_hash(rows)
    versions = list_dataset_versions(store, name)
    parent = versions[-1] if versions else None
    if parent is not None and parent.content_hash == digest:
        raise AssayError(f"{parent.ref} already has exactly these rows", where=str(path))
    diff = diff_rows(store, parent.rows, rows, (parent.ref, f"{name}@new")) if parent else None
    protected = diff.protected() if diff else []
    if protected and not (force and reason and reason.strip()):
        raise AssayError(
            f"this version removes or edits {len(protected)} incident-born case(s): "
            + ", ".join(protected[:5])
            + ("…" if len(protected) > 5 else ""),
            where=str(path),
            fix="keep them, or pass --force with --reason saying why (the reason is kept)",
        )
    number = (parent.version if parent else 0) + 1
    with store.engine.begin() as conn:
        conn.execute(
            dataset_versions.insert().values(
                name=name,
                version=number,
                content_hash=digest,
                rows_json=json.dumps(rows),
                n_rows=len(rows),
                origins_json=json.dumps(origin_counts(_origins(store, rows))),
                author=author,
                message=message,
                protected_json=json.dumps(protected) if protected else None,
                force_reason=reason.strip() if protected and reason else None,
                created_at=datetime.now(UTC),
            )
        )
    return get_dataset_version(store, f"{name}@{number}"), diff


def resolve_dataset_ref(
    value: str, *, where: str, db: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The rows of ``registry:NAME@N`` (as a spec's ``dataset.path``) and ``registry:NAME@N``
    (the pinned version, for the manifest's dataset source)."""
    import os

    from assay.store import Store

    store = Store(db or os.environ.get("ASSAY_DB"))
    try:
        version = get_dataset_version(store, value.removeprefix("registry:").strip(), where=where)
    finally:
        store.close()
    return version.rows, f"registry:{version.ref}"


def dataset_version_warning(store: Store, run_a: str, run_b: str) -> str | None:
    """A warning when two runs used different dataset versions (``registry:NAME@N`` sources,
    or different content hashes), naming the shared cases a paired comparison is limited to;
    ``None`` when they used the same data."""
    a, b = store.get_manifest(run_a).dataset, store.get_manifest(run_b).dataset
    if a.content_hash == b.content_hash:
        return None
    shared = set(a.sample_ids) & set(b.sample_ids)
    name_a = a.source if (a.source or "").startswith("registry:") else a.content_hash[:12]
    name_b = b.source if (b.source or "").startswith("registry:") else b.content_hash[:12]
    return (
        f"the runs used different dataset versions ({name_a} vs {name_b}): compared on the "
        f"{len(shared)} shared cases ({len(set(a.sample_ids) - shared)} only in {run_a}, "
        f"{len(set(b.sample_ids) - shared)} only in {run_b})"
    )
