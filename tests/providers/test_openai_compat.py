"""OpenAICompatProvider against the local mock server over loopback (never a replaced class)."""

from __future__ import annotations

import asyncio
import json
import pickle
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from assay.core import ConfigError, Message, ModelRequest, ProviderError
from assay.providers import OpenAICompatProvider, parse_retry_after
from assay.testing import MockOpenAIServer

SECRET = "sk-assay-test-7f3c9e1d2b4a-DO-NOT-LEAK"


def req(text: str = "hello world", **kw) -> ModelRequest:
    return ModelRequest(model="gpt-test", messages=(Message(role="user", content=text),), **kw)


@pytest.fixture
async def server():
    async with MockOpenAIServer(model="mock-1-2026-01-01", system_fingerprint="fp_abc") as s:
        yield s


async def test_success_fields(server: MockOpenAIServer) -> None:
    provider = OpenAICompatProvider(base_url=server.base_url + "/", api_key_env=None)
    try:
        out = await provider.generate(
            ModelRequest(
                model="gpt-test",
                messages=(
                    Message(role="system", content="be brief"),
                    Message(role="user", content="what is two plus two"),
                ),
                params={"temperature": 0.0, "max_tokens": 5},
                seed=11,
                context={"target": "4", "metadata": {"secret-ish": 1}},
            )
        )
    finally:
        await provider.aclose()
    assert out.text == "echo: what is two plus two"
    assert out.model == "mock-1-2026-01-01"  # the resolved model, not the requested one
    assert out.system_fingerprint == "fp_abc"
    assert out.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (7, 6, 13)
    assert out.latency_ms is not None and out.latency_ms > 0
    assert out.raw is not None and out.raw["choices"][0]["message"]["content"] == out.text
    assert out.raw["model"] == "mock-1-2026-01-01"
    assert out.metadata["request_id"] == "req-mock-0"
    # what was sent: model, messages, params, seed; never the context
    body = server.requests[0]
    assert body == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what is two plus two"},
        ],
        "temperature": 0.0,
        "max_tokens": 5,
        "seed": 11,
    }


async def test_explicit_seed_param_wins(server: MockOpenAIServer) -> None:
    provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
    await provider.generate(req(params={"seed": 5}, seed=9))
    await provider.generate(req())
    await provider.aclose()
    assert server.requests[0]["seed"] == 5
    assert "seed" not in server.requests[1]


async def test_silent_model_change_visible() -> None:
    async with MockOpenAIServer(model="mock-1", model_after=(2, "mock-2")) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        models = [(await provider.generate(req(f"q{i}"))).model for i in range(4)]
        await provider.aclose()
    assert models == ["mock-1", "mock-1", "mock-2", "mock-2"]


async def test_null_content_is_empty_text() -> None:
    async with MockOpenAIServer() as server:
        server.answer = lambda body: None
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        out = await provider.generate(req())
        await provider.aclose()
    assert out.text == ""


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        ("rate_limit", "rate_limited", 429),
        ("error_500", "server_error", 500),
        ("error_503", "server_error", 503),
        ("malformed", "malformed_response", 200),
        ("drop", "connection", None),
        ("truncate", "connection", None),
        ("hang", "timeout", None),
    ],
)
async def test_fault_mapping(fault: str, error_class: str, status: int | None) -> None:
    faults = {"script": [fault, "ok"], "retry_after": 2.5, "hang_s": 10}
    async with MockOpenAIServer(faults=faults) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None, timeout=0.5)
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
        # the provider never retries: exactly one call reached the server
        assert server.calls == 1
        # and the next call on the same provider works
        out = await provider.generate(req("again"))
        await provider.aclose()
    err = info.value
    assert err.error_class == error_class
    assert err.retryable is True
    assert err.status == status
    if fault == "rate_limit":
        assert err.retry_after == 2.5
    assert out.text == "echo: again"


def _custom_app(status: int, body: str, headers: dict[str, str] | None = None) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            status=status, text=body, content_type="application/json", headers=headers
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    return app


