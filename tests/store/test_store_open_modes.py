"""Opening a store: unsupported URLs, read-only commands, read-only folders (issue 20, 8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.core import StoreError
from assay.store import Store


@pytest.mark.parametrize("url", ["mysql://u:secret@host/db", "oracle://x", "mongodb://h"])
def test_an_unsupported_url_is_one_clear_error(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    assert "stores live in SQLite or PostgreSQL" in message
    assert "postgresql://" in message and "sqlite:///" in message
    assert "secret" not in message  # the password is masked
    assert caught.value.exit_code == 2


def test_reading_never_creates_a_store(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / ".assay" / "assay.db"
    with pytest.raises(StoreError, match="no store at"):
        Store(str(path), create=False)
    assert not (tmp_path / "nowhere").exists()


def test_a_store_in_a_read_only_folder_can_be_listed(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "assay.db"
    Store(str(path)).close()  # created and migrated by a writer
    real_access = os.access

    def no_write(p, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Tests run as root, where a chmod'ed folder is still writable: pretend it is not.
        if mode & os.W_OK and Path(p).resolve().is_relative_to(tmp_path.resolve()):
            return False
        return real_access(p, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", no_write)
    store = Store(str(path), create=False)
    try:
        assert store.list_runs() == []
        assert "mode=ro" in str(store.engine.url)
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assay.db"]  # no -wal, no -shm
