"""The OTLP/HTTP receiver: both encodings, both conventions, every documented fault response,
redaction at the door — on SQLite and PostgreSQL.

Requests are the ones real clients send: fixtures captured from ``opentelemetry-instrumentation-
openai-v2`` and ``openinference-instrumentation-openai`` (tests/trace/realclients.py) and spans
made with the real OTel SDK, encoded by the SDK's own OTLP encoder.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import gzip
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy import func, select, text

from assay.core import StoreError
from assay.store import Store
from assay.store.tables import redaction_reports, span_events, spans, traces
from assay.trace import receiver as receiver_module
from assay.trace.otlp import _parse_json
from assay.trace.receiver import collector_app

FIXTURES = Path(__file__).parent / "fixtures"
PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}


def sdk_request(build) -> ExportTraceServiceRequest:  # type: ignore[no-untyped-def]
    """Spans made by the real OTel SDK (``build(tracer)``), encoded by its OTLP encoder."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer("test"))
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def to_otlp_json(message: Any) -> dict[str, Any]:
    """OTLP/JSON as the spec writes it: ids in hex (protobuf's JSON mapping writes base64)."""
    data = json_format.MessageToDict(message, use_integers_for_enums=True)

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and value:
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(data)
    return data


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def stored_spans(store: Store) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(spans)).mappings().all()
    return {row["span_id"]: dict(row) for row in rows}


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(collector_app(store))


def llm_span(tracer: Any, name: str = "chat gpt-4o", **attributes: Any) -> None:
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
    }
    with tracer.start_as_current_span(name, attributes={**base, **attributes}):
        pass


# -- encodings -------------------------------------------------------------------------------------


