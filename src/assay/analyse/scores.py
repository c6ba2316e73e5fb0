"""A run's graded scores, gathered per subject, scorer and sample (epochs kept apart).

The shared first step of every analysis that needs more than means: comparisons, power
planning and the richer intervals of ``assay show --intervals``. Errored and ungradable results
are counted, never turned into zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, cast

from assay.core import RunManifest, Sample
from assay.store import RunInfo, Store
from assay.store.score_reads import (
    ScoreColumns,
    UsagePricer,
    paused_gc,
    read_sample_labels,
    read_score_columns,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

NO_LABEL = "(none)"


class OneScorePerSample(Mapping[str, list[float]]):
    """Sample id -> ``[value]`` for a metric whose samples each have one value (one epoch:
    nearly every run), kept as the ids and a float array rather than 100,000 one-element
    lists (:func:`gather_scores` with ``arrays=True``, what ``assay compare`` reads; issue 20).

    A read-only mapping equal to the dict :func:`gather_scores` builds otherwise: ``ids`` in
    the store's order (sample id order), ``array[i]`` the value of ``ids[i]``. Each lookup
    gives a new list."""

    __slots__ = ("_index", "array", "ids")

    def __init__(self, ids: list[str], array: NDArray[np.float64]) -> None:
        self.ids = ids
        self.array = array
        self._index: dict[str, int] | None = None

    def __getitem__(self, sample_id: str) -> list[float]:
        if self._index is None:
            self._index = {i: k for k, i in enumerate(self.ids)}
        return [float(self.array[self._index[sample_id]])]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"OneScorePerSample({dict(self)!r})"


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
    #: Subject -> sample id -> cost of its priced calls, when read with a ``usage`` pricer
    #: (:func:`assay.analyse.run_costs.usage_pricer`).
    costs: dict[str, dict[str, float]] | None = None
    #: Per-sample label maps built on first use (:meth:`slice_labels`, :meth:`clusters_of`).
    _maps: dict[tuple[str, ...], dict[str, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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

    def slice_labels(self, sample_ids: Sequence[str], key: str) -> list[str]:
        """:meth:`slice_label` of each id, from a map of every sample's label built once per
        key (a subclass's own ``slice_label`` is called per id)."""
        if type(self).slice_label is not RunScores.slice_label:
            return [self.slice_label(i, key) for i in sample_ids]
        labels = self._maps.get(("slice", key))
        if labels is None:
            labels = self._maps[("slice", key)] = {
                sample_id: NO_LABEL if (value := metadata.get(key)) is None else str(value)
                for sample_id, (metadata, _) in self.sample_meta.items()
            }
        return list(map(labels.get, sample_ids, repeat(NO_LABEL)))

    def clusters_of(self, sample_ids: Sequence[str]) -> list[str | None]:
        """:meth:`cluster` of each id, from a map of every sample's cluster built once (a
        subclass's own ``cluster`` is called per id)."""
        if type(self).cluster is not RunScores.cluster:
            return [self.cluster(i) for i in sample_ids]
        clusters = self._maps.get(("cluster",))
        if clusters is None:
            key = self.manifest.cluster
            clusters = self._maps[("cluster",)] = {
                sample_id: str(value)
                if key is not None and (value := metadata.get(key)) is not None
                else cluster
                for sample_id, (metadata, cluster) in self.sample_meta.items()
            }
        return list(map(clusters.get, sample_ids))

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


@dataclass
class GatheredScores:
    """A run's graded values and failure counts, as :func:`gather_scores` collects them."""

    #: (subject, scorer) -> sample id -> values over epochs (epoch order; sample id order).
    #: With ``arrays=True`` a metric whose samples have one value each is a read-only
    #: :class:`OneScorePerSample` (the same mapping) rather than a dict.
    values: dict[tuple[str, str], dict[str, list[float]]]
    #: (subject, scorer) -> results that scorer could not grade (every scorer of a failed call).
    ungraded: dict[tuple[str, str], int]
    #: subject -> ids of samples with at least one failed call.
    errored: dict[str, set[str]]
    #: subject -> error class -> failed calls.
    error_classes: dict[str, dict[str, int]]
    #: subject -> results.
    n_results: dict[str, int]


def _by_sample(sample_ids: list[str], values: list[float]) -> dict[str, list[float]]:
    """Sample id -> its values, in order (ids come grouped: sorted by sample, then epoch)."""
    out = dict(zip(sample_ids, ([v] for v in values), strict=True))
    if len(out) == len(sample_ids):  # one value per sample (one epoch): nearly every run
        return out
    out = {}
    for sample_id, value in zip(sample_ids, values, strict=True):
        found = out.get(sample_id)
        if found is None:
            out[sample_id] = [value]
        else:
            found.append(value)
    return out


def _one_per_sample(
    ids: list[str], values: NDArray[np.float64], distinct: bool
) -> Mapping[str, list[float]]:
    """:class:`OneScorePerSample` when ``ids`` are ``distinct``, else :func:`_by_sample`'s
    dict."""
    if distinct:
        return OneScorePerSample(ids, values)
    return _by_sample(ids, values.tolist())


def gather_scores(
    columns: ScoreColumns, scorer_names: list[str], *, arrays: bool = False
) -> GatheredScores:
    """Group a run's score columns by subject, scorer and sample.

    A failed call (a result with an error class) counts as ungraded for every scorer in
    ``scorer_names`` and its scores, if any, are left out; a score without a value counts as
    ungraded for its scorer. The same numbers, in the same order, as walking the rows of
    :meth:`~assay.store.Store.iter_score_rows` one by one, without a Python step per score.
    With ``arrays``, a metric whose samples have one value each is a
    :class:`OneScorePerSample` (the same mapping, without a list per sample), and metrics
    graded on the same results share one list of sample ids.
    """
    import numpy as np

    n = columns.n_results
    subjects, sample_ids = columns.subjects, columns.sample_ids
    failed = np.fromiter(map(bool, columns.error_classes), bool, n)
    result, scorer = columns.score_result, columns.score_scorer
    kept = ~failed[result] if result.size else np.zeros(0, bool)
    graded = kept & columns.score_graded
    n_results: dict[str, int] = {}
    for subject in subjects:
        n_results[subject] = n_results.get(subject, 0) + 1

    # Values: one key per (subject, scorer), in order of first appearance.
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    rows = np.flatnonzero(graded)
    if rows.size:
        subject_names = list(dict.fromkeys(subjects))
        subject_code = {name: k for k, name in enumerate(subject_names)}
        result_subject = np.fromiter(map(subject_code.__getitem__, subjects), np.int64, n)
        n_scorers = max(len(columns.scorer_names), 1)
        keys = result_subject[result[rows]] * n_scorers + scorer[rows]
        codes, first = np.unique(keys, return_index=True)
        previous: tuple[Any, list[str], bool] | None = None
        for code in codes[np.argsort(first, kind="stable")]:
            chosen = rows[keys == code]
            metric = (
                subject_names[int(code) // n_scorers],
                columns.scorer_names[int(code) % n_scorers],
            )
            if not arrays:
                values[metric] = _by_sample(
                    [sample_ids[i] for i in result[chosen].tolist()],
                    columns.score_value[chosen].tolist(),
                )
                continue
            of = result[chosen]
            if previous is not None and np.array_equal(previous[0], of):
                ids, distinct = previous[1], previous[2]
            else:
                ids = [sample_ids[i] for i in of.tolist()]
                distinct = len(set(ids)) == len(ids)
                previous = (of, ids, distinct)
            # A read-only mapping where the annotation says dict: ``arrays`` is compare's
            # path, which reads these through the mapping interface only.
            values[metric] = cast(
                "dict[str, list[float]]",
                _one_per_sample(ids, columns.score_value[chosen], distinct),
            )

    # Failures and ungraded scores are few: walk them in row order.
    ungraded: dict[tuple[str, str], int] = {}
    errored: dict[str, set[str]] = {}
    error_classes: dict[str, dict[str, int]] = {}
    unvalued = np.flatnonzero(kept & ~columns.score_graded)
    events = np.union1d(np.flatnonzero(failed), result[unvalued])
    by_result: dict[int, list[int]] = {}
    for row in unvalued.tolist():
        by_result.setdefault(int(result[row]), []).append(row)
    for i in events.tolist():
        subject = subjects[i]
        error_class = columns.error_classes[i]
        if error_class:
            errored.setdefault(subject, set()).add(sample_ids[i])
            counts = error_classes.setdefault(subject, {})
            counts[error_class] = counts.get(error_class, 0) + 1
            for name in scorer_names:
                ungraded[(subject, name)] = ungraded.get((subject, name), 0) + 1
            continue
        for row in by_result.get(i, []):
            pair = (subject, columns.scorer_names[int(scorer[row])])
            ungraded[pair] = ungraded.get(pair, 0) + 1
    return GatheredScores(values, ungraded, errored, error_classes, n_results)


def _costs_by_sample(columns: ScoreColumns) -> dict[str, dict[str, float]]:
    """Subject -> sample id -> the cost of its priced calls, from columns read with a
    ``usage`` pricer (every subject with results has an entry; epochs add up in order)."""
    import numpy as np

    out: dict[str, dict[str, float]] = {subject: {} for subject in columns.subjects}
    assert columns.costs is not None
    for i in np.flatnonzero(~np.isnan(columns.costs)).tolist():
        per_sample = out[columns.subjects[i]]
        sample_id = columns.sample_ids[i]
        per_sample[sample_id] = per_sample.get(sample_id, 0.0) + float(columns.costs[i])
    return out


def load_scores(
    store: Store,
    run_id: str,
    *,
    usage: UsagePricer | None = None,
    manifest: RunManifest | None = None,
    arrays: bool = False,
) -> RunScores:
    """Read a run's scores from the store (complete or not); with ``usage``, the per-sample
    cost of its calls too (:attr:`RunScores.costs`), in the same pass. ``manifest`` is the
    run's manifest when the caller has read it already (it is read otherwise); ``arrays``
    keeps one-value-per-sample metrics as read-only :class:`OneScorePerSample` mappings
    (:func:`gather_scores`), as ``assay compare`` reads them."""
    info = store.get_run(run_id)
    if manifest is None:
        manifest = store.get_manifest(run_id)
    with paused_gc():
        sample_meta = read_sample_labels(store, run_id)
        columns = read_score_columns(store, run_id, usage=usage)
        gathered = gather_scores(columns, [s.name for s in manifest.scorers], arrays=arrays)
        costs = None if usage is None else _costs_by_sample(columns)
    return RunScores(
        info=info,
        manifest=manifest,
        samples=_StoredSamples(lambda: store.get_samples(run_id)),
        sample_meta=sample_meta,
        values=gathered.values,
        ungraded=gathered.ungraded,
        errored=gathered.errored,
        costs=costs,
    )
