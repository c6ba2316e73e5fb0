"""Fixtures of the importer tests: ``backend`` and ``store`` run each test on a SQLite file and
on the local PostgreSQL server (see tests/store/conftest.py); ``FIXTURES`` holds one small file
per tool, in the tool's own format (each test says how its file was made)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.store.conftest import backend, build, store  # noqa: F401  (fixtures)

from assay.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def sqlite_store(tmp_path: Path, new_store_db: Callable[[Path], str]) -> Iterator[Store]:
    """A store on a SQLite file only: for the tests of one tool's mapping, whose writes all go
    through the same ``write_run`` that the ``store`` tests check on both backends."""
    opened = Store(new_store_db(tmp_path / "assay.db"))
    yield opened
    opened.close()
