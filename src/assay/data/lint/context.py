"""What every lint check reads: the dataset, where its rows are, the settings, and the evidence
gathered from outside the file (stored runs, a spec, a knowledge-base corpus)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.core.sample import Sample
from assay.data.dataset import Dataset
from assay.data.lint.report import SmellRow
from assay.data.readers import open_rows

if TYPE_CHECKING:
    from assay.data.kb_pinning import KbCheckReport
    from assay.data.lint.stored_runs import RunOutcomes


class CheckSkipped(Exception):
    """Raised by a check that has nothing to work on; the message is the reason shown."""


@dataclass(frozen=True)
class LintSettings:
    """Thresholds of the checks; every one has a CLI option of the same name.

    ``near_duplicate_threshold``: Jaccard similarity of normalised character shingles at and
    above which two samples are near duplicates. ``shingle_size``: characters per shingle.
    ``runs``: how many recent stored runs of the dataset to read. ``min_runs``: how many of
    them must have graded a sample before it can be called saturated or never passed (one
    run's failures are just failures). ``saturated_rate`` and ``saturated_runs``: the suite is
    saturated when its best subject's pass rate is at least this in each of this many most
    recent runs (REQUIREMENTS A5: ≥ 99% on 5 consecutive runs). ``long_target_words``: a
    target longer than this many words is free-form text, not a string to match exactly.
    ``useful_effect``: the smallest change in a slice's pass rate worth detecting;
    ``alpha`` and ``power`` the test's level and power for the slice MDE. ``slices``: extra
    metadata keys to treat as slices. ``skip``: smell codes not to report.
    """

    near_duplicate_threshold: float = 0.8
    shingle_size: int = 5
    runs: int = 5
    min_runs: int = 3
    saturated_rate: float = 0.99
    saturated_runs: int = 5
    long_target_words: int = 10
    useful_effect: float = 0.05
    alpha: float = 0.05
    power: float = 0.8
    slices: tuple[str, ...] = ()
    skip: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 < self.near_duplicate_threshold <= 1:
            raise ValueError("near_duplicate_threshold must be in (0, 1]")
        if self.shingle_size < 1 or self.runs < 1 or self.min_runs < 1:
            raise ValueError("shingle_size, runs and min_runs must be at least 1")
        if not 0 < self.useful_effect < 1:
            raise ValueError("useful_effect must be in (0, 1)")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "near_duplicate_threshold": self.near_duplicate_threshold,
            "shingle_size": self.shingle_size,
            "runs": self.runs,
            "min_runs": self.min_runs,
            "saturated_rate": self.saturated_rate,
            "saturated_runs": self.saturated_runs,
            "long_target_words": self.long_target_words,
            "useful_effect": self.useful_effect,
            "alpha": self.alpha,
            "power": self.power,
            "slices": list(self.slices),
            "skip": sorted(self.skip),
        }


@dataclass(frozen=True)
class SpecFacts:
    """What lint needs from an eval spec: scorer kinds, slice keys and judge-lineage findings
    (``(judge, judge model, subject, subject model, shared families)``)."""

    scorer_kinds: tuple[str, ...] = ()
    slices: tuple[str, ...] = ()
    same_lineage: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = ()
    source: str = "spec"


@dataclass
class LintContext:
    """The inputs of one lint: the dataset and everything known about it."""

    dataset: Dataset
    settings: LintSettings
    locations: Mapping[str, str] = field(default_factory=dict)
    outcomes: RunOutcomes | None = None
    spec: SpecFacts | None = None
    kb: KbCheckReport | None = None
    store_reason: str | None = None

    def row(self, sample: Sample | str, note: str | None = None) -> SmellRow:
        """The :class:`SmellRow` of a sample (or sample id), with its ``file:line``."""
        sample_id = sample if isinstance(sample, str) else sample.id
        return SmellRow(sample_id, self.locations.get(sample_id), note)

    def rows(self, samples: Sequence[Sample | str]) -> tuple[SmellRow, ...]:
        """:meth:`row` of each."""
        return tuple(self.row(s) for s in samples)


def sample_locations(path: str | os.PathLike[str], dataset: Dataset) -> dict[str, str]:
    """``{sample id: file:line}`` for a dataset loaded from ``path`` with ``load_dataset``.

    The loader turns the n-th row the reader yields into the n-th sample (a bad row stops the
    load, blank lines are not rows), so reading the rows again and pairing them by position
    locates every sample, ids generated from content included.
    """
    source = open_rows(path)
    located: dict[str, str] = {}
    try:
        for sample, (number, _row) in zip(dataset.samples, source.rows, strict=False):
            located[sample.id] = source.where(number)
    finally:
        close = getattr(source.rows, "close", None)
        if close is not None:
            close()
    return located
