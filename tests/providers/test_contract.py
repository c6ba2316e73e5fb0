"""The contract check (A7): shape differences field by field, and a cassette re-run live."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from assay.core import ConfigError, Message, ModelRequest, Output
from assay.providers import (
    AnthropicProvider,
    Cassette,
    OpenAICompatProvider,
    RecordingProvider,
)
from assay.run.contract import ShapeDifference, check_contract, compare_shapes
from assay.testing import MockOpenAIServer, request_key

SEVERITY_SCHEMA = {
    "type": "object",
    "properties": {
        "severity": {"enum": ["low", "medium", "high"]},
        "summary": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["severity", "summary"],
    "additionalProperties": False,
}


def kinds(differences: list[ShapeDifference]) -> list[tuple[str, str]]:
    return [(d.path, d.kind) for d in differences]


# -- compare_shapes ---------------------------------------------------------------------------


def test_enum_casing_fails_and_names_the_field() -> None:
    recorded = '{"severity": "medium", "summary": "disk almost full"}'
    live = '{"severity": "Medium", "summary": "disk is almost full"}'
    differences = compare_shapes(recorded, live)
    assert kinds(differences) == [("/severity", "enum_casing")]
    d = differences[0]
    assert (d.recorded, d.live) == ("medium", "Medium")
    assert "'Medium'" in d.message and "'medium'" in d.message
    # the schema sees the same problem at the same field, reported once
    with_schema = compare_shapes(recorded, live, schema=SEVERITY_SCHEMA)
    assert kinds(with_schema) == [("/severity", "enum_casing")]


def test_schema_enum_casing_even_when_the_recording_agrees() -> None:
    both = '{"severity": "High", "summary": "x"}'
    assert compare_shapes(both, both) == []
    differences = compare_shapes(both, both, schema=SEVERITY_SCHEMA)
    assert kinds(differences) == [("/severity", "enum_casing")]
    assert differences[0].recorded == "high"  # the enum value it should have been


def test_same_shape_different_content_is_no_difference() -> None:
    recorded = '{"severity": "high", "score": 3, "ratio": 0.5, "tags": ["a", "b"], "x": null}'
    live = '{"severity": "low", "score": 2.5, "ratio": 1, "tags": ["c"], "x": null}'
    assert compare_shapes(recorded, live, schema=None) == []
    assert compare_shapes("Paris", "Lyon") == []


def test_keys_types_and_nested_paths() -> None:
    recorded = json.dumps(
        {
            "a": 1,
            "gone": True,
            "nested": {"deep": {"flag": False}, "list": [{"k": "v"}, {"k": "w"}]},
            "a/b": "x",
            "m~n": [1, 2],
        }
    )
    live = json.dumps(
        {
            "a": "1",
            "nested": {"deep": [], "list": [{"k": "v"}, {"k": 2, "extra": 1}]},
            "a/b": "X",
            "m~n": [1, 2, 3, "four"],
            "new": None,
        }
    )
    differences = compare_shapes(recorded, live, length_bounds=None)
    assert kinds(differences) == [
        ("/a", "type_changed"),
        ("/a~1b", "enum_casing"),  # RFC 6901 escapes "/" as ~1 and "~" as ~0
        ("/gone", "missing_key"),
        ("/m~0n/3", "type_changed"),  # an extra item of a new type
        ("/nested/deep", "type_changed"),
        ("/nested/list/1/extra", "added_key"),
        ("/nested/list/1/k", "type_changed"),
        ("/new", "added_key"),
    ]
    by_path = {d.path: d for d in differences}
    assert (by_path["/a"].recorded, by_path["/a"].live) == ("number", "string")
    assert (by_path["/nested/deep"].recorded, by_path["/nested/deep"].live) == ("object", "array")
    assert by_path["/new"].live == "null"
    assert by_path["/gone"].recorded == "boolean"


def test_array_indices_sort_numerically() -> None:
    recorded = json.dumps([{"s": "a"} for _ in range(12)])
    live = json.dumps([{"s": "A"} if i in (2, 10) else {"s": "a"} for i in range(12)])
    assert [d.path for d in compare_shapes(recorded, live)] == ["/2/s", "/10/s"]


def test_json_validity_both_ways() -> None:
    [lost] = compare_shapes('{"a": 1}', "Sure! Here is the JSON: {a: 1}", length_bounds=None)
    assert (lost.kind, lost.path, lost.recorded, lost.live) == ("json_validity", "", "json", "text")
    assert "not valid JSON" in lost.message
    [gained] = compare_shapes("just text", '["a"]', length_bounds=None)
    assert (gained.kind, gained.recorded, gained.live) == ("json_validity", "text", "json")


def test_code_fences_and_bare_scalars() -> None:
    fenced = '```json\n{"severity": "medium"}\n```'
    assert compare_shapes(fenced, '{"severity": "medium"}', length_bounds=None) == []
    assert kinds(compare_shapes(fenced, '```\n{"severity": "MEDIUM"}\n```')) == [
        ("/severity", "enum_casing")
    ]
    # bare JSON scalars are text: "4" → "four" is not a JSON validity change
    assert kinds(compare_shapes("4", "four", length_bounds=None)) == []
    assert kinds(compare_shapes("true", "yes", length_bounds=None)) == []


def test_length_drift_bounds() -> None:
    recorded = "x" * 100
    assert compare_shapes(recorded, "y" * 50) == []
    assert compare_shapes(recorded, "y" * 200) == []
    [short] = compare_shapes(recorded, "y" * 49)
    assert (short.kind, short.path, short.recorded, short.live) == ("length_drift", "", 100, 49)
    assert "0.49x" in short.message and "0.5x to 2x" in short.message
    [long] = compare_shapes(recorded, "y" * 201)
    assert "2.01x" in long.message
    # configurable, and switched off with None
    assert compare_shapes(recorded, "y" * 201, length_bounds=(0.9, 3.0)) == []
    assert kinds(compare_shapes(recorded, "y" * 95, length_bounds=(0.96, 1.1))) == [
        ("", "length_drift")
    ]
    assert compare_shapes(recorded, "y", length_bounds=None) == []
    # an empty recording: any live text is drift, an empty one is not
    assert compare_shapes("", "") == []
    [from_empty] = compare_shapes("", "hello")
    assert "∞" in from_empty.message


def test_schema_violations_name_the_field() -> None:
    recorded = '{"severity": "low", "summary": "ok", "tags": ["a"]}'
    live = '{"severity": "urgent", "tags": ["a", 7], "owner": "me"}'
    differences = compare_shapes(recorded, live, schema=SEVERITY_SCHEMA, length_bounds=None)
    schema_only = [(d.path, d.kind) for d in differences if d.kind == "schema_violation"]
    assert schema_only == [
        ("", "schema_violation"),  # additionalProperties: 'owner' was unexpected
        ("/severity", "schema_violation"),
        ("/summary", "schema_violation"),  # required: named as the missing field itself
        ("/tags/1", "schema_violation"),
    ]
    messages = {d.path: d.message for d in differences if d.kind == "schema_violation"}
    assert "'owner' was unexpected" in messages[""]
    assert "'urgent' is not one of" in messages["/severity"]
    assert "'summary' is a required property" in messages["/summary"]
    assert "7 is not of type 'string'" in messages["/tags/1"]
    # and the comparison with the recording adds its own view
    assert ("/summary", "missing_key") in kinds(differences)
    assert ("/owner", "added_key") in kinds(differences)


def test_schema_and_text_outputs() -> None:
    [d] = compare_shapes("plain", "plain", schema=SEVERITY_SCHEMA)
    assert (d.kind, d.path) == ("schema_violation", "")
    assert "not JSON" in d.message
    # when the recording was JSON, json_validity says it once
    assert kinds(compare_shapes('{"severity": "low"}', "nope", schema=SEVERITY_SCHEMA)) == [
        ("", "json_validity"),
        ("", "length_drift"),
    ]


def test_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        compare_shapes("{}", "{}", schema={"type": "objekt"})
    assert "invalid JSON Schema" in str(info.value)
    assert str(info.value).startswith("schema/type: ")
    with pytest.raises(ConfigError, match="must be an object"):
        compare_shapes("{}", "{}", schema=["not", "a", "schema"])  # type: ignore[arg-type]


def test_draft_from_dollar_schema() -> None:
    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}},
    }
    assert kinds(compare_shapes('{"n": 1}', '{"n": 0}', schema=draft7)) == [
        ("/n", "schema_violation")
    ]


# -- check_contract against the mock over loopback ------------------------------------------------


def severity_answer(casing: str = "lower", every: int = 1):
    """An answer function: a JSON verdict whose severity is in ``casing`` for every
    ``every``-th question (by the number in it), lowercase otherwise."""

    def answer(body: dict[str, Any]) -> str:
        question = str(body["messages"][-1]["content"])
        n = int(question.split()[-1])
        severity = ["low", "medium", "high"][n % 3]
        if casing == "title" and n % every == 0:
            severity = severity.title()
        return json.dumps({"severity": severity, "summary": f"finding {n}"})

    return answer


def questions(n: int) -> list[ModelRequest]:
    return [
        ModelRequest(
            model="gpt-test",
            messages=(
                Message(role="system", content="answer in JSON"),
                Message(role="user", content=f"rate incident {i}"),
            ),
            params={"temperature": 0.0, "max_tokens": 64},
            seed=i,
            context={"sample_id": f"s{i}", "target": "secret"},
        )
        for i in range(n)
    ]


async def record_cassette(path: Path, n: int = 10, model: str = "mock-2026-01-01") -> None:
    async with MockOpenAIServer(model=model, answer=severity_answer()) as server:
        inner = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        recorder = RecordingProvider(inner, path, now=datetime(2026, 1, 5, tzinfo=UTC))
        for request in questions(n):
            await recorder.generate(request)
        await recorder.aclose()


async def test_cassette_keeps_requests_to_send_again(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record_cassette(path, n=3)
    cassette = Cassette.load(path)
    assert list(cassette.requests) == list(cassette.outputs)
    for original in questions(3):
        key = original.request_hash()
        kept = cassette.requests[key]
        # everything a real endpoint saw, and not the sample's context (no answer key in fixtures)
        assert kept == original.model_copy(update={"context": {}})
        assert kept.request_hash() == key
    assert "secret" not in path.read_text(encoding="utf-8")


async def test_a7_live_casing_change_breaks_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record_cassette(path, n=9)
    live_server = MockOpenAIServer(
        model="mock-2026-03-01", answer=severity_answer("title", every=2)
    )
    async with live_server:
        provider = OpenAICompatProvider(base_url=live_server.base_url, api_key_env=None)
        report = await check_contract(path, provider)
        await provider.aclose()
        counts = live_server.request_counts()
    assert not report.ok
    assert (report.n_recorded, report.n_checked, report.n_broken, report.n_errors) == (9, 9, 5, 0)
    assert report.broken_fields() == [("/severity", "enum_casing", 5)]
    broken = [e for e in report.entries if e.differences]
    # questions 0, 2, 4, 6, 8 were answered in title case
    assert [e.request_hash for e in broken] == [
        q.request_hash() for i, q in enumerate(questions(9)) if i % 2 == 0
    ]
    first = broken[0].differences[0]
    assert (first.path, first.kind, first.recorded, first.live) == (
        "/severity",
        "enum_casing",
        "low",
        "Low",
    )
    # recorded vs live resolved model, per entry
    assert {(e.recorded_model, e.live_model, e.model_changed) for e in report.entries} == {
        ("mock-2026-01-01", "mock-2026-03-01", True)
    }
    assert report.live_models == ["mock-2026-03-01"]
    assert report.model_snapshot == "mock-2026-01-01"
    # the recorded requests went out unchanged, each exactly once
    sent = live_server.requests
    assert [b["messages"][-1]["content"] for b in sent] == [f"rate incident {i}" for i in range(9)]
    assert all(b["max_tokens"] == 64 and b["temperature"] == 0.0 for b in sent)
    assert sorted(b["seed"] for b in sent) == list(range(9))
    assert set(counts.values()) == {1} and len(counts) == 9
    dumped = report.model_dump(mode="json")
    assert dumped["ok"] is False and dumped["n_broken"] == 5
    assert dumped["entries"][0]["differences"][0]["path"] == "/severity"


async def test_contract_holds_and_is_checked_across_apis(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record_cassette(path, n=4)
    # the same answers served through Anthropic's API: the contract holds
    async with MockOpenAIServer(model="mock-2026-01-01", answer=severity_answer()) as server:
        provider = AnthropicProvider(base_url=server.anthropic_base_url, api_key_env=None)
        report = await check_contract(path, provider, schema=SEVERITY_SCHEMA)
        await provider.aclose()
        sent = server.requests
    assert report.ok and report.schema_checked
    assert (report.n_checked, report.n_broken) == (4, 0)
    assert not any(e.model_changed for e in report.entries)
    assert all(b["system"] == "answer in JSON" and b["max_tokens"] == 64 for b in sent)


async def test_seeded_sample(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record_cassette(path, n=12)
    order = [q.request_hash() for q in questions(12)]

    async def sampled(sample: int, seed: int) -> list[str]:
        async with MockOpenAIServer(answer=severity_answer()) as server:
            provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
            report = await check_contract(path, provider, sample=sample, seed=seed)
            await provider.aclose()
            assert server.calls == min(sample, 12)
        assert report.sample == sample and report.seed == seed
        return [e.request_hash for e in report.entries]

    first = await sampled(4, seed=1)
    assert first == await sampled(4, seed=1)  # same seed, same sample
    assert len(set(first)) == 4
    assert first == sorted(first, key=order.index)  # reported in cassette order
    others = [await sampled(4, seed=s) for s in (2, 3)]
    assert any(o != first for o in others)
    assert await sampled(50, seed=0) == order  # more than recorded: all of them


async def test_provider_errors_are_reported_per_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record_cassette(path, n=4)
    # a retryable 429 (Retry-After 0) is retried; a 400-class rejection is not
    faults = {"script": ["rate_limit", "ok", "ok", "ok", "ok"], "retry_after": 0}
    async with MockOpenAIServer(answer=severity_answer(), faults=faults) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        report = await check_contract(path, provider, concurrency=1)
        await provider.aclose()
        assert server.calls == 5
    assert report.ok
    assert [e.attempts for e in report.entries] == [2, 1, 1, 1]

    async with MockOpenAIServer(answer=severity_answer(), require_api_key="k") as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        report = await check_contract(path, provider, sample=2)
        await provider.aclose()
        assert server.calls == 2  # not retried
    assert not report.ok and (report.n_errors, report.n_checked, report.n_broken) == (2, 0, 0)
    entry = report.entries[0]
    assert (entry.error_class, entry.attempts, entry.live_model) == ("client_error", 1, None)
    assert entry.error is not None and "HTTP 401" in entry.error

    # retryable failures that persist are reported after the retries
    async with MockOpenAIServer(faults={"error_503": 1.0, "retry_after": 0}) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        report = await check_contract(path, provider, sample=1, retries=1)
        await provider.aclose()
        assert server.calls == 2
    assert report.entries[0].error_class == "server_error"
    assert report.entries[0].attempts == 2


async def test_expired_cassettes_are_checked_and_bad_input_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record_cassette(path, n=2)
    assert Cassette.load(path).is_expired()  # recorded 2026-01-05 with a 30-day expiry
    async with MockOpenAIServer(answer=severity_answer()) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        assert (await check_contract(path, provider)).ok
        with pytest.raises(ConfigError, match="sample must be at least 1"):
            await check_contract(path, provider, sample=0)
        with pytest.raises(ConfigError, match="invalid JSON Schema"):
            await check_contract(path, provider, schema={"type": 5})
        with pytest.raises(ConfigError, match="cassette file not found"):
            await check_contract(tmp_path / "none.jsonl", provider)

        # a cassette whose entries keep no request cannot be checked
        bare = tmp_path / "bare.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        stripped = [lines[0]] + [
            json.dumps({k: v for k, v in json.loads(line).items() if k != "request"})
            for line in lines[1:]
        ]
        bare.write_text("\n".join(stripped) + "\n", encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            await check_contract(bare, provider)
        assert "keeps its request" in str(info.value) and str(bare) in str(info.value)
        # a mixed one checks what it can and says how many it skipped
        bare.write_text("\n".join([lines[0], stripped[1], lines[2]]) + "\n", encoding="utf-8")
        report = await check_contract(bare, provider)
        assert (report.n_recorded, report.n_without_request, len(report.entries)) == (2, 1, 1)
        await provider.aclose()


def test_bad_request_in_cassette_names_the_line(tmp_path: Path) -> None:
    request = ModelRequest(model="m", messages=(Message(role="user", content="hi"),))
    path = Cassette.write(tmp_path / "c.jsonl", [(request, Output(text="x", model="m-1"))])
    lines = path.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[1])
    entry["request"]["messages"][0]["role"] = "robot"
    path.write_text(lines[0] + "\n" + json.dumps(entry) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Cassette.load(path)
    assert str(info.value).startswith(f"{path}:2: bad cassette request: messages.0.role")


def test_request_key_matches_what_the_contract_sends() -> None:
    q = questions(1)[0]
    key = request_key(q.model, [m.model_dump() for m in q.messages])
    assert key == request_key(
        "gpt-test",
        [
            {"role": "system", "content": "answer in JSON"},
            {"role": "user", "content": [{"type": "text", "text": "rate incident 0"}]},
        ],
    )
