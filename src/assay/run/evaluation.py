"""``Eval``: a dataset, the subjects to run on it, how to score them, and how often."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core import Output, Sample, SpecError
from assay.data import Dataset
from assay.providers.lineage import LineageRegistry
from assay.run.gateway import CallPolicy
from assay.run.subjects import Subject
from assay.score import Scorer, ScorerContext, exact


@dataclass
class Eval:
    """Everything needed to start a run.

    ``slices`` are metadata keys to break results down by; ``cluster`` is the metadata key
    (or the samples' ``cluster`` field when ``None``) for clustered statistics; ``epochs``
    repeats every sample; ``seed`` seeds anything random (the simulated world included);
    ``concurrency`` bounds calls in flight. ``spec`` is the source spec, kept for the record,
    and ``project_dir`` is where the code's git sha is read from. ``policy`` paces and retries
    calls (rate budgets, timeouts, retries; its concurrency is ``concurrency``), and ``prices``
    overrides the cost table (model glob → USD per million input and output tokens).
    ``lineage`` is the model-lineage registry for the judge independence check (``None``: the
    default one); ``pairwise`` is a spec's ``pairwise:`` section (a judge run to make after this
    run) and ``scorer_context`` what judge and file-backed scorers were built with.
    ``redact_pii`` redacts PII (:mod:`assay.data.pii`) from everything the run writes to the
    store (see :class:`~assay.run.RunOptions`). ``anchors`` are frozen (sample, output) pairs
    that every judge scorer re-scores at the end of each completed run, bypassing the response
    cache, so the manifest records each judge's anchor scores and fingerprint (C5); see
    :func:`assay.run.anchors.load_anchors`. ``index_snapshot`` names the retrieval index
    snapshot the subjects answer from (A1); without it the manifest records the snapshots the
    dataset's RAG samples are pinned to (their ``index_snapshot`` metadata), if any.
    """

    name: str
    dataset: Dataset
    subjects: Sequence[Subject]
    scorers: Sequence[Scorer] = field(default_factory=lambda: [exact()])
    epochs: int = 1
    seed: int = 0
    slices: Sequence[str] = ()
    cluster: str | None = None
    index_snapshot: str | None = None
    concurrency: int = 16
    spec: dict[str, Any] | None = None
    project_dir: Path = field(default_factory=Path.cwd)
    policy: CallPolicy | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    lineage: LineageRegistry | None = None
    pairwise: dict[str, Any] | None = None
    scorer_context: ScorerContext | None = None
    redact_pii: bool = False
    anchors: Sequence[tuple[Sample, Output]] = ()

    def __post_init__(self) -> None:
        if not self.subjects:
            raise SpecError("an eval needs at least one subject", where="subjects")
        names = [s.name for s in self.subjects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SpecError(
                f"duplicate subject name(s): {', '.join(dupes)}",
                where="subjects",
                fix="give each subject a distinct name",
            )
        scorer_names = [s.name for s in self.scorers]
        dupes = sorted({n for n in scorer_names if scorer_names.count(n) > 1})
        if dupes:
            raise SpecError(
                f"duplicate scorer name(s): {', '.join(dupes)}",
                where="scorers",
                fix="give repeated scorers a distinct `name:`",
            )
        if self.epochs < 1:
            raise SpecError("epochs must be at least 1", where="epochs")
        if self.concurrency < 1:
            raise SpecError("concurrency must be at least 1", where="concurrency")

    @property
    def n_planned(self) -> int:
        """Number of (subject, sample, epoch) results a complete run holds."""
        return len(self.subjects) * len(self.dataset) * self.epochs

    @classmethod
    def from_yaml(cls, path: str | Path) -> Eval:
        """Build an eval from a YAML spec file (see :mod:`assay.run.spec`)."""
        if _spec_loader is None:  # pragma: no cover - assay.run imports the spec module
            raise RuntimeError("assay.run.spec is not loaded: import assay.run first")
        return _spec_loader(path)


#: Reads a YAML spec file into an :class:`Eval`: :func:`assay.run.spec.load_eval`, registered
#: by that module when it is imported (``assay.run`` imports it, so before any Eval exists).
#: A hook, not an import: the spec language builds Evals, so importing it here would make the
#: two modules import each other (issue 20, section 10).
_spec_loader: Callable[[str | Path], Eval] | None = None


def register_spec_loader(loader: Callable[[str | Path], Eval]) -> None:
    """Make :meth:`Eval.from_yaml` read spec files with ``loader``."""
    global _spec_loader
    _spec_loader = loader
