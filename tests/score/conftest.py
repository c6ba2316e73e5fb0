import pytest

from assay.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "assay.db"))
    yield s
    s.close()
