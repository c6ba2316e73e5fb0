"""The mock OpenAI server itself: answers, auth, deterministic fault injection, threads."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import aiohttp
import pytest
from pydantic import ValidationError

from assay.core import Message, ModelRequest, ProviderError
from assay.providers import OpenAICompatProvider
from assay.testing import FAULT_KINDS, FaultConfig, MockOpenAIServer


def req(text: str) -> ModelRequest:
    return ModelRequest(model="m", messages=(Message(role="user", content=text),))


def test_fault_schedule_is_seeded_and_matches_rates() -> None:
    config = FaultConfig(rate_limit=0.1, error_500=0.05, error_503=0.05, malformed=0.1, seed=3)
    first = [config.fault_for(i) for i in range(20_000)]
    again = [FaultConfig(**config.model_dump()).fault_for(i) for i in range(20_000)]
    other = [config.model_copy(update={"seed": 4}).fault_for(i) for i in range(20_000)]
    assert first == again
    assert first != other
    n = len(first)
    for kind, rate in [("rate_limit", 0.1), ("error_500", 0.05), ("malformed", 0.1)]:
        share = first.count(kind) / n  # type: ignore[arg-type]
        se = (rate * (1 - rate) / n) ** 0.5
        assert abs(share - rate) < 4 * se, (kind, share)
    assert first.count(None) / n == pytest.approx(0.7, abs=0.015)


def test_fault_config_validation() -> None:
    with pytest.raises(ValidationError, match="more than 1"):
        FaultConfig(rate_limit=0.6, error_500=0.6)
    with pytest.raises(ValidationError):
        FaultConfig(bogus=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        FaultConfig(script=["nope"])  # type: ignore[list-item]
    assert set(FAULT_KINDS) <= set(FaultConfig.model_fields)


async def test_script_then_rates_and_counters() -> None:
    faults = {"script": ["rate_limit", "ok", "error_503"], "seed": 1}
    async with MockOpenAIServer(faults=faults) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        results = []
        for i in range(4):
            try:
                results.append((await provider.generate(req(f"q{i}"))).text)
            except ProviderError as exc:
                results.append(exc.error_class)
        await provider.aclose()
    assert results == ["rate_limited", "echo: q1", "server_error", "echo: q3"]
    assert server.calls == 4
    assert server.answered == 2
    assert server.faults_injected == [(0, "rate_limit"), (2, "error_503")]
    assert [r["messages"][0]["content"] for r in server.requests] == ["q0", "q1", "q2", "q3"]


async def test_custom_answer_usage_and_latency() -> None:
    def shout(body: dict[str, object]) -> str:
        messages = body["messages"]
        assert isinstance(messages, list)
        return str(messages[-1]["content"]).upper() + " !"

    async with MockOpenAIServer(answer=shout, faults={"latency_ms": 60}) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        start = time.perf_counter()
        out = await provider.generate(req("a b c"))
        elapsed = time.perf_counter() - start
        await provider.aclose()
    assert out.text == "A B C !"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (3, 4)
    assert elapsed >= 0.055 and out.latency_ms is not None and out.latency_ms >= 55


async def test_auth_and_models_endpoint() -> None:
    async with (
        MockOpenAIServer(model="mock-x", require_api_key="k-123") as server,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{server.base_url}/models") as resp:
            assert resp.status == 401
        headers = {"Authorization": "Bearer k-123"}
        async with session.get(f"{server.base_url}/models", headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"][0]["id"] == "mock-x"
        async with session.post(
            f"{server.base_url}/chat/completions", data=b"not json", headers=headers
        ) as resp:
            assert resp.status == 400
        async with session.post(
            f"{server.base_url}/chat/completions", json={"model": "m"}, headers=headers
        ) as resp:
            assert resp.status == 400
            assert "messages" in (await resp.json())["error"]["message"]
    assert "k-123" not in repr(server)


def test_threaded_server_serves_a_subprocess() -> None:
    server = MockOpenAIServer(model="mock-thread", model_after=(1, "mock-thread-2"))
    with server.start_in_thread() as handle:
        assert handle.base_url.startswith("http://127.0.0.1:")
        code = (
            "import json, sys, urllib.request\n"
            "body = json.dumps({'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
            "for _ in range(2):\n"
            "    r = urllib.request.Request(sys.argv[1] + '/chat/completions', body.encode(),\n"
            "                               {'Content-Type': 'application/json'})\n"
            "    print(json.dumps(json.load(urllib.request.urlopen(r, timeout=10))))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, handle.base_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        bodies = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [b["model"] for b in bodies] == ["mock-thread", "mock-thread-2"]
        assert bodies[0]["choices"][0]["message"]["content"] == "echo: hi"
        assert handle.calls == 2
    # stopped: the port no longer answers
    with pytest.raises(OSError):
        urllib.request.urlopen(handle.base_url + "/models", timeout=2)


def test_threaded_server_stop_is_idempotent() -> None:
    handle = MockOpenAIServer().start_in_thread()
    handle.stop()
    handle.stop()


def test_module_entry_point_serves() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "assay.testing", "--port", "0", "--model", "cli-mock"],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("mock OpenAI server on http://127.0.0.1:")
            base_url = line.split()[-1]
            with urllib.request.urlopen(base_url + "/models", timeout=10) as resp:
                assert json.load(resp)["data"][0]["id"] == "cli-mock"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
