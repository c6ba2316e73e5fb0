"""The :class:`Store`: every read and write of runs goes through it.

Writes are short transactions built client-side (result ids are hashes of the natural key, so a
batch of results and scores is two ``executemany`` inserts with no per-row round trip). A result
whose key (run, subject, sample, epoch) is already stored is ignored, together with its scores:
the first write wins, so replaying a batch after a crash or a resume is harmless.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, Insert, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from assay.core import (
    JudgeCertificate,
    Output,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    StoreError,
)
from assay.store import codec, leases
from assay.store.engine import (
    WRITE_OPTION,
    check_backend,
    default_db_url,
    display_url,
    make_engine,
    normalise_db_url,
    read_only_sqlite_url,
    sqlite_file,
)
from assay.store.migrate import ensure_schema
from assay.store.run_info import RUN_STATUSES, RunInfo, effective_status
from assay.store.summaries import forget_summary
from assay.store.tables import judge_certificates, manifests, response_cache, runs, scores
from assay.store.tables import results as results_t
from assay.store.tables import samples as samples_t

# Most ids in one IN (...) list: well under SQLite's bound-parameter limit (999 in old builds).
_MAX_IN = 500
#: The response-cache lookup on SQLite (see Store.get_cached).
_CACHE_SQL = "SELECT output_json FROM response_cache WHERE key = ?"
# Samples inserted per statement when a run is created.
_SAMPLE_CHUNK = 2000
_LIST_HINT = "run `assay runs` to list run ids"
_LATEST = re.compile(r"(?:latest|last)(?:~(\d+))?")
_NEWEST_FIRST = (runs.c.started_at.desc(), runs.c.created_at.desc(), runs.c.id.desc())
_RUN_COLUMNS = (
    runs.c.id,
    runs.c.name,
    runs.c.status,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.fingerprint,
    runs.c.spec_hash,
    runs.c.subjects_json,
    runs.c.n_planned,
    leases.lease_column(),
)


#: A response-cache entry: (key, provider, model, output).
CacheEntry = tuple[str, str, str, Output]


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(error: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement dump."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]


class Store:
    """The persistent store of runs: a SQLite file by default, PostgreSQL by URL.

    ``url`` is a SQLAlchemy URL or a filesystem path (see :func:`normalise_db_url`); ``None``
    means :func:`default_db_url`. ``engine_kwargs`` go to :func:`sqlalchemy.create_engine`, and
    ``connect_args`` to the DBAPI ``connect()`` (for example
    ``{"options": "-csearch_path=myschema"}`` on PostgreSQL). Opening migrates the database to
    the current schema. A store is safe to share between threads. ``create=False`` (what
    read-only commands use) refuses a SQLite path with no store instead of creating one, and
    opens a store it may not write to (a read-only folder) read-only. ``lease_ttl`` is how
    long the lease of a run this Store creates or resumes lasts without renewal (default
    ``$ASSAY_RUN_LEASE_TTL`` or 30 s; :mod:`assay.store.leases`).
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        engine_kwargs: dict[str, Any] | None = None,
        connect_args: dict[str, Any] | None = None,
        create: bool = True,
        lease_ttl: float | None = None,
    ) -> None:
        #: Seconds a run's lease lasts without renewal (see :mod:`assay.store.leases`).
        self.lease_ttl = lease_ttl if lease_ttl is not None else leases.lease_ttl()
        self._leased: set[str] = set()  # runs whose lease this Store claimed
        self._url = normalise_db_url(os.fspath(url)) if url is not None else default_db_url()
        check_backend(self._url)
        self._host = socket.gethostname()
        kwargs = dict(engine_kwargs or {})
        if connect_args:
            kwargs["connect_args"] = {**kwargs.get("connect_args", {}), **connect_args}
        engine: Engine | None = None
        try:
            path = sqlite_file(self._url)
            engine_url = self._url
            if path is not None and not create:
                # Reading only (``assay runs``, ``show``): never create a store to read from.
                if not path.is_file():
                    raise StoreError(
                        f"no store at {path}",
                        fix="run `assay run SPEC` here to create one, or point --db (or "
                        "ASSAY_DB) at an existing store",
                    )
                if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
                    # A store in a read-only folder: WAL would need to create files beside it.
                    engine_url = read_only_sqlite_url(path)
            elif path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = make_engine(engine_url, **kwargs)
            ensure_schema(engine)
        except StoreError:
            if engine is not None:
                engine.dispose()
            raise
        except (SQLAlchemyError, OSError) as error:
            if engine is not None:
                engine.dispose()
            raise StoreError(
                f"cannot open the store at {self.url}: {_reason(error)}",
                fix="check the database URL (ASSAY_DB or --db) and that the database is reachable",
            ) from error
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        # ON CONFLICT DO NOTHING only guards against a concurrent writer of the same keys;
        # add_results filters out stored keys itself, so that their scores are skipped too.
        results_ignoring = self._insert_ignoring_duplicates(results_t)
        self._insert_results = (
            results_ignoring if results_ignoring is not None else insert(results_t)
        )
        scores_ignoring = self._insert_ignoring_duplicates(scores)
        self._insert_scores = scores_ignoring if scores_ignoring is not None else insert(scores)
        self._raw_sql: dict[tuple[str, tuple[str, ...]], str] = {}
        # SQLite: cache lookups (one per model call) go through one DBAPI connection of their
        # own, in autocommit, under a lock; see get_cached.
        self._cache_reader: Any = None
        self._cache_lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL, with any password masked."""
        return display_url(self._url)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for read-only analysis queries against the tables)."""
        return self._engine

    def close(self) -> None:
        """Give up the run leases this Store claimed and release every pooled connection."""
        for run_id in list(self._leased):
            self.release_lease(run_id)
        with self._cache_lock:
            if self._cache_reader is not None:
                self._cache_reader.close()
                self._cache_reader = None
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _insert_ignoring_duplicates(self, table: Any) -> Insert | None:
        """``INSERT … ON CONFLICT DO NOTHING`` where the dialect has it."""
        dialect = self._engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        return None

    def _bulk_insert(self, conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
        """``executemany`` of ``rows`` into ``table``, ignoring key conflicts.

        On SQLite and PostgreSQL the statement is written once per column set and handed to the
        driver directly: SQLAlchemy's per-row parameter processing cost about 50 µs a result,
        half the cost of storing it. Timestamps are converted here as the column type would
        (naive UTC text on SQLite). Other dialects go through SQLAlchemy.
        """
        dialect = self._engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            stmt = self._insert_results if table is results_t else self._insert_scores
            conn.execute(stmt, rows)
            return
        columns = tuple(rows[0])
        key = (table.name, columns)
        sql = self._raw_sql.get(key)
        if sql is None:
            marks = ", ".join(f":{c}" if dialect == "sqlite" else f"%({c})s" for c in columns)
            sql = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) "
                "ON CONFLICT DO NOTHING"
            )
            self._raw_sql[key] = sql
        if dialect == "sqlite" and "created_at" in columns:
            stamp = rows[0]["created_at"]
            text = stamp.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            rows = [
                {**row, "created_at": text} if row["created_at"] is stamp else row for row in rows
            ]
        conn.exec_driver_sql(sql, rows)

    @contextmanager
    def _database_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            raise StoreError(f"cannot {action} in {self.url}: {_reason(error)}") from error

    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        """A connection for reads; database errors become :class:`StoreError`."""
        with self._database_errors(action), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _writing(self, action: str) -> Iterator[Connection]:
        """A write transaction (committed on exit); database errors become StoreError."""
        with self._database_errors(action), self._writer.begin() as conn:
            yield conn

    def _unknown_run(self, run_id: str) -> StoreError:
        return StoreError(f"no run with id {run_id!r} in {self.url}", fix=_LIST_HINT)

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise self._unknown_run(run_id)

    # -- writing -------------------------------------------------------------------------------

    def create_run(
        self,
        manifest: RunManifest,
        samples: Iterable[Sample],
        *,
        n_planned: int,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Record a new run (status ``running``, its lease held by this process for
        :func:`~assay.store.leases.lease_ttl`), its manifest, the spec it came from and its
        samples, in one transaction.

        ``samples`` may be any iterable (a generator too): they are read once and inserted
        ``_SAMPLE_CHUNK`` at a time, so only one chunk's rows are ever in memory.
        """
        run_id = manifest.run_id
        run_row = {
            "id": run_id,
            "name": manifest.name,
            "status": "running",
            "started_at": manifest.started_at,
            "finished_at": manifest.finished_at,
            "fingerprint": manifest.fingerprint,
            "spec_hash": manifest.spec_hash,
            "subjects_json": codec.dumps([s.name for s in manifest.subjects]),
            "n_planned": n_planned,
            "pid": os.getpid(),
            "hostname": self._host,
            "created_at": _now(),
        }
        manifest_row = {
            "run_id": run_id,
            "manifest_json": manifest.model_dump_json(),
            "spec_json": None if spec is None else codec.dumps(spec),
        }
        seen: set[str] = set()
        with self._database_errors(f"create run {run_id!r}"):
            try:
                with self._writer.begin() as conn:
                    conn.execute(insert(runs), run_row)
                    leases.claim(conn, run_id, self.lease_ttl)
                    conn.execute(insert(manifests), manifest_row)
                    stream = iter(samples)
                    position = 0
                    while chunk := list(islice(stream, _SAMPLE_CHUNK)):
                        rows = []
                        for sample in chunk:
                            if sample.id in seen:
                                # Raised inside the transaction: nothing of the run is stored.
                                raise StoreError(
                                    f"cannot create run {run_id!r}: sample id {sample.id!r} "
                                    "appears twice",
                                    fix="give every sample of a dataset a distinct id",
                                )
                            seen.add(sample.id)
                            rows.append(codec.sample_row(run_id, position, sample))
                            position += 1
                        conn.execute(insert(samples_t), rows)
                self._leased.add(run_id)
            except IntegrityError as error:
                raise StoreError(
                    f"cannot create run {run_id!r} in {self.url}: {_reason(error)}",
                    fix="run ids must be unique; start a new run instead of reusing an id",
                ) from error

    def add_results(
        self,
        run_id: str,
        results: Sequence[SampleResult],
        *,
        cache_entries: Sequence[CacheEntry] = (),
    ) -> None:
        """Store a batch of results with their scores, in one transaction.

        A result whose (subject, sample_id, epoch) is already stored for the run, or appears
        earlier in the same batch, is ignored with its scores: the first write wins.
        ``cache_entries`` (key, provider, model, output) are added to the response cache in the
        same transaction, so a cached response and the result that used it land together.
        """
        if cache_entries:
            self.put_cached(cache_entries, _results=(run_id, results))
            return
        if not results:
            return
        rows, score_rows = codec.result_rows(run_id, results, _now())
        with self._database_errors(f"store results of run {run_id!r}"):
            try:
                with self._writer.begin() as conn:
                    inserted = self._insert_new_results(conn, rows)
                    if len(inserted) < len(rows):
                        score_rows = [s for s in score_rows if s["result_id"] in inserted]
                    if score_rows:
                        self._bulk_insert(conn, scores, score_rows)
                    if inserted:
                        forget_summary(conn, run_id)
            except IntegrityError:
                with self._engine.connect() as conn:
                    self._require_run(conn, run_id)
                raise

    def _insert_new_results(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert the rows whose id is not stored yet; the ids of those inserted.

        One SELECT of the batch's ids, then one executemany. (``INSERT … RETURNING`` would save
        the SELECT, but SQLAlchemy sends it as one long multi-row statement that psycopg
        re-parses on every call, which made PostgreSQL writes ~60% slower; on SQLite the
        two were within 10%.)
        """
        ids = [row["id"] for row in rows]
        stored: set[str] = set()
        for start in range(0, len(ids), _MAX_IN):
            chunk = ids[start : start + _MAX_IN]
            query = select(results_t.c.id).where(results_t.c.id.in_(chunk))
            stored.update(conn.execute(query).scalars())
        rows = [row for row in rows if row["id"] not in stored]
        if rows:
            self._bulk_insert(conn, results_t, rows)
        return {row["id"] for row in rows}

    def put_cached(
        self,
        entries: Sequence[CacheEntry],
        *,
        _results: tuple[str, Sequence[SampleResult]] | None = None,
    ) -> None:
        """Add responses to the cache (an existing key keeps its first response)."""
        now = _now()
        rows: dict[str, dict[str, Any]] = {}
        for key, provider, model, output in entries:
            rows.setdefault(
                key,
                {
                    "key": key,
                    "provider": provider,
                    "model": model,
                    "output_json": output.model_dump_json(),
                    "created_at": now,
                },
            )
        with self._database_errors("write the response cache"), self._writer.begin() as conn:
            stored: set[str] = set()
            keys = list(rows)
            for start in range(0, len(keys), _MAX_IN):
                chunk = keys[start : start + _MAX_IN]
                query = select(response_cache.c.key).where(response_cache.c.key.in_(chunk))
                stored.update(conn.execute(query).scalars())
            new = [row for key, row in rows.items() if key not in stored]
            if new:
                conn.execute(insert(response_cache), new)
            if _results is not None and _results[1]:
                run_id, results = _results
                result_rows, score_rows = codec.result_rows(run_id, results, now)
                inserted = self._insert_new_results(conn, result_rows)
                if len(inserted) < len(result_rows):
                    score_rows = [s for s in score_rows if s["result_id"] in inserted]
                if score_rows:
                    self._bulk_insert(conn, scores, score_rows)
                if inserted:
                    forget_summary(conn, run_id)

    def get_cached(self, key: str) -> Output | None:
        """The cached response for a request key, or ``None``.

        Called once per model call, so on SQLite it skips SQLAlchemy's per-statement work (a
        pooled connection checked out, a transaction begun and rolled back, the statement
        compiled): one DBAPI connection kept for it, in autocommit (the engine's connections
        have ``isolation_level=None``), guarded by a lock. Measured on the harness benchmark:
        the lookup was about 40% of assay's CPU per call.
        """
        if self._engine.dialect.name == "sqlite":
            try:
                with self._cache_lock:
                    if self._cache_reader is None:
                        self._cache_reader = self._engine.raw_connection()
                    cursor = self._cache_reader.cursor()
                    try:
                        row = cursor.execute(_CACHE_SQL, (key,)).fetchone()
                    finally:
                        cursor.close()
            except sqlite3.Error as error:
                raise StoreError(
                    f"cannot read the response cache in {self.url}: {error}",
                    fix="check that the database file is readable and not corrupt",
                ) from error
            return None if row is None else Output.model_validate_json(row[0])
        query = select(response_cache.c.output_json).where(response_cache.c.key == key)
        with self._reading("read the response cache") as conn:
            text = conn.execute(query).scalar()
        return None if text is None else Output.model_validate_json(text)

    def delete_errors(self, run_id: str) -> int:
        """Delete the run's failed results (so a resume retries them); how many were deleted."""
        failed = select(results_t.c.id).where(
            results_t.c.run_id == run_id, results_t.c.error_class.is_not(None)
        )
        with self._writing(f"clear failed results of run {run_id!r}") as conn:
            ids = list(conn.execute(failed).scalars())
            for start in range(0, len(ids), _MAX_IN):
                chunk = ids[start : start + _MAX_IN]
                conn.execute(delete(scores).where(scores.c.result_id.in_(chunk)))
                conn.execute(delete(results_t).where(results_t.c.id.in_(chunk)))
            forget_summary(conn, run_id)
        return len(ids)

    def resolved_models(self, run_id: str) -> dict[str, tuple[list[str], list[str]]]:
        """Per subject, the distinct resolved models and system fingerprints its stored results
        report, in order of first appearance."""
        query = (
            select(results_t.c.subject, results_t.c.resolved_model, results_t.c.system_fingerprint)
            .where(results_t.c.run_id == run_id, results_t.c.error_class.is_(None))
            .group_by(
                results_t.c.subject, results_t.c.resolved_model, results_t.c.system_fingerprint
            )
            .order_by(func.min(results_t.c.created_at), func.min(results_t.c.id))
        )
        out: dict[str, tuple[list[str], list[str]]] = {}
        with self._reading(f"read run {run_id!r}") as conn:
            for subject, model, fingerprint in conn.execute(query):
                models, fingerprints = out.setdefault(subject, ([], []))
                if model and model not in models:
                    models.append(model)
                if fingerprint and fingerprint not in fingerprints:
                    fingerprints.append(fingerprint)
        return out

    def find_runs(self, *, spec_hash: str) -> list[RunInfo]:
        """Runs made from the same spec (same ``spec_hash``), newest first."""
        query = select(*_RUN_COLUMNS).where(runs.c.spec_hash == spec_hash).order_by(*_NEWEST_FIRST)
        with self._reading("find runs") as conn:
            return self._run_infos(conn, conn.execute(query).all())

    def finish_run(self, run_id: str, manifest: RunManifest, status: str) -> None:
        """Replace the run's manifest (now with resolved models and ``finished_at``) and set its
        final status and finish time (the manifest's, else now), and drop its lease.

        Refused (:class:`~assay.store.leases.RunLeasedError`) when another process holds the
        run's lease: it took the run over after this one's lease expired."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {RUN_STATUSES}")
        if manifest.run_id != run_id:
            raise ValueError(f"manifest is of run {manifest.run_id!r}, not {run_id!r}")
        values = {
            "status": status,
            "finished_at": manifest.finished_at or _now(),
            "name": manifest.name,
            "fingerprint": manifest.fingerprint,
            "spec_hash": manifest.spec_hash,
            "subjects_json": codec.dumps([s.name for s in manifest.subjects]),
        }
        with self._writing(f"finish run {run_id!r}") as conn:
            leases.release(conn, run_id)
            updated = conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if updated.rowcount == 0:
                raise self._unknown_run(run_id)
            forget_summary(conn, run_id)
            conn.execute(
                update(manifests)
                .where(manifests.c.run_id == run_id)
                .values(manifest_json=manifest.model_dump_json())
            )
        self._leased.discard(run_id)

    def resume_run(self, run_id: str) -> None:
        """Mark a stored run as ``running`` again, owned by this process (to resume it).

        Claims the run's lease atomically first: a run whose lease another live process holds
        is refused with :class:`~assay.store.leases.RunLeasedError`, naming that process and
        when its lease expires; an expired lease (a killed process, on any host) is taken."""
        values = {
            "status": "running",
            "finished_at": None,
            "pid": os.getpid(),
            "hostname": self._host,
        }
        with self._writing(f"resume run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            leases.claim(conn, run_id, self.lease_ttl)
            updated = conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if updated.rowcount == 0:
                raise self._unknown_run(run_id)
            forget_summary(conn, run_id)
        self._leased.add(run_id)

    def renew_lease(self, run_id: str) -> bool:
        """Extend this process's lease of ``run_id`` by the TTL (the runner's heartbeat);
        ``False`` when the lease is no longer ours."""
        with self._writing(f"renew the lease of run {run_id!r}") as conn:
            return leases.renew(conn, run_id, self.lease_ttl)

    def run_lease(self, run_id: str) -> leases.RunLease | None:
        """The run's lease as stored (``None``: no process claims it)."""
        with self._reading(f"read the lease of run {run_id!r}") as conn:
            return leases.read_lease(conn, run_id)

    def release_lease(self, run_id: str) -> None:
        """Give up this process's lease of ``run_id`` (a ``running`` run then reads as
        ``interrupted``); nothing happens when another process holds it."""
        self._leased.discard(run_id)
        with contextlib.suppress(StoreError), self._writing(f"release run {run_id!r}") as conn:
            leases.release(conn, run_id)

    # -- runs ----------------------------------------------------------------------------------

    def _run_infos(self, conn: Connection, rows: Sequence[Any]) -> list[RunInfo]:
        ids = [row.id for row in rows]
        counts: dict[str, tuple[int, int]] = {}
        for start in range(0, len(ids), _MAX_IN):
            query = (
                select(results_t.c.run_id, func.count(), func.count(results_t.c.error))
                .where(results_t.c.run_id.in_(ids[start : start + _MAX_IN]))
                .group_by(results_t.c.run_id)
            )
            counts.update((rid, (n, n_err)) for rid, n, n_err in conn.execute(query))
        infos = []
        for row in rows:
            n_results, n_errors = counts.get(row.id, (0, 0))
            infos.append(
                RunInfo(
                    id=row.id,
                    name=row.name,
                    status=effective_status(row.status, row.lease),
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                    fingerprint=row.fingerprint,
                    spec_hash=row.spec_hash,
                    subjects=codec.loads(row.subjects_json),
                    n_results=n_results,
                    n_errors=n_errors,
                    n_planned=row.n_planned,
                )
            )
        return infos

    def list_runs(self, limit: int | None = None) -> list[RunInfo]:
        """Stored runs, newest first (at most ``limit``)."""
        query = select(*_RUN_COLUMNS).order_by(*_NEWEST_FIRST)
        if limit is not None:
            query = query.limit(limit)
        with self._reading("list runs") as conn:
            return self._run_infos(conn, conn.execute(query).all())

    def get_run(self, run_id: str) -> RunInfo:
        """The run with id ``run_id`` (exactly; see :meth:`resolve_run_id` for references)."""
        with self._reading(f"read run {run_id!r}") as conn:
            rows = conn.execute(select(*_RUN_COLUMNS).where(runs.c.id == run_id)).all()
            if not rows:
                raise self._unknown_run(run_id)
            return self._run_infos(conn, rows)[0]

    def resolve_run_id(self, ref: str) -> str:
        """The id of the run ``ref`` names: an exact id, a unique prefix of one, ``latest`` (or
        ``last``) for the newest run and ``latest~N`` for the N-th before it."""
        ref = ref.strip()
        if not ref:
            raise StoreError("empty run reference", fix=_LIST_HINT)
        with self._reading(f"resolve run {ref!r}") as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == ref)).first() is not None:
                return ref
            latest = _LATEST.fullmatch(ref)
            if latest is not None:
                return self._nth_newest(conn, ref, int(latest.group(1) or 0))
            matches = list(
                conn.execute(
                    select(runs.c.id)
                    .where(runs.c.id.startswith(ref, autoescape=True))
                    .order_by(*_NEWEST_FIRST)
                    .limit(11)
                ).scalars()
            )
            if len(matches) == 1:
                return str(matches[0])
            if matches:
                shown = ", ".join(matches[:10]) + (", …" if len(matches) > 10 else "")
                raise StoreError(
                    f"run reference {ref!r} is ambiguous: it is a prefix of "
                    f"{'more than 10' if len(matches) > 10 else len(matches)} run ids ({shown})",
                    fix="give more characters of the id; " + _LIST_HINT,
                )
            recent = list(
                conn.execute(select(runs.c.id).order_by(*_NEWEST_FIRST).limit(5)).scalars()
            )
        if not recent:
            raise StoreError(
                f"no run matches {ref!r}: the store at {self.url} has no runs yet",
                fix="start one with `assay run`, or point ASSAY_DB at the right database",
            )
        raise StoreError(
            f"no run matches {ref!r} in {self.url}; the newest are: {', '.join(recent)}",
            fix=_LIST_HINT,
        )

    def _nth_newest(self, conn: Connection, ref: str, offset: int) -> str:
        query = select(runs.c.id).order_by(*_NEWEST_FIRST).offset(offset).limit(1)
        found = conn.execute(query).scalar()
        if found is not None:
            return str(found)
        total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
        if total == 0:
            raise StoreError(
                f"no run matches {ref!r}: the store at {self.url} has no runs yet",
                fix="start one with `assay run`, or point ASSAY_DB at the right database",
            )
        raise StoreError(
            f"no run matches {ref!r}: only {total} run{'s' if total != 1 else ''} stored",
            fix=_LIST_HINT,
        )

    # -- judge certificates --------------------------------------------------------------------

    def put_certificate(self, certificate: JudgeCertificate) -> None:
        """Store a judge certificate (an id already stored is replaced)."""
        row = {
            "id": certificate.id,
            "judge_key": certificate.judge_key,
            "judge": certificate.judge,
            "model": certificate.model,
            "status": certificate.status,
            "created_at": certificate.created_at,
            "certificate_json": certificate.model_dump_json(),
        }
        with self._writing(f"store judge certificate {certificate.id!r}") as conn:
            conn.execute(delete(judge_certificates).where(judge_certificates.c.id == row["id"]))
            conn.execute(insert(judge_certificates), [row])

    def list_certificates(self, judge_key: str | None = None) -> list[JudgeCertificate]:
        """Stored judge certificates, newest first (of one judge config, if given)."""
        query = select(judge_certificates.c.certificate_json).order_by(
            judge_certificates.c.created_at.desc(), judge_certificates.c.id.desc()
        )
        if judge_key is not None:
            query = query.where(judge_certificates.c.judge_key == judge_key)
        with self._reading("read judge certificates") as conn:
            rows = conn.execute(query).scalars().all()
        return [JudgeCertificate.model_validate_json(text) for text in rows]

    def get_certificate(self, ref: str) -> JudgeCertificate:
        """A certificate by id, by unique id prefix, or the newest of a judge key / judge name /
        model (``latest`` for the newest of all)."""
        certificates = self.list_certificates()
        if ref in ("latest", "last") and certificates:
            return certificates[0]
        exact = [c for c in certificates if c.id == ref]
        if exact:
            return exact[0]
        prefixed = [c for c in certificates if c.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        named = [c for c in certificates if ref in (c.judge_key, c.judge, c.model)]
        if named:
            return named[0]
        raise StoreError(
            f"no judge certificate {ref!r} in {self.url}"
            + (" (the prefix is ambiguous)" if len(prefixed) > 1 else ""),
            fix="run `assay audit list` to see the certificates, or `assay audit judge` to "
            "make one",
        )

    # -- contents of a run ---------------------------------------------------------------------

    def get_manifest(self, run_id: str) -> RunManifest:
        """The run's manifest (as of its finish, once finished)."""
        query = select(manifests.c.manifest_json).where(manifests.c.run_id == run_id)
        with self._reading(f"read the manifest of run {run_id!r}") as conn:
            text = conn.execute(query).scalar()
        if text is None:
            raise self._unknown_run(run_id)
        return RunManifest.model_validate_json(text)

    def get_spec(self, run_id: str) -> dict[str, Any] | None:
        """The spec the run was created from, if one was given."""
        query = select(manifests.c.run_id, manifests.c.spec_json).where(
            manifests.c.run_id == run_id
        )
        with self._reading(f"read the spec of run {run_id!r}") as conn:
            row = conn.execute(query).first()
        if row is None:
            raise self._unknown_run(run_id)
        spec: dict[str, Any] | None = codec.loads(row.spec_json)
        return spec

    def get_samples(self, run_id: str) -> list[Sample]:
        """The run's samples, in dataset order."""
        query = select(samples_t).where(samples_t.c.run_id == run_id).order_by(samples_t.c.position)
        with self._reading(f"read the samples of run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            return [codec.sample_from_row(row) for row in conn.execute(query)]

    def iter_results(
        self, run_id: str, subject: str | None = None, *, chunk_size: int = _MAX_IN
    ) -> Iterator[SampleResult]:
        """The run's results (of one subject, if given) with their scores, ordered by subject,
        sample id and epoch. Rows are streamed ``chunk_size`` at a time (at most 500), never all
        loaded."""
        chunk_size = max(1, min(chunk_size, _MAX_IN))
        with self._reading(f"read run {run_id!r}") as conn:
            self._require_run(conn, run_id)
        return self._stream_results(run_id, subject, chunk_size)

    def _stream_results(
        self, run_id: str, subject: str | None, chunk_size: int
    ) -> Iterator[SampleResult]:
        query = select(results_t).where(results_t.c.run_id == run_id)
        if subject is not None:
            query = query.where(results_t.c.subject == subject)
        query = query.order_by(results_t.c.subject, results_t.c.sample_id, results_t.c.epoch)
        with self._reading(f"read the results of run {run_id!r}") as conn:
            stream = conn.execute(query, execution_options={"yield_per": chunk_size})
            for chunk in stream.partitions():
                by_result: dict[str, list[Score]] = defaultdict(list)
                score_query = (
                    select(scores)
                    .where(scores.c.result_id.in_([row.id for row in chunk]))
                    .order_by(scores.c.result_id, scores.c.position)
                )
                for score_row in conn.execute(score_query):
                    by_result[score_row.result_id].append(codec.score_from_row(score_row))
                for row in chunk:
                    yield codec.result_from_row(row, by_result.get(row.id, []))

    def sample_labels(self, run_id: str) -> dict[str, tuple[dict[str, Any], str | None]]:
        """Sample id → (metadata, cluster) for the run's samples, in dataset order.

        What slices and clusters need, without the inputs, targets and provenance that
        :meth:`get_samples` parses into models (at 100,000 samples, seconds and hundreds of MB).
        """
        query = (
            select(samples_t.c.id, samples_t.c.metadata_json, samples_t.c.cluster)
            .where(samples_t.c.run_id == run_id)
            .order_by(samples_t.c.position)
        )
        # Samples that share metadata text share one parsed dict (treat it as read-only), and
        # samples of one cluster one string.
        parsed: dict[str, dict[str, Any]] = {}
        labels: dict[str, tuple[dict[str, Any], str | None]] = {}
        with self._reading(f"read the samples of run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            for sid, meta, cluster in conn.execute(query):
                metadata = parsed.get(meta)
                if metadata is None:
                    metadata = parsed[meta] = codec.loads(meta) or {}
                name = None if cluster is None else sys.intern(cluster)
                labels[sid] = (metadata, name)
        return labels

    def iter_score_rows(
        self, run_id: str, *, with_metadata: bool = False
    ) -> Iterator[tuple[str, str, int, str | None, str | None, float | None, Any]]:
        """The run's scores as plain rows, ordered by subject, sample id, epoch and position:
        ``(subject, sample_id, epoch, error_class, scorer, value, metadata)``.

        An errored result with no scores gives one row whose ``scorer`` is ``None``; ``metadata``
        is the score's parsed metadata with ``with_metadata``, else ``None``. Unlike
        :meth:`iter_results`, outputs are never read nor parsed: this is what means, intervals
        and comparisons need. Rows are streamed, never all loaded.
        """
        columns = [
            results_t.c.subject,
            results_t.c.sample_id,
            results_t.c.epoch,
            results_t.c.error_class,
            scores.c.scorer,
            scores.c.value,
        ]
        if with_metadata:
            columns.append(scores.c.metadata_json)
        query = (
            select(*columns)
            .select_from(results_t.outerjoin(scores, scores.c.result_id == results_t.c.id))
            .where(results_t.c.run_id == run_id)
            .order_by(
                results_t.c.subject, results_t.c.sample_id, results_t.c.epoch, scores.c.position
            )
        )
        with self._reading(f"read run {run_id!r}") as conn:
            self._require_run(conn, run_id)
        return self._stream_score_rows(run_id, query, with_metadata)

    def _stream_score_rows(
        self, run_id: str, query: Any, with_metadata: bool
    ) -> Iterator[tuple[str, str, int, str | None, str | None, float | None, Any]]:
        with self._reading(f"read the scores of run {run_id!r}") as conn:
            stream = conn.execute(query, execution_options={"yield_per": 5000})
            for chunk in stream.partitions():  # fetchmany: far cheaper than a fetch per row
                for row in chunk:
                    meta = (codec.loads(row[6]) or {}) if with_metadata else None
                    value = None if row[5] is None else float(row[5])
                    yield row[0], row[1], int(row[2]), row[3], row[4], value, meta

    def completed_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """``(subject, sample_id, epoch)`` of every stored result of the run (errors included)."""
        query = select(results_t.c.subject, results_t.c.sample_id, results_t.c.epoch).where(
            results_t.c.run_id == run_id
        )
        with self._reading(f"read run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            return {(s, sid, int(e)) for s, sid, e in conn.execute(query)}
