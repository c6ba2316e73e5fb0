"""``assay compare`` on plain data: two arrays, two mappings or two DataFrames, no store.

A notebook user often has the per-sample scores already (two columns, or two result tables
joined by an id). :func:`compare_scores` gives them the comparison ``assay compare`` prints for
two stored runs: the paired difference with its interval, the test, corrected p-values, the
MDE, per-slice rows and the verdict. It wraps the data as two :class:`RunScores` and calls the
very function the CLI calls, so the numbers cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from assay.analyse.compare import CompareSettings, RunComparison
from assay.analyse.compare import compare_scores as compare_run_scores
from assay.analyse.scores import NO_LABEL, RunScores
from assay.core import (
    AssayError,
    DatasetManifest,
    EnvironmentManifest,
    RunManifest,
    ScorerManifest,
    SubjectManifest,
)
from assay.store import RunInfo

#: The column (or key) holding the sample id in DataFrames and record lists.
DEFAULT_ID = "id"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLUSTER_KEY = "\x00cluster"


@dataclasses.dataclass
class _DataScores(RunScores):
    """A :class:`RunScores` built from plain data: labels live in dicts, not in samples."""

    labels: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    clusters: dict[str, str] = dataclasses.field(default_factory=dict)

    def slice_label(self, sample_id: str, key: str) -> str:
        label = self.labels.get(key, {}).get(sample_id)
        return NO_LABEL if label is None else label

    def cluster(self, sample_id: str) -> str | None:
        return self.clusters.get(sample_id)


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "itertuples")


def _is_series(value: Any) -> bool:
    return hasattr(value, "index") and hasattr(value, "to_numpy") and not _is_frame(value)


def _number(value: Any, where: str) -> float | None:
    """A score as a float; ``None`` (or NaN) is an ungraded sample, anything else raises."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AssayError(
            f"{where}: score {value!r} is not a number",
            where=where,
            fix="scores must be numbers (1/0 or True/False for pass/fail)",
        ) from None
    return None if math.isnan(number) else number


def _labels_for(spec: Any, n: int, ids: list[str], side: str, what: str) -> dict[str, str] | None:
    """Labels given as a sequence aligned with the scores, or a mapping id → label."""
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items() if v is not None}
    values = list(spec)
    if len(values) != n:
        raise AssayError(
            f"{what} for {side} has {len(values)} labels for {n} scores",
            where=what,
            fix="give one label per score, in the same order (or a mapping id -> label)",
        )
    return {i: str(v) for i, v in zip(ids, values, strict=True) if v is not None}


def _from_frame(
    frame: Any,
    side: str,
    *,
    id_column: str,
    score: str | None,
    slices: Sequence[str],
    cluster: str | None,
) -> tuple[dict[str, list[float]], int, dict[str, dict[str, str]], dict[str, str], str]:
    columns = [str(c) for c in frame.columns]
    if id_column not in columns:
        raise AssayError(
            f"DataFrame {side} has no id column {id_column!r}",
            where=f"{side}.{id_column}",
            fix=f"name the id column with on=...; columns: {', '.join(columns)}",
        )
    if score is None:
        candidates = [c for c in ("score", "value") if c in columns]
        if not candidates:
            raise AssayError(
                f"DataFrame {side} has no 'score' column",
                where=f"{side}.score",
                fix=f"name the score column with score=...; columns: {', '.join(columns)}",
            )
        score = candidates[0]
    for name in (score, *slices, *([cluster] if cluster else [])):
        if name not in columns:
            raise AssayError(
                f"DataFrame {side} has no column {name!r}",
                where=f"{side}.{name}",
                fix=f"columns: {', '.join(columns)}",
            )
    values: dict[str, list[float]] = {}
    ungraded = 0
    labels: dict[str, dict[str, str]] = {k: {} for k in slices}
    clusters: dict[str, str] = {}
    records = frame.to_dict("records")
    for row_number, row in enumerate(records, start=1):
        sample_id = str(row[id_column])
        value = _number(row[score], f"{side} row {row_number} column {score!r}")
        for key in slices:
            label = row[key]
            if label is not None and not (isinstance(label, float) and math.isnan(label)):
                labels[key].setdefault(sample_id, str(label))
        if cluster is not None and row[cluster] is not None:
            clusters.setdefault(sample_id, str(row[cluster]))
        if value is None:
            ungraded += 1
            continue
        # Several rows with one id are that sample's epochs (averaged before comparing).
        values.setdefault(sample_id, []).append(value)
    return values, ungraded, labels, clusters, score


