"""`assay contract`: exit 0 when the live shapes match the cassette, 1 when broken, 2 misuse."""

import json

import pytest

from assay.core import Message, ModelRequest, Output
from assay.providers import Cassette
from assay.testing import MockOpenAIServer


def verdict(severity: str):
    def answer(body):
        n = str(body["messages"][-1]["content"]).split()[-1]
        return json.dumps({"severity": severity, "summary": f"finding {n}"})

    return answer


@pytest.fixture
def cassette(tmp_path):
    entries = []
    for i in range(6):
        request = ModelRequest(
            model="gpt-test",
            messages=(Message(role="user", content=f"rate incident {i}"),),
            params={"max_tokens": 50},
        )
        text = json.dumps({"severity": "medium", "summary": f"finding {i}"})
        entries.append((request, Output(text=text, model="mock-old")))
    return Cassette.write(tmp_path / "fixtures" / "incidents.jsonl", entries)


def test_enum_casing_breaks_the_contract_and_names_the_field(cli, tmp_path, cassette):
    server = MockOpenAIServer(model="mock-new", answer=verdict("Medium"))
    with server.start_in_thread() as handle:
        proc = cli(
            "contract", cassette, "--provider", "vllm", "--base-url", handle.base_url,
            "--sample", "4", cwd=tmp_path, check=1,
        )  # fmt: skip
        assert handle.calls == 4
        as_json = cli(
            "contract", cassette, "--provider", "vllm", "--base-url", handle.base_url, "--json",
            cwd=tmp_path, check=1,
        )  # fmt: skip
        # the 4 sampled requests went out twice (once per command), the other 2 once
        assert sorted(handle.request_counts().values()) == [1, 1, 2, 2, 2, 2]
    out = proc.stdout
    assert "/severity" in out and "enum_casing" in out
    assert "contract broken: 4 of 4 answers changed shape: /severity enum_casing (4)" in out
    assert "'Medium' differs from the recorded 'medium'" in out
    assert "mock-old → mock-new" in out
    assert "resolved model changed: recorded mock-old, live mock-new" in out
    assert "4 of 6 recorded calls" in proc.stderr

    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["n_broken"] == 6 and report["n_recorded"] == 6
    differences = [d for e in report["entries"] for d in e["differences"]]
    assert {(d["path"], d["kind"], d["recorded"], d["live"]) for d in differences} == {
        ("/severity", "enum_casing", "medium", "Medium")
    }


def test_contract_holds_through_the_anthropic_api_with_a_schema(cli, tmp_path, cassette):
    schema = tmp_path / "verdict.yaml"
    schema.write_text(
        "type: object\n"
        "required: [severity, summary]\n"
        "properties:\n"
        "  severity: {enum: [low, medium, high]}\n"
        "  summary: {type: string}\n",
        encoding="utf-8",
    )
    server = MockOpenAIServer(model="mock-old", answer=verdict("medium"), require_api_key="k-1")
    with server.start_in_thread() as handle:
        proc = cli(
            "contract", cassette, "--provider", "anthropic",
            "--base-url", handle.anthropic_base_url, "--api-key-env", "ASSAY_CONTRACT_KEY",
            "--schema", schema,
            cwd=tmp_path, env={"ASSAY_CONTRACT_KEY": "k-1"}, check=0,
        )  # fmt: skip
        assert handle.calls == 6 and handle.answered == 6
    assert "contract holds: 6 live answers match the recorded shapes" in proc.stdout
    assert "resolved model changed" not in proc.stdout


def test_live_failures_exit_1_and_usage_errors_exit_2(cli, tmp_path, cassette):
    server = MockOpenAIServer(faults={"error_500": 1.0, "retry_after": 0})
    with server.start_in_thread() as handle:
        proc = cli(
            "contract", cassette, "--provider", "vllm", "--base-url", handle.base_url,
            "--sample", "1", cwd=tmp_path, check=1,
        )  # fmt: skip
    assert "1 of 1 calls failed, so they are unverified" in proc.stdout
    assert "server_error" in proc.stdout

    bad = cli("contract", cassette, "--provider", "opneai", cwd=tmp_path, check=2)
    assert "error: " in bad.stderr and "did you mean 'openai'" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli(
        "contract", cassette, "--provider", "vllm", "--schema", tmp_path / "nope.json",
        cwd=tmp_path, check=2,
    )  # fmt: skip
    assert "cannot read the schema file" in missing.stderr
    cli("contract", cassette, "--provider", "vllm", "--sample", "0", cwd=tmp_path, check=2)
    gone = cli("contract", tmp_path / "none.jsonl", "--provider", "vllm", cwd=tmp_path, check=2)
    assert "cassette file not found" in gone.stderr
