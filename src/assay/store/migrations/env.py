"""Alembic environment of the assay store.

:func:`assay.store.migrate.upgrade` passes an open connection (already inside a transaction,
holding the migration lock) in ``config.attributes["connection"]``. On the alembic command line
there is none, and the database is ``sqlalchemy.url`` from the ini file or else ``$ASSAY_DB``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, pool

from assay.store.engine import default_db_url, make_engine, normalise_db_url
from assay.store.tables import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return normalise_db_url(configured) if configured else default_db_url()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
