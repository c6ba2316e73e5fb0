"""Test helpers shipped with assay: a local mock server (OpenAI chat completions and Anthropic
messages) with latency distributions, fault injection and call counters."""

from assay.testing.mock_openai import (
    FAULT_KINDS,
    FaultConfig,
    MockOpenAIServer,
    ThreadedMockServer,
    count_tokens,
    echo_answer,
    request_key,
)

__all__ = [
    "FAULT_KINDS",
    "FaultConfig",
    "MockOpenAIServer",
    "ThreadedMockServer",
    "count_tokens",
    "echo_answer",
    "request_key",
]
