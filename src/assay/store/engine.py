"""Database URLs and engines: where the store lives and how connections to it are set up.

SQLite connections get WAL journaling with ``synchronous=NORMAL`` (a committed transaction
survives the process being killed; only a power cut can lose the last few), enforced foreign
keys and a 10 s busy timeout. SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN`` so that
DDL is transactional and a write transaction can take the write lock up front
(``BEGIN IMMEDIATE``) instead of failing with ``SQLITE_BUSY`` when it upgrades a read lock.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

#: Execution option that marks a connection as a writer (SQLite: ``BEGIN IMMEDIATE``).
WRITE_OPTION = "assay_write"

_BUSY_TIMEOUT_S = 10.0
_SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def normalise_db_url(url_or_path: str) -> str:
    """A SQLAlchemy URL for ``url_or_path``.

    ``postgresql://`` and ``postgres://`` select the psycopg 3 driver; a plain filesystem path
    (anything without ``://``) becomes ``sqlite:///<absolute path>``; other URLs, including
    ``sqlite:///…`` and URLs naming a driver explicitly, are returned unchanged.
    """
    text = url_or_path.strip()
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return text


#: The databases a store can live in (SQLAlchemy backend names).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def check_backend(url: str) -> None:
    """Raise :class:`StoreError` (one line, exit 2) unless ``url`` names SQLite or
    PostgreSQL: any other URL would fail deep inside SQLAlchemy (a missing driver, a
    traceback) or, worse, half work."""
    from sqlalchemy.exc import ArgumentError

    from assay.core import StoreError

    fix = "use a file path, sqlite:///PATH, or postgresql://USER@HOST:5432/DATABASE"
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise StoreError(f"cannot read the store URL {url!r}", where="--db", fix=fix) from None
    if backend not in SUPPORTED_BACKENDS:
        raise StoreError(
            f"unsupported store URL {display_url(url)!r}: stores live in SQLite or PostgreSQL",
            where="--db",
            fix=fix,
        )


def read_only_sqlite_url(path: Path) -> str:
    """A URL that opens the SQLite file at ``path`` read-only and without locking
    (``immutable=1``), for a store in a folder this user cannot write to: SQLite would
    otherwise need to create its WAL and shared-memory files beside it."""
    return f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true"


def default_db_url() -> str:
    """``$ASSAY_DB`` when set (a URL or a path), else the SQLite file ``.assay/assay.db`` in the
    current directory."""
    configured = os.environ.get("ASSAY_DB", "").strip()
    if configured:
        return normalise_db_url(configured)
    return normalise_db_url(str(Path.cwd() / ".assay" / "assay.db"))


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and listings."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show it, there is no password to find in it
        return url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or ``None`` (not SQLite, or in-memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str, **engine_kwargs: Any) -> Engine:
    """An engine for ``url`` with assay's connection settings (see the module docstring)."""
    engine = create_engine(url, **engine_kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL journaling (it stays so; later connections only check).

    Switching needs an exclusive lock, and SQLite reports "database is locked" for it at once
    instead of waiting out the busy timeout, so concurrent first opens of a new file retry.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module; the "begin" hook below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
            _use_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writer = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
