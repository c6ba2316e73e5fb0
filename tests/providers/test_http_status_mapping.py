"""The HTTP providers share one status → error-class mapping (providers/_http.py); they differ
only in the label, Anthropic's overload signal and the 413 hint."""

import json

import pytest

from assay.providers import AnthropicProvider, OpenAICompatProvider
from assay.providers._http import HttpReply


def _reply(status, body="", headers=None):
    return HttpReply(status, body, headers or {}, 1.0)


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (400, "client_error", False),
        (401, "client_error", False),
        (404, "client_error", False),
        (408, "timeout", True),
        (413, "client_error", False),
        (429, "rate_limited", True),
        (500, "server_error", True),
        (503, "server_error", True),
    ],
)
def test_both_providers_map_statuses_alike(status, error_class, retryable):
    providers = [
        OpenAICompatProvider(base_url="http://127.0.0.1:9/v1", api_key_env=None),
        AnthropicProvider(base_url="http://127.0.0.1:9", api_key_env=None),
    ]
    errors = [p._status_error(_reply(status, '{"error": {"message": "no"}}')) for p in providers]
    assert [(e.error_class, e.retryable, e.status) for e in errors] == [
        (error_class, retryable, status)
    ] * 2
    assert all(f"HTTP {status}" in str(e) and "no" in str(e) for e in errors)


def test_the_differences_are_the_overload_signal_the_label_and_the_413_hint():
    openai = OpenAICompatProvider(base_url="http://127.0.0.1:9/v1", api_key_env=None)
    anthropic = AnthropicProvider(base_url="http://127.0.0.1:9", api_key_env=None)
    overloaded = json.dumps({"error": {"type": "overloaded_error", "message": "busy"}})
    retry = {"Retry-After": "3"}
    a, o = (
        anthropic._status_error(_reply(529, overloaded, retry)),
        openai._status_error(_reply(529, overloaded, retry)),
    )
    assert (a.error_class, a.retry_after) == ("overloaded", 3.0)
    assert (o.error_class, o.retry_after) == ("server_error", 3.0)
    assert "HTTP 529, overloaded_error" in str(a) and "HTTP 529)" in str(o)
    too_large = json.dumps({"error": {"type": "request_too_large", "message": "big"}})
    assert "shorten the prompt" in str(anthropic._status_error(_reply(413, too_large)))
    assert "shorten the prompt" not in str(openai._status_error(_reply(413, too_large)))
    for provider in (openai, anthropic):
        assert "base_url" in str(provider._status_error(_reply(404)))
        assert "api_key_env" in str(provider._status_error(_reply(401)))
