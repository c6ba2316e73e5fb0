"""Make the lint tests' helper module importable (the suite runs with --import-mode=importlib)."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def store(tmp_path, new_store_db):
    from assay.store import Store

    s = Store(f"sqlite:///{new_store_db(tmp_path / 'assay.db')}")
    yield s
    s.close()
