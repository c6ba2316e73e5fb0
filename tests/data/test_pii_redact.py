"""Redaction with stable placeholders (I2), file scans and redaction, and the export gate (I3)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from contamination_testutil import store_run

from assay.core import Message, Output, Sample, SampleResult, Score
from assay.data.pii import (
    PiiGateError,
    Placeholders,
    pii_gate,
    redact_file,
    redact_result,
    redact_sample,
    redact_text,
    scan_file,
)
from assay.store import Store


def test_the_same_value_gets_the_same_placeholder_within_a_record() -> None:
    text, findings = redact_text(
        "mail bob@x.com, cc Bob@X.com and amy@y.org; card 4111 1111 1111 1111 = 4111111111111111"
    )
    assert text == "mail <EMAIL_1>, cc <EMAIL_1> and <EMAIL_2>; card <CARD_1> = <CARD_1>"
    assert [f.type for f in findings] == ["EMAIL", "EMAIL", "EMAIL", "CARD", "CARD"]


def test_each_record_numbers_from_one_unless_it_shares_a_table() -> None:
    assert redact_text("amy@y.org")[0] == "<EMAIL_1>"
    shared = Placeholders()
    assert redact_text("amy@y.org", shared)[0] == "<EMAIL_1>"
    assert redact_text("bob@x.com then amy@y.org", shared)[0] == "<EMAIL_2> then <EMAIL_1>"


def test_redacting_twice_changes_nothing_and_never_reuses_a_number() -> None:
    once, _ = redact_text("mail bob@x.com")
    assert redact_text(once)[0] == once
    # A text that already holds <EMAIL_1> gets a new number for a new address.
    assert redact_text("<EMAIL_1> wrote to amy@y.org")[0] == "<EMAIL_1> wrote to <EMAIL_2>"


def test_redact_sample_covers_input_messages_targets_and_metadata() -> None:
    sample = Sample(
        id="s1",
        input=(
            Message(role="system", content="be brief"),
            Message(role="user", content="mail bob@x.com, my key sk-proj-Zq3xW9vK2mN7bT4yR8sL1pQ6"),
        ),
        target=("bob@x.com", "other"),
        metadata={"note": "from 10.1.2.3", "api_key": "short", "n": 3},
    )
    red = redact_sample(sample)
    assert red.id == "s1" and red.provenance == sample.provenance
    assert red.input[1].content == "mail <EMAIL_1>, my key <SECRET_1>"
    assert red.target == ("<EMAIL_1>", "other")
    assert red.metadata == {"note": "from <IP_ADDRESS_1>", "api_key": "<SECRET_2>", "n": 3}
    clean = Sample(id="s2", input="nothing to hide")
    assert redact_sample(clean) is clean


def test_redact_result_covers_output_raw_body_scores_and_errors() -> None:
    result = SampleResult(
        subject="m",
        sample_id="s1",
        output=Output(
            text="Contact bob@x.com or call +44 20 7946 0958",
            raw={"choices": [{"message": {"content": "Contact bob@x.com"}}], "id": "chatcmpl-1"},
            metadata={"trace": "card 4111 1111 1111 1111"},
        ),
        scores=[
            Score(scorer="judge", value=1.0, answer="bob@x.com", explanation="cites bob@x.com")
        ],
    )
    shared = Placeholders()
    redact_sample(Sample(id="s1", input="who is amy@y.org and bob@x.com"), placeholders=shared)
    red = redact_result(result, placeholders=shared)
    assert (
        red.output.text == "Contact <EMAIL_2> or call <PHONE_1>"
    )  # numbering shared with the sample
    assert red.output.raw == {
        "choices": [{"message": {"content": "Contact <EMAIL_2>"}}],
        "id": "chatcmpl-1",
    }
    assert red.output.metadata == {"trace": "card <CARD_1>"}
    assert red.scores[0].answer == "<EMAIL_2>" and red.scores[0].explanation == "cites <EMAIL_2>"
    assert red.scores[0].value == 1.0 and red.sample_id == "s1"
    failed = SampleResult(
        subject="m", sample_id="s2", error="401 for key sk-proj-Zq3xW9vK2mN7bT4yR8sL1pQ6"
    )
    assert redact_result(failed).error == "401 for key <SECRET_1>"
    assert result.output.text.startswith("Contact bob@")  # the original is untouched


def test_redacted_results_leave_nothing_in_the_database_file(tmp_path: Path) -> None:
    db = tmp_path / "assay.db"
    run_id = store_run(str(db), {"q1": [1.0]})
    secret_text = (
        "mail bob@example.com card 4111 1111 1111 1111 key sk-proj-Zq3xW9vK2mN7bT4yR8sL1pQ6"
    )
    result = SampleResult(
        subject="alpha",
        sample_id="q1",
        epoch=1,
        output=Output(text=secret_text, raw={"c": secret_text}),
    )
    with Store(str(db)) as store:
        store.add_results(run_id, [redact_result(result)])
    stored = db.read_bytes()
    for needle in (b"bob@example.com", b"4111 1111 1111 1111", b"sk-proj-Zq3x"):
        assert needle not in stored
    assert b"<EMAIL_1>" in stored and b"<SECRET_1>" in stored


# -- files ------------------------------------------------------------------------------------


ROWS = [
    {"id": "a", "text": "mail bob@x.com twice bob@x.com"},
    {"id": "b", "text": "release 1.2.3 on 2024-01-15"},
    {"id": "c", "text": "card 4111 1111 1111 1111, mail bob@x.com"},
]


def test_jsonl_gz_redaction_keeps_structure_and_numbers_per_record(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    report = redact_file(source, tmp_path / "out.jsonl.gz")
    with gzip.open(tmp_path / "out.jsonl.gz", "rt") as handle:
        out = [json.loads(line) for line in handle]
    assert [r["text"] for r in out] == [
        "mail <EMAIL_1> twice <EMAIL_1>",
        "release 1.2.3 on 2024-01-15",
        "card <CARD_1>, mail <EMAIL_1>",
    ]
    assert report.records == 3 and report.records_with_pii == 2
    assert dict(report.counts) == {"EMAIL": 3, "CARD": 1}
    assert report.flagged == ["a", "c"]


def test_csv_parquet_and_text_files(tmp_path: Path) -> None:
    with open(tmp_path / "in.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows(ROWS)
    redact_file(tmp_path / "in.csv", tmp_path / "out.csv")
    with open(tmp_path / "out.csv", newline="") as handle:
        assert [r["text"] for r in csv.DictReader(handle)][2] == "card <CARD_1>, mail <EMAIL_1>"

    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "in.parquet")
    report = redact_file(tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").column("text").to_pylist()[0] == (
        "mail <EMAIL_1> twice <EMAIL_1>"
    )
    assert report.flagged == ["a", "c"]

    (tmp_path / "in.txt").write_text("\n".join(r["text"] for r in ROWS) + "\n")
    report = redact_file(tmp_path / "in.txt", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text().splitlines()[0] == "mail <EMAIL_1> twice <EMAIL_1>"
    assert report.flagged == [f"{tmp_path / 'in.txt'}:1", f"{tmp_path / 'in.txt'}:3"]


def test_export_gate_fails_listing_rows_with_credentials(tmp_path: Path) -> None:
    # I3: a fine-tune export where 0.5% of rows contain credentials fails, naming them.
    rows = [{"id": f"row{i}", "prompt": "hello", "completion": f"answer {i}"} for i in range(1000)]
    leaked = [137, 402, 555, 801, 999]
    for i in leaked:
        rows[i]["completion"] = f"use AKIA{i:04d}ABCDEFGH2345 to log in"
    source = tmp_path / "export.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = scan_file(source)
    assert report.records_with_pii == 5
    with pytest.raises(PiiGateError) as failed:
        pii_gate(report)
    assert failed.value.exit_code == 1
    assert "5 of 1000 records" in str(failed.value)
    assert ", ".join(f"row{i}" for i in leaked) in str(failed.value)
    pii_gate(report, types={"EMAIL"})  # gate only on some types: passes


def test_findings_are_attributed_to_their_seam_record_and_field(tmp_path: Path) -> None:
    # I1: a retrieval chunk with an email and a Luhn-valid card gives 2 findings for that chunk.
    chunk = {
        "chunk_id": "kb-17#3",
        "text": "Reach ops@example.com; card 5555 5555 5555 4444 on file",
    }
    source = tmp_path / "chunks.jsonl"
    source.write_text(json.dumps(chunk) + "\n")
    report = scan_file(source, id_field="chunk_id", seam="retrieval")
    assert [(f.seam, f.record, f.field, f.type) for f in report.findings] == [
        ("retrieval", "kb-17#3", "text", "EMAIL"),
        ("retrieval", "kb-17#3", "text", "CARD"),
    ]
    assert all("example.com" not in f.preview for f in report.findings)
