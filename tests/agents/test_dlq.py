"""Semantic validators, the dead-letter queue and replay (J4): a job output whose SKU is not in
the catalog fixture lands in the DLQ with reason ``semantic:unknown_sku``; replay re-runs the
model step through the runner with a fix and the same idempotency key, and records the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.agents.build import write
from tests.agents.jobs import job_trace

from assay.agents import (
    get_dead_letter,
    list_dead_letters,
    load_agents_spec,
    replay_dead_letter,
    validate_jobs,
)
from assay.core import AssayError, StoreError
from assay.run import CallableSubject

SPEC = Path(__file__).with_name("agents.yaml")


def test_unknown_sku_lands_in_the_dlq(store):
    write(
        store,
        job_trace("good", output={"sku": "SKU-100", "quantity": 2}),
        job_trace("invented", output={"sku": "SKU-999", "quantity": 1}, key="idem-42"),
        job_trace("zero", output={"sku": "SKU-200", "quantity": 0}),
    )
    declarations = load_agents_spec(SPEC)
    report = validate_jobs(store, declarations)
    assert report.as_dict()["jobs_checked"] == {"fulfil_order": 3}
    reasons = sorted((f["job_id"], f["reason"]) for f in report.failures)
    assert reasons == [("invented", "semantic:unknown_sku"), ("zero", "semantic:bad_quantity")]
    assert report.queued == 2
    rates = {v["validator"]: v["failure_rate"] for v in report.as_dict()["validators"]}
    assert (rates["unknown_sku"]["k"], rates["unknown_sku"]["n"]) == (1, 3)
    letters = {d["job_id"]: d for d in list_dead_letters(store)}
    invented = letters["invented"]
    assert invented["reason"] == "semantic:unknown_sku"
    assert "SKU-999" in invented["detail"]
    assert invented["idempotency_key"] == "idem-42"
    assert invented["status"] == "open"
    assert invented["input"][1] == {"role": "user", "content": "Two kettles please"}
    assert invented["model"] == "sim/planner"
    # Validating again queues nothing twice.
    assert validate_jobs(store, declarations).queued == 0
    assert len(list_dead_letters(store)) == 2


def test_replay_reruns_the_model_step_with_the_same_key_and_records_it(store):
    write(store, job_trace("invented", output={"sku": "SKU-999", "quantity": 1}, key="idem-42"))
    declarations = load_agents_spec(SPEC)
    validate_jobs(store, declarations)
    (letter,) = list_dead_letters(store)
    seen: list[tuple[str, str]] = []

    def fixed_planner(sample):  # type: ignore[no-untyped-def]
        seen.append((sample.metadata["idempotency_key"], sample.messages[-1].content))
        return json.dumps({"sku": "SKU-300", "quantity": 2})

    outcome = replay_dead_letter(
        store, letter["id"][:8], declarations, subject=CallableSubject("fixed", fixed_planner)
    )
    assert seen == [("idem-42", "Two kettles please")]
    assert outcome.passed and outcome.idempotency_key == "idem-42"
    assert outcome.output == {"sku": "SKU-300", "quantity": 2}
    stored = get_dead_letter(store, letter["id"])
    assert stored["status"] == "resolved"
    (replayed,) = stored["replays"]
    assert replayed["passed"] and replayed["idempotency_key"] == "idem-42"
    assert replayed["run_id"] == outcome.run_id
    assert [r.sample_id for r in store.iter_results(outcome.run_id)] == [letter["id"]]

    # A fix that still invents a SKU is recorded as a failed replay.
    failed = replay_dead_letter(
        store,
        letter["id"],
        declarations,
        subject=CallableSubject("still-bad", lambda s: '{"sku": "SKU-404", "quantity": 1}'),
    )
    assert not failed.passed
    assert [f[1] for f in failed.failures] == ["semantic:unknown_sku"]
    assert get_dead_letter(store, letter["id"])["status"] == "replay_failed"


def test_unknown_dead_letter_is_a_clear_error(store):
    with pytest.raises(StoreError, match="no dead letter"):
        get_dead_letter(store, "abcd1234")
    with pytest.raises(StoreError, match="not a dead-letter id"):
        get_dead_letter(store, "zz")


def test_clean_jobs_queue_nothing(store):
    write(
        store, *(job_trace(f"j{k}", output={"sku": "SKU-200", "quantity": k + 1}) for k in range(4))
    )
    report = validate_jobs(store, load_agents_spec(SPEC))
    assert report.findings == [] and report.queued == 0
    assert list_dead_letters(store) == []


def test_a_validator_that_raises_names_its_declaration_line(store, tmp_path):
    (tmp_path / "boom.py").write_text("def check(value, job):\n    raise KeyError('x')\n")
    (tmp_path / "agents.yaml").write_text(
        "jobs:\n  fulfil_order:\n    steps: [a]\n    validators:\n"
        "      - name: boom\n        python: boom:check\n"
    )
    write(store, job_trace("j1"))
    with pytest.raises(AssayError, match=r"agents.yaml:5 .*boom.* raised KeyError"):
        validate_jobs(store, load_agents_spec(tmp_path / "agents.yaml"))


def test_cli_replay_through_a_model_provider(tmp_path, monkeypatch, capsys):
    """``assay jobs validate`` then ``assay jobs replay ID --model … --system …`` against the
    local OpenAI-compatible mock server: the fixed system prompt makes the model answer a real
    SKU."""
    from tests.trace.casework import run_cli

    from assay.store import Store
    from assay.testing import MockOpenAIServer

    def answer(body):  # type: ignore[no-untyped-def]
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        sku = "SKU-300" if "catalog" in system else "SKU-777"
        return json.dumps({"sku": sku, "quantity": 1})

    handle = MockOpenAIServer(model="planner-1", answer=answer).start_in_thread()
    try:
        spec = tmp_path / "agents.yaml"
        spec.write_text(
            SPEC.read_text().replace("catalog.jsonl", str(SPEC.with_name("catalog.jsonl")))
            + f"providers:\n  mock: {{type: openai, base_url: '{handle.base_url}', "
            "api_key_env: null}\n"
        )
        monkeypatch.syspath_prepend(str(SPEC.parent))
        db = str(tmp_path / "assay.db")
        with Store(db) as store:
            write(store, job_trace("invented", output={"sku": "SKU-999", "quantity": 1}, key="k-7"))
        code, out, err = run_cli(
            monkeypatch, capsys, "jobs", "validate", "--spec", str(spec), "--db", db, "--json"
        )
        assert code == 1, err
        (letter,) = json.loads(out)["dead_letters"]
        assert letter["reason"] == "semantic:unknown_sku"
        code, out, err = run_cli(
            monkeypatch,
            capsys,
            "jobs",
            "replay",
            letter["id"][:10],
            "--spec",
            str(spec),
            "--db",
            db,
            "--model",
            "mock/planner-1",
            "--json",
        )
        assert code == 1  # the same prompt still invents a SKU
        assert json.loads(out)["failures"][0]["reason"] == "semantic:unknown_sku"
        code, out, err = run_cli(
            monkeypatch,
            capsys,
            "jobs",
            "replay",
            letter["id"][:10],
            "--spec",
            str(spec),
            "--db",
            db,
            "--model",
            "mock/planner-1",
            "--system",
            "Only use SKUs from the catalog: SKU-100, SKU-200, SKU-300.",
            "--json",
        )
        assert code == 0, err
        data = json.loads(out)
        assert data["passed"] and data["idempotency_key"] == "k-7"
        assert data["output"] == {"sku": "SKU-300", "quantity": 1}
        code, out, _ = run_cli(monkeypatch, capsys, "jobs", "dlq", "--db", db, "--json")
        (stored,) = json.loads(out)
        assert stored["status"] == "resolved" and len(stored["replays"]) == 2
        sent = [r for r in handle.requests if isinstance(r, dict)]
        assert sent[-1]["messages"][0]["content"].startswith("Only use SKUs")
        assert sent[-1]["messages"][-1] == {"role": "user", "content": "Two kettles please"}
    finally:
        handle.stop()
    sys.modules.pop("agent_checks", None)
