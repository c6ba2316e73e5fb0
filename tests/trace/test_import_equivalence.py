"""Importing the same calls from an OTLP-JSON JSONL file gives the same stored trace as
receiving them over OTLP/HTTP (issue 11's acceptance), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.trace.test_receiver import EMAIL, sdk_request, to_otlp_json

from assay.core import AssayError
from assay.store import Store
from assay.store.tables import retrievals, spans, tool_calls, trace_scores, traces
from assay.trace.ingest import store_spans
from assay.trace.otlp import iter_otlp_jsonl
from assay.trace.receiver import collector_app


def build(tracer: Any) -> None:
    with tracer.start_as_current_span("agent", attributes={"session.id": "s-1"}):
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 30,
                "gen_ai.usage.output_tokens": 9,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": f"I am {EMAIL}"}]}]
                ),
            },
        ) as span:
            span.add_event(
                "gen_ai.evaluation.result",
                {"gen_ai.evaluation.name": "helpful", "gen_ai.evaluation.score.value": 1.0},
            )
        with tracer.start_as_current_span(
            "kb",
            attributes={
                "openinference.span.kind": "RETRIEVER",
                "retrieval.documents.0.document.id": "d1",
                "retrieval.documents.0.document.content": f"owner {EMAIL}",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool refund",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "refund",
                "gen_ai.tool.call.arguments": json.dumps({"idempotency_key": "k-1"}),
            },
        ):
            pass


def snapshot(store: Store) -> dict[str, Any]:
    """Every stored row of the trace tables, minus what differs by when it was written."""
    out: dict[str, Any] = {}
    with store.engine.connect() as conn:
        for table, skip in (
            (traces, {"updated_at"}),
            (spans, set()),
            (retrievals, set()),
            (tool_calls, set()),
            (trace_scores, {"id", "created_at"}),
        ):
            rows = conn.execute(select(table)).mappings().all()
            out[table.name] = sorted(
                json.dumps(
                    {k: v for k, v in row.items() if k not in skip}, default=str, sort_keys=True
                )
                for row in rows
            )
    return out


def test_jsonl_import_equals_receiving(backend, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASSAY_REDACTION_KEY", "same-key-for-both-stores")
    request = sdk_request(build)
    received = backend.open()
    client = TestClient(collector_app(received))
    body = request.SerializeToString()
    assert (
        client.post(
            "/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}
        ).status_code
        == 200
    )
    path = tmp_path / "export.jsonl"
    resource_spans = to_otlp_json(request)["resourceSpans"]
    path.write_text("".join(json.dumps(rs) + "\n" for rs in resource_spans))
    imported = (
        backend.open(f"sqlite:///{tmp_path / 'imported.db'}") if backend.name == "sqlite" else None
    )
    if imported is None:  # PostgreSQL: a second schema is the fixture's; compare within one
        # store by importing after wiping the received rows.
        before = snapshot(received)
        with received.engine.begin() as conn:
            for table in (traces, spans, retrievals, tool_calls, trace_scores):
                conn.execute(table.delete())
        imported = received
    else:
        before = snapshot(received)
    for batch in iter_otlp_jsonl(path):
        store_spans(imported, batch)
    after = snapshot(imported)
    assert before == after
    assert len(after["spans"]) == 4 and len(after["trace_scores"]) == 1
    assert EMAIL not in json.dumps(after)


def test_bad_jsonl_lines_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = to_otlp_json(sdk_request(build))["resourceSpans"][0]
    broken = json.loads(json.dumps(good))
    broken["scopeSpans"][0]["spans"][0]["spanId"] = "xyz"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(broken) + "\n")
    with pytest.raises(AssayError) as caught:
        for _ in iter_otlp_jsonl(path):
            pass
    assert caught.value.where == f"{path}:3" and "spanId" in str(caught.value)
