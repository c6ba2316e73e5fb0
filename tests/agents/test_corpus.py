"""Ingestion contracts (F4) and corpus health (F5): a batch missing a required field in 12% of
records, or 30% below the trailing mean, is quarantined with an alert naming the source; two
near-identical documents with different refund windows are a ``conflict`` with both ids; clean
batches and a clean corpus have no findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assay.core import SpecError
from assay.corpus import (
    corpus_health,
    get_report,
    ingest_batch,
    list_batches,
    load_contracts,
    read_documents,
    save_report,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CONTRACTS = """\
sources:
  kb-confluence:
    required: [id, title, body, owner, updated_at]
    types: {id: string, views: integer, updated_at: datetime}
    freshness: {field: updated_at, max_age: 365d}
    volume: {trailing: 5, min_history: 3, max_drop: 0.25}
    id_field: id
"""


def batch(path: Path, n: int, *, missing_owner: int = 0, offset: int = 0) -> Path:
    rows = []
    for i in range(n):
        row = {
            "id": f"doc-{offset + i}",
            "title": f"Page {i}",
            "body": f"Body of page {i}.",
            "owner": "" if i < missing_owner else "kb-team",
            "updated_at": (NOW - timedelta(days=i % 30)).isoformat(),
            "views": i,
        }
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def contracts(tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text(CONTRACTS)
    return load_contracts(path)


def test_twelve_percent_missing_owner_is_quarantined_with_an_alert(store, contracts, tmp_path):
    quarantine = tmp_path / "quarantine"
    report = ingest_batch(
        store,
        batch(tmp_path / "b1.jsonl", 200, missing_owner=24),
        contracts,
        "kb-confluence",
        quarantine_dir=quarantine,
        now=NOW,
    )
    assert report.quarantined
    (finding,) = [f for f in report.findings if f.severity == "fail"]
    assert finding.code == "missing_required_field"
    assert finding.details["share"]["rate"] == pytest.approx(0.12)
    assert finding.refs[0]["row"].endswith("b1.jsonl:1")
    assert report.alert.startswith("source kb-confluence: batch quarantined")
    assert "12.0% of records (24 of 200) lack 'owner'" in report.alert
    assert report.as_dict()["checks"]["volume"]["run"] is False  # no history yet
    assert Path(report.quarantine_path).is_file() and not (tmp_path / "b1.jsonl").exists()
    (stored,) = list_batches(store)
    assert stored["status"] == "quarantined" and stored["source"] == "kb-confluence"
    assert stored["alert"] == report.alert


def test_volume_thirty_percent_below_the_trailing_mean(store, contracts, tmp_path):
    for k, n in enumerate((1000, 1040, 960, 1000)):
        accepted = ingest_batch(
            store,
            batch(tmp_path / f"ok{k}.jsonl", n),
            contracts,
            "kb-confluence",
            now=NOW + timedelta(days=k),
        )
        assert not accepted.quarantined, accepted.findings
    low = ingest_batch(
        store,
        batch(tmp_path / "low.jsonl", 700),
        contracts,
        "kb-confluence",
        now=NOW + timedelta(days=5),
    )
    assert low.quarantined
    (finding,) = low.findings
    assert finding.code == "volume_drop"
    assert finding.details["trailing_mean"] == 1000 and finding.details["change"] == pytest.approx(
        -0.3
    )
    assert "kb-confluence" in low.alert and "30% below the trailing mean" in low.alert
    # The quarantined batch does not drag the baseline down for the next one.
    back = ingest_batch(
        store,
        batch(tmp_path / "back.jsonl", 990),
        contracts,
        "kb-confluence",
        now=NOW + timedelta(days=6),
    )
    assert not back.quarantined
    assert back.as_dict()["checks"]["volume"]["trailing_mean"] == 1000


def test_types_freshness_and_duplicate_ids(store, tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text(CONTRACTS.replace("max_age: 365d", "max_age: 10d, max_stale: 0.5"))
    contracts = load_contracts(path)
    rows = [
        {
            "id": "a",
            "title": "t",
            "body": "b",
            "owner": "o",
            "updated_at": "2020-01-01",
            "views": "many",
        },
        {
            "id": "a",
            "title": "t",
            "body": "b",
            "owner": "o",
            "updated_at": "2020-01-02",
            "views": 3,
        },
    ]
    file = tmp_path / "odd.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows))
    report = ingest_batch(store, file, contracts, "kb-confluence", now=NOW)
    codes = sorted(f.code for f in report.findings)
    assert codes == ["duplicate_id", "stale_records", "type_mismatch"]


def test_clean_batches_are_accepted_without_findings(store, contracts, tmp_path):
    for k in range(5):
        report = ingest_batch(
            store,
            batch(tmp_path / f"c{k}.jsonl", 100 + k),
            contracts,
            "kb-confluence",
            now=NOW + timedelta(days=k),
        )
        assert report.findings == [] and not report.quarantined
    assert [b["status"] for b in list_batches(store)] == ["accepted"] * 5


def test_contract_mistakes_name_the_line(tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text("sources:\n  kb:\n    required: [id]\n    max_mising: 0.1\n")
    with pytest.raises(SpecError, match=r"contracts.yaml:4 \(sources.kb.max_mising\): unknown key"):
        load_contracts(path)
    path.write_text("sources:\n  kb:\n    freshness: {field: t, max_age: soon}\n")
    with pytest.raises(SpecError, match=r"contracts.yaml:3.*cannot read 'soon' as a duration"):
        load_contracts(path)


REFUND = (
    "Refund policy. Customers may return any unopened item within {days} days of delivery for a "
    "full refund to the original payment method. Opened items are refunded minus a 15% "
    "restocking fee. To start a return, contact support with your order number."
)


def corpus_file(path: Path, docs: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    return path


def clean_docs() -> list[dict]:
    topics = [
        "Shipping inside the EU takes three to five business days; express takes one.",
        "Passwords must be rotated every 90 days and may not repeat the last five.",
        "Invoices are issued on the first business day of each month as PDF files.",
        "The mobile app supports offline mode for saved articles and checklists.",
    ]
    return [
        {"id": f"kb-{k}", "text": t, "owner": "support", "updated_at": "2026-02-01"}
        for k, t in enumerate(topics)
    ] + [
        {
            "id": "refund",
            "text": REFUND.format(days=30),
            "owner": "support",
            "updated_at": "2026-02-10",
        }
    ]


def test_near_identical_refund_pages_disagreeing_on_the_window_conflict(store, tmp_path):
    docs = [
        *clean_docs(),
        {
            "id": "refund-old",
            "text": REFUND.format(days=14),
            "owner": "support",
            "updated_at": "2024-06-01",
        },
        {
            "id": "refund-copy",
            "text": REFUND.format(days=30).upper(),
            "owner": "support",
            "updated_at": "2026-02-11",
        },
        {
            "id": "orphan",
            "text": "Gift cards never expire and can be split across orders.",
            "updated_at": "2026-01-01",
        },
    ]
    report = corpus_health(read_documents(corpus_file(tmp_path / "kb.jsonl", docs)), now=NOW)
    data = report.as_dict()
    (conflict,) = data["conflicts"]
    assert {conflict["a"], conflict["b"]} == {"refund", "refund-old"}
    assert sorted(conflict["a_values"] + conflict["b_values"]) == ["14 days", "30 days"]
    assert conflict["newer"] == "refund"
    assert data["exact_duplicate_groups"] == [["refund", "refund-copy"]]
    codes = sorted(f["code"] for f in data["findings"])
    assert codes == ["conflict", "exact_duplicate", "ownerless", "stale"]
    finding = next(f for f in data["findings"] if f["code"] == "conflict")
    assert [r["document"] for r in finding["refs"]] == [conflict["a"], conflict["b"]]
    assert "within 14 days" in " ".join(finding["refs"][0]["says"] + finding["refs"][1]["says"])
    assert data["stale"]["k"] == 1 and data["ownerless"]["k"] == 1
    flags = {d["id"]: d["flags"] for d in data["flagged_documents"]}
    assert flags["refund-old"] == ["stale", "conflict"]
    save_report(store, report)
    assert get_report(store)["conflicts"] == data["conflicts"]


def test_a_clean_corpus_has_no_findings(tmp_path):
    report = corpus_health(
        read_documents(corpus_file(tmp_path / "kb.jsonl", clean_docs())), now=NOW
    )
    assert report.findings == []
    assert report.as_dict()["flagged_documents"] == []
