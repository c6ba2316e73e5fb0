"""A run's scores as plain columns, read with two flat queries (issue 20).

``assay show`` and ``assay compare`` need, per result, its subject, sample id, epoch and whether
it failed, and per score its scorer and value; never outputs. Reading them as one join ordered
by result made SQLite look up every result's scores one at a time and gave back a Python row
per score. Here the results (in the order of their unique key: subject, sample id, epoch) and
the run's scores are read separately through the driver's own cursor, in chunks, and joined on
the result id in memory: the score columns end up as numpy arrays, the result columns as lists
of the strings the driver returned. Both reads are answered from covering indexes (migration
0011: ``ix_results_run_id_covering``, ``ix_scores_run_id_covering``) without reading a table
row; pricing the calls, which needs token counts and response bodies, reads the rows only when
the price book has a price for one of the run's models (:func:`read_score_columns`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

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


def _columns(rows: Sequence[Any], width: int) -> list[list[Any]]:
    """Rows as columns; text a driver returned as bytes decoded. One ``map(itemgetter(i))``
    per column: a third of the time of transposing with ``zip(*rows)``."""
    columns = [list(map(itemgetter(i), rows)) for i in range(width)]
    for i, column in enumerate(columns):
        if column and isinstance(column[0], bytes):
            columns[i] = [v.decode() if isinstance(v, bytes) else v for v in column]
    return columns


class UsagePricer(Protocol):
    """Prices calls (:func:`assay.analyse.run_costs.usage_pricer`)."""

    def __call__(self, calls: list[tuple[Any, ...]]) -> list[float | None]:
        """A list of ``(subject, model, input_tokens, output_tokens, created_at, output_json)``
        -> each one's cost, or ``None`` when it has no price. ``output_json`` is given only
        when it holds a raw response body (``"raw"``), else ``None``."""
        ...

    def prices_any(self, keys: list[tuple[Any, ...]]) -> bool:
        """Whether any call of these ``(subject, model, created_at)`` could have a price
        (``False`` promises that every one would be ``None``)."""
        ...


def read_score_columns(
    store: Store, run_id: str, *, usage: UsagePricer | None = None
) -> ScoreColumns:
    """The run's results and scores as :class:`ScoreColumns` (raises
    :class:`~assay.store.StoreError` for an unknown run).

    With ``usage``, each priced call (not failed, not cached, with token counts) is priced too.
    The results' keys and scores are read from covering indexes; the columns pricing needs
    (tokens, the ``"raw"`` test on the output) live only in the table rows, so they are read,
    in a third query, only when ``usage`` can price one of the run's (subject, model, day)."""
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
    costs = None
    with paused_gc(), store._reading(f"read the scores of run {run_id!r}") as conn:
        store._require_run(conn, run_id)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(
                "SELECT id, subject, sample_id, epoch, error_class FROM results "
                f"WHERE run_id = {mark} ORDER BY subject, sample_id, epoch",
                (run_id,),
            )
            subject_names: dict[str, str] = {}
            while rows := cursor.fetchmany(_CHUNK):
                ids, subject, sample_id, epoch, error_class = _columns(rows, 5)
                start = len(sample_ids)
                position_of.update(zip(ids, range(start, start + len(rows)), strict=True))
                subjects.extend(map(subject_names.setdefault, subject, subject))
                sample_ids.extend(sample_id)
                epochs.extend(map(int, epoch))
                error_classes.extend(error_class)
            if usage is not None:
                costs = _read_costs(cursor, mark, run_id, usage, position_of)
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
        # scores; the ``-1`` of its scores sorts them first. One stable sort of a combined
        # key: the order of ``np.lexsort((position, result))``, in two thirds of the time.
        if int(position.min()) >= 0:
            order = np.argsort(result * (int(position.max()) + 1) + position, kind="stable")
        else:  # positions are a result's score indices, never negative when written by assay
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
        costs=costs,
    )


def _read_costs(
    cursor: Any, mark: str, run_id: str, usage: UsagePricer, position_of: dict[str, int]
) -> NDArray[np.float64]:
    """Each read result's cost (NaN: not priced); failed, cached and token-less calls are not
    priced. The run's distinct (subject, model, created_at) come from the results' covering
    index; when ``usage`` prices none of them, no table row is read."""
    import numpy as np

    out = np.full(len(position_of), np.nan)
    cursor.execute(
        f"SELECT DISTINCT subject, resolved_model, created_at FROM results WHERE run_id = {mark}",
        (run_id,),
    )
    if not usage.prices_any(list(zip(*_columns(cursor.fetchall(), 3), strict=True))):
        return out
    cursor.execute(
        "SELECT id, subject, resolved_model, input_tokens, output_tokens, created_at, "
        f"CASE WHEN output_json LIKE {mark} THEN output_json END FROM results "
        f"WHERE run_id = {mark} AND NOT cached AND (error IS NULL OR error = '') "
        "AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)",
        ('%"raw"%', run_id),
    )
    while rows := cursor.fetchmany(_CHUNK):
        ids, *call = _columns(rows, 7)
        where = np.fromiter(map(position_of.get, ids, repeat(-1)), np.int64, len(ids))
        calls = list(zip(*call, strict=True))
        kept = np.flatnonzero(where >= 0)  # a result written after the results were read
        if kept.size < len(calls):  # (a running run) is left out
            calls = [calls[k] for k in kept.tolist()]
        out[where[kept]] = [np.nan if cost is None else cost for cost in usage(calls)]
    return out


def read_sample_labels(store: Store, run_id: str) -> dict[str, tuple[dict[str, Any], str | None]]:
    """:meth:`~assay.store.Store.sample_labels` (sample id -> (metadata, cluster), in dataset
    order), read in chunks through the driver's cursor: the same mapping, the same sharing of
    one parsed dict among samples with equal metadata text and of one string per cluster.

    Samples with equal metadata text and cluster share one ``(metadata, cluster)`` tuple too:
    100,000 tuples fewer for the garbage collector to walk, and ``assay compare`` works out
    slice and cluster labels once per distinct tuple (:mod:`assay.analyse.compare_groups`)."""
    from assay.store import codec

    mark = "?" if store.engine.dialect.name == "sqlite" else "%s"
    parsed: dict[str | None, dict[str, Any]] = {}
    names: dict[str | None, str | None] = {}
    entries: dict[tuple[str | None, str | None], tuple[dict[str, Any], str | None]] = {}
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
                keys = list(zip(metas, clusters, strict=True))
                for meta, cluster in dict.fromkeys(keys).keys() - entries.keys():
                    if meta not in parsed:
                        parsed[meta] = codec.loads(meta) or {}
                    entries[meta, cluster] = (parsed[meta], names.setdefault(cluster, cluster))
                labels.update(zip(ids, map(entries.__getitem__, keys), strict=True))
        finally:
            cursor.close()
    return labels
