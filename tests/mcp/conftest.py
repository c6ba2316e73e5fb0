"""Fixtures of the MCP server's tests: ``backend`` runs the store-backed ones on SQLite and on
PostgreSQL (see tests/store/conftest.py)."""

from __future__ import annotations

from tests.store.conftest import backend  # noqa: F401  (fixture)
