"""Run a tiny app instrumented by a real OpenAI instrumentation, exporting real OTLP/HTTP.

A helper for the trace-receiver tests (not a test module)::

    run_instrumented_app("genai-latest", "http://127.0.0.1:4318", mock.base_url)

sends ``POST {otlp_endpoint}/v1/traces`` (and ``/v1/logs``) requests, exactly as a user's
application would, to whatever listens at ``otlp_endpoint``. The app runs in a fresh
interpreter because instrumentations patch the ``openai`` module globally and read their
configuration from the environment, so each convention needs its own process.

Conventions (the environment each gets; inherited ``OTEL_*``/``OPENINFERENCE_*`` variables are
dropped so the runs are reproducible):

- ``"genai"``: ``opentelemetry-instrumentation-openai-v2`` as its docs describe the default
  (legacy) path: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``, no opt-in. Since
  util-genai 1.0 the opt-in is always on (``is_experimental_mode()`` returns ``True``) and
  ``true`` is not a valid capture mode (it warns and falls back to ``NO_CONTENT``), so this run
  captures no message content and sends no log records (fixture ``openai_v2_spans.json``).
- ``"genai-latest"``: the same instrumentation with
  ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` and
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_AND_EVENT``: content on the span
  (``gen_ai.input.messages`` ...) and one ``gen_ai.client.inference.operation.details`` log
  record per call.
- ``"openinference"``: ``openinference-instrumentation-openai`` with its defaults (content
  captured as ``llm.input_messages.N.message.*`` attributes).

The app makes (a) a plain chat completion with a system and a user message. The project's mock
server (:mod:`assay.testing.mock_openai`) answers neither with tool calls nor with server-sent
events, so (b) a tool-calling completion and (c) a streamed completion are off by default; a
server that supports them can turn them on with ``tool_call=True`` / ``stream=True``.

``opentelemetry-instrumentation-openai-v2`` 2.4b0 imports ``opentelemetry.util.genai.instruments``,
which ``opentelemetry-util-genai`` removed in 1.2b0: it needs ``opentelemetry-util-genai<1.2``
(1.1b0), or the ``genai`` conventions fail with ``ModuleNotFoundError`` (raised here with the
subprocess's stderr).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Literal

Convention = Literal["genai", "genai-latest", "openinference"]
CONVENTIONS: tuple[Convention, ...] = ("genai", "genai-latest", "openinference")

MODEL = "mock-1"
SYSTEM_PROMPT = "You are a terse assistant."
USER_PROMPT = "What is the capital of France?"
TOOL_PROMPT = "What is the weather in Paris?"
STREAM_PROMPT = "Count to three."
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

_ENV: dict[Convention, dict[str, str]] = {
    "genai": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"},
    "genai-latest": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT",
    },
    "openinference": {},
}


def convention_env(convention: Convention) -> dict[str, str]:
    """The environment of the app's process for ``convention``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "OPENINFERENCE_"))
    }
    env.update(_ENV[convention])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_instrumented_app(
    convention: Convention,
    otlp_endpoint: str,
    openai_base_url: str,
    timeout: float = 60,
    *,
    tool_call: bool = False,
    stream: bool = False,
) -> None:
    """Run the instrumented app in a subprocess; return once its telemetry is exported.

    ``otlp_endpoint`` is the receiver's root (``http://127.0.0.1:PORT``): spans go to
    ``/v1/traces``, log records to ``/v1/logs`` (protobuf, uncompressed). ``openai_base_url``
    is the ``.../v1`` URL of an OpenAI-compatible server. Raises :class:`RuntimeError` with the
    subprocess's stderr if the app fails, including when an export is not accepted.
    """
    if convention not in _ENV:
        raise ValueError(f"unknown convention {convention!r}; one of {CONVENTIONS}")
    args = {
        "convention": convention,
        "otlp_endpoint": otlp_endpoint.rstrip("/"),
        "openai_base_url": openai_base_url,
        "tool_call": tool_call,
        "stream": stream,
        "timeout": timeout,
    }
    try:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), json.dumps(args)],
            env=convention_env(convention),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise RuntimeError(
            f"instrumented app ({convention}) timed out after {timeout}s:\n{stderr}"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"instrumented app ({convention}) exited with {proc.returncode}:\n{proc.stderr}"
        )


# -- the app (runs in the subprocess) ---------------------------------------------------------


def _app(args: dict[str, Any]) -> None:
    from openai import OpenAI
    from opentelemetry import trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    convention: Convention = args["convention"]
    endpoint: str = args["otlp_endpoint"]
    export_timeout = max(1.0, float(args["timeout"]) / 2)
    failures: list[str] = []

    class SpanExporter(OTLPSpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            result = super().export(spans)
            if result is not SpanExportResult.SUCCESS:
                failures.append(f"span export to {endpoint}/v1/traces failed")
            return result

    class LogExporter(OTLPLogExporter):
        def export(self, batch: Any) -> LogRecordExportResult:
            result = super().export(batch)
            if result is not LogRecordExportResult.SUCCESS:
                failures.append(f"log export to {endpoint}/v1/logs failed")
            return result

    resource = Resource.create({"service.name": f"assay-realclients-{convention}"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(SpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=export_timeout))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(LogExporter(endpoint=f"{endpoint}/v1/logs", timeout=export_timeout))
    )
    trace.set_tracer_provider(tracer_provider)
    set_logger_provider(logger_provider)

    if convention == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIInstrumentor

        OIInstrumentor().instrument(tracer_provider=tracer_provider)
    else:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(  # type: ignore[no-untyped-call]
            tracer_provider=tracer_provider, logger_provider=logger_provider
        )

    client = OpenAI(base_url=args["openai_base_url"], api_key="test", max_retries=0)
    # (a) a plain completion with a system and a user message
    client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT},
        ],
        temperature=0.0,
        max_tokens=64,
    )
    if args["tool_call"]:
        # (b) a completion offering a tool; the answer's tool call is sent back with a result
        messages: list[Any] = [{"role": "user", "content": TOOL_PROMPT}]
        tools: Any = [WEATHER_TOOL]
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        reply = first.choices[0].message
        if reply.tool_calls:
            messages.append(reply.model_dump(exclude_none=True))
            for call in reply.tool_calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'}
                )
            client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    if args["stream"]:
        # (c) a streamed completion, read to the end
        chunks = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": STREAM_PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in chunks:
            pass

    flushed = tracer_provider.force_flush(int(export_timeout * 1000))
    flushed = logger_provider.force_flush(int(export_timeout * 1000)) and flushed
    tracer_provider.shutdown()
    logger_provider.shutdown()
    if not flushed:
        failures.append("telemetry was not flushed in time")
    if failures:
        sys.exit("; ".join(failures))


if __name__ == "__main__":
    _app(json.loads(sys.argv[1]))
