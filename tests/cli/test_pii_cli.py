"""`assay data pii` end to end: scan, redact to a copy, gate an export."""

from __future__ import annotations

import json
from pathlib import Path


def test_scan_redact_and_gate(cli, tmp_path: Path) -> None:
    rows = [
        {
            "id": "r1",
            "text": "mail bob@example.com, again bob@example.com; card 4111 1111 1111 1111",
        },
        {"id": "r2", "text": "release 1.2.3 on 2024-01-15, order ORD-2024-004817"},
        {
            "id": "r3",
            "messages": [{"role": "user", "content": "key: sk-proj-Zq3xW9vK2mN7bT4yR8sL1pQ6"}],
        },
    ]
    source = tmp_path / "export.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))

    scan = cli("data", "pii", "export.jsonl", "--json", cwd=tmp_path, check=0)
    report = json.loads(scan.stdout)
    assert report["counts"] == {"EMAIL": 2, "CARD": 1, "SECRET": 1}
    assert report["flagged_records"] == ["r1", "r3"]
    assert "bob@example.com" not in scan.stdout  # previews are masked

    gate = cli("data", "pii", "export.jsonl", "--gate", cwd=tmp_path, check=1)
    assert "2 of 3 records contain PII" in gate.stderr and "r1, r3" in gate.stderr
    cli("data", "pii", "export.jsonl", "--gate", "--type", "IBAN", cwd=tmp_path, check=0)

    cli("data", "pii", "export.jsonl", "--redact", "clean.jsonl.gz", cwd=tmp_path, check=0)
    import gzip

    with gzip.open(tmp_path / "clean.jsonl.gz", "rt") as handle:
        redacted = [json.loads(line) for line in handle]
    assert redacted[0]["text"] == "mail <EMAIL_1>, again <EMAIL_1>; card <CARD_1>"
    assert redacted[1] == rows[1]
    assert redacted[2]["messages"][0]["content"] == "key: <SECRET_1>"
    cli("data", "pii", "clean.jsonl.gz", "--gate", cwd=tmp_path, check=0)


def test_usage_mistakes_exit_2(cli, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    proc = cli("data", "pii", "a.txt", "--type", "NAME", cwd=tmp_path, check=2)
    assert "unknown PII type(s): NAME" in proc.stderr
    proc = cli("data", "pii", "missing.jsonl", cwd=tmp_path, check=2)
    assert "missing.jsonl: file not found" in proc.stderr
    proc = cli("data", "pii", "a.txt", "--redact", "a.txt", cwd=tmp_path, check=2)
    assert "overwrite its source" in proc.stderr