def _from_values(
    data: Any, side: str, ids: Sequence[Any] | None
) -> tuple[dict[str, list[float]], int, list[str]]:
    """Scores from a mapping (id → score or list of epoch scores), a Series (index = id) or
    a sequence (ids from ``ids``, else the position)."""
    if _is_series(data):
        keys = [str(k) for k in data.index]
        raw = list(data.to_numpy())
    elif isinstance(data, Mapping):
        keys = [str(k) for k in data]
        raw = list(data.values())
    else:
        raw = list(data)
        if ids is not None:
            keys = [str(i) for i in ids]
            if len(keys) != len(raw):
                raise AssayError(
                    f"ids has {len(keys)} entries for {len(raw)} scores in {side}",
                    where="ids",
                    fix="give one id per score",
                )
        else:
            keys = [str(i) for i in range(len(raw))]
    if len(set(keys)) != len(keys):
        raise AssayError(
            f"{side} repeats a sample id",
            where=side,
            fix="give each sample one entry (a list of scores for repeated answers)",
        )
    values: dict[str, list[float]] = {}
    ungraded = 0
    for key, value in zip(keys, raw, strict=True):
        epochs = list(value) if isinstance(value, (list, tuple)) else [value]
        numbers = [_number(v, f"{side}[{key!r}]") for v in epochs]
        graded = [v for v in numbers if v is not None]
        ungraded += len(numbers) - len(graded)
        if graded:
            values[key] = graded
    return values, ungraded, keys


def _run_scores(
    name: str,
    subject: str,
    metric: str,
    values: dict[str, list[float]],
    ungraded: int,
    slice_keys: list[str],
    labels: dict[str, dict[str, str]],
    clusters: dict[str, str],
) -> _DataScores:
    ids = sorted(values)
    epochs = max((len(v) for v in values.values()), default=1)
    info = RunInfo(
        id=name,
        name=name,
        status="completed",
        started_at=_EPOCH,
        fingerprint="",
        spec_hash="",
        subjects=[subject],
        n_results=sum(len(v) for v in values.values()) + ungraded,
        n_errors=0,
        n_planned=sum(len(v) for v in values.values()) + ungraded,
    )
    manifest = RunManifest(
        run_id=name,
        name=name,
        spec_hash="",
        dataset=DatasetManifest(name="data", content_hash="", n_samples=len(ids), sample_ids=ids),
        subjects=[SubjectManifest(name=subject, kind="data")],
        scorers=[ScorerManifest(name=metric, version="data")],
        epochs=epochs,
        seed=0,
        slices=slice_keys,
        cluster=_CLUSTER_KEY if clusters else None,
        environment=EnvironmentManifest(assay_version="", git_sha="", python="", platform=""),
        started_at=_EPOCH,
    )
    return _DataScores(
        info=info,
        manifest=manifest,
        samples={},
        values={(subject, metric): values},
        ungraded={(subject, metric): ungraded} if ungraded else {},
        labels=labels,
        clusters=clusters,
    )


