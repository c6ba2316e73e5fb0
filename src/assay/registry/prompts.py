"""The prompt registry (K1): versions of named prompts with a rationale per change.

A version is the prompt's text, content-hashed the way the runner hashes a prompt without a
system message (:func:`assay.core.text_hash`), so a stored run that used the text records the
same ``prompt_hash``. Committing a version diffs it clause by clause against its parent
(:mod:`assay.registry.edits`) and needs a rationale for every change. Labels (``production``,
``staging``) point at versions; :func:`promote` moves a label only when a stored run evaluated
the candidate's exact hash against the label's current version and ``compare`` found no
regression, else it refuses with ``unevaluated_change`` (or ``regressed``).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from assay.core import AssayError, text_hash
from assay.registry.edits import Edit, diff_edits
from assay.store.tables import prompt_changes, prompt_labels, prompt_promotions, prompt_versions

if TYPE_CHECKING:
    from assay.store import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REF_FIX = "write NAME@VERSION (a number), NAME@LABEL (production, staging …) or NAME (latest)"


class PromotionRefused(AssayError):
    """``promote`` refused to move a label: ``reason`` is ``unevaluated_change`` (no stored run
    evaluated the candidate against the label's version) or ``regressed`` (one did, and
    ``compare`` found a regression)."""

    exit_code = 1

    def __init__(self, reason: str, message: str, *, fix: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}", fix=fix)


@dataclass(frozen=True)
class PromptVersion:
    """One stored version of a named prompt."""

    name: str
    version: int
    content_hash: str
    content: str
    author: str
    message: str | None
    parent_version: int | None
    cases: list[str]
    approved_run: str | None
    created_at: datetime
    labels: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self, *, content: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "author": self.author,
            "message": self.message,
            "parent_version": self.parent_version,
            "cases": self.cases,
            "approved_run": self.approved_run,
            "created_at": self.created_at.isoformat(),
            "labels": self.labels,
        }
        if content:
            out["content"] = self.content
        return out


@dataclass(frozen=True)
class Change:
    """A change of a version against its parent, with the rationale given at commit time."""

    version: int
    position: int
    kind: str
    before: str | None
    after: str | None
    rationale: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "position": self.position,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "rationale": self.rationale,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def check_name(name: str, where: str = "NAME") -> str:
    if not _NAME.match(name or ""):
        raise AssayError(
            f"{name!r} is not a prompt name",
            where=where,
            fix="use letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    return name


def parse_ref(ref: str, where: str = "REF") -> tuple[str, str | None]:
    """``NAME@SELECTOR`` → ``(name, selector)``; ``NAME`` alone → ``(name, None)`` (latest)."""
    name, _, selector = ref.strip().partition("@")
    check_name(name, where)
    if "@" in ref and not selector:
        raise AssayError(f"{ref!r} has nothing after '@'", where=where, fix=_REF_FIX)
    return name, selector or None


def _row_version(row: Any, labels: list[str]) -> PromptVersion:
    return PromptVersion(
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        content=row.content,
        author=row.author,
        message=row.message,
        parent_version=row.parent_version,
        cases=json.loads(row.cases_json),
        approved_run=row.approved_run,
        created_at=row.created_at,
        labels=labels,
    )


def _labels(conn: Any, name: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    rows = conn.execute(
        select(prompt_labels.c.label, prompt_labels.c.version)
        .where(prompt_labels.c.name == name)
        .order_by(prompt_labels.c.label)
    )
    for label, version in rows:
        out.setdefault(version, []).append(label)
    return out


def list_versions(store: Store, name: str | None = None) -> list[PromptVersion]:
    """Every version (of ``name``, or of every prompt), by name then version."""
    query = select(prompt_versions).order_by(prompt_versions.c.name, prompt_versions.c.version)
    if name is not None:
        query = query.where(prompt_versions.c.name == name)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        labels = {n: _labels(conn, n) for n in {r.name for r in rows}}
    return [_row_version(r, labels[r.name].get(r.version, [])) for r in rows]


def get_version(store: Store, ref: str, *, where: str = "REF") -> PromptVersion:
    """The version ``ref`` names: ``NAME@3``, ``NAME@production`` or ``NAME`` (the latest)."""
    name, selector = parse_ref(ref, where)
    with store.engine.connect() as conn:
        if selector is None:
            number = conn.execute(
                select(func.max(prompt_versions.c.version)).where(prompt_versions.c.name == name)
            ).scalar()
        elif selector.isdigit():
            number = int(selector)
        else:
            number = conn.execute(
                select(prompt_labels.c.version).where(
                    prompt_labels.c.name == name, prompt_labels.c.label == selector
                )
            ).scalar()
            if number is None:
                raise AssayError(
                    f"prompt {name!r} has no label {selector!r}",
                    where=where,
                    fix=f"promote a version first: assay prompts promote {name}@VERSION "
                    f"--to {selector} --reason …",
                )
        row = conn.execute(
            select(prompt_versions).where(
                prompt_versions.c.name == name, prompt_versions.c.version == number
            )
        ).first()
        if row is None:
            raise AssayError(
                f"no prompt version {name}@{selector or 'latest'} in the registry",
                where=where,
                fix="list versions with: assay prompts list",
            )
        labels = _labels(conn, name).get(row.version, [])
    return _row_version(row, labels)


def get_changes(store: Store, name: str, version: int | None = None) -> list[Change]:
    """The recorded changes of ``name`` (of one version, or every version), in order."""
    query = select(prompt_changes).where(prompt_changes.c.name == name)
    if version is not None:
        query = query.where(prompt_changes.c.version == version)
    query = query.order_by(prompt_changes.c.version, prompt_changes.c.position)
    with store.engine.connect() as conn:
        return [
            Change(r.version, r.position, r.kind, r.before, r.after, r.rationale)
            for r in conn.execute(query)
        ]


def pending_edits(store: Store, name: str, content: str) -> list[Edit]:
    """The edits committing ``content`` as the next version of ``name`` would record."""
    versions = list_versions(store, name)
    return diff_edits(versions[-1].content if versions else "", content)


def commit(
    store: Store,
    name: str,
    content: str,
    *,
    author: str,
    rationales: list[str],
    message: str | None = None,
    cases: list[str] | None = None,
) -> PromptVersion:
    """Store ``content`` as the next version of ``name``.

    ``rationales`` gives one reason per edit against the latest version (in edit order, see
    :func:`pending_edits`); a single reason applies to every edit. Committing text identical to
    the latest version is refused (nothing changed), as is a change without a rationale.
    """
    check_name(name, "NAME")
    if not content.strip():
        raise AssayError("the prompt text is empty", where="FILE", fix="commit a non-empty file")
    if not author.strip():
        raise AssayError("no author", where="--author", fix="pass --author or set $USER")
    versions = list_versions(store, name)
    parent = versions[-1] if versions else None
    edits = diff_edits(parent.content if parent else "", content)
    if parent is not None and parent.content_hash == text_hash(content):
        raise AssayError(
            f"{name}@{parent.version} already has exactly this text",
            where="FILE",
            fix="edit the prompt before committing a new version",
        )
    reasons = [r.strip() for r in rationales if r.strip()]
    if not reasons:
        raise AssayError(
            f"{len(edits)} change(s) and no rationale",
            where="--why",
            fix="give one --why per change (in order), or one --why for all of them; "
            "see the changes with: assay prompts commit … --dry-run",
        )
    if len(reasons) == 1:
        reasons = reasons * len(edits)
    if len(reasons) != len(edits):
        raise AssayError(
            f"{len(edits)} change(s) but {len(reasons)} rationales",
            where="--why",
            fix="give one --why per change in the order --dry-run lists them, or exactly one",
        )
    number = (parent.version if parent else 0) + 1
    now = _now()
    with store.engine.begin() as conn:
        conn.execute(
            prompt_versions.insert().values(
                name=name,
                version=number,
                content_hash=text_hash(content),
                content=content,
                author=author,
                message=message,
                parent_version=parent.version if parent else None,
                cases_json=json.dumps(list(cases or [])),
                approved_run=None,
                created_at=now,
            )
        )
        if edits:
            conn.execute(
                prompt_changes.insert(),
                [
                    {
                        "name": name,
                        "version": number,
                        "position": e.number,
                        "kind": e.kind,
                        "before": e.before_text or None,
                        "after": e.after_text or None,
                        "rationale": reason,
                    }
                    for e, reason in zip(edits, reasons, strict=True)
                ],
            )
    return get_version(store, f"{name}@{number}")


@dataclass(frozen=True)
class BlameLine:
    """One clause of a version and the change that introduced it."""

    clause: str
    version: int
    author: str
    rationale: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "version": self.version,
            "author": self.author,
            "rationale": self.rationale,
            "created_at": self.created_at.isoformat(),
        }


def blame(store: Store, ref: str) -> list[BlameLine]:
    """For each clause of version ``ref``, the version whose change introduced it and why.

    Walks the history forward: every clause of version 1 is blamed on version 1; each later
    version keeps the blame of clauses it did not touch and takes the blame for clauses its
    changes added or rewrote (with that change's rationale).
    """
    from assay.registry.edits import split_clauses

    target = get_version(store, ref)
    history = [v for v in list_versions(store, target.name) if v.version <= target.version]
    changes: dict[int, dict[int, str]] = {}
    for c in get_changes(store, target.name):
        changes.setdefault(c.version, {})[c.position] = c.rationale
    previous = ""
    blamed: list[BlameLine] = []
    for v in history:
        edits = diff_edits(previous, v.content)
        why = changes.get(v.version, {})
        new_blame: list[BlameLine] = []
        pos = 0
        for edit in sorted(edits, key=lambda e: (e.start, e.end, e.number)):
            new_blame.extend(blamed[pos : edit.start])
            pos = max(pos, edit.start)
            for clause in edit.after:
                new_blame.append(
                    BlameLine(
                        clause,
                        v.version,
                        v.author,
                        why.get(edit.number, v.message or ""),
                        v.created_at,
                    )
                )
            pos = max(pos, edit.end)
        new_blame.extend(blamed[pos:])
        # Unchanged clauses keep their blame but take the new version's exact text.
        clauses = split_clauses(v.content)
        blamed = [
            BlameLine(text, b.version, b.author, b.rationale, b.created_at)
            for text, b in zip(clauses, new_blame, strict=True)
        ]
        previous = v.content
    return blamed


def _parts(template: str) -> list[tuple[str, str, str]]:
    """Every reading of a stored prompt template as ``(role, text, the other part)``.

    The runner hashes ``[system]\\n{system}\\n[user]\\n{user}`` when a subject has a system
    message (:attr:`assay.run.prompt.PromptTemplate.text`), so a registry version used as
    either part appears only inside that text. Each ``\\n[user]\\n`` is a possible split (a
    system text could contain the marker itself); the whole text is a ``prompt`` reading.
    """
    readings = [("prompt", template, "")]
    head = "[system]\n"
    if template.startswith(head):
        marker, start = "\n[user]\n", len(head) - 1
        at = template.find(marker, start)
        while at != -1:
            system, user = template[len(head) : at], template[at + len(marker) :]
            readings += [("user", user, system), ("system", system, user)]
            at = template.find(marker, at + 1)
    return readings


def _runs_with_hash(store: Store, content_hash: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Completed runs whose manifest has a subject using this text, as its whole prompt, its
    user prompt or its system message: ``(run, [(subject, context)])``, where ``context``
    names the role and the text of the other part, so evidence only pairs subjects that
    differ in this prompt alone."""
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for info in store.list_runs():
        if info.status != "completed":
            continue
        manifest = store.get_manifest(info.id)
        found: list[tuple[str, str]] = []
        for s in manifest.subjects:
            if s.prompt_hash == content_hash:
                found.append((s.name, "prompt"))
                continue
            for role, text, other in _parts(s.prompt_template or ""):
                if role != "prompt" and text_hash(text) == content_hash:
                    found.append((s.name, f"{role}\0{other}"))
                    break
        if found:
            out.append((info.id, found))
    return out


@dataclass(frozen=True)
class Evidence:
    """The stored comparison that lets a candidate replace a label's version."""

    baseline_run: str
    baseline_subject: str
    run: str
    subject: str
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def find_evidence(store: Store, candidate: PromptVersion, current: PromptVersion) -> list[Evidence]:
    """Every stored comparison of ``candidate`` against ``current``: a run with a subject
    using the candidate's hash paired with a subject (same run or another run of the same
    dataset) using the current version's hash, compared with :func:`compare_runs`."""
    from assay.analyse.compare import compare_runs

    found: list[Evidence] = []
    current_runs = _runs_with_hash(store, current.content_hash)
    for run_b, subjects_b in _runs_with_hash(store, candidate.content_hash):
        manifest_b = store.get_manifest(run_b)
        for run_a, subjects_a in current_runs:
            if store.get_manifest(run_a).dataset.content_hash != manifest_b.dataset.content_hash:
                continue
            for sa, context_a in subjects_a:
                for sb, context_b in subjects_b:
                    if (run_a == run_b and sa == sb) or context_a != context_b:
                        continue  # the same subject, or another system/user part beside it
                    comparison = compare_runs(store, run_a, run_b, subjects=[(sa, sb)])
                    found.append(Evidence(run_a, sa, run_b, sb, comparison.verdict))
    return found


class _Raced(Exception):
    """Another promotion moved the label between the evidence check and the write."""


def _moved(store: Store, name: str, label: str, expected: int | None) -> AssayError:
    """The error of a promotion whose label another promotion moved first."""
    try:
        now_at = f"version {get_version(store, f'{name}@{label}').version}"
    except AssayError:
        now_at = "no version"
    was = f"version {expected}" if expected is not None else "unset"
    return AssayError(
        f"{name}@{label} moved while this promotion was checked: it was {was}, it is now "
        f"{now_at} (another promotion ran at the same time)",
        where="--to",
        fix="promote again: the evidence is checked against the label's new version",
    )


def promote(
    store: Store,
    ref: str,
    *,
    label: str,
    actor: str,
    reason: str,
    force: bool = False,
) -> dict[str, Any]:
    """Point ``label`` at version ``ref``, recording who and why.

    When the label already points at a version, a stored run must have evaluated the
    candidate's exact hash against that version with ``compare`` not regressed (and not
    mixed); otherwise :class:`PromotionRefused` (``unevaluated_change`` or ``regressed``).
    ``force`` promotes anyway and records that it did.
    """
    if not reason.strip():
        raise AssayError("a promotion needs a reason", where="--reason", fix="say why")
    if not re.match(r"^[a-z][a-z0-9_-]*$", label) or label.isdigit():
        raise AssayError(
            f"{label!r} is not a label", where="--to", fix="use e.g. production or staging"
        )
    candidate = get_version(store, ref)
    current: PromptVersion | None
    try:
        current = get_version(store, f"{candidate.name}@{label}")
    except AssayError:
        current = None
    chosen: Evidence | None = None
    if current is not None and current.version == candidate.version:
        raise AssayError(
            f"{candidate.name}@{label} is already version {candidate.version}", where="REF"
        )
    if current is not None and current.content_hash != candidate.content_hash:
        evidence = find_evidence(store, candidate, current)
        passing = [e for e in evidence if e.verdict not in ("regressed", "mixed: slice regression")]
        if passing:
            chosen = passing[-1]
        elif not force:
            if evidence:
                worst = evidence[-1]
                raise PromotionRefused(
                    "regressed",
                    f"{candidate.ref} against {current.ref} ({label}): run {worst.run} vs "
                    f"{worst.baseline_run} is '{worst.verdict}'",
                    fix="fix the regression, or pass --force with a --reason to override",
                )
            raise PromotionRefused(
                "unevaluated_change",
                f"no stored run evaluated {candidate.ref} (hash {candidate.content_hash[:12]}) "
                f"against {current.ref}, the current {label} version",
                fix=f"run a spec with both prompts (prompt: registry:{candidate.ref} and "
                f"registry:{current.ref}) then promote again",
            )
    now = _now()
    try:
        record = _write_promotion(
            store, candidate, current, chosen, label, actor, reason, force, now
        )
    except _Raced:
        raise _moved(store, candidate.name, label, current.version if current else None) from None
    return record | {"created_at": now.isoformat()}


def _write_promotion(
    store: Store,
    candidate: PromptVersion,
    current: PromptVersion | None,
    chosen: Evidence | None,
    label: str,
    actor: str,
    reason: str,
    force: bool,
    now: datetime,
) -> dict[str, Any]:
    """The label move, the approval and the promotion record, in one transaction."""
    with store.engine.begin() as conn:
        # Compare-and-set: the label moves only from the version the evidence was checked
        # against. A promotion that raced this one and won makes this one fail, never
        # silently overwrite it (the primary key (name, label) refuses a second first insert).
        if current is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        prompt_labels.insert().values(
                            name=candidate.name,
                            label=label,
                            version=candidate.version,
                            updated_at=now,
                        )
                    )
            except IntegrityError:
                raise _Raced from None
        else:
            moved = conn.execute(
                prompt_labels.update()
                .where(
                    prompt_labels.c.name == candidate.name,
                    prompt_labels.c.label == label,
                    prompt_labels.c.version == current.version,
                )
                .values(version=candidate.version, updated_at=now)
            )
            if moved.rowcount != 1:
                raise _Raced
        if chosen is not None:
            conn.execute(
                prompt_versions.update()
                .where(
                    prompt_versions.c.name == candidate.name,
                    prompt_versions.c.version == candidate.version,
                )
                .values(approved_run=chosen.run)
            )
        record = {
            "id": secrets.token_hex(8),
            "name": candidate.name,
            "label": label,
            "version": candidate.version,
            "previous_version": current.version if current else None,
            "actor": actor,
            "reason": reason if chosen or current is None or not force else f"[forced] {reason}",
            "run_id": chosen.run if chosen else None,
            "baseline_run_id": chosen.baseline_run if chosen else None,
            "verdict": chosen.verdict if chosen else ("forced" if current else "first"),
            "created_at": now,
        }
        conn.execute(prompt_promotions.insert().values(**record))
    return record


def promotions(store: Store, name: str) -> list[dict[str, Any]]:
    """The promotion history of ``name``, oldest first."""
    query = (
        select(prompt_promotions)
        .where(prompt_promotions.c.name == name)
        .order_by(prompt_promotions.c.created_at)
    )
    with store.engine.connect() as conn:
        return [
            dict(r._mapping) | {"created_at": r.created_at.isoformat()} for r in conn.execute(query)
        ]


def resolve_prompt_ref(value: str, *, where: str, db: str | None = None) -> tuple[str, str]:
    """The text of ``registry:NAME@LABEL`` (as used in specs) and where it came from
    (``registry:NAME@VERSION``): the label is resolved now, and the run's manifest records the
    text and its hash, so it pins the exact version.

    The registry is the store at ``db``, else ``$ASSAY_DB``, else ``.assay/assay.db``.
    """
    import os

    from assay.store import Store

    ref = value.removeprefix("registry:").strip()
    store = Store(db or os.environ.get("ASSAY_DB"))
    try:
        version = get_version(store, ref, where=where)
    finally:
        store.close()
    return version.content, f"registry:{version.ref}"
