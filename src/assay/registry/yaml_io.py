"""The registries as YAML, for review in git: ``assay prompts export|import``, ``assay claims
export|import`` and ``assay datasets export|import`` (EOL facts:
:func:`assay.registry.models.eol_from_yaml`).

Importing prompt versions replays their commits (same text, author, rationales, cases) in
version order; a version already in the store with the same hash is skipped, one with another
text is a conflict. Labels move only through ``promote`` and its evidence: the import lists
the labels the file names, and :func:`apply_labels` (``assay prompts import --promote``)
promotes each one, so a label's first assignment is taken as is and a move is refused without
a stored evaluation, exactly as when it is promoted by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.core import AssayError, text_hash
from assay.registry.prompts import (
    PromotionRefused,
    commit,
    get_changes,
    get_version,
    list_versions,
    promote,
)

if TYPE_CHECKING:
    from assay.run.yamlfile import LocatedYaml
    from assay.store import Store


def export_prompts(store: Store, name: str | None = None) -> dict[str, Any]:
    """Every version (of ``name``, or all) with its changes and rationales, and the labels."""
    out: dict[str, Any] = {"prompts": {}}
    for v in list_versions(store, name):
        entry = out["prompts"].setdefault(v.name, {"labels": {}, "versions": []})
        for label in v.labels:
            entry["labels"][label] = v.version
        changes = [c.to_dict() for c in get_changes(store, v.name, v.version)]
        entry["versions"].append(v.to_dict() | {"changes": changes})
    return out


def import_prompts(store: Store, doc: LocatedYaml) -> dict[str, Any]:
    """Replay the versions of an exported file; returns what was added, skipped and the labels
    to promote. Errors name the file, line and key."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), dict):
        raise AssayError(
            "expected a mapping with `prompts:`",
            where=doc.where(()),
            fix="use the format `assay prompts export` writes",
        )
    added: list[str] = []
    skipped: list[str] = []
    labels: dict[str, int] = {}
    for name, entry in data["prompts"].items():
        where = ("prompts", name)
        if not isinstance(entry, dict) or not isinstance(entry.get("versions"), list):
            raise AssayError("each prompt needs a `versions:` list", where=doc.where(where))
        stored = {v.version: v for v in list_versions(store, str(name))}
        for i, item in enumerate(entry["versions"]):
            at = (*where, "versions", i)
            if not isinstance(item, dict) or not isinstance(item.get("content"), str):
                raise AssayError("a version needs `content` (text)", where=doc.where(at))
            number = item.get("version")
            if not isinstance(number, int):
                raise AssayError("a version needs a `version` number", where=doc.where(at))
            content = item["content"]
            if number in stored:
                if stored[number].content_hash != text_hash(content):
                    raise AssayError(
                        f"{name}@{number} is in the store with another text",
                        where=doc.where((*at, "content")),
                        fix="import into an empty store, or rename the prompt",
                    )
                skipped.append(f"{name}@{number}")
                continue
            expected = max(stored, default=0) + 1
            if number != expected:
                raise AssayError(
                    f"{name}@{number} follows @{expected - 1}: versions must be consecutive",
                    where=doc.where((*at, "version")),
                )
            rationales = [
                str(c.get("rationale") or "")
                for c in item.get("changes") or []
                if isinstance(c, dict)
            ]
            version = commit(
                store,
                str(name),
                content,
                author=str(item.get("author") or "imported"),
                rationales=rationales or [str(item.get("message") or "imported")],
                message=item.get("message"),
                cases=[str(c) for c in item.get("cases") or []],
            )
            stored[version.version] = version
            added.append(version.ref)
        for label, number in (entry.get("labels") or {}).items():
            labels[f"{name}@{label}"] = int(number)
    return {"added": added, "skipped": skipped, "labels_to_promote": labels}


def apply_labels(
    store: Store, labels: dict[str, int], *, actor: str, reason: str
) -> dict[str, str]:
    """Promote ``NAME@LABEL`` to version N for each of ``labels`` (what :func:`import_prompts`
    returns); returns per label ``unchanged``, the promotion's verdict, or ``refused: …``.
    Nothing is forced: a refused move leaves the label where it was."""
    outcome: dict[str, str] = {}
    for ref, number in labels.items():
        name, _, label = ref.partition("@")
        try:
            if get_version(store, ref).version == number:
                outcome[ref] = "unchanged"
                continue
        except AssayError:
            pass  # the label is not in this store yet: its first promotion
        try:
            record = promote(
                store, f"{name}@{number}", label=label, actor=actor, reason=f"[import] {reason}"
            )
            outcome[ref] = str(record["verdict"])
        except PromotionRefused as refused:
            outcome[ref] = f"refused: {refused.reason}"
    return outcome


