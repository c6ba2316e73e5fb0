"""Fixtures of the pytest plugin's tests: ``pytester`` (pytest's own fixture for testing
plugins, enabled in tests/conftest.py: pytest allows a plugin list only in a top-level
conftest) and ``backend``, so each store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from urllib.parse import quote

from tests.store.conftest import backend  # noqa: F401  (fixture)


def db_url(chosen) -> str:  # type: ignore[no-untyped-def]
    """A store URL a child process (or ``--assay-db``) can open: the PostgreSQL backend's
    per-test schema travels as libpq's ``options`` parameter in the URL."""
    options = chosen.connect_args.get("options")
    return chosen.url if not options else f"{chosen.url}?options={quote(options)}"
