"""Corpus health (F5): stale, duplicate and near-duplicate, conflicting, ownerless documents.

"Corpus Curation at Scale": embeddings have no notion of time, accuracy or authority, so an
18-month-old page, a deprecated reference and a stale copy with conflicting edits embed next
to the current one. The report over a corpus file (one document a row: JSONL, JSON, CSV,
Parquet or YAML), rule by rule:

* ``stale``: ``now`` minus the document's updated time is over the SLO (default 180 days
  [I]: corpora rot within about three months per the post; a half-year SLO flags what is
  clearly past that). Documents without a readable time are ``undated`` (a warning: their
  freshness is unknown, not good).
* ``exact_duplicate``: the same normalised text (NFKC, case folded, punctuation removed: the
  normalisation of ``assay data lint``).
* ``near_duplicate`` and ``conflict``: document pairs proposed by MinHash + LSH over
  5-character shingles (datasketch, 128 permutations, as ``assay data lint``) and confirmed
  by the exact Jaccard similarity. A pair at or above ``conflict_threshold`` (default 0.7)
  whose numbers or dates differ (``30 days`` vs ``14 days``; dates compared as dates) is a
  ``conflict``, reported with both ids, the values only each holds, and which is newer; a
  pair at or above ``near_duplicate_threshold`` (default 0.8) that agrees on every number
  is a ``near_duplicate``.
* ``ownerless``: no owner, or a blank one.

Every document a finding names is listed with its flags (the per-document quality view a
retriever can filter or down-rank on); the shares of stale and ownerless documents carry
Wilson intervals.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.core import AssayError
from assay.core.findings import Finding, failed
from assay.corpus.contracts import parse_datetime
from assay.data.lint.duplicates import NUM_PERM, SEED, jaccard, normalise, shingles
from assay.stats.rates import rate_dict
from assay.store import Store
from assay.store.tables import corpus_reports

DEFAULT_STALE_AFTER = timedelta(days=180)
SHINGLE_SIZE = 5

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"  # noqa: E501
_DATE_PATTERNS = (
    re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"),
    re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+(\d{{4}})\b", re.I),
)
_NUMBER = re.compile(r"(?<![\w.])([$€£]?\d+(?:[.,]\d+)*%?)(?:\s+([A-Za-z]+))?")


def facts(text: str) -> Counter[str]:
    """The dates (as ``YYYY-MM-DD``) and numbers (with the unit word after them: ``30 days``,
    ``$49.99``, ``15%``) a text states, as a multiset."""
    found: Counter[str] = Counter()
    spans: list[tuple[int, int]] = []
    for k, pattern in enumerate(_DATE_PATTERNS):
        for m in pattern.finditer(text):
            if k == 0:
                y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            elif k == 1:
                mo, d, y = _MONTHS.get(m.group(1).lower(), 0), int(m.group(2)), int(m.group(3))
            else:
                mo = _MONTHS.get(m.group(2).lower(), 0)
                d, y = int(m.group(1)), int(m.group(3))
            found[f"{y:04d}-{mo:02d}-{d:02d}"] += 1
            spans.append(m.span())
    for m in _NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue
        number = m.group(1).replace(",", "")
        unit = (m.group(2) or "").lower()
        found[f"{number} {unit}".strip()] += 1
    return found


@dataclass
class Document:
    """One corpus document as the report reads it."""

    id: str
    where: str
    text: str
    updated_at: datetime | None
    owner: str | None
    raw_updated: Any = None


def _first(row: dict[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def read_documents(
    path: str | Path,
    *,
    id_field: str = "id",
    text_field: str | None = None,
    updated_field: str | None = None,
    owner_field: str = "owner",
) -> list[Document]:
    """Documents from a corpus file; the text field defaults to the first of text, body,
    content; the updated time to updated_at, last_modified, modified."""
    from assay.data.readers import open_rows

    source = open_rows(path)
    text_names = [text_field] if text_field else ["text", "body", "content"]
    updated_names = (
        [updated_field] if updated_field else ["updated_at", "last_modified", "modified"]
    )
    docs: list[Document] = []
    seen: set[str] = set()
    for number, row in source.rows:
        where = source.where(number)
        if not isinstance(row, dict):
            raise AssayError("each document must be an object", where=where)
        doc_id = row.get(id_field)
        if doc_id in (None, ""):
            raise AssayError(
                f"document without {id_field!r}", where=where, fix="give every document an id"
            )
        text = _first(row, text_names)
        if not isinstance(text, str):
            raise AssayError(
                f"no text field ({', '.join(text_names)})",
                where=where,
                fix="name the text column with --text-field",
            )
        if str(doc_id) in seen:
            raise AssayError(f"document id {doc_id!r} appears twice", where=where)
        seen.add(str(doc_id))
        raw_updated = _first(row, updated_names)
        owner = row.get(owner_field)
        docs.append(
            Document(
                id=str(doc_id),
                where=where,
                text=text,
                updated_at=parse_datetime(raw_updated),
                owner=str(owner).strip()
                if owner not in (None, "") and str(owner).strip()
                else None,
                raw_updated=raw_updated,
            )
        )
    return docs


def similar_pairs(texts: Sequence[str], threshold: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, jaccard)`` with Jaccard ≥ ``threshold`` on 5-character shingles of the
    normalised texts: MinHash + LSH propose, the exact Jaccard confirms."""
    if len(texts) < 2:
        return []
    sets = [shingles(normalise(t), SHINGLE_SIZE) for t in texts]
    from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

    signatures = MinHash.bulk(
        [[s.encode("utf-8") for s in shingle_set] for shingle_set in sets],
        num_perm=NUM_PERM,
        seed=SEED,
    )
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for k, signature in enumerate(signatures):
            session.insert(k, signature)
    pairs = []
    for k, signature in enumerate(signatures):
        for other in lsh.query(signature):
            if other <= k:
                continue
            similarity = jaccard(sets[k], sets[other])
            if similarity >= threshold:
                pairs.append((k, other, similarity))
    return sorted(pairs)


