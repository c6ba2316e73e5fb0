"""A run's scores as plain columns, read with two flat queries (issue 20).

``assay show`` and ``assay compare`` need, per result, its subject, sample id, epoch and whether
it failed, and per score its scorer and value; never outputs. Reading them as one join ordered
by result made SQLite look up every result's scores one at a time and gave back a Python row
per score. Here the results (in the order of their unique index: subject, sample id, epoch)
and the run's scores (by its ``run_id`` index) are read separately through the driver's own
cursor, in chunks, and joined on the result id in memory: the score columns end up as numpy
arrays, the result columns as lists of the strings the driver returned.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from assay.store.repository import Store

_CHUNK = 20_000


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold the cyclic garbage collector while a block builds many small objects.

    Reading 100,000 results makes hundreds of thousands of row tuples; each 700 of them set off
    a collection, and the full ones walk every object the process holds (SQLAlchemy's, the
    models'): a third of the read's time. Nothing built here forms reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class ScoreColumns:
    """One run's results and scores.

    Results are ordered by subject, sample id and epoch (the order of
    :meth:`~assay.store.Store.iter_score_rows`); ``subjects[i]``, ``sample_ids[i]``,
    ``epochs[i]`` and ``error_classes[i]`` describe result ``i``. Scores are ordered by result,
    then by position: ``score_result[j]`` is the index of score ``j``'s result,
    ``scorer_names[score_scorer[j]]`` its scorer, ``score_value[j]`` its value (NaN when
    ``score_graded[j]`` is false: the scorer could not grade).
    """

    subjects: list[str]
    sample_ids: list[str]
    epochs: list[int]
    error_classes: list[str | None]
    scorer_names: list[str]
    score_result: NDArray[np.int64]
    score_scorer: NDArray[np.int64]
    score_value: NDArray[np.float64]
    score_graded: NDArray[np.bool_]
    #: With a ``usage`` callback: each result's cost as the callback priced it (NaN for calls
    #: it did not price, and for failed, cached or token-less calls, which are not priced).
    costs: NDArray[np.float64] | None = None

    @property
    def n_results(self) -> int:
        return len(self.sample_ids)


def _columns(rows: Sequence[Any], width: int) -> list[tuple[Any, ...]]:
    """Rows as columns; text a driver returned as bytes decoded."""
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * width
    for i, column in enumerate(columns):
        if column and any(isinstance(v, bytes) for v in column[:1]):
            columns[i] = tuple(v.decode() if isinstance(v, bytes) else v for v in column)
    return columns


#: Prices calls: a list of ``(subject, model, input_tokens, output_tokens, created_at,
#: output_json)`` -> each one's cost, or ``None`` when it has no price. ``output_json`` is given
#: only when it holds a raw response body (``"raw"``), else ``None``.
UsagePricer = Callable[[list[tuple[Any, ...]]], list["float | None"]]


def read_score_columns(
    store: Store, run_id: str, *, usage: UsagePricer | None = None
) -> ScoreColumns:
    """The run's results and scores as :class:`ScoreColumns` (raises
    :class:`~assay.store.StoreError` for an unknown run).

    With ``usage``, each priced call (not failed, not cached, with token counts) is priced in
    the same pass over the results (``assay compare`` then reads each run's results once)."""
    import numpy as np

    mark = "?" if store.engine.dialect.name == "sqlite" else "%s"
    subjects: list[str] = []
    sample_ids: list[str] = []
    epochs: list[int] = []
    error_classes: list[str | None] = []
    position_of: dict[str, int] = {}
    names: dict[str, int] = {}
    result_parts: list[NDArray[np.int64]] = []
    order_parts: list[NDArray[np.int64]] = []
    scorer_parts: list[NDArray[np.int64]] = []
    value_parts: list[NDArray[np.float64]] = []
    graded_parts: list[NDArray[np.bool_]] = []
    cost_parts: list[NDArray[np.float64]] = []
    with paused_gc(), store._reading(f"read the scores of run {run_id!r}") as conn:
        store._require_run(conn, run_id)
        cursor = conn.connection.cursor()
        try:
            extra = (
                ", resolved_model, input_tokens, output_tokens, cached, error, created_at, "
                f"CASE WHEN output_json LIKE {mark} THEN output_json END"
                if usage is not None
                else ""
            )
            cursor.execute(
                f"SELECT id, subject, sample_id, epoch, error_class{extra} FROM results "
                f"WHERE run_id = {mark} ORDER BY subject, sample_id, epoch",
                ('%"raw"%', run_id) if usage is not None else (run_id,),
            )
            subject_names: dict[str, str] = {}
            while rows := cursor.fetchmany(_CHUNK):
                ids, subject, sample_id, epoch, error_class, *priced = _columns(
                    rows, 5 if usage is None else 12
                )
                n = len(rows)
                if usage is not None:
                    cost_parts.append(_prices(usage, subject, priced))
                start = len(sample_ids)
                position_of.update(zip(ids, range(start, start + n), strict=True))
                subjects.extend(map(subject_names.setdefault, subject, subject))
                sample_ids.extend(sample_id)
                epochs.extend(map(int, epoch))
                error_classes.extend(error_class)
            cursor.execute(
                f"SELECT result_id, position, scorer, value FROM scores WHERE run_id = {mark}",
                (run_id,),
            )
            while rows := cursor.fetchmany(_CHUNK):
                ids, positions, scorers, values = _columns(rows, 4)
                n = len(rows)
                result_parts.append(np.fromiter(map(position_of.get, ids, repeat(-1)), np.int64, n))
                order_parts.append(np.fromiter(positions, np.int64, n))
                for name in dict.fromkeys(scorers):
                    names.setdefault(name, len(names))
                scorer_parts.append(np.fromiter(map(names.__getitem__, scorers), np.int64, n))
                value_parts.append(np.array(values, dtype=np.float64))  # None becomes NaN
                graded_parts.append(
                    np.fromiter((v is not None for v in values), bool, n)
                    if None in values
                    else np.ones(n, bool)
                )
        finally:
            cursor.close()
    del position_of
    if result_parts:
        result = np.concatenate(result_parts)
        position = np.concatenate(order_parts)
        scorer = np.concatenate(scorer_parts)
        value = np.concatenate(value_parts)
        graded = np.concatenate(graded_parts)
        # A result written after the results were read (a running run) is left out with its
        # scores; the ``-1`` of its scores sorts them first.
        order = np.lexsort((position, result))
        order = order[np.searchsorted(result[order], 0) :]
        result, scorer, value, graded = result[order], scorer[order], value[order], graded[order]
    else:
        result = scorer = np.empty(0, np.int64)
        value, graded = np.empty(0), np.empty(0, bool)
    return ScoreColumns(
        subjects=subjects,
        sample_ids=sample_ids,
        epochs=epochs,
        error_classes=error_classes,
        scorer_names=list(names),
        score_result=result,
        score_scorer=scorer,
        score_value=value,
        score_graded=graded,
        costs=None if usage is None else np.concatenate([np.empty(0), *cost_parts]),
    )


def _prices(usage: UsagePricer, subjects: Sequence[str], columns: list[Any]) -> NDArray[np.float64]:
    """Each result's cost (NaN: not priced); failed, cached and token-less calls are not."""
    import numpy as np

    model, tin, tout, cached, error, created, body = columns
    rows = [
        i
        for i, (e, c, a, b) in enumerate(zip(error, cached, tin, tout, strict=True))
        if not (e or c or (a is None and b is None))
    ]
    calls = [(subjects[i], model[i], tin[i], tout[i], created[i], body[i]) for i in rows]
    out = np.full(len(subjects), np.nan)
    out[rows] = [np.nan if cost is None else cost for cost in usage(calls)]
    return out


def read_sample_labels(store: Store, run_id: str) -> dict[str, tuple[dict[str, Any], str | None]]:
    """:meth:`~assay.store.Store.sample_labels` (sample id -> (metadata, cluster), in dataset
    order), read in chunks through the driver's cursor: the same mapping, the same sharing of
    one parsed dict among samples with equal metadata text and of one string per cluster."""
    from assay.store import codec

    mark = "?" if store.engine.dialect.name == "sqlite" else "%s"
    parsed: dict[str | None, dict[str, Any]] = {}
    names: dict[str | None, str | None] = {}
    labels: dict[str, tuple[dict[str, Any], str | None]] = {}
    with paused_gc(), store._reading(f"read the samples of run {run_id!r}") as conn:
        store._require_run(conn, run_id)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(
                "SELECT id, metadata_json, cluster FROM samples "
                f"WHERE run_id = {mark} ORDER BY position",
                (run_id,),
            )
            while rows := cursor.fetchmany(_CHUNK):
                ids, metas, clusters = _columns(rows, 3)
                for meta in dict.fromkeys(metas).keys() - parsed.keys():
                    parsed[meta] = codec.loads(meta) or {}
                pairs = zip(
                    map(parsed.__getitem__, metas),
                    map(names.setdefault, clusters, clusters),
                    strict=True,
                )
                labels.update(zip(ids, pairs, strict=True))
        finally:
            cursor.close()
    return labels
