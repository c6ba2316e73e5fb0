"""RAG knowledge-base pinning: which eval samples a new corpus invalidates (F1, F2).

A RAG sample pins the documents its target was written against in two metadata keys:

* ``gold_docs``: a mapping of gold document id to the SHA-256 (hex) of that document's text as
  it was when the sample was authored (:func:`document_hash`);
* ``index_snapshot`` (optional): the id of the index snapshot the sample was authored against,
  carried into the report.

:func:`kb_check` compares the pins with a corpus (a table of documents with id and text
columns) and marks each pinned sample ``gold_missing`` when any gold document is gone,
otherwise ``gold_changed`` when any gold document's text changed, otherwise ``still_valid``.
Samples without ``gold_docs`` are ``unpinned``. :func:`pin_gold_documents` writes the pins for
samples that list their gold ids in ``gold_doc_ids``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from assay.core.errors import DatasetError
from assay.core.sample import Sample
from assay.data.dataset import Dataset
from assay.data.readers import open_rows

GOLD_DOCS_KEY = "gold_docs"
GOLD_DOC_IDS_KEY = "gold_doc_ids"
INDEX_SNAPSHOT_KEY = "index_snapshot"
Validity = Literal["still_valid", "gold_changed", "gold_missing", "unpinned"]


def document_hash(text: str) -> str:
    """SHA-256 hex digest of the document text's UTF-8 bytes, unnormalised: any edit counts."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_corpus(
    path: str | os.PathLike[str], *, id_field: str = "id", text_field: str = "text"
) -> dict[str, str]:
    """``{document id: document_hash(text)}`` for every row of a JSONL, CSV or Parquet corpus.

    A row without an id or text, or a repeated id, raises DatasetError naming its ``file:line``.
    """
    source = open_rows(path)
    hashes: dict[str, str] = {}
    for number, row in source.rows:
        where = source.where(number)
        if not isinstance(row, Mapping):
            raise DatasetError("a document must be a mapping", where=where, fix="one object a row")
        doc_id, text = row.get(id_field), row.get(text_field)
        if doc_id is None or doc_id == "" or not isinstance(text, str):
            missing = id_field if doc_id is None or doc_id == "" else text_field
            raise DatasetError(
                f"the document has no {missing!r} (text)",
                where=where,
                fix="give every document an id and a text, or name them with "
                "--id-field / --text-field",
            )
        key = str(doc_id)
        if key in hashes:
            raise DatasetError(f"duplicate document id {key!r}", where=where, fix="dedupe ids")
        hashes[key] = document_hash(text)
    return hashes


def _pins(sample: Sample, label: str) -> dict[str, str] | None:
    pins = sample.metadata.get(GOLD_DOCS_KEY)
    if pins is None:
        return None
    if not isinstance(pins, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in pins.items()
    ):
        raise DatasetError(
            f"metadata {GOLD_DOCS_KEY!r} must map document id to content hash",
            where=f"{label} (sample {sample.id})",
            fix=f'write e.g. {{"{GOLD_DOCS_KEY}": {{"doc-7": "<sha256 hex>"}}}}',
        )
    return dict(pins)


@dataclass(frozen=True)
class SampleValidity:
    """One sample's status against the corpus, with the gold documents that caused it."""

    sample_id: str
    status: Validity
    changed: list[str]
    missing: list[str]
    index_snapshot: str | None


@dataclass(frozen=True)
class KbCheckReport:
    """Every sample's :class:`SampleValidity`, in dataset order."""

    samples: list[SampleValidity]

    def __iter__(self) -> Iterator[SampleValidity]:
        return iter(self.samples)

    def counts(self) -> dict[str, int]:
        """Samples per status (all four statuses, zeros included)."""
        counts = dict.fromkeys(("still_valid", "gold_changed", "gold_missing", "unpinned"), 0)
        for s in self.samples:
            counts[s.status] += 1
        return counts

    def ids(self, status: Validity) -> list[str]:
        """The ids of the samples with ``status``."""
        return [s.sample_id for s in self.samples if s.status == status]

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for ``--json``."""
        return {"counts": self.counts(), "samples": [s.__dict__ for s in self.samples]}


def kb_check(dataset: Dataset, corpus: Mapping[str, str]) -> KbCheckReport:
    """Mark each sample of ``dataset`` against ``corpus`` (``{doc id: content hash}``, as
    :func:`read_corpus` returns): rules in the module docstring."""
    label = dataset.source or dataset.name
    results = []
    for sample in dataset:
        pins = _pins(sample, label)
        snapshot = sample.slice_value(INDEX_SNAPSHOT_KEY)
        if not pins:
            results.append(SampleValidity(sample.id, "unpinned", [], [], snapshot))
            continue
        missing = sorted(d for d in pins if d not in corpus)
        changed = sorted(d for d, h in pins.items() if d in corpus and corpus[d] != h)
        status: Validity = (
            "gold_missing" if missing else "gold_changed" if changed else "still_valid"
        )
        results.append(SampleValidity(sample.id, status, changed, missing, snapshot))
    return KbCheckReport(results)


def pin_gold_documents(
    dataset: Dataset, corpus: Mapping[str, str], *, index_snapshot: str | None = None
) -> Dataset:
    """A copy of ``dataset`` whose samples listing ``gold_doc_ids`` carry ``gold_docs`` pins
    (and ``index_snapshot`` when given). A listed id absent from the corpus is an error."""
    label = dataset.source or dataset.name
    pinned = []
    for sample in dataset:
        ids = sample.metadata.get(GOLD_DOC_IDS_KEY)
        if ids is None:
            pinned.append(sample)
            continue
        ids = [ids] if isinstance(ids, str) else list(ids)
        absent = [str(d) for d in ids if str(d) not in corpus]
        if absent:
            raise DatasetError(
                f"gold document(s) {', '.join(absent)} are not in the corpus",
                where=f"{label} (sample {sample.id})",
                fix="pin against the corpus the sample was written for",
            )
        metadata = {**sample.metadata, GOLD_DOCS_KEY: {str(d): corpus[str(d)] for d in ids}}
        if index_snapshot is not None:
            metadata[INDEX_SNAPSHOT_KEY] = index_snapshot
        pinned.append(sample.model_copy(update={"metadata": metadata}))
    return Dataset(dataset.name, pinned, source=dataset.source)
