"""Fixtures of the run-lease tests: ``backend`` and ``store`` run each test on a SQLite file and
on the local PostgreSQL server (see tests/store/conftest.py)."""

from __future__ import annotations

from tests.store.conftest import backend, build, store  # noqa: F401  (fixtures)
