"""Where the store lives: URLs, paths and the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.store import Store, default_db_url, normalise_db_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/assay", "postgresql+psycopg://u:p@db:5432/assay"),
        ("postgres://u@db/assay", "postgresql+psycopg://u@db/assay"),
        ("postgresql+psycopg://u@db/assay", "postgresql+psycopg://u@db/assay"),
        ("postgresql+psycopg2://u@db/assay", "postgresql+psycopg2://u@db/assay"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalise_db_url(given: str, expected: str) -> None:
    assert normalise_db_url(given) == expected


def test_a_plain_path_becomes_an_absolute_sqlite_url(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert normalise_db_url("runs/a.db") == f"sqlite:///{tmp_path.resolve()}/runs/a.db"
    assert normalise_db_url(str(tmp_path / "b.db")) == f"sqlite:///{tmp_path.resolve()}/b.db"


def test_default_db_url(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_DB", raising=False)
    assert default_db_url() == f"sqlite:///{tmp_path.resolve()}/.assay/assay.db"
    monkeypatch.setenv("ASSAY_DB", "postgresql://team@db/assay")
    assert default_db_url() == "postgresql+psycopg://team@db/assay"
    monkeypatch.setenv("ASSAY_DB", "elsewhere.db")
    assert default_db_url() == f"sqlite:///{tmp_path.resolve()}/elsewhere.db"


def test_store_opens_the_default_and_creates_parent_directories(
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_DB", raising=False)
    with Store() as store:
        assert store.list_runs() == []
        assert store.url == f"sqlite:///{tmp_path.resolve()}/.assay/assay.db"
    assert (tmp_path / ".assay" / "assay.db").is_file()

    nested = tmp_path / "deep" / "er" / "x.db"
    with Store(str(nested)) as store:
        assert store.list_runs() == []
    assert nested.is_file()


def test_in_memory_sqlite_works(build) -> None:  # type: ignore[no-untyped-def]
    with Store("sqlite://") as store:
        store.create_run(build.manifest(), build.samples(), n_planned=1)
        store.add_results("run-0001", [build.result("alpha", "q1")])
        assert [r.n_results for r in store.list_runs()] == [1]
