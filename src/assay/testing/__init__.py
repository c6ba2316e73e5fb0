"""Test helpers shipped with assay: a local mock server (OpenAI chat completions and Anthropic
messages) with latency distributions, fault injection and call counters, and simulated
production traffic with known truth (:mod:`assay.testing.traffic`; OpenTelemetry is imported
only when :func:`simulate` runs)."""

from assay.testing.mock_openai import (
    FAULT_KINDS,
    FaultConfig,
    MockOpenAIServer,
    ThreadedMockServer,
    count_tokens,
    echo_answer,
    request_key,
)
from assay.testing.traffic import Incident, TrafficConfig, TrafficResult, TrafficTruth, simulate

__all__ = [
    "FAULT_KINDS",
    "FaultConfig",
    "Incident",
    "MockOpenAIServer",
    "ThreadedMockServer",
    "TrafficConfig",
    "TrafficResult",
    "TrafficTruth",
    "count_tokens",
    "echo_answer",
    "request_key",
    "simulate",
]
