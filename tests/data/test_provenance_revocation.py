"""Consent revocation (D4): every row, dataset version and stored run of a revoked subject."""

from datetime import UTC, date, datetime

import pytest
from provenance_testutil import manifest, row

from assay.data import Dataset, write_dataset
from assay.data.provenance import rows_with_revoked_consent
from assay.store import Store

REVOKED = {"consent_status": "revoked", "status_changed_at": datetime(2024, 7, 2, tzinfo=UTC)}
GRANTED = {"consent_status": "granted"}


@pytest.fixture
def versions(tmp_path):
    """v1: S's two rows still granted; v2: S revoked (and a new S row); other: no S rows."""
    v1 = [row("a1", "S", **GRANTED), row("a2", "S", **GRANTED), row("b1", "T", **GRANTED)]
    v2 = [
        row("a1", "S", **REVOKED),
        row("a2", "S", **REVOKED),
        row("a3", "S", **REVOKED),
        row("b1", "T", **GRANTED),
        row("b2", "T", **GRANTED),
    ]
    other = [row("c1", "U", **GRANTED), row("c2", None)]
    paths = []
    for name, samples in (("v1", v1), ("v2", v2), ("other", other)):
        path = tmp_path / f"{name}.jsonl"
        write_dataset(Dataset(name, samples), path)
        paths.append(path)
    return paths, v1, v2, other


def test_revoking_subject_returns_every_row_version_and_run(tmp_path, versions):
    paths, v1, v2, other = versions
    store = Store(tmp_path / "runs.db")
    try:
        # Run r1 evaluated on v1 (S rows stored as granted); r2 on v2; r3 never saw S.
        store.create_run(manifest("r1", v1, "model-a"), v1, n_planned=3)
        store.create_run(manifest("r2", v2[:2], "model-b"), v2[:2], n_planned=2)
        store.create_run(manifest("r3", other, "model-c"), other, n_planned=2)
        report = rows_with_revoked_consent(paths, date(2024, 7, 1), store=store)
    finally:
        store.close()
    assert report.subjects == ["S"]
    assert sorted((r.dataset.rsplit("/", 1)[-1], r.sample_id) for r in report.rows) == [
        ("v1.jsonl", "a1"), ("v1.jsonl", "a2"),
        ("v2.jsonl", "a1"), ("v2.jsonl", "a2"), ("v2.jsonl", "a3"),
    ]  # fmt: skip
    assert {r.subject_id for r in report.rows} == {"S"}
    assert [v.content_hash for v in report.dataset_versions] == [
        Dataset("v1", v1).content_hash,
        Dataset("v2", v2).content_hash,
    ]
    assert [v.affected_ids for v in report.dataset_versions] == [["a1", "a2"], ["a1", "a2", "a3"]]
    assert [(r.run_id, r.subjects, r.sample_ids) for r in report.runs] == [
        ("r1", ["model-a"], ["a1", "a2"]),
        ("r2", ["model-b"], ["a1", "a2"]),
    ]
    assert report.runs_searched == 3


def test_revocation_before_the_date_is_not_returned(versions):
    paths, *_ = versions
    report = rows_with_revoked_consent(paths, datetime(2024, 7, 3, tzinfo=UTC))
    assert report.subjects == [] and report.rows == [] and report.dataset_versions == []
    assert report.runs_searched is None


def test_revoked_row_without_subject_is_traced_by_content(tmp_path):
    anonymous = row("x1", None, consent_status="revoked")  # no date: counted
    copy = row("x1", None)  # same content, consent not recorded in this copy
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_dataset(Dataset("a", [anonymous, row("y", None)]), first)
    write_dataset(Dataset("b", [copy]), second)
    report = rows_with_revoked_consent([first, second], date(2020, 1, 1))
    assert [(r.dataset.rsplit("/", 1)[-1], r.sample_id) for r in report.rows] == [
        ("a.jsonl", "x1"),
        ("b.jsonl", "x1"),
    ]
