"""The run summary cache and the paginated runs list, read with a few SQL queries.

A run's summary (what ``assay show`` prints: every metric with its interval, per subject,
scorer and slice) is computed from all of its results. The runs list showed one per run and
recomputed them all on every load (8–10 s of CPU for 18 runs and 75,000 results). Here a
summary is stored once, as JSON in ``run_summaries`` together with the run's result and error
counts, and read back with the page.

**Invalidation: the row is deleted on write.** Every :class:`~assay.store.Store` method that
changes what a summary depends on (``add_results``, ``put_cached`` with results,
``delete_errors``, ``finish_run``, ``resume_run``) deletes the run's row in the same
transaction (:func:`forget_summary`). Nothing else writes results or scores. A row is therefore
either current or absent, and reading it costs nothing beyond the page query; a fingerprint
(result counts and newest ``created_at``) would have cost a scan of every listed run's results
on each load, which is what the cache exists to avoid. Two guards close the remaining races:
only runs that are not running are cached (a running run is written to and is recomputed on
read), and a row records the run's ``finished_at``, so a row written by a reader that raced
with a resume (which clears ``finished_at``) no longer matches and is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from assay.store import codec
from assay.store.engine import WRITE_OPTION
from assay.store.run_info import RunInfo, effective_status, run_columns, run_info_from_row
from assay.store.tables import results, run_summaries, runs

if TYPE_CHECKING:
    from assay.store.repository import Store

#: How the runs list can be sorted (``n`` is the planned number of results).
RunSort = Literal["started", "name", "n", "status"]
SORTS: dict[str, Any] = {
    "started": runs.c.started_at,
    "name": runs.c.name,
    "n": runs.c.n_planned,
    "status": runs.c.status,
}
_TIEBREAK = (runs.c.started_at.desc(), runs.c.created_at.desc(), runs.c.id.desc())
_LIVE = ("running", "interrupted")


@dataclass(frozen=True)
class CachedSummary:
    """A stored summary: the JSON written by the analysis layer, and the run's counts."""

    run_id: str
    finished_at: datetime | None
    n_results: int
    n_errors: int
    data: dict[str, Any]


