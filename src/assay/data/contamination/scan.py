"""The streamed scan of a training corpus against an eval index, in bounded memory.

Documents are read a batch at a time (``batch_bytes`` of text), normalised and hashed together
with numpy, and every seed n-gram of the batch is looked up in the eval index. The few documents
with a hit are then aligned with the samples they share a seed with (see
:mod:`~assay.data.contamination.overlap`). What is kept between batches is bounded by the eval
set, never by the corpus: per touched sample a covered-token mask, an n-gram mask and the
``max_docs_per_sample`` best documents; and at most ``max_dirty_rows`` dirty rows (all are
counted). Work units (byte ranges, row groups, files) can run in ``jobs`` processes; their
results are merged in corpus order, so the report is the same whatever ``jobs`` is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assay.data.contamination.index import EvalIndex
from assay.data.contamination.normalise import (
    NgramHasher,
    doc_token_bounds,
    hash_tokens,
    normalise,
)
from assay.data.contamination.overlap import alignment, covered_positions, ngram_starts
from assay.data.contamination.report import (
    ContaminationReport,
    CorpusStats,
    DirtyRow,
    DocMatch,
    SampleContamination,
)
from assay.data.contamination.sources import (
    CorpusOptions,
    WorkUnit,
    plan_units,
    read_unit,
    training_files,
)

if TYPE_CHECKING:
    from assay.scale import Executor

#: A document within a scan: an id (text) or (unit number, line/row within the unit).
_Key = str | tuple[int, int]
#: A matching document as kept per sample: (overlap, -unit, -sequence, key, ngram matches);
#: sorting descending puts the highest overlap first and, among equals, the earliest document.
_Doc = tuple[float, int, int, _Key, int]

Progress = Callable[[int, int], None]


@dataclass
class _SampleHits:
    covered: np.ndarray
    grams: np.ndarray
    docs: list[_Doc] = field(default_factory=list)
    n_docs: int = 0


@dataclass
class _Partial:
    """What a run of work units found; small and picklable (it crosses process boundaries)."""

    samples: dict[int, _SampleHits] = field(default_factory=dict)
    dirty: list[tuple[_Key, int, float]] = field(default_factory=list)
    n_dirty: int = 0
    documents: int = 0
    bytes: int = 0
    records: int = 0


def _trim(docs: list[_Doc], keep: int) -> None:
    if len(docs) > keep:
        docs.sort(reverse=True)
        del docs[keep:]


class _Matcher:
    """Finds and measures matches of training documents against the eval index."""

    def __init__(self, index: EvalIndex, batch_bytes: int, max_dirty_rows: int) -> None:
        self.index = index
        self.settings = index.settings
        self.batch_bytes = batch_bytes
        self.max_dirty_rows = max_dirty_rows
        self.hasher = NgramHasher(self.settings.seed_length)
        # The document whose matches are still being gathered: the pieces of one long
        # document (and rows sharing an id back to back) are measured together.
        self._open: tuple[_Key, int, int] | None = None
        self._open_pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # -- one unit ------------------------------------------------------------------------

    def scan_unit(self, unit: WorkUnit, options: CorpusOptions) -> _Partial:
        found = _Partial()
        keys: list[_Key] = []
        texts: list[str] = []
        size = 0
        docs = read_unit(unit, options)
        for key, text, raw_bytes in docs:
            keys.append(key if isinstance(key, str) else (unit.number, key))
            texts.append(text)
            size += raw_bytes
            if size >= self.batch_bytes:
                self._scan_batch(unit.number, keys, texts, found)
                found.bytes += size
                keys, texts, size = [], [], 0
        if texts:
            self._scan_batch(unit.number, keys, texts, found)
            found.bytes += size
        self._close(found)
        found.records = docs.records
        return found

    def _scan_batch(self, unit: int, keys: list[_Key], texts: list[str], found: _Partial) -> None:
        first_doc = found.documents  # documents numbered through the unit, for stable order
        found.documents += len(texts)
        parts = [normalise(t) for t in texts]
        tokens, starts = hash_tokens(b" ".join(parts))
        bounds = doc_token_bounds(parts, starts)
        grams = self.hasher.hash(tokens)
        hits = self.index.lookup(grams)
        if hits.size == 0:
            return
        seed = self.settings.seed_length
        docs = np.searchsorted(bounds, hits, side="right") - 1
        inside = hits + seed <= bounds[docs + 1]  # drop n-grams that straddle two documents
        hits, docs = hits[inside], docs[inside]
        if hits.size == 0:
            return
        cuts = np.flatnonzero(np.diff(docs)) + 1
        for doc_hits in np.split(hits, cuts):
            doc = int(docs[np.searchsorted(hits, doc_hits[0])])
            lo, hi = int(bounds[doc]), int(bounds[doc + 1])
            pairs = self._match(tokens[lo:hi], doc_hits - lo, grams[doc_hits])
            if pairs:
                self._add(keys[doc], unit, first_doc + doc, pairs, found)

    def _match(
        self,
        doc_tokens: np.ndarray,
        positions: np.ndarray,
        values: np.ndarray,
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per eval sample sharing a seed with the document (``values`` are the seed hashes at
        ``positions`` of ``doc_tokens``): its covered-token mask and n-gram mask."""
        index, settings = self.index, self.settings
        lo = np.searchsorted(index.seed_hashes, values, side="left")
        hi = np.searchsorted(index.seed_hashes, values, side="right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return {}
        first = np.cumsum(counts) - counts
        entries = np.arange(total) - np.repeat(first, counts) + np.repeat(lo, counts)
        samples = index.seed_samples[entries].astype(np.int64)
        shifts = np.repeat(positions, counts) - index.seed_positions[entries]
        pairs = np.unique(samples << 32 | (shifts + (1 << 31)))
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        n = settings.ngram
        for pair in pairs.tolist():
            sample, shift = pair >> 32, (pair & 0xFFFFFFFF) - (1 << 31)
            eval_tokens = index.tokens[sample]
            start, equal = alignment(eval_tokens, doc_tokens, shift)
            covered = covered_positions(equal, settings)
            grams = ngram_starts(equal, n)
            if not covered.any() and not grams.any():
                continue
            if sample not in found:
                found[sample] = (
                    np.zeros(len(eval_tokens), dtype=bool),
                    np.zeros(max(0, len(eval_tokens) - n + 1), dtype=bool),
                )
            cov, gram = found[sample]
            cov[start : start + len(covered)] |= covered
            gram[start : start + len(grams)] |= grams
        return found

    def _add(
        self,
        key: _Key,
        unit: int,
        sequence: int,
        pairs: dict[int, tuple[np.ndarray, np.ndarray]],
        found: _Partial,
    ) -> None:
        if self._open is not None and self._open[0] == key:
            for sample, (cov, gram) in pairs.items():
                if sample in self._open_pairs:
                    open_cov, open_gram = self._open_pairs[sample]
                    open_cov |= cov
                    open_gram |= gram
                else:
                    self._open_pairs[sample] = (cov, gram)
            return
        self._close(found)
        self._open = (key, unit, sequence)
        self._open_pairs = pairs

    def _close(self, found: _Partial) -> None:
        """Record the open document's matches."""
        if self._open is None:
            return
        key, unit, sequence = self._open
        settings = self.settings
        for sample, (cov, gram) in self._open_pairs.items():
            overlap = float(cov.mean()) if len(cov) else 0.0
            state = found.samples.get(sample)
            if state is None:
                state = found.samples[sample] = _SampleHits(np.zeros_like(cov), np.zeros_like(gram))
            state.covered |= cov
            state.grams |= gram
            state.n_docs += 1
            state.docs.append((overlap, -unit, -sequence, key, int(gram.sum())))
            if len(state.docs) > 2 * settings.max_docs_per_sample:
                _trim(state.docs, settings.max_docs_per_sample)
            if overlap >= settings.dirty_from:
                found.n_dirty += 1
                if len(found.dirty) < self.max_dirty_rows:
                    found.dirty.append((key, sample, overlap))
        self._open = None
        self._open_pairs = {}


# -- one work unit, on any executor ----------------------------------------------------------


@dataclass(frozen=True)
class ScanJob:
    """What every work unit of a scan shares: the eval index and how to read and batch the
    corpus. An executor ships it once per worker (a fork, or Ray's object store)."""

    index: EvalIndex
    options: CorpusOptions
    batch_bytes: int = 8 << 20
    max_dirty_rows: int = 10_000


def scan_unit(job: ScanJob, unit: WorkUnit) -> _Partial:
    """Scan one work unit (a shard of the corpus) against the index: the matching logic every
    executor runs. Units are independent, so their results can be merged in corpus order."""
    return _Matcher(job.index, job.batch_bytes, job.max_dirty_rows).scan_unit(unit, job.options)


# -- public entry point ----------------------------------------------------------------------


def scan_corpus(
    index: EvalIndex,
    train: Iterable[str | os.PathLike[str]],
    *,
    options: CorpusOptions | None = None,
    jobs: int = 1,
    batch_bytes: int = 8 << 20,
    unit_bytes: int = 32 << 20,
    max_dirty_rows: int = 10_000,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> ContaminationReport:
    """Scan training files against an eval index and report overlap per eval sample.

    ``train``: files or directories (JSONL, Parquet, plain text; ``.gz`` for the line formats).
    ``jobs``: worker processes (``0`` means one per CPU). ``batch_bytes`` bounds the text held
    and hashed at once per process, so peak memory is about ``jobs × 20 × batch_bytes`` plus
    the index, whatever the corpus size. ``progress(done_bytes, total_bytes)`` is called after
    each work unit. Raises :class:`~assay.core.DatasetError` for unreadable training files.
    ``executor``: where units run (:mod:`assay.scale`; e.g. Ray tasks); ``jobs`` is then
    ignored. The report is the same, row for row, on every executor and for every ``jobs``.
    """
    from assay.scale import LocalExecutor

    options = options or CorpusOptions()
    if jobs <= 0:
        jobs = os.cpu_count() or 1
    executor = executor or LocalExecutor(jobs)
    began = time.perf_counter()
    files = training_files(train, options)
    units = plan_units(files, options, unit_bytes)
    total_size = sum(u.size for u in units)
    settings = index.settings

    merged: dict[int, _SampleHits] = {}
    dirty: list[DirtyRow] = []
    n_dirty = documents = scanned = done = 0
    offsets: dict[str, int] = {}
    job = ScanJob(index, options, batch_bytes, max_dirty_rows)
    for unit, part in zip(units, executor.map(scan_unit, job, units), strict=True):
        label = unit.file.label
        offset = offsets.get(label, 0)
        offsets[label] = offset + part.records

        def name(key: _Key, unit: WorkUnit = unit, offset: int = offset) -> str:
            return key if isinstance(key, str) else unit.name(key[1], offset)

        documents += part.documents
        scanned += part.bytes
        n_dirty += part.n_dirty
        for key, sample, overlap in part.dirty:
            if len(dirty) < max_dirty_rows:
                dirty.append(DirtyRow(name(key), index.sample_ids[sample], overlap))
        for sample, hits in part.samples.items():
            hits.docs = [(o, u, s, name(k), g) for o, u, s, k, g in hits.docs]
            state = merged.get(sample)
            if state is None:
                # Own copies: results from Ray's object store are read-only views.
                hits.covered, hits.grams = hits.covered.copy(), hits.grams.copy()
                merged[sample] = hits
                continue
            state.covered |= hits.covered
            state.grams |= hits.grams
            state.n_docs += hits.n_docs
            state.docs.extend(hits.docs)
            _trim(state.docs, 2 * settings.max_docs_per_sample)
        done += unit.size
        if progress is not None:
            progress(done, total_size)

    samples = []
    for number, sample_id in enumerate(index.sample_ids):
        samples.append(_sample_result(index, number, sample_id, merged.get(number)))
    return ContaminationReport(
        settings=settings,
        samples=tuple(samples),
        dirty_rows=tuple(dirty),
        n_dirty_rows=n_dirty,
        corpus=CorpusStats(
            files=len(files),
            documents=documents,
            bytes=scanned,
            seconds=time.perf_counter() - began,
            jobs=executor.workers,
        ),
        training=tuple(f.label for f in files),
    )


def _sample_result(
    index: EvalIndex, number: int, sample_id: str, hits: _SampleHits | None
) -> SampleContamination:
    settings = index.settings
    n_tokens = len(index.tokens[number])
    n_grams = max(0, n_tokens - settings.ngram + 1)
    overlap = float(hits.covered.mean()) if hits is not None and n_tokens else 0.0
    docs: tuple[DocMatch, ...] = ()
    if hits is not None:
        _trim(hits.docs, settings.max_docs_per_sample)
        hits.docs.sort(reverse=True)
        docs = tuple(DocMatch(str(k), o, g) for o, _u, _s, k, g in hits.docs)
    return SampleContamination(
        sample_id=sample_id,
        n_tokens=n_tokens,
        overlap=overlap,
        band=settings.band_of(overlap),
        subsets=settings.subsets_of(overlap),
        ngram_matches=int(hits.grams.sum()) if hits is not None else 0,
        ngram_total=n_grams,
        docs=docs,
        n_docs=hits.n_docs if hits is not None else 0,
    )
