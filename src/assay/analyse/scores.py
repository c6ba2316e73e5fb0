"""A run's graded scores, gathered per subject, scorer and sample (epochs kept apart).

The shared first step of every analysis that needs more than means: comparisons, power
planning and the richer intervals of ``assay show --intervals``. Errored and ungradable results
are counted, never turned into zeros.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.core import RunManifest, Sample
from assay.store import RunInfo, Store

NO_LABEL = "(none)"


@dataclass
class RunScores:
    """Everything graded in one run.

    ``values[(subject, scorer)][sample_id]`` lists that sample's scores over its epochs, in
    epoch order. ``ungraded`` counts results a scorer could not grade (or whose call failed);
    ``errored[subject]`` holds the ids of samples with at least one failed call.
    ``sample_meta[sample_id]`` is the sample's ``(metadata, cluster)``, in dataset order: what
    slices and clusters need. From the store, ``samples`` (inputs, targets) is read only when
    first used, while the store is open: at 100,000 samples, parsing them cost seconds and
    hundreds of MB that means and comparisons never use (issue 20).
    """

    info: RunInfo
    manifest: RunManifest
    samples: Mapping[str, Sample]
    values: dict[tuple[str, str], dict[str, list[float]]]
    ungraded: dict[tuple[str, str], int] = field(default_factory=dict)
    errored: dict[str, set[str]] = field(default_factory=dict)
    sample_meta: dict[str, tuple[dict[str, Any], str | None]] = field(default_factory=dict)

    def has_sample(self, sample_id: str) -> bool:
        """Whether the run holds a sample of this id (with its labels)."""
        return sample_id in self.sample_meta

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
        found = self.sample_meta.get(sample_id)
        value = found[0].get(key) if found is not None else None
        return NO_LABEL if value is None else str(value)

    def cluster(self, sample_id: str) -> str | None:
        """The sample's cluster: its metadata value under the run's ``cluster`` key, else its
        ``cluster`` field; ``None`` when it has neither."""
        found = self.sample_meta.get(sample_id)
        if found is None:
            return None
        metadata, cluster = found
        key = self.manifest.cluster
        if key is not None:
            value = metadata.get(key)
            if value is not None:
                return str(value)
        return cluster


class _StoredSamples(Mapping[str, Sample]):
    """Sample id → sample, read from the store on first access."""

    def __init__(self, read: Callable[[], list[Sample]]) -> None:
        self._read = read
        self._samples: dict[str, Sample] | None = None

    def _loaded(self) -> dict[str, Sample]:
        if self._samples is None:
            self._samples = {s.id: s for s in self._read()}
        return self._samples

    def __getitem__(self, sample_id: str) -> Sample:
        return self._loaded()[sample_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def _plain(
    values: Mapping[tuple[str, str], dict[str, list[float]]],
) -> dict[tuple[str, str], dict[str, list[float]]]:
    """``values`` with its inner defaultdicts made strict (a missing key raises), in place:
    copying them into dicts doubled their memory for a moment (issue 20)."""
    for inner in values.values():
        if isinstance(inner, defaultdict):
            inner.default_factory = None
    return dict(values)


def load_scores(store: Store, run_id: str) -> RunScores:
    """Read a run's scores from the store (complete or not)."""
    info = store.get_run(run_id)
    manifest = store.get_manifest(run_id)
    sample_meta = store.sample_labels(run_id)
    values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ungraded: dict[tuple[str, str], int] = defaultdict(int)
    errored: dict[str, set[str]] = defaultdict(set)
    scorer_names = [s.name for s in manifest.scorers]
    current: tuple[str, str, int] | None = None
    skip = False
    for subject, sample_id, epoch, error_class, scorer, value, _ in store.iter_score_rows(run_id):
        if current is not None and sample_id == current[1]:
            sample_id = current[1]  # one id string per result, not one per score row
        if (subject, sample_id, epoch) != current:  # the first row of a result
            current = (subject, sample_id, epoch)
            skip = bool(error_class)
            if skip:
                errored[subject].add(sample_id)
                for name in scorer_names:
                    ungraded[(subject, name)] += 1
        if skip or scorer is None:
            continue
        key = (subject, scorer)
        if value is None:
            ungraded[key] += 1
        else:
            values[key][sample_id].append(value)
    return RunScores(
        info=info,
        manifest=manifest,
        samples=_StoredSamples(lambda: store.get_samples(run_id)),
        sample_meta=sample_meta,
        values=_plain(values),
        ungraded=dict(ungraded),
        errored=dict(errored),
    )