async def _serve(app: web.Application):
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (400, "client_error", False),
        (404, "client_error", False),
        (422, "client_error", False),
        (408, "timeout", True),
        (502, "server_error", True),
        (504, "server_error", True),
    ],
)
async def test_status_mapping(status: int, error_class: str, retryable: bool) -> None:
    long_message = "bad field 'messages'. " + "x" * 1000
    body = json.dumps({"error": {"message": long_message, "type": "invalid_request_error"}})
    runner, base_url = await _serve(_custom_app(status, body))
    provider = OpenAICompatProvider(base_url=base_url, api_key_env=None)
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    err = info.value
    assert (err.error_class, err.retryable, err.status) == (error_class, retryable, status)
    assert "bad field 'messages'" in str(err)
    assert len(err.message) < 400  # the server's message is truncated


@pytest.mark.parametrize(
    "body",
    ['{"id": "x", "model": "m"}', '{"choices": []}', "[1, 2]", '{"choices": [{"index": 0}]}'],
)
async def test_missing_choices_is_malformed(body: str) -> None:
    runner, base_url = await _serve(_custom_app(200, body))
    provider = OpenAICompatProvider(base_url=base_url, api_key_env=None)
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    assert info.value.error_class == "malformed_response"
    assert info.value.retryable


async def test_connection_dropped_by_custom_handler() -> None:
    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner, base_url = await _serve(app)
    provider = OpenAICompatProvider(base_url=base_url, api_key_env=None)
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    assert info.value.error_class == "connection"
    assert info.value.retryable


async def test_connection_refused() -> None:
    # bind then release a port, so nothing listens there
    runner, base_url = await _serve(_custom_app(200, "{}"))
    await runner.cleanup()
    provider = OpenAICompatProvider(base_url=base_url, api_key_env=None, timeout=5)
    with pytest.raises(ProviderError) as info:
        await provider.generate(req())
    await provider.aclose()
    assert info.value.error_class == "connection"
    assert info.value.retryable


async def test_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}
    runner, base_url = await _serve(_custom_app(429, '{"error": "slow down"}', headers))
    provider = OpenAICompatProvider(base_url=base_url, api_key_env=None)
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    assert info.value.error_class == "rate_limited"
    assert info.value.retry_after is not None and 100 < info.value.retry_after <= 120
    assert "slow down" in str(info.value)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"Retry-After": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert parse_retry_after({"Retry-After": past}) == 0.0


def test_missing_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        OpenAICompatProvider(base_url="http://127.0.0.1:1/v1")
    text = str(info.value)
    assert "environment variable OPENAI_API_KEY is not set" in text
    assert text.startswith("openai: ")
    assert "export OPENAI_API_KEY=..." in text
    assert "api_key_env: null" in text

    monkeypatch.setenv("MY_KEY", "  ")
    with pytest.raises(ConfigError) as info:
        OpenAICompatProvider(base_url="http://x/v1", api_key_env="MY_KEY", where="eval.yaml:7")
    assert str(info.value).startswith("eval.yaml:7: environment variable MY_KEY is not set")


async def test_api_key_is_sent_and_never_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_TEST_KEY", SECRET)
    seen: list[str] = []

    def answer_echoing_key(body: dict[str, object]) -> str:
        # a hostile/buggy server that echoes the credential back in its answer
        return f"your key is {SECRET}"

    script = ["ok", "ok", "error_500", "rate_limit", "malformed", "drop"]
    async with MockOpenAIServer(require_api_key=SECRET, faults={"script": script}) as server:
        good = OpenAICompatProvider(
            name="p", base_url=server.base_url, api_key_env="ASSAY_TEST_KEY", timeout=5
        )
        seen.append(repr(good))
        seen.append(str(vars(good).get("api_key", "")))
        out = await good.generate(req())
        seen += [out.model_dump_json(), repr(out)]
        server.answer = answer_echoing_key
        echoed = await good.generate(req())
        seen += [echoed.model_dump_json(), repr(echoed)]
        assert "***" in echoed.text

        # every error path
        for _ in range(4):
            with pytest.raises(ProviderError) as info:
                await good.generate(req())
            seen += [str(info.value), repr(info.value), repr(info.value.__dict__)]
        seen.append(repr(good))
        seen.append(str(pickle.dumps(good)))
        await good.aclose()

        # a wrong key: 401 client_error, message tells where to look, key not echoed
        monkeypatch.setenv("ASSAY_WRONG_KEY", SECRET + "-wrong")
        wrong = OpenAICompatProvider(
            base_url=server.base_url, api_key_env="ASSAY_WRONG_KEY", timeout=5
        )
        with pytest.raises(ProviderError) as info:
            await wrong.generate(req())
        await wrong.aclose()
        assert info.value.error_class == "client_error" and info.value.status == 401
        assert "ASSAY_WRONG_KEY" in str(info.value)
        seen += [str(info.value), repr(wrong)]

        # the key was actually sent on the wire
        assert out.text == "echo: hello world"

    blob = "\n".join(seen)
    assert SECRET not in blob
    assert "7f3c9e1d2b4a" not in blob


