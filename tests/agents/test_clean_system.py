"""A clean system: every audit of issue 18 over one healthy store, corpus and batch reports no
findings, and every command exits 0; a declaration mistake is one line and exit 2; a finding is
exit 1 (for CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.agents.build import TraceBuilder, write
from tests.agents.escalations import circuit, healthy
from tests.agents.jobs import job_trace
from tests.trace.casework import run_cli

from assay.store import Store

SPEC = Path(__file__).with_name("agents.yaml")
ORDER = {"customer_id": "C-1", "sku": "SKU-100", "quantity": 1}


def clean_store(db: str) -> None:
    with Store(db) as store:
        builders = []
        for k in range(6):
            b = TraceBuilder(route="agent-orders")
            b.tool("lookup_order", {"order_id": f"O{k}"}, offset_ms=0, result={"status": "ok"})
            b.tool(
                "create_order",
                {**ORDER, "customer_id": f"C-{k}"},
                offset_ms=100,
                result={"order_id": f"N{k}"},
                key=f"key-{k}",
            )
            builders.append(b)
        builders += [job_trace(f"job-{k}", key=f"jk-{k}") for k in range(3)]
        builders += [healthy(f"esc-{k}", k) for k in range(3)]
        write(store, *builders)


def test_every_audit_of_a_clean_system_is_clean(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "assay.db")
    clean_store(db)
    spec = tmp_path / "agents.yaml"
    spec.write_text(SPEC.read_text().replace("catalog.jsonl", str(SPEC.with_name("catalog.jsonl"))))
    monkeypatch.syspath_prepend(str(SPEC.parent))
    docs = tmp_path / "kb.jsonl"
    docs.write_text(
        "\n".join(
            json.dumps(d)
            for d in [
                {
                    "id": "a",
                    "text": "Shipping takes three days.",
                    "owner": "ops",
                    "updated_at": "2099-01-01",
                },
                {
                    "id": "b",
                    "text": "Returns are free within 30 days.",
                    "owner": "ops",
                    "updated_at": "2099-01-01",
                },
            ]
        )
    )
    commands = [
        ["agents", "tools", "--spec", str(spec)],
        ["agents", "idempotency", "--spec", str(spec)],
        ["agents", "escalations", "--spec", str(spec)],
        ["jobs", "audit", "--spec", str(spec)],
        ["jobs", "validate", "--spec", str(spec)],
        ["corpus", "health", str(docs), "--stale-after", "36500d"],
    ]
    for args in commands:
        code, out, err = run_cli(monkeypatch, capsys, *args, "--db", db, "--json")
        assert code == 0, (args, out, err)
        data = json.loads(out)
        assert data["findings"] == [] and data["failed"] is False, args
    code, out, _ = run_cli(monkeypatch, capsys, "agents", "tools", "--db", db)
    assert code == 0 and "findings: none" in out
    code, out, _ = run_cli(monkeypatch, capsys, "jobs", "dlq", "--db", db)
    assert "the dead-letter queue is empty" in out


def test_findings_exit_one_and_mistakes_exit_two(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "assay.db")
    with Store(db) as store:
        write(store, *(circuit(f"c{k}", k) for k in range(3)))
    code, out, err = run_cli(
        monkeypatch, capsys, "agents", "escalations", "--spec", str(SPEC), "--db", db
    )
    assert code == 1
    assert "no human touch: 100.0%" in out and "specialist-agent → zendesk → triage-agent" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("tools:\n  create_order:\n    side_efect: write\n")
    code, out, err = run_cli(
        monkeypatch, capsys, "agents", "idempotency", "--spec", str(bad), "--db", db
    )
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {bad}:3 (tools.create_order.side_efect): unknown key 'side_efect'"
    ]
    bad.write_text(
        "jobs:\n  j:\n    steps: [a]\n    validators:\n      - name: sku\n"
        "        field: sku\n        catalog: {path: missing.jsonl}\n"
    )
    code, _, err = run_cli(monkeypatch, capsys, "jobs", "validate", "--spec", str(bad), "--db", db)
    assert code == 2 and "bad.yaml:5 (jobs.j.validators[0])" in err and "not found" in err
    code, _, err = run_cli(
        monkeypatch, capsys, "agents", "escalations", "--sla", "soon", "--db", db
    )
    assert code == 2 and "--sla: cannot read 'soon' as a duration" in err


@pytest.mark.parametrize("ref", ["zz", "0000ffff"])
def test_replay_of_an_unknown_dead_letter_is_exit_two(tmp_path, monkeypatch, capsys, ref):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "jobs",
        "replay",
        ref,
        "--spec",
        str(SPEC),
        "--db",
        str(tmp_path / "a.db"),
        "--model",
        "sim/x",
    )
    assert code == 2 and ("dead-letter id" in err or "no dead letter" in err)
