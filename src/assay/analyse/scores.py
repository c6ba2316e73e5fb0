"""A run's graded scores, gathered per subject, scorer and sample (epochs kept apart).

The shared first step of every analysis that needs more than means: comparisons, power
planning and the richer intervals of ``assay show --intervals``. Errored and ungradable results
are counted, never turned into zeros.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from assay.core import RunManifest, Sample
from assay.store import RunInfo, Store

NO_LABEL = "(none)"


@dataclass
class RunScores:
    """Everything graded in one run.

    ``values[(subject, scorer)][sample_id]`` lists that sample's scores over its epochs, in
    epoch order. ``ungraded`` counts results a scorer could not grade (or whose call failed);
    ``errored[subject]`` holds the ids of samples with at least one failed call.
    """

    info: RunInfo
    manifest: RunManifest
    samples: dict[str, Sample]
    values: dict[tuple[str, str], dict[str, list[float]]]
    ungraded: dict[tuple[str, str], int] = field(default_factory=dict)
    errored: dict[str, set[str]] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.info.id

    @property
    def subjects(self) -> list[str]:
        return [s.name for s in self.manifest.subjects]

    @property
    def scorers(self) -> list[str]:
        return [s.name for s in self.manifest.scorers]

    def per_sample(self, subject: str, scorer: str) -> dict[str, list[float]]:
        """Sample id → scores over epochs, for one subject and scorer (empty if none)."""
        return self.values.get((subject, scorer), {})

    def slice_label(self, sample_id: str, key: str) -> str:
        """The sample's label for slice ``key`` (``(none)`` when it has none)."""
        sample = self.samples.get(sample_id)
        label = sample.slice_value(key) if sample else None
        return NO_LABEL if label is None else label

    def cluster(self, sample_id: str) -> str | None:
        """The sample's cluster: its metadata value under the run's ``cluster`` key, else its
        ``cluster`` field; ``None`` when it has neither."""
        sample = self.samples.get(sample_id)
        if sample is None:
            return None
        key = self.manifest.cluster
        if key is not None:
            value = sample.metadata.get(key)
            if value is not None:
                return str(value)
        return sample.cluster


def load_scores(store: Store, run_id: str) -> RunScores:
    """Read a run's scores from the store (complete or not)."""
    info = store.get_run(run_id)
    manifest = store.get_manifest(run_id)
    samples = {s.id: s for s in store.get_samples(run_id)}
    values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ungraded: dict[tuple[str, str], int] = defaultdict(int)
    errored: dict[str, set[str]] = defaultdict(set)
    scorer_names = [s.name for s in manifest.scorers]
    for result in store.iter_results(run_id):
        if result.error_class:
            errored[result.subject].add(result.sample_id)
            for name in scorer_names:
                ungraded[(result.subject, name)] += 1
            continue
        for score in result.scores:
            key = (result.subject, score.scorer)
            if score.value is None:
                ungraded[key] += 1
            else:
                values[key][result.sample_id].append(float(score.value))
    return RunScores(
        info=info,
        manifest=manifest,
        samples=samples,
        values={k: dict(v) for k, v in values.items()},
        ungraded=dict(ungraded),
        errored=dict(errored),
    )
