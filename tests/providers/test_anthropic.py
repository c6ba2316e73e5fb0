"""AnthropicProvider against the local mock's /v1/messages over loopback (never a replaced class)."""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from assay.core import ConfigError, Message, ModelRequest, ProviderError
from assay.providers import (
    AnthropicProvider,
    OpenAICompatProvider,
    create_provider,
    known_provider_kinds,
)
from assay.testing import MockOpenAIServer, request_key

SECRET = "sk-ant-assay-test-5e8d2c7a91f0-DO-NOT-LEAK"


def req(text: str = "hello world", **kw: Any) -> ModelRequest:
    return ModelRequest(model="claude-test", messages=(Message(role="user", content=text),), **kw)


def provider_for(server: MockOpenAIServer, **kw: Any) -> AnthropicProvider:
    kw.setdefault("api_key_env", None)
    return AnthropicProvider(base_url=server.anthropic_base_url, **kw)


@pytest.fixture
async def server():
    async with MockOpenAIServer(model="claude-mock-20260101") as s:
        yield s


async def test_request_and_response_mapping(server: MockOpenAIServer) -> None:
    provider = provider_for(server)
    try:
        out = await provider.generate(
            ModelRequest(
                model="claude-test",
                messages=(
                    Message(role="system", content="be brief"),
                    Message(role="user", content="what is two plus two"),
                    Message(role="assistant", content="four"),
                    Message(role="system", content="answer in digits"),
                    Message(role="user", content="and three plus three"),
                ),
                params={
                    "temperature": 0.2,
                    "top_p": 0.9,
                    "top_k": 40,
                    "stop": "###",
                    "metadata": {"user_id": "u-1"},
                },
                seed=11,
                context={"target": "6"},
            )
        )
    finally:
        await provider.aclose()
    # what was sent: system hoisted and joined, max_tokens defaulted, stop renamed, no seed,
    # the unknown param passed through, never the context
    assert server.requests[0] == {
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "be brief\n\nanswer in digits",
        "messages": [
            {"role": "user", "content": "what is two plus two"},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "and three plus three"},
        ],
        "stop_sequences": ["###"],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
    }
    assert out.text == "echo: and three plus three"
    assert out.model == "claude-mock-20260101"  # the resolved model, not the requested one
    assert out.finish_reason == "end_turn"
    # input: 5 (joined system) + 5 + 1 + 4 whitespace tokens; output "echo: and three plus three"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (
        15,
        5,
        20,
    )
    assert out.system_fingerprint is None
    assert out.latency_ms is not None and out.latency_ms > 0
    assert out.raw is not None and out.raw["id"] == "msg_mock_0"
    assert out.raw["content"] == [{"type": "text", "text": out.text}]
    assert out.metadata == {"request_id": "req_mock_0"}


async def test_max_tokens_and_stop_forms(server: MockOpenAIServer) -> None:
    provider = provider_for(server, default_max_tokens=77)
    await provider.generate(req(params={"max_tokens": 5, "stop": ["a", "b"]}))
    await provider.generate(req(params={"max_completion_tokens": 9, "stop": None}))
    await provider.generate(req())
    await provider.aclose()
    sent = server.requests
    assert (sent[0]["max_tokens"], sent[0]["stop_sequences"]) == (5, ["a", "b"])
    assert sent[1]["max_tokens"] == 9
    assert "stop_sequences" not in sent[1] and "stop" not in sent[1]
    assert "max_completion_tokens" not in sent[1]
    assert sent[2]["max_tokens"] == 77
    assert all("seed" not in body and "system" not in body for body in sent)


async def test_base_url_with_or_without_v1(server: MockOpenAIServer) -> None:
    for base in (server.anthropic_base_url, server.anthropic_base_url + "/", server.base_url):
        provider = AnthropicProvider(base_url=base, api_key_env=None)
        assert (await provider.generate(req("x"))).text == "echo: x"
        await provider.aclose()
    assert server.calls == 3


