import pytest

from assay.store import Store


@pytest.fixture
def store(tmp_path, new_store_db):
    s = Store(new_store_db(tmp_path / "assay.db"))
    yield s
    s.close()
