"""The stored runs of a dataset as lint reads them (:mod:`assay.data.lint.outcomes` reads them;
:class:`~assay.data.lint.context.LintContext` carries them): plain data, importing neither."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunOutcome:
    """One stored run of the dataset: per (subject, scorer), each sample's mean over epochs."""

    run_id: str
    name: str
    scores: dict[tuple[str, str], dict[str, float]]
    scorer_kinds: dict[str, str]
    judges_same_lineage: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    slices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutcomes:
    """The matching runs, newest first, and how many runs the store held in all."""

    runs: tuple[RunOutcome, ...]
    runs_searched: int
    binary_scorers: frozenset[str] = field(default_factory=frozenset)

    def run_ids(self) -> list[str]:
        """The matching runs' ids, newest first."""
        return [r.run_id for r in self.runs]
