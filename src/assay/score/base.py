"""The scorer seam: grade one output of one sample."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from assay.core import Output, Sample, Score, ScorerManifest


@runtime_checkable
class Scorer(Protocol):
    """Anything that grades an output.

    ``name`` is how the score is labelled in results and reports, ``version`` changes whenever
    the grading logic changes (it goes into the run manifest), ``config`` is the options it was
    built with. ``score`` never raises for a bad output: it returns a :class:`Score` with
    ``value=None`` and ``error`` set, so an ungradable output is counted, not hidden.
    """

    name: str
    version: str
    config: dict[str, Any]

    async def score(self, sample: Sample, output: Output) -> Score: ...


def scorer_manifest(scorer: Scorer) -> ScorerManifest:
    """The manifest entry for a scorer."""
    kind = getattr(scorer, "kind", None) or scorer.name
    return ScorerManifest(
        name=scorer.name, version=scorer.version, kind=kind, config=dict(scorer.config)
    )


#: Resolves a ``<provider>/<model>`` reference (and the spec location of it, for errors) to the
#: provider object and the model name to send.
ModelResolver = Callable[[str, str | None], tuple[Any, str]]


@dataclass(frozen=True)
class ScorerContext:
    """What a scorer factory may need beyond its options, handed to factories that take a
    ``context`` argument: the folder relative paths resolve against (a spec's folder, for
    ``{python: "module:function"}`` and schema files), a resolver for ``<provider>/<model>``
    references that knows the spec's ``providers:`` (judges use it), and the lineage registry
    (``None`` for the default one)."""

    base_dir: Path | None = None
    resolve_model: ModelResolver | None = None
    lineage: Any = None