def forget_summary(conn: Connection, run_id: str) -> None:
    """Delete the run's cached summary (called inside the Store's write transactions).

    Sent to the driver as written: building and compiling the ``delete()`` construct each
    time cost about 100,000 instructions, a third of what storing a batch of results costs
    beyond its rows."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    conn.exec_driver_sql(f"DELETE FROM run_summaries WHERE run_id = {mark}", (run_id,))


def _same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) < 1e-3


def read_summaries(store: Store, infos: list[RunInfo]) -> dict[str, CachedSummary]:
    """The cached summaries of ``infos`` that are current (see the module docstring)."""
    wanted = {info.id: info for info in infos if info.status != "running"}
    out: dict[str, CachedSummary] = {}
    ids = list(wanted)
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = select(run_summaries).where(
                run_summaries.c.run_id.in_(ids[start : start + 500])
            )
            for row in conn.execute(query):
                if not _same_time(row.finished_at, wanted[row.run_id].finished_at):
                    continue
                out[row.run_id] = CachedSummary(
                    row.run_id,
                    row.finished_at,
                    row.n_results,
                    row.n_errors,
                    codec.loads(row.summary_json),
                )
    return out


def write_summary(store: Store, info: RunInfo, data: dict[str, Any]) -> bool:
    """Store ``data`` as the summary of the run ``info`` describes (its counts, as read before
    the summary was computed). A running run is not cached; ``False`` then."""
    if info.status == "running":
        return False
    row = {
        "run_id": info.id,
        "finished_at": info.finished_at,
        "n_results": info.n_results,
        "n_errors": info.n_errors,
        "summary_json": codec.dumps(data),
        "computed_at": datetime.now(UTC),
    }
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        current = conn.execute(
            select(runs.c.status, runs.c.finished_at).where(runs.c.id == info.id)
        ).first()
        if current is None or current.status == "running":
            return False  # deleted, or resumed while the summary was being computed
        if not _same_time(current.finished_at, info.finished_at):
            return False
        forget_summary(conn, info.id)
        conn.execute(insert(run_summaries), [row])
    return True


def read_labels(store: Store, run_ids: list[str]) -> dict[str, Any]:
    """The cached label parts of the runs that have a cache row (see
    :func:`assay.analyse.run_labels.label_runs`, which keys them by the run's neighbours)."""
    out: dict[str, Any] = {}
    try:
        with store.engine.connect() as conn:
            for start in range(0, len(run_ids), 500):
                query = select(run_summaries.c.run_id, run_summaries.c.label_json).where(
                    run_summaries.c.run_id.in_(run_ids[start : start + 500]),
                    run_summaries.c.label_json.is_not(None),
                )
                out.update((rid, codec.loads(text)) for rid, text in conn.execute(query))
    except DBAPIError as error:
        if not _no_label_column(error):
            raise
        return {}
    return out


def _no_label_column(error: DBAPIError) -> bool:
    """A store created by a development build of revision 0009 from before ``label_json``
    was added: labels are then computed every time instead of cached."""
    return "label_json" in str(error.orig)


def write_labels(store: Store, labels: dict[str, Any]) -> None:
    """Keep label parts in the runs' cache rows (a run without a row is left alone)."""
    if not labels:
        return
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    try:
        with writer.begin() as conn:
            for run_id, data in labels.items():
                conn.execute(
                    update(run_summaries)
                    .where(run_summaries.c.run_id == run_id)
                    .values(label_json=codec.dumps(data))
                )
    except DBAPIError as error:
        if not _no_label_column(error):
            raise


def _filtered(
    query: Any, name: str | None, subject: str | None, status: str | None, exact: str | None
) -> Any:
    if exact is not None:
        query = query.where(runs.c.name == exact)
    if name:
        query = query.where(func.lower(runs.c.name).contains(name.lower(), autoescape=True))
    if subject:
        query = query.where(
            func.lower(runs.c.subjects_json).contains(subject.lower(), autoescape=True)
        )
    if status in _LIVE:
        query = query.where(runs.c.status.in_(_LIVE))
    elif status:
        query = query.where(runs.c.status == status)
    return query


_COLUMNS = (
    *run_columns(),
    run_summaries.c.n_results.label("cached_results"),
    run_summaries.c.n_errors.label("cached_errors"),
    run_summaries.c.finished_at.label("cached_finished"),
)


def page_runs(
    store: Store,
    *,
    name: str | None = None,
    subject: str | None = None,
    status: str | None = None,
    sort: RunSort = "started",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    eval_name: str | None = None,
) -> tuple[list[RunInfo], int]:
    """One page of runs, filtered (name and subject substrings, status), sorted and paged in
    SQL, and how many runs match. Result counts come from the summary cache where it is
    current, else from one count over the page's runs only.

    ``interrupted`` is not stored (it is a ``running`` run whose lease expired), so filtering
    on ``running`` or ``interrupted`` reads the runs stored as either and keeps those whose
    effective status matches; there are never many. ``eval_name`` keeps one eval's runs."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {sorted(SORTS)}")
    key = SORTS[sort]
    order = (key.desc() if descending else key.asc(), *_TIEBREAK)
    joined = runs.outerjoin(run_summaries, run_summaries.c.run_id == runs.c.id)
    base = _filtered(select(*_COLUMNS).select_from(joined), name, subject, status, eval_name)
    with store.engine.connect() as conn:
        if status in _LIVE:
            rows = [
                r
                for r in conn.execute(base.order_by(*order))
                if effective_status(r.status, r.lease) == status
            ]
            total, rows = len(rows), rows[offset : offset + limit]
        else:
            count = _filtered(
                select(func.count()).select_from(runs), name, subject, status, eval_name
            )
            total = int(conn.execute(count).scalar_one())
            rows = list(conn.execute(base.order_by(*order).limit(limit).offset(offset)))
        counts: dict[str, tuple[int, int]] = {}
        stale = [
            r.id
            for r in rows
            if r.cached_results is None or not _same_time(r.cached_finished, r.finished_at)
        ]
        if stale:
            query = (
                select(results.c.run_id, func.count(), func.count(results.c.error))
                .where(results.c.run_id.in_(stale))
                .group_by(results.c.run_id)
            )
            counts = {rid: (n, n_err) for rid, n, n_err in conn.execute(query)}
    infos = []
    for r in rows:
        if r.id in stale or r.status == "running":
            n_results, n_errors = counts.get(r.id, (0, 0))
        else:
            n_results, n_errors = r.cached_results, r.cached_errors
        infos.append(run_info_from_row(r, n_results, n_errors))
    return infos, total


@dataclass(frozen=True)
class RunChoice:
    """A run as a picker lists it."""

    id: str
    name: str
    status: str
    started_at: datetime


def run_choices(store: Store, limit: int = 200) -> list[RunChoice]:
    """The newest runs for a picker (id, name, stored status, start): one query, no counts."""
    query = (
        select(runs.c.id, runs.c.name, runs.c.status, runs.c.started_at)
        .order_by(*_TIEBREAK)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [RunChoice(r.id, r.name, r.status, r.started_at) for r in conn.execute(query)]


def runs_of_eval(store: Store, name: str) -> list[tuple[str, datetime]]:
    """(id, started_at) of every run of one eval, oldest first."""
    query = (
        select(runs.c.id, runs.c.started_at)
        .where(runs.c.name == name)
        .order_by(runs.c.started_at, runs.c.created_at, runs.c.id)
    )
    with store.engine.connect() as conn:
        return [(r.id, r.started_at) for r in conn.execute(query)]