async def test_headers_on_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        body = {
            "type": "message",
            "model": "claude-x",
            "content": [
                {"type": "text", "text": "part one, "},
                {"type": "tool_use", "id": "t1", "name": "calc", "input": {}},
                {"type": "text", "text": "part two"},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 100},
        }
        return web.json_response(body, headers={"request-id": "req_abc"})

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    runner, root = await _serve(app)
    monkeypatch.setenv("ASSAY_ANT_KEY", SECRET)
    provider = AnthropicProvider(
        base_url=root,
        api_key_env="ASSAY_ANT_KEY",
        anthropic_version="2024-10-22",
        headers={"anthropic-beta": "tools-2024"},
    )
    try:
        out = await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    headers = {k.lower(): v for k, v in seen[0].items()}
    assert headers["x-api-key"] == SECRET
    assert headers["anthropic-version"] == "2024-10-22"
    assert headers["anthropic-beta"] == "tools-2024"
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers
    assert out.text == "part one, part two"  # only text blocks, concatenated
    assert out.finish_reason == "tool_use"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (3, 4, 7)
    assert out.metadata["request_id"] == "req_abc"
    assert SECRET not in repr(provider)


async def test_silent_model_change_visible() -> None:
    async with MockOpenAIServer(model="claude-a", model_after=(2, "claude-b")) as server:
        provider = provider_for(server)
        models = [(await provider.generate(req(f"q{i}"))).model for i in range(4)]
        await provider.aclose()
    assert models == ["claude-a", "claude-a", "claude-b", "claude-b"]


async def test_null_answer_is_empty_text() -> None:
    async with MockOpenAIServer(answer=lambda body: None) as server:
        provider = provider_for(server)
        out = await provider.generate(req())
        await provider.aclose()
    assert out.text == "" and out.usage.output_tokens == 0


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        ("rate_limit", "rate_limited", 429),
        ("overloaded", "overloaded", 529),
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
        provider = provider_for(server, timeout=0.5)
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
        assert server.calls == 1  # the provider never retries
        out = await provider.generate(req("again"))  # and the next call works
        await provider.aclose()
    err = info.value
    assert (err.error_class, err.retryable, err.status) == (error_class, True, status)
    if fault == "rate_limit":
        assert err.retry_after == 2.5
        assert "rate_limit_error" in str(err) and "Rate limit reached (mock)." in str(err)
    if fault == "overloaded":
        assert "overloaded_error" in str(err) and "Overloaded (mock)." in str(err)
    assert out.text == "echo: again"


async def test_openai_provider_sees_the_529_as_a_server_error() -> None:
    async with MockOpenAIServer(faults={"script": ["overloaded"]}) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
        await provider.aclose()
    assert (info.value.error_class, info.value.retryable, info.value.status) == (
        "server_error",
        True,
        529,
    )


def _anthropic_error(kind: str, message: str) -> str:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}})


def _custom_app(status: int, body: str, headers: dict[str, str] | None = None) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            status=status, text=body, content_type="application/json", headers=headers
        )

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    return app


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.mark.parametrize(
    ("status", "kind", "error_class", "retryable", "fix"),
    [
        (400, "invalid_request_error", "client_error", False, None),
        (401, "authentication_error", "client_error", False, "ANTHROPIC_TEST_KEY"),
        (403, "permission_error", "client_error", False, "ANTHROPIC_TEST_KEY"),
        (404, "not_found_error", "client_error", False, "model name"),
        (413, "request_too_large", "client_error", False, "shorten the prompt"),
        (408, "timeout_error", "timeout", True, None),
        (500, "api_error", "server_error", True, None),
        (502, "api_error", "server_error", True, None),
        (503, "overloaded_error", "overloaded", True, None),
        (529, "overloaded_error", "overloaded", True, None),
    ],
)
async def test_status_mapping(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    kind: str,
    error_class: str,
    retryable: bool,
    fix: str | None,
) -> None:
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "k")
    message = "messages.0.content: field required. " + "x" * 1000
    runner, root = await _serve(_custom_app(status, _anthropic_error(kind, message)))
    provider = AnthropicProvider(base_url=root, api_key_env="ANTHROPIC_TEST_KEY")
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    err = info.value
    assert (err.error_class, err.retryable, err.status) == (error_class, retryable, status)
    text = str(err)
    assert f"HTTP {status}, {kind}" in text
    assert "messages.0.content: field required." in text  # Anthropic's own message
    assert len(err.message) < 400  # truncated
    if fix is not None:
        assert err.fix is not None and fix in err.fix
    assert text.startswith("anthropic: ")


