"""Fixtures of the cost and latency tests: ``backend`` and ``store`` run each test on a SQLite
file and on the local PostgreSQL server (see tests/store/conftest.py); ``build`` makes core
objects."""

from __future__ import annotations

from tests.store.conftest import backend, build, store  # noqa: F401  (fixtures)
