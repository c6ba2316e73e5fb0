"""The receiver as a user runs it: ``assay collect`` / ``assay serve`` in their own process, fed
by the real OTel SDK's batch processor and OTLP/HTTP exporter.

- SIGKILL mid-stream: the collector is killed while an app exports; a new one starts on the
  same port; the exporter retries, and every span the app made is stored exactly once.
- Real instrumentations: an app using the ``openai`` SDK against the project's mock server,
  instrumented with ``opentelemetry-instrumentation-openai-v2`` and with
  ``openinference-instrumentation-openai``, exports to ``assay serve``; both conventions give
  the same model, tokens, messages and timings for the same calls.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.trace.realclients import run_instrumented_app

from assay.store import Store
from assay.store.tables import spans


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], port: int, health: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["assay", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"assay {' '.join(args)} did not start")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'assay.db'}"


def test_sigkill_mid_stream_loses_nothing_the_exporter_retried(db: str) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    port = free_port()
    args = ["collect", "--port", str(port), "--db", db]
    collector = start(args, port, "/healthz")
    made = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "killed"}))
    provider.add_span_processor(SimpleSpanProcessor(made))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=60),
            max_queue_size=100_000,
            max_export_batch_size=256,
            schedule_delay_millis=20,
        )
    )
    tracer = provider.get_tracer("app")
    done = threading.Event()

    def app() -> None:
        for i in range(600):
            with tracer.start_as_current_span("request", attributes={"i": i}):
                for j in range(4):
                    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "j": j}
                    with tracer.start_as_current_span("chat m", attributes=attrs):
                        pass
            time.sleep(0.004)
        done.set()

    thread = threading.Thread(target=app)
    thread.start()
    time.sleep(1.0)
    collector.send_signal(signal.SIGKILL)
    collector.wait()
    killed_at = len(made.get_finished_spans())
    time.sleep(0.5)
    collector = start(args, port, "/healthz")
    try:
        thread.join(60)
        assert done.is_set()
        assert provider.force_flush(90_000)
        provider.shutdown()
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)
    expected = {(s.context.trace_id, s.context.span_id) for s in made.get_finished_spans()}
    assert len(expected) == 3000 and 0 < killed_at < 3000
    with Store(db) as store, store.engine.connect() as conn:
        rows = conn.execute(select(spans.c.trace_id, spans.c.span_id)).all()
    stored = [(int(t, 16), int(s, 16)) for t, s in rows]
    assert len(stored) == len(set(stored))
    assert set(stored) == expected


@pytest.fixture(scope="module")
def mock_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "assay.testing", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(10)


def test_real_instrumentations_into_assay_serve(db: str, mock_server: str, tmp_path: Path) -> None:
    port = free_port()
    server = start(["serve", "--port", str(port), "--db", db], port, "/api/runs")
    try:
        for convention in ("genai", "genai-latest", "openinference"):
            run_instrumented_app(convention, f"http://127.0.0.1:{port}", mock_server)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    with Store(db) as store, store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(spans)).mappings()]
    assert len(rows) == 3, [r["service"] for r in rows]
    plain = next(r for r in rows if r["service"] == "assay-realclients-genai")
    latest = next(r for r in rows if r["service"] == "assay-realclients-genai-latest")
    oi = next(r for r in rows if r["service"] == "assay-realclients-openinference")
    for row in (plain, latest, oi):
        assert row["kind"] == "llm"
        assert row["model_resolved"] == "mock-1" and row["model_requested"] == "mock-1"
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
        assert 0 < row["duration_ms"] < 30_000
    assert (latest["input_tokens"], latest["output_tokens"]) == (
        oi["input_tokens"],
        oi["output_tokens"],
    )
    assert (plain["input_tokens"], plain["output_tokens"]) == (
        oi["input_tokens"],
        oi["output_tokens"],
    )
    roles = lambda r: [(m["role"], m["content"]) for m in json.loads(r["input_json"])]  # noqa: E731
    assert roles(latest) == roles(oi)
    assert roles(oi)[1] == ("user", "What is the capital of France?")
    assert json.loads(latest["output_json"])[0]["content"].startswith("echo:")
    assert json.loads(oi["output_json"])[0]["content"].startswith("echo:")
    # `assay traces show` prints what arrived.
    env = {**os.environ, "ASSAY_DB": db}
    shown = subprocess.run(
        ["assay", "traces", "show", oi["trace_id"]], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert "What is the capital of France?" in shown.stdout
    assert "mock-1" in shown.stdout