async def test_retry_after_on_429_and_non_json_error_body() -> None:
    runner, root = await _serve(_custom_app(429, "slow down please", {"retry-after": "7"}))
    provider = AnthropicProvider(base_url=root, api_key_env=None)
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    assert info.value.error_class == "rate_limited"
    assert info.value.retry_after == 7.0
    assert "slow down please" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        '{"type": "message", "model": "m"}',
        '{"type": "message", "content": "not a list"}',
        "[1, 2]",
        _anthropic_error("api_error", "in a 200"),
        "<html>gateway</html>",
    ],
)
async def test_malformed_success_bodies(body: str) -> None:
    runner, root = await _serve(_custom_app(200, body))
    provider = AnthropicProvider(base_url=root, api_key_env=None)
    try:
        with pytest.raises(ProviderError) as info:
            await provider.generate(req())
    finally:
        await provider.aclose()
        await runner.cleanup()
    assert (info.value.error_class, info.value.retryable) == ("malformed_response", True)


async def test_connection_refused_and_bad_url() -> None:
    runner, root = await _serve(_custom_app(200, "{}"))
    await runner.cleanup()  # nothing listens there any more
    provider = AnthropicProvider(base_url=root, api_key_env=None, timeout=5)
    with pytest.raises(ProviderError) as info:
        await provider.generate(req())
    await provider.aclose()
    assert (info.value.error_class, info.value.retryable) == ("connection", True)

    bad = AnthropicProvider(base_url="no-scheme-here", api_key_env=None)
    with pytest.raises(ProviderError) as info:
        await bad.generate(req())
    await bad.aclose()
    assert (info.value.error_class, info.value.retryable) == ("client_error", False)


def test_missing_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        AnthropicProvider()
    text = str(info.value)
    assert text.startswith("anthropic: environment variable ANTHROPIC_API_KEY is not set")
    assert "export ANTHROPIC_API_KEY=..." in text


async def test_api_key_is_sent_and_never_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_ANT_KEY", SECRET)
    seen: list[str] = []
    script = ["ok", "ok", "error_500", "rate_limit", "overloaded", "malformed", "drop"]
    async with MockOpenAIServer(require_api_key=SECRET, faults={"script": script}) as server:
        good = AnthropicProvider(
            name="claude",
            base_url=server.anthropic_base_url,
            api_key_env="ASSAY_ANT_KEY",
            timeout=5,
        )
        seen += [repr(good), str(vars(good).get("api_key", ""))]
        out = await good.generate(req())
        seen += [out.model_dump_json(), repr(out)]
        # a hostile or buggy server that echoes the credential back
        server.answer = lambda body: f"your key is {SECRET}"
        echoed = await good.generate(req())
        seen += [echoed.model_dump_json(), repr(echoed)]
        assert echoed.text == "your key is ***"
        for _ in range(5):  # every error path
            with pytest.raises(ProviderError) as info:
                await good.generate(req())
            seen += [str(info.value), repr(info.value), repr(info.value.__dict__)]
        seen += [repr(good), str(pickle.dumps(good))]
        await good.aclose()

        # a wrong key: 401 client_error whose fix names the variable, the key not echoed
        monkeypatch.setenv("ASSAY_WRONG_KEY", SECRET + "-wrong")
        wrong = AnthropicProvider(base_url=server.anthropic_base_url, api_key_env="ASSAY_WRONG_KEY")
        with pytest.raises(ProviderError) as info:
            await wrong.generate(req())
        await wrong.aclose()
        assert (info.value.error_class, info.value.status) == ("client_error", 401)
        assert "authentication_error" in str(info.value) and "ASSAY_WRONG_KEY" in str(info.value)
        seen += [str(info.value), repr(wrong)]
        # and no key at all
        anonymous = provider_for(server)
        with pytest.raises(ProviderError) as info:
            await anonymous.generate(req())
        await anonymous.aclose()
        assert info.value.status == 401
        assert "needs auth" in str(info.value)
    assert out.text == "echo: hello world"  # the key really was sent
    blob = "\n".join(seen)
    assert SECRET not in blob
    assert "5e8d2c7a91f0" not in blob