def compare_scores(
    a: Any,
    b: Any,
    *,
    on: str = DEFAULT_ID,
    score: str | None = None,
    ids: Sequence[Any] | None = None,
    slices: Sequence[str] | Mapping[str, Any] | None = None,
    cluster: str | Sequence[Any] | Mapping[Any, Any] | None = None,
    names: tuple[str, str] = ("A", "B"),
    metric: str = "score",
    subjects: Sequence[tuple[str, str]] | None = None,
    scorers: Sequence[str] | None = None,
    settings: CompareSettings | None = None,
) -> RunComparison:
    """The comparison of ``assay compare`` (B − A, paired by sample id) from plain data.

    ``a`` and ``b`` may be:

    - two **DataFrames** (pandas or anything with ``columns`` and ``to_dict("records")``), one
      row per sample (several rows with one id are that sample's epochs), joined by the id
      column ``on``; ``score`` names the score column (default ``score`` or ``value``);
      ``slices`` lists label columns and ``cluster`` names a cluster column;
    - two **mappings** id → score (or → list of epoch scores), or two pandas Series indexed
      by id, joined by id;
    - two **sequences** (lists, NumPy arrays) paired by position, or by ``ids`` (one per
      score, the same ids for both); ``slices`` then maps a key to one label per score (or to
      a mapping id → label) and ``cluster`` is one label per score;
    - two :class:`~assay.analyse.RunScores` read from the store (what ``assay compare`` does).

    Samples present on one side only are listed (``only_a``/``only_b``) and left out; ``None``
    or NaN scores are ungraded, never zeros. Pass/fail (0/1) scores get McNemar's exact test,
    other scores the paired t-test, and a cluster key with enough clusters the clustered test,
    exactly as for stored runs (:func:`assay.analyse.compare.compare_scores`). ``names`` label
    the two sides, ``metric`` the score. Returns a :class:`RunComparison` (``verdict``,
    ``metrics``, ``to_dict()``); its ``changes`` are empty (there are no manifests to diff).
    With DataFrames the metric is named after the score column.
    Bad input raises :class:`~assay.core.AssayError` naming the side, row or column.
    """
    if isinstance(a, RunScores) and isinstance(b, RunScores):
        slice_list = None if slices is None else list(slices)
        return compare_run_scores(
            a, b, subjects=subjects, scorers=scorers, slices=slice_list, settings=settings
        )
    if isinstance(a, RunScores) or isinstance(b, RunScores):
        raise AssayError(
            "compare_scores got one stored run and one plain data set",
            fix="pass two RunScores (from load_scores) or two plain data sets",
        )
    name_a, name_b = names
    if name_a == name_b:
        raise AssayError("names must differ", where="names", fix='e.g. names=("v1", "v2")')
    sides: list[_DataScores] = []
    if _is_frame(a) != _is_frame(b):
        raise AssayError(
            "compare_scores got one DataFrame and one other kind of data",
            fix="pass two DataFrames, two mappings or two sequences",
        )
    if _is_frame(a):
        if slices is not None and isinstance(slices, Mapping):
            raise AssayError(
                "with DataFrames, slices names label columns",
                where="slices",
                fix='e.g. slices=["topic"]',
            )
        if cluster is not None and not isinstance(cluster, str):
            raise AssayError(
                "with DataFrames, cluster names a column", where="cluster", fix='cluster="doc"'
            )
        slice_keys = list(slices or [])
        for frame, name in ((a, name_a), (b, name_b)):
            values, ungraded, labels, clusters, column = _from_frame(
                frame, name, id_column=on, score=score, slices=slice_keys, cluster=cluster
            )
            sides.append(
                _run_scores(name, name, column, values, ungraded, slice_keys, labels, clusters)
            )
    else:
        if slices is not None and not isinstance(slices, Mapping):
            raise AssayError(
                "with arrays or mappings, slices maps a key to labels",
                where="slices",
                fix='e.g. slices={"topic": topics} (one label per score)',
            )
        slice_map = dict(slices or {})
        for data, name in ((a, name_a), (b, name_b)):
            values, ungraded, keys = _from_values(data, name, ids)
            labels = {}
            for key, spec in slice_map.items():
                found = _labels_for(spec, len(keys), keys, name, f"slices[{key!r}]")
                labels[str(key)] = found or {}
            clusters = _labels_for(cluster, len(keys), keys, name, "cluster") or {}
            sides.append(
                _run_scores(
                    name,
                    name,
                    metric,
                    values,
                    ungraded,
                    [str(k) for k in slice_map],
                    labels,
                    clusters,
                )
            )
    result = compare_run_scores(
        sides[0], sides[1], subjects=subjects, scorers=scorers, settings=settings
    )
    return dataclasses.replace(result, changes=[], from_data=True)
