"""Alembic migrations of the store. Apply them with :func:`assay.store.migrate.upgrade` (the
``Store`` does so on open); ``alembic -c src/assay/store/migrations/alembic.ini`` works for
development, against ``$ASSAY_DB`` or the default database."""