async def test_pickled_provider_rereads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_TEST_KEY", SECRET)
    async with MockOpenAIServer(require_api_key=SECRET) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env="ASSAY_TEST_KEY")
        copy = pickle.loads(pickle.dumps(provider))
        out = await copy.generate(req())
        await copy.aclose()
    assert out.text == "echo: hello world"


async def test_concurrent_calls_share_one_session(server: MockOpenAIServer) -> None:
    provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
    outs = await asyncio.gather(*(provider.generate(req(f"q {i}")) for i in range(50)))
    session = provider._session
    await provider.aclose()
    assert session is not None and session.closed
    assert [o.text for o in outs] == [f"echo: q {i}" for i in range(50)]
    assert server.calls == 50


def test_provider_usable_across_event_loops() -> None:
    handle = MockOpenAIServer().start_in_thread()

    async def call(provider: OpenAICompatProvider, text: str) -> str:
        try:
            return (await provider.generate(req(text))).text
        finally:
            await provider.aclose()

    try:
        provider = OpenAICompatProvider(base_url=handle.base_url, api_key_env=None)
        # each asyncio.run is a new loop: the provider opens a fresh session inside it
        texts = [asyncio.run(call(provider, "one")), asyncio.run(call(provider, "two"))]
    finally:
        handle.stop()
    assert texts == ["echo: one", "echo: two"]
    assert handle.calls == 2


@pytest.mark.parametrize(
    "body",
    [
        {
            "model": "m-1",
            "system_fingerprint": "fp",
            "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4.0, "total_tokens": 7},
        },
        {"choices": [{"message": {"content": None}}]},
        {
            "model": 7,
            "choices": [{"message": {"content": [{"text": "a"}, "b"]}, "finish_reason": 1}],
            "usage": {"prompt_tokens": True, "completion_tokens": "4", "total_tokens": 2.5},
        },
        {"choices": [{"message": {"content": "x"}}], "usage": "none"},
    ],
)
@pytest.mark.parametrize("latency", [12.5, 3, None])
def test_a_parsed_output_is_what_validated_construction_gives(body, latency):
    """The parser builds the output without validation (hot path); it must equal the
    validated model field for field, value type included."""
    from assay.core import Output, Usage
    from assay.providers._http import HttpReply, int_or_none, str_or_none

    provider = OpenAICompatProvider(base_url="http://127.0.0.1:9", api_key_env=None)
    reply = HttpReply(200, json.dumps(body), {"x-request-id": "r1"}, latency)
    parsed = provider._parse(reply)
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    content = body["choices"][0]["message"]["content"]
    expected = Output(
        text="ab" if isinstance(content, list) else (content or ""),
        model=str_or_none(body.get("model")),
        system_fingerprint=str_or_none(body.get("system_fingerprint")),
        finish_reason=str_or_none(body["choices"][0].get("finish_reason")),
        usage=Usage(
            input_tokens=int_or_none(usage.get("prompt_tokens")),
            output_tokens=int_or_none(usage.get("completion_tokens")),
            total_tokens=int_or_none(usage.get("total_tokens")),
        ),
        latency_ms=latency,
        raw=body,
        metadata={"request_id": "r1"},
    )
    assert parsed == expected
    assert parsed.model_dump_json() == expected.model_dump_json()
    assert {k: type(v) for k, v in parsed} == {k: type(v) for k, v in expected}
    assert parsed.usage.model_fields_set == expected.usage.model_fields_set | {
        "input_tokens",
        "output_tokens",
        "total_tokens",
    }