def test_protobuf_fixture_from_the_real_genai_instrumentation(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    body = (FIXTURES / "openai_v2_spans.pb").read_bytes()
    response = client.post("/v1/traces", content=body, headers=PB)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(response.content)
    assert parsed.partial_success.rejected_spans == 0
    [span] = stored_spans(store).values()
    assert span["kind"] == "llm" and span["convention"] == "genai"
    assert span["model_requested"] == "mock-1" and span["model_resolved"] == "mock-1"
    assert (span["input_tokens"], span["output_tokens"]) == (11, 7)
    assert span["system_fingerprint"] == "fp_mock"
    assert json.loads(span["finish_reasons_json"]) == ["stop"]
    assert span["service"] == "assay-realclients-genai"


def test_json_and_protobuf_of_the_same_spans_store_the_same_ids(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    request = sdk_request(lambda t: llm_span(t))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    trace_hex, span_hex = span.trace_id.hex(), span.span_id.hex()
    as_json = to_otlp_json(request)
    response = client.post("/v1/traces", content=json.dumps(as_json), headers=JS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert list(stored_spans(store)) == [span_hex]
    with store.engine.connect() as conn:
        assert conn.execute(select(traces.c.id)).scalar_one() == trace_hex
    # The protobuf of the same span is a duplicate: accepted, stored once.
    again = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert again.status_code == 200
    assert count(store, spans) == 1
    # The trap the receiver avoids: protobuf's JSON parser reads hex ids as base64.
    naive = ExportTraceServiceRequest()
    json_format.ParseDict(copy.deepcopy(as_json), naive, ignore_unknown_fields=True)
    wrong = naive.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert wrong != trace_hex
    right = _parse_json(json.dumps(as_json).encode(), ExportTraceServiceRequest())
    assert right.resource_spans[0].scope_spans[0].spans[0].trace_id.hex() == trace_hex


def test_gzip_bodies_in_both_encodings(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    first = sdk_request(lambda t: llm_span(t, "a"))
    second = sdk_request(lambda t: llm_span(t, "b"))
    headers = {**PB, "content-encoding": "gzip"}
    assert (
        client.post(
            "/v1/traces", content=gzip.compress(first.SerializeToString()), headers=headers
        ).status_code
        == 200
    )
    body = gzip.compress(json.dumps(to_otlp_json(second)).encode())
    assert (
        client.post(
            "/v1/traces", content=body, headers={**JS, "content-encoding": "gzip"}
        ).status_code
        == 200
    )
    assert sorted(s["name"] for s in stored_spans(store).values()) == ["a", "b"]


def test_both_conventions_give_the_same_model_tokens_and_messages(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    for name in ("openai_v2_latest_spans.json", "openinference_spans.json"):
        body = (FIXTURES / name).read_bytes()
        assert client.post("/v1/traces", content=body, headers=JS).status_code == 200
    by_convention = {s["convention"]: s for s in stored_spans(store).values()}
    genai, oi = by_convention["genai"], by_convention["openinference"]
    for column in ("kind", "model_requested", "model_resolved", "input_tokens", "output_tokens"):
        assert genai[column] == oi[column], column
    assert json.loads(genai["finish_reasons_json"]) == json.loads(oi["finish_reasons_json"])
    strip = lambda ms: [(m["role"], m["content"]) for m in ms]  # noqa: E731
    assert strip(json.loads(genai["input_json"])) == strip(json.loads(oi["input_json"]))
    assert [m["role"] for m in json.loads(oi["input_json"])] == ["system", "user"]
    # Output text differs only by the mock's response counter; the roles and shape agree.
    assert [m["role"] for m in json.loads(genai["output_json"])] == ["assistant"]
    assert [m["role"] for m in json.loads(oi["output_json"])] == ["assistant"]
    for span in (genai, oi):
        assert span["duration_ms"] > 0
        attributes = json.loads(span["attributes_json"])
        assert "llm.input_messages.0.message.content" not in attributes  # mapped, not duplicated


def test_log_records_land_beside_their_span(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    spans_body = (FIXTURES / "openai_v2_latest_spans.json").read_bytes()
    logs_body = (FIXTURES / "openai_v2_latest_logs.json").read_bytes()
    # Logs may arrive first: they are stored and joined by trace and span id on read.
    assert client.post("/v1/logs", content=logs_body, headers=JS).status_code == 200
    assert client.post("/v1/traces", content=spans_body, headers=JS).status_code == 200
    [span] = stored_spans(store).values()
    with store.engine.connect() as conn:
        [event] = conn.execute(select(span_events)).mappings().all()
    assert (event["trace_id"], event["span_id"]) == (span["trace_id"], span["span_id"])
    assert event["name"] == "gen_ai.client.inference.operation.details"
    assert event["source"] == "log"
    # The retried logs request is stored once (event ids are content hashes).
    assert client.post("/v1/logs", content=logs_body, headers=JS).status_code == 200
    assert count(store, span_events) == 1


def test_evaluation_results_become_scores(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    def build(tracer: Any) -> None:
        with tracer.start_as_current_span(
            "chat", attributes={"gen_ai.operation.name": "chat"}
        ) as s:
            s.add_event(
                "gen_ai.evaluation.result",
                {
                    "gen_ai.evaluation.name": "relevance",
                    "gen_ai.evaluation.score.value": 0.25,
                    "gen_ai.evaluation.score.label": "irrelevant",
                    "gen_ai.evaluation.explanation": "off topic",
                },
            )

    body = sdk_request(build).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, value, label, explanation, source FROM trace_scores")
        ).one()
    assert tuple(row) == ("relevance", 0.25, "irrelevant", "off topic", "otel")


# -- faults ----------------------------------------------------------------------------------------


def test_every_bad_request_gets_its_documented_answer_and_loses_nothing(
    store: Store, client
) -> None:  # type: ignore[no-untyped-def]
    good = sdk_request(lambda t: llm_span(t, "kept")).SerializeToString()
    assert client.post("/v1/traces", content=good, headers=PB).status_code == 200
    before = stored_spans(store)

    truncated = client.post("/v1/traces", content=good[:-7], headers=PB)
    assert truncated.status_code == 400
    assert "protobuf" in truncated.text or truncated.content  # a google.rpc.Status body

    assert (
        client.post("/v1/traces", content=good, headers={"content-type": "text/plain"}).status_code
        == 415
    )
    assert (
        client.post(
            "/v1/traces", content=good, headers={**PB, "content-encoding": "br"}
        ).status_code
        == 415
    )

    # Invalid UTF-8 in a protobuf string field (the span name), and in a JSON body.
    named = sdk_request(lambda t: llm_span(t, "ZZZZ")).SerializeToString()
    assert b"ZZZZ" in named
    broken = named.replace(b"ZZZZ", b"\xff\xfe\xfd\xfc")
    assert client.post("/v1/traces", content=broken, headers=PB).status_code == 400
    assert (
        client.post("/v1/traces", content=b'{"resourceSpans": "\xff"}', headers=JS).status_code
        == 400
    )
    assert client.post("/v1/traces", content=b"[1, 2]", headers=JS).status_code == 400
    bad_id = to_otlp_json(sdk_request(lambda t: llm_span(t)))
    bad_id["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "zz" * 16
    answer = client.post("/v1/traces", content=json.dumps(bad_id), headers=JS)
    assert answer.status_code == 400 and "traceId" in answer.json()["message"]

    # A gzip bomb: 100 MB of zeros in about 100 KB.
    bomb = gzip.compress(b"\0" * (100 * 1024 * 1024))
    assert len(bomb) < 200_000
    assert (
        client.post(
            "/v1/traces", content=bomb, headers={**PB, "content-encoding": "gzip"}
        ).status_code
        == 413
    )
    assert (
        client.post(
            "/v1/traces", content=b"\x1f\x8b\x08garbage", headers={**PB, "content-encoding": "gzip"}
        ).status_code
        == 400
    )
    assert stored_spans(store) == before


def test_oversized_body_is_413(store: Store) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(
        receiver_module.otlp_router(receiver_module.TraceWriter(store), max_body=1000)
    )
    client = TestClient(app)
    body = sdk_request(lambda t: llm_span(t, "x" * 2000)).SerializeToString()
    response = client.post("/v1/traces", content=body, headers=PB)
    assert response.status_code == 413
    assert count(store, spans) == 0


def test_odd_but_valid_spans_are_stored_and_flagged(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    huge = "x" * (10 * 1024 * 1024)
    missing_parent = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))

    def build(tracer: Any) -> None:
        with tracer.start_as_current_span("big", attributes={"blob": huge}):
            pass
        orphan_ctx = set_span_in_context(NonRecordingSpan(missing_parent))
        tracer.start_span("orphan", context=orphan_ctx).end()
        skewed = tracer.start_span("skewed", start_time=2_000_000_000_000_000_000)
        skewed.end(end_time=1_999_999_999_000_000_000)

    request = sdk_request(build)
    # Duplicate span ids inside one batch: the first is kept.
    first = request.resource_spans[0].scope_spans[0].spans[0]
    request.resource_spans[0].scope_spans[0].spans.append(copy.deepcopy(first))
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 200
    stored = {s["name"]: s for s in stored_spans(store).values()}
    assert set(stored) == {"big", "orphan", "skewed"}
    big = json.loads(stored["big"]["attributes_json"])
    assert len(big["blob"]) < 300_000
    assert json.loads(stored["big"]["flags_json"])["truncated"] == ["blob"]
    assert stored["orphan"]["parent_id"] == f"{0xDEF:016x}"
    skew = stored["skewed"]
    assert json.loads(skew["flags_json"])["clock_skew"] is True and skew["duration_ms"] == 0
    with store.engine.connect() as conn:
        n = conn.execute(
            select(traces.c.n_spans).where(traces.c.id == f"{0xABC:032x}")
        ).scalar_one()
    assert n == 1


def test_spans_without_valid_ids_are_rejected_in_partial_success(store: Store, client) -> None:  # type: ignore[no-untyped-def]
    request = sdk_request(lambda t: (llm_span(t, "good"), llm_span(t, "bad")))
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b""
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1 and "span id" in partial.error_message
    assert [s["name"] for s in stored_spans(store).values()] == ["good"]


async def test_a_full_backlog_is_429_and_a_failing_store_is_503(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gate = threading.Event()
    real = receiver_module.store_spans

    def slow(*args: Any, **kwargs: Any) -> Any:
        gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(receiver_module, "store_spans", slow)
    app = collector_app(store)
    app.state.trace_writer.max_pending = 1
    body = sdk_request(lambda t: llm_span(t)).SerializeToString()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        first = asyncio.create_task(http.post("/v1/traces", content=body, headers=PB))
        while app.state.trace_writer.pending == 0:
            await asyncio.sleep(0.01)
        other = sdk_request(lambda t: llm_span(t, "later")).SerializeToString()
        busy = await http.post("/v1/traces", content=other, headers=PB)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        gate.set()
        assert (await first).status_code == 200

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise StoreError("database is locked")

        monkeypatch.setattr(receiver_module, "store_spans", broken)
        down = await http.post("/v1/traces", content=other, headers=PB)
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        monkeypatch.setattr(receiver_module, "store_spans", real)
        assert (await http.post("/v1/traces", content=other, headers=PB)).status_code == 200
    app.state.trace_writer.close()
    assert count(store, spans) == 2


# -- PII -------------------------------------------------------------------------------------------

EMAIL, PHONE, CARD = "jane.doe@example.com", "+44 20 7946 0958", "4539 1488 0343 6467"


def test_planted_pii_never_reaches_the_database(store: Store, backend, client) -> None:  # type: ignore[no-untyped-def]
    pii = f"write to {EMAIL}, call {PHONE}, card {CARD}"

    def first_batch(tracer: Any) -> None:
        with tracer.start_as_current_span("agent", attributes={"user.id": EMAIL}):
            llm_span(
                tracer,
                **{
                    "gen_ai.input.messages": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": pii}]}]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": f"I emailed {EMAIL}"}],
                            }
                        ]
                    ),
                },
            )
            with tracer.start_as_current_span(
                "search",
                attributes={
                    "openinference.span.kind": "RETRIEVER",
                    "retrieval.documents.0.document.id": "kb-1",
                    "retrieval.documents.0.document.content": f"Customer {EMAIL} paid with {CARD}",
                },
            ):
                pass
            with tracer.start_as_current_span(
                "execute_tool refund",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "refund",
                    "gen_ai.tool.call.arguments": json.dumps({"email": EMAIL, "phone": PHONE}),
                },
            ):
                pass

    request = sdk_request(first_batch)
    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id
    # Split the trace over two requests: placeholders must agree across batches.
    second = copy.deepcopy(request)
    del request.resource_spans[0].scope_spans[0].spans[2:]
    del second.resource_spans[0].scope_spans[0].spans[:2]
    for part in (request, second):
        assert (
            client.post("/v1/traces", content=part.SerializeToString(), headers=PB).status_code
            == 200
        )
    rows = stored_spans(store)
    text_at_rest = json.dumps(rows, default=str)
    with store.engine.connect() as conn:
        for table in (
            "retrievals",
            "tool_calls",
            "traces",
            "redaction_reports",
            "trace_placeholders",
        ):
            text_at_rest += json.dumps(
                [list(r) for r in conn.execute(text(f"SELECT * FROM {table}"))], default=str
            )
        reports = conn.execute(select(redaction_reports.c.counts_json)).scalars().all()
    for value in (EMAIL, PHONE, CARD, "4539148803436467", "jane.doe"):
        assert value not in text_at_rest
    assert (
        "<EMAIL_1>" in text_at_rest and "<CARD_1>" in text_at_rest and "<PHONE_1>" in text_at_rest
    )
    assert "<EMAIL_2>" not in text_at_rest  # one address, one placeholder, in every span
    counts = [json.loads(r) for r in reports]
    assert sum(c.get("EMAIL", 0) for c in counts) >= 4
    if backend.name == "sqlite":
        db = Path(backend.url.removeprefix("sqlite:///"))
        for path in db.parent.glob(db.name + "*"):  # the file, its WAL and shared memory
            raw = path.read_bytes()
            for value in (EMAIL, PHONE, CARD):
                assert value.encode() not in raw, path
    with store.engine.connect() as conn:
        user = conn.execute(
            select(traces.c.user_id).where(traces.c.id == trace_id.hex())
        ).scalar_one()
    assert user.startswith("user-")


def test_no_redact_is_explicit_and_recorded(store: Store) -> None:
    client = TestClient(collector_app(store, redact=False, note="--no-redact: synthetic data"))
    body = sdk_request(
        lambda t: llm_span(
            t, **{"gen_ai.input.messages": json.dumps([{"role": "user", "content": EMAIL}])}
        )
    ).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    with store.engine.connect() as conn:
        report = conn.execute(select(redaction_reports)).mappings().one()
    assert report["redacted"] is False or report["redacted"] == 0
    assert report["note"] == "--no-redact: synthetic data"
    assert EMAIL in next(iter(stored_spans(store).values()))["input_json"]


def test_no_redact_without_a_reason_is_refused_before_listening() -> None:
    from typer.testing import CliRunner

    from assay.cli.app import app

    for command in ("serve", "collect"):
        result = CliRunner().invoke(app, [command, "--no-redact", "--port", "0"])
        assert result.exit_code != 0
        assert "needs a reason" in str(result.exception) or "needs a reason" in result.output
