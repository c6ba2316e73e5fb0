"""The OTLP receiver's cost per span against a floor measured in the same run (issue 11).

The workload: N LLM spans in traces of 5 (half with the OpenTelemetry GenAI conventions, half
with OpenInference; each carries a prompt and an answer, some with an email or phone number to
redact), made with the real OTel SDK and sent by its OTLP/HTTP protobuf exporter
(``OTLPSpanExporter.export``, batches of 512 as the ``BatchSpanProcessor`` sends them) to
``assay collect`` running in its own process with redaction on, into SQLite.

- server: the collector's CPU time (``/proc/PID/stat`` utime+stime) from before the first
  request until the last response (a response only comes after its batch is committed), per
  1,000 spans; spans/s over the same wall time; the collector's peak RSS (VmHWM).
- floor: in this process, the same protobuf request bodies parsed with
  ``ExportTraceServiceRequest.FromString`` and every span ``executemany``-ed into a bare SQLite
  table (ids, name, times, the serialised attributes) in WAL mode: decoding and storing, nothing
  else.

    python benchmarks/trace_ingest.py                  # N = 20,000, RSS also at 200,000
    python benchmarks/trace_ingest.py --n 5000 --rss-large 0

Arize Phoenix 20.x with SQLite needed about 7.8 ms of server CPU per span on these machines for
this workload (issue 11); it is not run here, and the last line quotes the ratio to that figure.
The last line is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHOENIX_MS_PER_SPAN = 7.8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_spans(n: int, seed: int = 7) -> list:  # type: ignore[type-arg]
    """N finished SDK spans: traces of 5 LLM spans, GenAI and OpenInference alternating."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    rng = random.Random(seed)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    words = [
        "refund",
        "order",
        "shipping",
        "account",
        "invoice",
        "password",
        "delivery",
        "warranty",
    ]
    for t in range(n // 5):
        genai = t % 2 == 0
        with tracer.start_as_current_span("chat gpt-4o-mini") as root:
            for k in range(5):
                question = " ".join(rng.choice(words) for _ in range(rng.randint(8, 40)))
                if rng.random() < 0.1:
                    question += f" reach me at user{rng.randint(1, 999)}@example.com"
                if rng.random() < 0.05:
                    question += " or call +1 415 555 0134"
                answer = " ".join(rng.choice(words) for _ in range(rng.randint(10, 80)))
                if genai:
                    attrs = {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                        "gen_ai.usage.input_tokens": len(question.split()) * 2,
                        "gen_ai.usage.output_tokens": len(answer.split()) * 2,
                        "gen_ai.response.finish_reasons": ["stop"],
                        "gen_ai.conversation.id": f"s{t // 3}",
                        "gen_ai.input.messages": json.dumps(
                            [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                        ),
                        "gen_ai.output.messages": json.dumps(
                            [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
                        ),
                    }
                else:
                    attrs = {
                        "openinference.span.kind": "LLM",
                        "llm.provider": "openai",
                        "llm.model_name": "gpt-4o-mini-2024-07-18",
                        "llm.token_count.prompt": len(question.split()) * 2,
                        "llm.token_count.completion": len(answer.split()) * 2,
                        "llm.input_messages.0.message.role": "user",
                        "llm.input_messages.0.message.content": question,
                        "llm.output_messages.0.message.role": "assistant",
                        "llm.output_messages.0.message.content": answer,
                        "session.id": f"s{t // 3}",
                        "user.id": f"u{t % 97}",
                    }
                if k == 0:
                    root.set_attributes(attrs)
                    continue
                with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attrs):
                    pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


def batches(spans: list, size: int = 512) -> list[list]:  # type: ignore[type-arg]
    return [spans[i : i + size] for i in range(0, len(spans), size)]


def floor_cpu(bodies: list[bytes], folder: Path) -> float:
    """CPU seconds to parse the bodies and executemany every span into a bare SQLite table."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE spans (trace_id TEXT, span_id TEXT, name TEXT, start INTEGER, "
        "end INTEGER, attributes BLOB, PRIMARY KEY (trace_id, span_id))"
    )
    start = time.process_time()
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        rows = [
            (
                span.trace_id.hex(),
                span.span_id.hex(),
                span.name,
                span.start_time_unix_nano,
                span.end_time_unix_nano,
                b"".join(kv.SerializeToString() for kv in span.attributes),
            )
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO spans VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    used = time.process_time() - start
    db.close()
    return used


def serve_and_send(spans: list, folder: Path, tag: str, clients: int = 4) -> dict[str, float]:  # type: ignore[type-arg]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    port = free_port()
    db = f"sqlite:///{folder / f'{tag}.db'}"
    env = {**os.environ, "ASSAY_REDACTION_KEY": "bench"}
    server = subprocess.Popen(
        ["assay", "collect", "--port", str(port), "--db", db],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("assay collect did not start") from None
            time.sleep(0.1)
    from concurrent.futures import ThreadPoolExecutor

    # Several apps export at once (one exporter each), as in production; each export encodes its
    # batch and waits for the commit, so one exporter alone would measure the client.
    exporters = [
        OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=120)
        for _ in range(clients)
    ]
    work = batches(spans)
    cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()

    def send(k: int) -> None:
        for batch in work[k::clients]:
            if exporters[k].export(batch) is not SpanExportResult.SUCCESS:
                raise RuntimeError("an export failed")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(clients)))
    wall = time.perf_counter() - wall0
    cpu = cpu_seconds(server.pid) - cpu0
    rss = peak_rss_mb(server.pid)
    for each in exporters:
        each.shutdown()
    server.terminate()
    server.wait(30)
    with sqlite3.connect(folder / f"{tag}.db") as check:
        stored = check.execute("SELECT count(*) FROM spans").fetchone()[0]
    if stored != len(spans):
        raise RuntimeError(f"{stored} of {len(spans)} spans stored")
    return {"cpu": cpu, "wall": wall, "rss": rss, "n": len(spans)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rss-large", type=int, default=200_000)
    args = parser.parse_args()
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spans = make_spans(args.n)
        bodies = [encode_spans(b).SerializeToString() for b in batches(spans)]
        floor = floor_cpu(bodies, folder)
        result = serve_and_send(spans, folder, "n")
        per_k = result["cpu"] / result["n"] * 1000 * 1000
        floor_per_k = floor / len(spans) * 1000 * 1000
        ratio = per_k / floor_per_k
        rate = result["n"] / result["wall"]
        cpu_rate = result["n"] / result["cpu"]
        print(
            f"N={result['n']:,}: server CPU {per_k:.0f} ms per 1,000 spans "
            f"(floor {floor_per_k:.0f} ms), {rate:,.0f} spans/s wall, "
            f"{cpu_rate:,.0f} spans per CPU-second, peak RSS {result['rss']:.0f} MB"
        )
        rss_line = ""
        if args.rss_large:
            del spans, bodies
            large = serve_and_send(make_spans(args.rss_large, seed=8), folder, "large")
            print(
                f"N={large['n']:,}: {large['n'] / large['wall']:,.0f} spans/s, "
                f"peak RSS {large['rss']:.0f} MB"
            )
            small_k, large_k = args.n // 1000, args.rss_large // 1000
            rss_line = (
                f" rss_{small_k}k_mb={result['rss']:.0f} rss_{large_k}k_mb={large['rss']:.0f}"
            )
        phoenix = PHOENIX_MS_PER_SPAN / (per_k / 1000)
        print(
            f"trace_ingest: cpu_ratio_to_floor={ratio:.2f} (target <= 3) "
            f"spans_per_s={rate:,.0f} spans_per_cpu_s={cpu_rate:,.0f} (target >= 3000)"
            f"{rss_line} phoenix_cpu_ratio={phoenix:.0f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
