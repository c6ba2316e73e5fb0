"""Shared test configuration."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

# The tests start `python -m assay` (and other Python processes) several hundred times. Where
# the environment sets PYTHONDONTWRITEBYTECODE (these machines and CI do), a fresh checkout has
# no bytecode for assay's own modules, so every child process would compile them again: about
# 0.15 s of CPU each (tests/cli: 38.5 -> 33.1 s CPU for two files). Children may cache it, as
# Python does by default; the __pycache__ folders are git-ignored. This process is unaffected.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# pytest's fixture for testing plugins (tests/plugin); a plugin list is only allowed here, at the
# top-level conftest.
pytest_plugins = ["pytester"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The reference data folder beside the project, or a skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (it sits beside the project in CI)")
    return SHARED_DATA


# -- a SQLite store migrated once per session ----------------------------------------------------
# Opening a new store runs every Alembic migration (0.1-0.3 s of CPU), paid by hundreds of tests.
# Tests that only need an empty store at head start from a copy of one migrated per session
# instead: opening the copy takes Store's fast path (its revision is already HEAD_REVISION), so
# nothing else changes. The migrations themselves are still run: for the template, by
# tests/store/test_store_migrations.py (which opts out, see tests/store/conftest.py), on every
# PostgreSQL schema and by every test that opens a store on a path of its own.


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to head, closed (so its WAL is checkpointed into the file)."""
    from assay.store import Store

    path = tmp_path_factory.mktemp("migrated-template") / "assay.db"
    Store(str(path)).close()
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template store left {leftovers} beside it"
    return path


@pytest.fixture
def new_store_db(migrated_sqlite_template: Path) -> Callable[[Path], str]:
    """``new_store_db(path)`` puts a new, empty SQLite store at head at ``path`` (a copy of the
    session's migrated template) and returns the path as a string, for ``Store(...)``."""

    def make(path: Path) -> str:
        if path.exists():
            raise FileExistsError(f"{path} exists: new_store_db only makes new stores")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated_sqlite_template, path)
        return str(path)

    return make
