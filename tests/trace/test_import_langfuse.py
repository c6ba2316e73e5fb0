"""Langfuse observations exports → SpanRecords: the fields each export shape carries land in
the model, ids map to OTLP hex deterministically, bad rows name file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from assay.core import AssayError
from assay.store.tables import retrievals, spans, tool_calls, trace_scores, traces
from assay.trace.importers import detect_format, import_file
from assay.trace.importers.langfuse import iter_langfuse
from assay.trace.ingest import store_spans

FIXTURES = Path(__file__).parent / "fixtures"
TRACE_HEX = "c2f5a8e16b3d4f7a8e9c1d2b3a4c5e6f"  # the UUID c2f5a8e1-6b3d-… without dashes


def _spans(path, **kwargs):
    return [s for batch in iter_langfuse(path, **kwargs) for s in batch]


def _by_name(spans_):
    return {s.name: s for s in spans_ if s.trace_id == TRACE_HEX}


def test_ui_export_maps_kinds_models_tokens_cost_status_and_tree():
    found = _spans(FIXTURES / "langfuse_observations.jsonl")
    assert len(found) == 6
    named = _by_name(found)
    root, retriever, generation = named["support-chat"], named["kb-search"], named["answer"]
    tool, event = named["open_refund"], named["handoff-offered"]
    assert [root.kind, retriever.kind, generation.kind, tool.kind, event.kind] == [
        "other", "retrieval", "llm", "tool", "other",
    ]  # fmt: skip
    assert {s.convention for s in found} == {"langfuse"}
    # ids: the trace UUID's hex; span ids are 16 hex digits, parents point at the root's
    assert root.parent_id is None and len(root.span_id) == 16
    assert {retriever.parent_id, generation.parent_id, tool.parent_id} == {root.span_id}
    assert root.attributes["langfuse.observation.id"] == "7f0e3c1a-2b4d-4e8f-9a61-3c5d7e9f1b20"
    assert root.attributes["langfuse.trace.id"] == "c2f5a8e1-6b3d-4f7a-8e9c-1d2b3a4c5e6f"
    assert generation.model_requested == generation.model_resolved == "gpt-4o-mini-2024-07-18"
    assert (generation.input_tokens, generation.output_tokens) == (412, 37)
    assert generation.cost == pytest.approx(0.000084)
    assert generation.duration_ms == pytest.approx(1550.0)
    assert generation.input == [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "My order #5512 never arrived, can I get a refund?"},
    ]
    [call] = generation.tool_calls
    assert (call.source, call.tool, call.call_id) == ("request", "open_refund", "call_Qx81")
    assert call.arguments == {"order_id": "5512"}
    # a TOOL observation at level ERROR: status error, an execution call with the error
    assert (tool.status, tool.status_message) == ("error", "refund service timed out")
    [run] = tool.tool_calls
    assert (run.source, run.arguments, run.error) == (
        "execution",
        {"order_id": "5512"},
        "refund service timed out",
    )
    # a RETRIEVER's LangChain documents: ids, chunks, scores, versions from metadata, ranks
    assert [(d.rank, d.document_id, d.chunk_id, d.score) for d in retriever.retrievals] == [
        (0, "kb/refunds.md", "refunds-3", 0.82),
        (1, "kb/payments.md", "payments-1", 0.61),
    ]
    assert retriever.retrievals[0].index_version == "idx-2024-10"
    assert retriever.input == "refund for a lost order"
    # an EVENT is a point in time; WARNING is not an error
    assert event.end_time == event.start_time and event.status == "unset"
    assert (root.session_id, root.user_id) == ("sess-98", "u-4411")


def test_nothing_is_dropped_every_other_field_is_an_attribute():
    generation = _by_name(_spans(FIXTURES / "langfuse_observations.jsonl"))["answer"]
    attrs = generation.attributes
    assert attrs["langfuse.observation.model.parameters"] == {"temperature": 0.2, "max_tokens": 512}
    assert attrs["langfuse.observation.prompt.name"] == "support-answer"
    assert attrs["langfuse.observation.prompt.version"] == 7
    assert attrs["langfuse.observation.completion_start_time"] == "2024-11-04T14:03:11.780Z"
    assert attrs["langfuse.observation.usage_details"]["total"] == 449
    assert attrs["langfuse.observation.metadata.ls_provider"] == "openai"
    assert attrs["langfuse.environment"] == "production"
    root = _by_name(_spans(FIXTURES / "langfuse_observations.jsonl"))["support-chat"]
    assert root.attributes["langfuse.observation.metadata.segment"] == "enterprise"
    assert root.input == {"question": "My order #5512 never arrived, can I get a refund?"}


def test_legacy_usage_and_an_error_generation_without_parent():
    other = [s for s in _spans(FIXTURES / "langfuse_observations.jsonl") if s.trace_id != TRACE_HEX]
    [generation] = other
    assert generation.parent_id is None and generation.status == "error"
    assert generation.status_message == "Error code: 429 - rate limited"
    assert (generation.input_tokens, generation.output_tokens) == (12, 0)
    assert generation.input == [{"role": "user", "content": "Which plan includes SSO?"}]


def test_csv_export_reads_the_same_as_jsonl():
    from_csv = _spans(FIXTURES / "langfuse_observations.csv")
    from_jsonl = _spans(FIXTURES / "langfuse_observations.jsonl")[: len(from_csv)]
    assert len(from_csv) == 4
    for a, b in zip(from_csv, from_jsonl, strict=True):
        assert (a.trace_id, a.span_id, a.parent_id, a.kind, a.status) == (
            b.trace_id, b.span_id, b.parent_id, b.kind, b.status,
        )  # fmt: skip
        assert (a.input, a.output, a.input_tokens, a.cost) == (
            b.input,
            b.output,
            b.input_tokens,
            b.cost,
        )
        assert [d.document_id for d in a.retrievals] == [d.document_id for d in b.retrievals]


def test_single_trace_download_applies_trace_fields_and_scores():
    root, generation = _spans(FIXTURES / "langfuse_trace.json")
    assert root.kind == "agent" and generation.kind == "llm"
    # a trace id that is no UUID is hashed: 32 hex digits, the same every time
    assert len(root.trace_id) == 32 and root.trace_id == generation.trace_id
    assert root.trace_id == _spans(FIXTURES / "langfuse_trace.json")[0].trace_id
    assert (generation.session_id, generation.user_id) == ("sess-checkout-55", "u-7781")
    assert generation.attributes["langfuse.trace.name"] == "checkout-assistant"
    assert generation.attributes["langfuse.trace.tags"] == ["checkout", "beta"]
    assert generation.attributes["langfuse.trace.metadata.geo"] == "DE"
    assert generation.input == [{"role": "user", "content": "Can I pay with an invoice?"}]
    assert generation.attributes["langfuse.observation.input.tools"] == [{"name": "lookup_policy"}]
    assert generation.output[0]["role"] == "assistant"
    [faith] = generation.evaluations
    assert (faith.name, faith.value, faith.source) == ("faithfulness", 0.4, "langfuse")
    [thumbs] = root.evaluations
    assert (thumbs.name, thumbs.label, thumbs.explanation) == (
        "user_feedback",
        "thumbs_down",
        "wrong threshold",
    )


def test_blob_export_snake_case_keeps_otel_ids_and_original_attributes():
    [span] = _spans(FIXTURES / "langfuse_blob.jsonl")
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.span_id == "6a1d9e2f0b7c4d33"
    assert span.start_time.isoformat() == "2024-11-06T08:00:01.250000+00:00"
    assert span.model_requested == "gpt-4o"
    assert (span.input_tokens, span.output_tokens, span.cost) == (9, 7, 0.000093)
    assert (span.session_id, span.user_id) == ("s-1", "u-1")
    # metadata.attributes (the span's own OTel attributes) come back as attributes
    assert span.attributes["app.intent"] == "clarification_needed"
    assert span.resource == {"service.name": "helpdesk"}
    assert span.attributes["langfuse.trace.name"] == "helpdesk-chat"


def test_api_page_object_and_batches(tmp_path):
    rows = [json.loads(line) for line in (FIXTURES / "langfuse_observations.jsonl").open()]
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"data": rows, "meta": {"page": 1, "totalItems": 6}}, indent=2))
    batches = list(import_file(page, batch_size=4))
    assert [len(b) for b in batches] == [4, 2]
    assert detect_format(page) == "langfuse"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"id": "o1", "type": "SPAN", "startTime": "2024-01-01T00:00:00Z"}', "no traceId"),
        ('{"id": "o1", "traceId": "t1", "type": "SPAN"}', "no startTime"),
        ('{"id": "o1", "traceId": "t1", "startTime": "yesterday"}', "cannot read startTime"),
        (
            '{"id": "o1", "traceId": "t1", "type": "GENERATION", "startTime": 1730700000, '
            '"usageDetails": {"input": "many"}}',
            "not a whole number of tokens",
        ),
        ('["not", "an", "object"]', "must be an object"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path, row, message):
    good = (FIXTURES / "langfuse_observations.jsonl").read_text().splitlines()[0]
    path = tmp_path / "obs.jsonl"
    path.write_text(f"{good}\n\n{row}\n")
    with pytest.raises(AssayError) as info:
        _spans(path)
    assert info.value.where == f"{path}:3"
    assert message in info.value.message and info.value.fix


def test_bad_csv_cell_names_its_line(tmp_path):
    lines = (FIXTURES / "langfuse_observations.csv").read_text().splitlines()
    bad = lines[1].replace("2024-11-04T14:03:11.120Z", "not-a-time", 1)
    path = tmp_path / "obs.csv"
    path.write_text("\n".join([lines[0], lines[2], bad]) + "\n")
    with pytest.raises(AssayError) as info:
        _spans(path)
    assert info.value.where == f"{path}:3" and "startTime" in info.value.message


def test_imported_observations_store_on_both_backends(store):
    batch = _spans(FIXTURES / "langfuse_observations.jsonl")
    report = store_spans(store, batch)
    assert (report.stored, report.traces) == (6, 2)
    again = store_spans(store, _spans(FIXTURES / "langfuse_observations.jsonl"))
    assert (again.stored, again.duplicates) == (0, 6)  # a re-import stores nothing twice
    with store.engine.connect() as conn:
        trace = conn.execute(select(traces).where(traces.c.id == TRACE_HEX)).one()
        assert (trace.n_spans, trace.n_errors, trace.status) == (5, 1, "error")
        assert (trace.session_id, trace.input_tokens) == ("sess-98", 412)
        kinds = dict(conn.execute(select(spans.c.name, spans.c.kind)).all())
        assert kinds["kb-search"] == "retrieval" and kinds["answer"] == "llm"
        docs = conn.execute(
            select(retrievals.c.rank, retrievals.c.document_id).order_by(retrievals.c.rank)
        ).all()
        assert [tuple(d) for d in docs] == [(0, "kb/refunds.md"), (1, "kb/payments.md")]
        calls = conn.execute(select(tool_calls.c.source, tool_calls.c.tool)).all()
        assert sorted(map(tuple, calls)) == [
            ("execution", "open_refund"),
            ("request", "open_refund"),
        ]
    store_spans(store, _spans(FIXTURES / "langfuse_trace.json"))
    with store.engine.connect() as conn:
        names = sorted(conn.execute(select(trace_scores.c.name)).scalars())
    assert names == ["faithfulness", "user_feedback"]
