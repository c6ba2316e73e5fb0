"""The traffic simulator's world in a store, and the monitors the tests watch it with (not a
test module)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from assay.monitor.spec import Monitors, monitors_from_text
from assay.store import Store
from assay.testing.traffic import TrafficConfig, TrafficResult, simulate

SPEC = """
window: 1h
lookback: 8d
baseline: 100
false_alarms_per_1000: 0.05
routes:
  - name: json-extract
    segment_by: app.segment
    signals: [format_validity, error_rate, refusal_rate, output_length, latency, outcome_failure, feedback]
    slos:
      - {signal: format_validity, objective: 0.99}
      - {signal: error_rate, objective: 0.95}
  - name: support-qa
    segment_by: app.segment
    signals: [error_rate, refusal_rate, output_length, latency, outcome_failure, feedback]
    slos: [{signal: error_rate, objective: 0.95}]
  - name: rag-search
    segment_by: app.segment
    signals: [error_rate, refusal_rate, output_length, latency, outcome_failure, feedback]
  - name: agent-orders
    segment_by: app.segment
    signals: [error_rate, refusal_rate, output_length, latency, outcome_failure, feedback]
"""


def monitors(base: Path | None = None) -> Monitors:
    return monitors_from_text(SPEC, base_dir=base or Path("."))


def load_world(store: Store, config: TrafficConfig) -> TrafficResult:
    """Simulate ``config`` and store its spans, feedback and outcomes through the real mapping
    (OTLP request → conventions) and writer (redaction off: these tests are about monitoring)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from assay.trace.conventions import spans_from_request
    from assay.trace.feedback import record_feedback, record_outcomes
    from assay.trace.ingest import store_spans

    exporter = InMemorySpanExporter()
    result = simulate(config, exporter=exporter)
    spans, events, _ = spans_from_request(encode_spans(exporter.get_finished_spans()))
    store_spans(store, spans, events, redact=False, note="simulated traffic (monitor tests)")
    record_feedback(store, result.feedback, sync=False)
    record_outcomes(store, result.outcomes, sync=False)
    return result


def pass_time(result: TrafficResult) -> timedelta:
    """How long after the window's start the tests' monitoring pass runs (its end + 1 h)."""
    return result.truth.end - result.truth.start + timedelta(hours=1)
