"""``assay data provenance`` and ``assay data export`` end to end, in a subprocess."""

import json

from assay.core import Provenance, Sample
from assay.data import Dataset, load_dataset, write_dataset


def _rows(licence="MIT"):
    rows = []
    for i in range(10):
        debug = i < 4
        rows.append(
            Sample(
                id=f"fb{i}",
                input=f"chat {i}",
                metadata={"surface": "staging" if debug else "production",
                          "rater_role": "internal" if debug else "user"},
                provenance=Provenance(
                    licence=licence if i == 9 else "MIT",
                    subject_id="S" if i in (5, 6) else f"u{i}",
                    consent_status="revoked" if i in (5, 6) else "granted",
                    status_changed_at="2024-07-02T00:00:00Z" if i in (5, 6) else None,
                ),
            )
        )  # fmt: skip
    return rows


def test_export_excludes_debug_feedback_and_records_why(cli, tmp_path):
    source = tmp_path / "feedback.jsonl"
    write_dataset(Dataset("feedback", _rows()), source)
    out = tmp_path / "train.jsonl"
    proc = cli("data", "export", source, "--out", out, cwd=tmp_path, check=0)
    assert "exported 6 row(s)" in proc.stdout
    assert load_dataset(out).sample_ids == [f"fb{i}" for i in range(4, 10)]
    record = json.loads((tmp_path / "train.jsonl.excluded.json").read_text())
    assert [e["sample_id"] for e in record["excluded"]] == ["fb0", "fb1", "fb2", "fb3"]
    cli("data", "export", source, "--out", out, "--include-debug-feedback", cwd=tmp_path, check=0)
    assert len(load_dataset(out)) == 10


def test_export_with_unspecified_licence_fails_unless_allowed(cli, tmp_path):
    source = tmp_path / "feedback.jsonl"
    write_dataset(Dataset("feedback", _rows(licence="unspecified")), source)
    out = tmp_path / "train.jsonl"
    proc = cli("data", "export", source, "--out", out, cwd=tmp_path, check=1)
    assert "sample fb9" in proc.stderr and "--allow-unspecified-licence" in proc.stderr
    assert not out.exists()
    cli("data", "export", source, "--out", out, "--allow-unspecified-licence", cwd=tmp_path,
        check=0)  # fmt: skip
    assert len(load_dataset(out)) == 6


def test_provenance_lists_revoked_rows_as_json(cli, tmp_path):
    source = tmp_path / "feedback.jsonl"
    write_dataset(Dataset("feedback", _rows()), source)
    proc = cli("data", "provenance", "--revoked-since", "2024-07-01", source, "--json",
               cwd=tmp_path, check=0)  # fmt: skip
    report = json.loads(proc.stdout)
    assert report["subjects"] == ["S"]
    assert [r["sample_id"] for r in report["rows"]] == ["fb5", "fb6"]
    assert report["runs_searched"] is None
    proc = cli("data", "provenance", "--revoked-since", "July", source, cwd=tmp_path, check=2)
    assert "--revoked-since" in proc.stderr


def test_export_runs_the_credential_scan_by_default(cli, tmp_path):
    # I3: 5 credential rows in 1,000 fail the export (exit 1, row ids named); a recorded
    # waiver lets it through.
    rows = [
        {
            "id": f"r{i}",
            "input": f"ticket {i}"
            + (" key ghp_8aK2mZq9Lr4Xv7Nc1Pb6Tw3Ys5Ud0Fe2Hg4J" if i % 200 == 3 else ""),
            "provenance": {"licence": "CC-BY-4.0"},
        }
        for i in range(1000)
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "train.jsonl"
    proc = cli("data", "export", source, "--out", out, cwd=tmp_path, check=1)
    assert "r3, r203, r403, r603, r803" in proc.stderr and not out.exists()
    proc = cli(
        "data", "export", source, "--out", out, "--pii-waiver", "fake keys", cwd=tmp_path, check=0
    )
    record = json.loads((tmp_path / "train.jsonl.excluded.json").read_text())
    assert record["pii_scan"]["waiver"] == "fake keys"
    assert len(record["pii_scan"]["rows"]) == 5
