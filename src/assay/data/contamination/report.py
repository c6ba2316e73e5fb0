"""What a contamination scan found, per eval sample and per training row, and the export gate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from assay.core.errors import AssayError
from assay.data.contamination.settings import SUBSETS, ContaminationSettings


@dataclass(frozen=True)
class DocMatch:
    """One training document that overlaps an eval sample.

    ``overlap``: share of the sample's tokens this document alone covers (Llama 2 measure);
    ``ngram_matches``: how many of the sample's n-grams (13-grams) occur in it.
    """

    doc_id: str
    overlap: float
    ngram_matches: int


@dataclass(frozen=True)
class SampleContamination:
    """How much of one eval sample occurs in the training data.

    ``overlap`` is Llama 2's contamination share: the fraction of the sample's tokens covered by
    matched spans in *any* training document (the union over documents). ``band`` is
    ``clean``, ``not_clean`` or ``dirty`` and ``subsets`` the two Llama 2 subsets the sample is
    in. ``ngram_matches`` of ``ngram_total`` n-grams occur somewhere in the training data
    (GPT-3's test flags a sample with any). ``docs`` names the documents with the largest
    overlap (at most ``max_docs_per_sample``); ``n_docs`` counts them all.
    """

    sample_id: str
    n_tokens: int
    overlap: float
    band: str
    subsets: tuple[str, str]
    ngram_matches: int
    ngram_total: int
    docs: tuple[DocMatch, ...] = ()
    n_docs: int = 0

    @property
    def ngram_hit(self) -> bool:
        """Whether any of the sample's n-grams occurs in the training data (GPT-3's "dirty")."""
        return self.ngram_matches > 0


@dataclass(frozen=True)
class DirtyRow:
    """A training row that by itself covers at least ``dirty_from`` of an eval sample."""

    doc_id: str
    sample_id: str
    overlap: float


@dataclass(frozen=True)
class CorpusStats:
    """What was scanned and how fast (``bytes`` as read: decompressed, before parsing)."""

    files: int
    documents: int
    bytes: int
    seconds: float
    jobs: int

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class ContaminationReport:
    """The result of :func:`~assay.data.contamination.scan_corpus`: one entry per eval sample
    (in eval order), the training rows that are dirty on their own, and scan statistics."""

    settings: ContaminationSettings
    samples: tuple[SampleContamination, ...]
    dirty_rows: tuple[DirtyRow, ...]
    n_dirty_rows: int
    corpus: CorpusStats
    training: tuple[str, ...] = field(default=())

    def overlaps(self) -> dict[str, float]:
        """Sample id → contaminated share (the input of :func:`contamination_effect`)."""
        return {s.sample_id: s.overlap for s in self.samples}

    def too_short(self) -> list[SampleContamination]:
        """Samples shorter than the exact seed every match starts with
        (:attr:`ContaminationSettings.seed_length` tokens): no match can be found in them, so
        they were not checked, which is not the same as clean."""
        return [s for s in self.samples if s.n_tokens < self.settings.seed_length]

    def band_counts(self) -> dict[str, int]:
        """How many samples are in each Llama 2 subset, plus how many have an n-gram hit, and
        how many were too short to check (``too_short``: counted apart, in no subset)."""
        counts: Counter[str] = Counter()
        short = {s.sample_id for s in self.too_short()}
        for sample in self.samples:
            if sample.sample_id in short:
                continue
            counts.update(sample.subsets)
            counts["ngram_hit"] += sample.ngram_hit
        counts["too_short"] = len(short)
        return {name: counts[name] for name in (*SUBSETS, "ngram_hit", "too_short")}

    def dirty_samples(self) -> list[SampleContamination]:
        """Samples in the dirty band, in eval order."""
        return [s for s in self.samples if s.band == "dirty"]

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON types (the ``--json`` output)."""
        return {
            "settings": asdict(self.settings),
            "training": list(self.training),
            "corpus": {**asdict(self.corpus), "mb_per_second": round(self.corpus.mb_per_second, 2)},
            "bands": self.band_counts(),
            "samples": [
                {
                    **asdict(s),
                    "overlap": round(s.overlap, 6),
                    "subsets": list(s.subsets),
                    "ngram_hit": s.ngram_hit,
                    "docs": [{**asdict(d), "overlap": round(d.overlap, 6)} for d in s.docs],
                }
                for s in self.samples
            ],
            "dirty_rows": [{**asdict(r), "overlap": round(r.overlap, 6)} for r in self.dirty_rows],
            "n_dirty_rows": self.n_dirty_rows,
        }


class ContaminationError(AssayError):
    """Raised when a contamination check cannot be made as asked: an empty eval set, scores
    that match no scanned sample, a run without scores."""

    code = "contamination_error"


class ContaminationGateError(AssayError):
    """Raised by :func:`gate` when the training data contains dirty copies of eval samples.

    Exit code 1: the check ran and failed (like a failing test), it is not a usage mistake.
    """

    exit_code = 1
    code = "contaminated"


def gate(report: ContaminationReport, *, waive: Iterable[str] = ()) -> None:
    """Fail (raise :class:`ContaminationGateError`) if any eval sample is dirty.

    A sample is dirty when at least ``dirty_from`` (80%) of its tokens occur in the training
    data (Llama 2's "dirty" subset, D3's ``severe``). The message names each dirty sample and
    the training rows that contain it. ``waive`` lists eval sample ids or training row ids that
    are accepted knowingly; a sample is let through when it, or every row naming it, is waived.
    """
    waived = set(waive)
    failing: list[tuple[SampleContamination, list[DocMatch]]] = []
    for sample in report.dirty_samples():
        if sample.sample_id in waived:
            continue
        rows = [d for d in sample.docs if d.doc_id not in waived]
        if sample.docs and not rows and sample.n_docs == len(sample.docs):
            continue
        failing.append((sample, rows or list(sample.docs)))
    if not failing:
        return
    threshold = f"{report.settings.dirty_from:.0%}"
    shown = []
    for sample, rows in failing[:5]:
        names = ", ".join(f"{d.doc_id!r} ({d.overlap:.0%})" for d in rows[:3])
        more = sample.n_docs - min(3, len(rows))
        extra = f" and {more} more" if more > 0 else ""
        shown.append(
            f"eval sample {sample.sample_id!r} is {sample.overlap:.0%} in training "
            f"row(s) {names}{extra}"
        )
    rest = f"; and {len(failing) - 5} more dirty samples" if len(failing) > 5 else ""
    raise ContaminationGateError(
        f"{len(failing)} eval sample(s) dirty (≥ {threshold} of tokens in the training data): "
        + "; ".join(shown)
        + rest,
        where=", ".join(report.training[:3]) + (" …" if len(report.training) > 3 else "") or None,
        fix="remove those rows from the training export, or accept them with --waive ID",
    )