@dataclass
class HealthReport:
    """What :func:`corpus_health` found."""

    corpus: str
    documents: list[Document]
    stale_after: timedelta
    stale: list[str]
    undated: list[str]
    ownerless: list[str]
    exact: list[list[str]]
    near: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    findings: list[Finding]
    flags: dict[str, list[str]] = field(default_factory=dict)
    report_id: str | None = None

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        n = len(self.documents)
        dated = n - len(self.undated)
        return {
            "id": self.report_id,
            "corpus": self.corpus,
            "documents": n,
            "stale_after_days": self.stale_after.total_seconds() / 86400,
            "stale": rate_dict(len(self.stale), dated),
            "undated": len(self.undated),
            "ownerless": rate_dict(len(self.ownerless), n),
            "exact_duplicate_groups": self.exact,
            "near_duplicates": self.near,
            "conflicts": self.conflicts,
            "flagged_documents": [
                {"id": doc_id, "flags": flags} for doc_id, flags in sorted(self.flags.items())
            ],
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def _context(text: str, value: str) -> str:
    number = value.split(" ")[0]
    at = text.find(number)
    if at < 0:
        return value
    start, end = max(0, at - 40), min(len(text), at + len(number) + 40)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def corpus_health(
    documents: Sequence[Document],
    *,
    corpus: str = "corpus",
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    near_duplicate_threshold: float = 0.8,
    conflict_threshold: float = 0.7,
    now: datetime | None = None,
    examples: int = 50,
) -> HealthReport:
    """The F5 report over ``documents`` (rules in the module docstring)."""
    if not 0 < conflict_threshold <= near_duplicate_threshold <= 1:
        raise AssayError(
            "need 0 < conflict threshold <= near-duplicate threshold <= 1",
            where="--conflict-threshold",
        )
    moment = now or datetime.now(UTC)
    flags: dict[str, list[str]] = defaultdict(list)
    stale = [d.id for d in documents if d.updated_at and moment - d.updated_at > stale_after]
    undated = [d.id for d in documents if d.updated_at is None]
    ownerless = [d.id for d in documents if d.owner is None]
    for ids, flag in ((stale, "stale"), (undated, "undated"), (ownerless, "ownerless")):
        for doc_id in ids:
            flags[doc_id].append(flag)

    by_text: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(documents):
        by_text[normalise(doc.text)].append(i)
    exact = [[documents[i].id for i in group] for group in by_text.values() if len(group) > 1]
    for group in exact:
        for doc_id in group:
            flags[doc_id].append("exact_duplicate")
    representatives = [group[0] for group in by_text.values()]
    near: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    texts = [documents[i].text for i in representatives]
    for a, b, similarity in similar_pairs(texts, conflict_threshold):
        da, db = documents[representatives[a]], documents[representatives[b]]
        fa, fb = facts(da.text), facts(db.text)
        if fa != fb:
            newer = None
            if da.updated_at and db.updated_at and da.updated_at != db.updated_at:
                newer = da.id if da.updated_at > db.updated_at else db.id
            only_a = sorted((fa - fb).elements())
            only_b = sorted((fb - fa).elements())
            conflicts.append(
                {
                    "a": da.id,
                    "b": db.id,
                    "jaccard": round(similarity, 4),
                    "a_says": [_context(da.text, v) for v in only_a],
                    "b_says": [_context(db.text, v) for v in only_b],
                    "a_values": only_a,
                    "b_values": only_b,
                    "newer": newer,
                }
            )
            flags[da.id].append("conflict")
            flags[db.id].append("conflict")
        elif similarity >= near_duplicate_threshold:
            near.append({"a": da.id, "b": db.id, "jaccard": round(similarity, 4)})
            flags[da.id].append("near_duplicate")
            flags[db.id].append("near_duplicate")

    findings: list[Finding] = []
    where = {d.id: d.where for d in documents}
    for c in conflicts:
        findings.append(
            Finding(
                code="conflict",
                message=f"{c['a']} and {c['b']} are near-identical (Jaccard {c['jaccard']:.2f}) "
                f"but disagree: {', '.join(c['a_values'])} vs {', '.join(c['b_values'])}",
                fix="keep the current version and retire the other"
                + (f" ({c['newer']} is newer)" if c["newer"] else ""),
                refs=[
                    {"document": c["a"], "row": where[c["a"]], "says": c["a_says"]},
                    {"document": c["b"], "row": where[c["b"]], "says": c["b_says"]},
                ],
                details={"jaccard": c["jaccard"], "newer": c["newer"]},
            )
        )
    n = len(documents)
    if stale:
        share = rate_dict(len(stale), n - len(undated))
        findings.append(
            Finding(
                code="stale",
                message=f"{len(stale)} document{' is' if len(stale) == 1 else 's are'} older "
                f"than {stale_after.days} days "
                f"({share['rate']:.0%} of dated documents)",
                fix="review, update or retire them; stale pages embed next to current ones",
                refs=[{"document": i, "row": where[i]} for i in stale[:examples]],
                details={"share": share},
            )
        )
    if ownerless:
        findings.append(
            Finding(
                code="ownerless",
                message=f"{len(ownerless)} document{' has' if len(ownerless) == 1 else 's have'} "
                "no owner",
                fix="assign an owner who answers for each document's accuracy",
                refs=[{"document": i, "row": where[i]} for i in ownerless[:examples]],
                details={"share": rate_dict(len(ownerless), n)},
            )
        )
    for group in exact:
        findings.append(
            Finding(
                code="exact_duplicate",
                severity="warn",
                message=f"{len(group)} documents have the same text: {', '.join(group)}",
                fix="keep one",
                refs=[{"document": i, "row": where[i]} for i in group],
            )
        )
    for pair in near:
        findings.append(
            Finding(
                code="near_duplicate",
                severity="warn",
                message=f"{pair['a']} and {pair['b']} are near duplicates "
                f"(Jaccard {pair['jaccard']:.2f})",
                fix="keep one, or make them say different things",
                refs=[{"document": pair["a"]}, {"document": pair["b"]}],
            )
        )
    if undated:
        findings.append(
            Finding(
                code="undated",
                severity="warn",
                message=f"{len(undated)} documents have no readable updated time (freshness "
                "unknown)",
                refs=[{"document": i, "row": where[i]} for i in undated[:examples]],
            )
        )
    return HealthReport(
        corpus,
        list(documents),
        stale_after,
        stale,
        undated,
        ownerless,
        exact,
        near,
        conflicts,
        findings,
        dict(flags),
    )


def save_report(store: Store, report: HealthReport) -> str:
    """Store a health report (the corpus page shows the newest); its id."""
    report.report_id = uuid.uuid4().hex
    with store.engine.begin() as conn:
        conn.execute(
            corpus_reports.insert(),
            [
                {
                    "id": report.report_id,
                    "corpus": report.corpus,
                    "created_at": datetime.now(UTC),
                    "n_documents": len(report.documents),
                    "n_findings": len(report.findings),
                    "report_json": json.dumps(report.as_dict(), default=str),
                }
            ],
        )
    return report.report_id


def list_reports(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Stored health reports, newest first (summaries)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                corpus_reports.c.id,
                corpus_reports.c.corpus,
                corpus_reports.c.created_at,
                corpus_reports.c.n_documents,
                corpus_reports.c.n_findings,
            )
            .order_by(corpus_reports.c.created_at.desc(), corpus_reports.c.id)
            .limit(limit)
        ).all()
    return [
        {
            "id": r.id,
            "corpus": r.corpus,
            "created_at": r.created_at.isoformat(),
            "documents": r.n_documents,
            "findings": r.n_findings,
        }
        for r in rows
    ]


def get_report(store: Store, report_id: str | None = None) -> dict[str, Any] | None:
    """A stored report by id (or unique prefix), or the newest when ``report_id`` is None."""
    query = select(corpus_reports.c.report_json, corpus_reports.c.created_at)
    if report_id is None:
        query = query.order_by(corpus_reports.c.created_at.desc(), corpus_reports.c.id).limit(1)
    else:
        text = report_id.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{4,32}", text):
            return None
        query = query.where(corpus_reports.c.id.like(text + "%")).limit(2)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    if len(rows) != 1:
        return None
    report: dict[str, Any] = json.loads(rows[0].report_json)
    report["created_at"] = rows[0].created_at.isoformat()
    return report
