"""The registries as YAML, for review in git: ``assay prompts export|import`` and ``assay
claims export`` (EOL facts: :func:`assay.registry.models.eol_from_yaml`).

Importing prompt versions replays their commits (same text, author, rationales, cases) in
version order; a version already in the store with the same hash is skipped, one with another
text is a conflict. Labels are not imported: a label moves only through ``promote`` and its
evidence, so the import lists the labels the file names for you to promote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.core import AssayError, text_hash
from assay.registry.prompts import commit, get_changes, list_versions

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


def export_claims(store: Store) -> dict[str, Any]:
    """Every claim with its evidence and its status now."""
    from assay.registry.claims import check_claims

    return {"claims": [s.to_dict() for s in check_claims(store)]}