async def test_pickled_provider_rereads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_ANT_KEY", SECRET)
    async with MockOpenAIServer(require_api_key=SECRET) as server:
        provider = AnthropicProvider(
            base_url=server.anthropic_base_url, api_key_env="ASSAY_ANT_KEY"
        )
        copy = pickle.loads(pickle.dumps(provider))
        out = await copy.generate(req())
        await copy.aclose()
    assert out.text == "echo: hello world"
    assert copy.anthropic_version == "2023-06-01"


async def test_concurrent_calls_share_one_session_and_are_counted(
    server: MockOpenAIServer,
) -> None:
    provider = provider_for(server)
    requests = [req(f"q {i}") for i in range(40)]
    outs = await asyncio.gather(*(provider.generate(r) for r in requests))
    session = provider._session
    await provider.aclose()
    assert session is not None and session.closed
    assert [o.text for o in outs] == [f"echo: q {i}" for i in range(40)]
    counts = server.request_counts()
    assert len(counts) == 40 and set(counts.values()) == {1}
    key = request_key("claude-test", [m.model_dump() for m in requests[7].messages])
    assert counts[key] == 1


async def test_mock_messages_endpoint_speaks_anthropic(server: MockOpenAIServer) -> None:
    url = server.anthropic_base_url + "/v1/messages"
    async with aiohttp.ClientSession() as session:
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}
        async with session.post(url, json=body) as resp:
            error = await resp.json()
            assert resp.status == 400
        assert error["type"] == "error"
        assert error["error"]["type"] == "invalid_request_error"
        assert "top-level 'system'" in error["error"]["message"]
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with session.post(url, json=body) as resp:
            assert resp.status == 400
            assert "max_tokens" in (await resp.json())["error"]["message"]
        # content blocks and a top-level system are understood
        body = {
            "model": "m",
            "max_tokens": 5,
            "system": "be terse",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a b"}]}],
        }
        async with session.post(url, json=body) as resp:
            answer = await resp.json()
            assert resp.headers["request-id"] == "req_mock_2"
    assert answer["content"] == [{"type": "text", "text": "echo: a b"}]
    assert answer["usage"] == {"input_tokens": 4, "output_tokens": 3}
    assert server.calls == 3 and server.answered == 1


def test_registry_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "anthropic" in known_provider_kinds()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    provider = create_provider("anthropic")
    assert isinstance(provider, AnthropicProvider)
    assert (provider.name, provider.base_url, provider.api_key_env) == (
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    )
    assert (provider.anthropic_version, provider.default_max_tokens, provider.timeout) == (
        "2023-06-01",
        1024,
        60.0,
    )
    provider = create_provider(
        "anthropic",
        {
            "base_url": "http://127.0.0.1:9",
            "api_key_env": None,
            "timeout": 5,
            "anthropic_version": "2024-01-01",
            "default_max_tokens": 64,
        },
        name="claude",
    )
    assert isinstance(provider, AnthropicProvider)
    assert (provider.name, provider.api_key_env, provider.default_max_tokens) == (
        "claude",
        None,
        64,
    )
    with pytest.raises(ConfigError, match="unknown config key 'max_tokens'"):
        create_provider("anthropic", {"max_tokens": 5})
    with pytest.raises(ConfigError, match="invalid value for 'default_max_tokens'"):
        create_provider("anthropic", {"default_max_tokens": 0, "api_key_env": None})
