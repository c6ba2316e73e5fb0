"""Phoenix span exports → SpanRecords: span JSONL (nested attributes) and the spans dataframe
(JSONL, CSV and Parquet as pandas writes them) map like the same spans received over OTLP;
bad rows name file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.core import AssayError
from assay.trace.importers import detect_format, import_file
from assay.trace.importers.phoenix import iter_phoenix
from assay.trace.otlp import iter_otlp_jsonl

FIXTURES = Path(__file__).parent / "fixtures"
TRACE = "6e0c63257de34c92bf9efcd03927272e"


def _spans(path):
    return [s for batch in iter_phoenix(path) for s in batch]


def test_span_jsonl_maps_kinds_models_tokens_messages_documents_tools_and_events():
    root, retriever, llm, tool = _spans(FIXTURES / "phoenix_spans.jsonl")
    assert [s.kind for s in (root, retriever, llm, tool)] == ["chain", "retrieval", "llm", "tool"]
    assert {s.convention for s in (root, retriever, llm, tool)} == {"phoenix"}
    assert (root.trace_id, root.span_id, root.parent_id) == (TRACE, "a1b2c3d4e5f60718", None)
    assert {retriever.parent_id, llm.parent_id, tool.parent_id} == {"a1b2c3d4e5f60718"}
    assert (root.session_id, root.user_id, root.status) == ("sess-pw-3", "u-2024", "ok")
    assert root.input == "How do I reset my password?"
    # OpenInference's metadata stays JSON text, as the convention defines it
    assert json.loads(root.attributes["metadata"])["segment"] == "consumer"
    assert llm.model_requested == "gpt-4o-mini"  # from llm.invocation_parameters
    assert llm.model_resolved == "gpt-4o-mini-2024-07-18"
    assert (llm.provider, llm.input_tokens, llm.output_tokens) == ("openai", 231, 24)
    assert [(m["role"], m["content"]) for m in llm.input] == [
        ("system", "Answer from the context."),
        ("user", "How do I reset my password?"),
    ]
    assert llm.output[0]["content"] == "Use the 'Forgot password' link."
    [call] = llm.tool_calls
    assert (call.source, call.tool, call.call_id, call.arguments) == (
        "request",
        "reset_password",
        "call_7",
        {"user": "u-2024"},
    )
    assert llm.response_id == "chatcmpl-9"
    # messages live in input/output, not twice in attributes; other attributes are kept
    assert not any(k.startswith("llm.input_messages") for k in llm.attributes)
    assert llm.attributes["llm.token_count.total"] == 255
    [first_token] = llm.events
    assert first_token.name == "first_token" and first_token.attributes == {"llm.stream": True}
    assert [(d.rank, d.document_id, d.chunk_id, d.score, d.index_version) for d in retriever.retrievals] == [
        (0, "help/password.md", "password-2", 0.91, "v12"),
        (1, "help/2fa.md", "2fa-1", 0.42, None),
    ]  # fmt: skip
    assert retriever.retrievals[0].content.startswith("Click 'Forgot password'")
    assert (tool.status, tool.status_message) == ("error", "account locked")
    [run] = tool.tool_calls
    assert (run.source, run.tool, run.arguments, run.error) == (
        "execution",
        "reset_password",
        {"user": "u-2024"},
        "account locked",
    )
    assert tool.events[0].attributes["exception.type"] == "LockedError"


def _otlp_value(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def test_an_exported_span_maps_as_the_same_span_received_over_otlp(tmp_path):
    """The LLM span of the fixture, as an OpenInference instrumentation would have sent it."""
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.provider": "openai",
        "llm.system": "openai",
        "llm.invocation_parameters": json.dumps({"model": "gpt-4o-mini", "temperature": 0.1}),
        "llm.token_count.prompt": 231,
        "llm.token_count.completion": 24,
        "llm.token_count.total": 255,
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Answer from the context.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": "How do I reset my password?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Use the 'Forgot password' link.",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_7",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "reset_password",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": json.dumps(
            {"user": "u-2024"}
        ),
        "input.value": json.dumps(
            {"messages": [{"role": "user", "content": "How do I reset my password?"}]}
        ),
        "input.mime_type": "application/json",
        "output.value": json.dumps({"id": "chatcmpl-9", "choices": []}),
        "output.mime_type": "application/json",
    }
    span = {
        "traceId": TRACE,
        "spanId": "c3d4e5f60718293a",
        "parentSpanId": "a1b2c3d4e5f60718",
        "name": "ChatCompletion",
        "startTimeUnixNano": "1730973600250000000",
        "endTimeUnixNano": "1730973601900000000",
        "status": {"code": 1},
        "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in attrs.items()],
    }
    path = tmp_path / "otlp.jsonl"
    path.write_text(json.dumps({"scopeSpans": [{"spans": [span]}]}) + "\n")
    [[received]] = list(iter_otlp_jsonl(path))
    exported = _spans(FIXTURES / "phoenix_spans.jsonl")[2]
    fields = (
        "trace_id", "span_id", "parent_id", "kind", "status", "start_time", "end_time",
        "provider", "model_requested", "model_resolved", "input_tokens", "output_tokens",
        "input", "output", "response_id", "tool_calls", "retrievals",
    )  # fmt: skip
    for name in fields:
        assert getattr(exported, name) == getattr(received, name), name
    assert exported.attributes == received.attributes
    assert (exported.convention, received.convention) == ("phoenix", "openinference")


DATAFRAME_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _check_dataframe(found):
    agent, llm, embed = found
    assert [s.kind for s in found] == ["agent", "llm", "embedding"]
    assert agent.trace_id == DATAFRAME_TRACE and agent.parent_id is None
    assert {llm.parent_id, embed.parent_id} == {"00f067aa0ba902b7"}
    # epoch milliseconds, as DataFrame.to_json writes datetimes
    assert agent.start_time.isoformat() == "2024-11-08T10:00:00+00:00"
    assert agent.duration_ms == pytest.approx(3200.0)
    assert (llm.model_resolved, llm.input_tokens, llm.output_tokens) == (
        "gpt-4o-2024-08-06",
        88,
        12,
    )
    assert llm.input == [{"role": "user", "content": "Cancel my subscription"}]
    assert llm.output[0]["content"] == "Done: cancelled."
    assert (llm.session_id, llm.user_id) == ("sess-77", "u-5")
    assert agent.attributes["app.segment"] == "smb"
    assert embed.attributes["embedding.model_name"] == "text-embedding-3-small"
    assert embed.attributes["embedding.embeddings.0.embedding.text"] == "cancel subscription"
    assert embed.status == "unset"


def test_spans_dataframe_jsonl():
    _check_dataframe(_spans(FIXTURES / "phoenix_spans_dataframe.jsonl"))


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_spans_dataframe_written_by_pandas(tmp_path, suffix):
    pd = pytest.importorskip("pandas")
    frame = pd.read_json(FIXTURES / "phoenix_spans_dataframe.jsonl", lines=True)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    frame = frame.set_index("context.span_id", drop=False)
    path = tmp_path / f"spans.{suffix}"
    if suffix == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)  # lists of dicts as Python reprs, times as text
    assert detect_format(path) == "phoenix"
    _check_dataframe([s for batch in import_file(path) for s in batch])


def test_uuid_ids_of_older_phoenix_are_mapped_and_kept(tmp_path):
    row = json.loads((FIXTURES / "phoenix_spans.jsonl").read_text().splitlines()[0])
    row["context"] = {
        "trace_id": "0f2c4a6e-8b1d-4f3a-9c5e-7d9b1f3a5c7e",
        "span_id": "11111111-2222-4333-8444-555555555555",
    }
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [span] = _spans(path)
    assert span.trace_id == "0f2c4a6e8b1d4f3a9c5e7d9b1f3a5c7e"
    assert len(span.span_id) == 16 and int(span.span_id, 16)
    assert span.attributes["phoenix.span_id"] == "11111111-2222-4333-8444-555555555555"
    assert [s.span_id for s in _spans(path)] == [span.span_id]  # deterministic


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("context"), "no context.trace_id"),
        (lambda r: r.update(start_time="the morning"), "cannot read start_time"),
        (lambda r: r.update(end_time=[1]), "end_time"),
        (lambda r: r.update(events="boom"), "events are str"),
        (
            lambda r: r["attributes"].update({"llm": {"token_count": {"prompt": -3}}}),
            "not a whole number of tokens",
        ),
    ],
)
def test_bad_row_names_file_and_line(tmp_path, change, message):
    lines = (FIXTURES / "phoenix_spans.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    change(bad)
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(bad)]) + "\n")
    with pytest.raises(AssayError) as info:
        _spans(path)
    assert info.value.where == f"{path}:2"
    assert message in info.value.message


def test_format_detection_and_unknown_content(tmp_path):
    assert detect_format(FIXTURES / "phoenix_spans.jsonl") == "phoenix"
    assert detect_format(FIXTURES / "langfuse_observations.csv") == "langfuse"
    otlp = tmp_path / "otlp.jsonl"
    otlp.write_text('{"resourceSpans": []}\n')
    assert detect_format(otlp) == "otlp-jsonl"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert detect_format(empty) is None and list(import_file(empty)) == []
    other = tmp_path / "other.jsonl"
    other.write_text('{"question": "hi"}\n')
    with pytest.raises(AssayError) as info:
        list(import_file(other))
    assert info.value.where == f"{other}:1" and "--format" in info.value.fix
    with pytest.raises(AssayError, match="unknown import format"):
        list(import_file(other, "datadog"))