def export_claims(store: Store) -> dict[str, Any]:
    """Every claim with its evidence and its status now."""
    from assay.registry.claims import check_claims

    return {"claims": [s.to_dict() for s in check_claims(store)]}


def import_claims(store: Store, doc: LocatedYaml) -> dict[str, list[str]]:
    """Re-record the claims of an exported file against their evidence runs, which must be in
    this store (a claim is only as good as its run). The measured value, snapshots and prompt
    are read from the run again, not from the file; a claim already stored (same text, run,
    subject and scorer) is skipped."""
    from assay.registry.claims import add_claim, list_claims

    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise AssayError(
            "expected a mapping with a `claims:` list",
            where=doc.where(()),
            fix="use the format `assay claims export` writes",
        )
    have = {(c.text, c.run_id, c.subject, c.scorer) for c in list_claims(store)}
    added: list[str] = []
    skipped: list[str] = []
    for i, item in enumerate(data["claims"]):
        at: tuple[str | int, ...] = ("claims", i)
        claim = item.get("claim", item) if isinstance(item, dict) else None
        if not isinstance(claim, dict) or not all(
            isinstance(claim.get(k), str) for k in ("text", "run_id")
        ):
            raise AssayError("a claim needs `text` and `run_id`", where=doc.where(at))
        key = (claim["text"], claim["run_id"], claim.get("subject"), claim.get("scorer"))
        if key in have:
            skipped.append(claim["text"])
            continue
        try:
            stored = add_claim(
                store,
                claim["text"],
                run=claim["run_id"],
                subject=claim.get("subject"),
                scorer=claim.get("scorer"),
                claimed=claim.get("claimed"),
                valid_days=claim.get("valid_days"),
            )
        except AssayError as error:
            raise AssayError(
                error.message, where=doc.where((*at, "claim")), fix=error.fix
            ) from error
        have.add(key)
        added.append(stored.id)
    return {"added": added, "skipped": skipped}


def export_datasets(store: Store, name: str | None = None) -> dict[str, Any]:
    """Every version (of ``name``, or all) with its rows, author, message and any forced
    removal's reason."""
    from assay.registry.datasets import list_dataset_versions

    out: dict[str, Any] = {"datasets": {}}
    for v in list_dataset_versions(store, name):
        out["datasets"].setdefault(v.name, []).append(v.to_dict(rows=True))
    return out


def import_datasets(store: Store, doc: LocatedYaml) -> dict[str, list[str]]:
    """Replay exported dataset versions in order: a version already stored with the same hash
    is skipped, another text is a conflict, and a version that removed incident-born cases
    is replayed with its recorded reason (A3: without one it is refused, as at commit)."""
    from assay.registry.datasets import commit_rows, content_hash, list_dataset_versions

    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), dict):
        raise AssayError(
            "expected a mapping with `datasets:`",
            where=doc.where(()),
            fix="use the format `assay datasets export` writes",
        )
    added: list[str] = []
    skipped: list[str] = []
    for name, versions in data["datasets"].items():
        if not isinstance(versions, list):
            raise AssayError(
                "each dataset needs a list of versions", where=doc.where(("datasets", name))
            )
        stored = {v.version: v for v in list_dataset_versions(store, str(name))}
        for i, item in enumerate(versions):
            at = ("datasets", name, i)
            if not isinstance(item, dict) or not isinstance(item.get("rows"), list):
                raise AssayError("a version needs `rows` (a list)", where=doc.where(at))
            number = item.get("version")
            rows = item["rows"]
            if not isinstance(number, int) or not all(isinstance(r, dict) for r in rows):
                raise AssayError(
                    "a version needs a `version` number and rows that are mappings",
                    where=doc.where(at),
                )
            if number in stored:
                if stored[number].content_hash != content_hash(rows):
                    raise AssayError(
                        f"{name}@{number} is in the store with other rows",
                        where=doc.where((*at, "rows")),
                        fix="import into an empty store, or rename the dataset",
                    )
                skipped.append(f"{name}@{number}")
                continue
            expected = max(stored, default=0) + 1
            if number != expected:
                raise AssayError(
                    f"{name}@{number} follows @{expected - 1}: versions must be consecutive",
                    where=doc.where((*at, "version")),
                )
            reason = item.get("force_reason")
            version, _ = commit_rows(
                store,
                str(name),
                rows,
                author=str(item.get("author") or "imported"),
                message=item.get("message"),
                force=bool(reason),
                reason=reason,
                where=doc.where(at),
            )
            stored[number] = version
            added.append(version.ref)
    return {"added": added, "skipped": skipped}
