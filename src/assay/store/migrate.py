"""Bringing a database to the current schema with Alembic, programmatically.

Opening a store must be quick (every CLI command does it), so :func:`ensure_schema` first reads
``alembic_version`` and compares it with :data:`HEAD_REVISION`; only when they differ does it
import Alembic and run the migrations. Migrations run in one transaction that first takes a
lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock), so two
processes opening a new database at once do not both create the tables (and, within a process,
a thread lock, because Alembic's running context is module-level state).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from assay.core import StoreError
from assay.store.engine import WRITE_OPTION, display_url

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision in ``migrations/versions``. Bump it with every new migration (a test
#: checks it against Alembic's own idea of the head).
HEAD_REVISION = "0012"

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Alembic keeps the running migration in module-level state, so one thread at a time per process.
_ALEMBIC_LOCK = threading.Lock()

# pg_advisory_xact_lock key: "assy" as a 32-bit integer.
_PG_LOCK_KEY = 0x61737379


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or ``None`` when it has none (a new database).

    Errors other than a missing version table (for example an unreachable server) propagate.
    """
    with engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except DBAPIError as error:
            if _is_missing_table(error):
                return None
            raise
    if not rows:
        return None
    if len(rows) > 1:  # branched histories are not used; treat as "needs alembic"
        return ",".join(sorted(r[0] for r in rows))
    return str(rows[0][0])


def _is_missing_table(error: DBAPIError) -> bool:
    message = str(error.orig).lower()
    return (
        "no such table" in message  # SQLite
        or "does not exist" in message  # PostgreSQL (UndefinedTable)
        or getattr(error.orig, "sqlstate", None) == "42P01"
    )


def alembic_config() -> Config:
    """The Alembic configuration of the store's migrations."""
    from alembic.config import Config

    return Config(str(MIGRATIONS_DIR / "alembic.ini"))


def script_head() -> str:
    """The head revision according to the migration scripts (slow: loads every script)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"store migrations have {len(heads)} heads: {heads}")
    return heads[0]


def upgrade(engine: Engine) -> None:
    """Run every pending migration, in one transaction, holding the migration lock."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config()
    scripts = ScriptDirectory.from_config(config)
    writer = engine.execution_options(**{WRITE_OPTION: True})
    with _ALEMBIC_LOCK, writer.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        known = {rev.revision for rev in scripts.walk_revisions()}
        revision = _current_revision_in(conn)
        if revision is not None and revision not in known:
            raise StoreError(
                f"the database at {display_url(str(engine.url))} is at schema revision "
                f"{revision!r}, which this version of assay does not know",
                fix="upgrade assay (the database was written by a newer version)",
            )
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        except CommandError as error:
            raise StoreError(
                f"cannot migrate the database at {display_url(str(engine.url))}: {error}"
            ) from error


def _current_revision_in(conn: object) -> str | None:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(conn).get_current_heads()  # type: ignore[arg-type]
    return ",".join(sorted(heads)) if heads else None


def ensure_schema(engine: Engine) -> None:
    """Migrate the database to :data:`HEAD_REVISION` unless it is there already (fast path)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    upgrade(engine)
