"""The :class:`~assay.store.Store`'s foundation: opening the database, connections and
transactions that turn database errors into :class:`~assay.core.StoreError`, the bulk insert
every write uses, and the run leases this Store holds.

:class:`StoreBase` is what the read and write halves (:mod:`assay.store.reads`,
:mod:`assay.store.writes`) build on; :class:`~assay.store.Store` combines them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Self

from sqlalchemy import Boolean, Connection, Engine, Insert, insert, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from assay.core import StoreError
from assay.store import leases
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
from assay.store.tables import results as results_t
from assay.store.tables import runs, scores

# Most ids in one IN (...) list: well under SQLite's bound-parameter limit (999 in old builds).
_MAX_IN = 500
_LIST_HINT = "run `assay runs` to list run ids"


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(error: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement dump."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]


def _insert_sql(table: str, columns: tuple[str, ...], mark: str, nulls: tuple[int, ...]) -> str:
    """``INSERT … ON CONFLICT DO NOTHING`` of ``columns``, those at ``nulls`` as ``NULL`` and
    the others as parameters written ``mark``."""
    values = ", ".join("NULL" if i in nulls else mark for i in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) ON CONFLICT DO NOTHING"


class StoreBase:
    """The open database and its plumbing (see :class:`~assay.store.Store` for the arguments)."""

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
        # The raw INSERTs (by table, columns and the columns written as NULL; see _insert_rows)
        # and the positions of the Boolean columns of a column set (see _insert_sqlite).
        self._raw_sql: dict[tuple[str, tuple[str, ...], tuple[int, ...]], str] = {}
        self._flag_columns: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}
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

    def __enter__(self) -> Self:
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

    def _bulk_insert(self, conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
        """:meth:`_insert_rows` of ``rows`` given as dicts (all with the same keys, in the same
        order); how many were inserted."""
        columns = tuple(rows[0])
        values = itemgetter(*columns)
        params = (
            [values(row) for row in rows] if len(columns) > 1 else [(r[columns[0]],) for r in rows]
        )
        return self._insert_rows(conn, table, columns, params)

    def _stamp(self, at: datetime) -> Any:
        """``at`` as :meth:`_insert_rows` takes a timestamp: on SQLite the naive UTC text the
        column type would write, elsewhere the datetime."""
        if self._engine.dialect.name == "sqlite":
            return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return at

    def _insert_rows(
        self, conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> int:
        """``executemany`` of ``rows`` (tuples in the order of ``columns``) into ``table``,
        ignoring key conflicts; how many were inserted. Timestamps come converted
        (:meth:`_stamp`).

        On SQLite and PostgreSQL the statement is written once per column set and handed to the
        driver directly: SQLAlchemy's per-row parameter processing cost about 50 µs a result,
        half the cost of storing it. The rows go as tuples with positional parameters (the
        driver looks each named one up by name, which cost a quarter of the insert on SQLite).
        Other dialects go through SQLAlchemy.
        """
        dialect = self._engine.dialect.name
        if dialect == "sqlite":
            return self._insert_sqlite(conn, table, columns, rows)
        if dialect != "postgresql":
            if table is results_t:
                statement = self._insert_results
            else:
                statement = self._insert_scores if table is scores else insert(table)
            return conn.execute(
                statement, [dict(zip(columns, row, strict=True)) for row in rows]
            ).rowcount
        key = (table.name, columns, ())
        sql = self._raw_sql.get(key)
        if sql is None:
            sql = self._raw_sql[key] = _insert_sql(table.name, columns, "%s", ())
        return conn.exec_driver_sql(sql, rows).rowcount

    def _insert_sqlite(
        self, conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> int:
        """:meth:`_insert_rows` on SQLite, where a parameter that is not an exact ``str``,
        ``int``, ``float`` or ``bytearray`` costs the ``sqlite3`` module an adapter lookup that
        raises and clears an ``AttributeError`` (CPython ``Modules/_sqlite/cursor.c``,
        ``_need_adapt``; ``microprotocols.c``): about 3,000 instructions each, more than
        binding the rest of a result's row. So a column that is ``None`` in every row is
        written as ``NULL`` in the statement, and a Boolean column of ``bool`` values goes as
        ``int`` (what the module binds for a ``bool``: the same 0 or 1). The rows are turned
        into columns and back for that (in C: about a tenth of what it saves)."""
        by_column = list(zip(*rows, strict=True))
        n = len(rows)
        nulls = tuple(i for i, values in enumerate(by_column) if values.count(None) == n)
        flags = self._flag_columns.get((table.name, columns))
        if flags is None:
            flags = self._flag_columns[(table.name, columns)] = tuple(
                i for i, name in enumerate(columns) if isinstance(table.c[name].type, Boolean)
            )
        changed = bool(nulls)
        for i in flags:
            values = by_column[i]
            if i not in nulls and set(map(type, values)) == {bool}:
                by_column[i] = tuple(map(int, values))
                changed = True
        if changed:
            rows = list(zip(*(v for i, v in enumerate(by_column) if i not in nulls), strict=True))
            if not rows:  # every column NULL: a row of no parameters each
                rows = [()] * n
        key = (table.name, columns, nulls)
        sql = self._raw_sql.get(key)
        if sql is None:
            sql = self._raw_sql[key] = _insert_sql(table.name, columns, "?", nulls)
        return conn.exec_driver_sql(sql, rows).rowcount

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

    # -- leases --------------------------------------------------------------------------------

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
