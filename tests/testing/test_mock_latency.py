"""The mock server's latency distribution, its new fault kind and its per-content call counter."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import pytest
from pydantic import ValidationError

from assay.core import Message, ModelRequest, ProviderError
from assay.providers import AnthropicProvider, OpenAICompatProvider
from assay.testing import FAULT_KINDS, FaultConfig, MockOpenAIServer, request_key

N = 20_000


def draws(**kw: float) -> np.ndarray:
    config = FaultConfig(**kw)
    return np.array([config.latency_for(i) for i in range(N)])


def test_fixed_latency_when_sigma_is_zero() -> None:
    assert set(draws(latency_ms=40).tolist()) == {40.0}
    assert set(draws(latency_ms=0, latency_sigma=1.0).tolist()) == {0.0}


def test_lognormal_median_tail_and_moments() -> None:
    values = draws(latency_ms=50, latency_sigma=1.0, seed=7)
    p50, p99 = np.percentile(values, [50, 99])
    # median latency_ms: the sample median of 20k lognormal draws is within ~2% of it
    assert p50 == pytest.approx(50, rel=0.04)
    # heavy tail: p99/p50 = exp(2.326 * sigma) = 10.2 for sigma = 1
    assert 8.5 < p99 / p50 < 12.5
    assert values.max() / p50 > 25
    # the log-latencies are normal(ln 50, sigma)
    logs = np.log(values)
    assert logs.mean() == pytest.approx(math.log(50), abs=0.03)
    assert logs.std() == pytest.approx(1.0, abs=0.03)
    # mean of a lognormal is median * exp(sigma^2 / 2)
    assert values.mean() == pytest.approx(50 * math.exp(0.5), rel=0.06)
    assert values.min() > 0


def test_tail_grows_with_sigma() -> None:
    ratios = []
    for sigma in (0.25, 0.5, 1.0):
        p50, p99 = np.percentile(draws(latency_ms=10, latency_sigma=sigma), [50, 99])
        ratios.append(p99 / p50)
        assert p99 / p50 == pytest.approx(math.exp(2.3263 * sigma), rel=0.12)
    assert ratios == sorted(ratios)


def test_latency_is_deterministic_per_seed_and_independent_of_faults() -> None:
    a = FaultConfig(latency_ms=20, latency_sigma=0.8, seed=3)
    b = FaultConfig(latency_ms=20, latency_sigma=0.8, seed=3, rate_limit=0.3)
    c = FaultConfig(latency_ms=20, latency_sigma=0.8, seed=4)
    first = [a.latency_for(i) for i in range(500)]
    assert first == [b.latency_for(i) for i in range(500)]
    assert first != [c.latency_for(i) for i in range(500)]
    assert len(set(first)) == 500
    # turning latency on moves no fault: the fault schedule has its own stream
    plain = FaultConfig(rate_limit=0.2, error_500=0.1, seed=3)
    slow = plain.model_copy(update={"latency_ms": 20, "latency_sigma": 1.0})
    assert [plain.fault_for(i) for i in range(2000)] == [slow.fault_for(i) for i in range(2000)]


def test_latency_sigma_validation() -> None:
    with pytest.raises(ValidationError):
        FaultConfig(latency_sigma=-0.1)


def test_overloaded_fault_is_appended_so_old_schedules_hold() -> None:
    assert FAULT_KINDS[:7] == (
        "rate_limit",
        "error_500",
        "error_503",
        "malformed",
        "drop",
        "truncate",
        "hang",
    )
    assert FAULT_KINDS[-1] == "overloaded"
    config = FaultConfig(rate_limit=0.1, overloaded=0.2, seed=5)
    kinds = [config.fault_for(i) for i in range(N)]
    assert kinds.count("overloaded") / N == pytest.approx(0.2, abs=0.012)
    assert kinds.count("rate_limit") / N == pytest.approx(0.1, abs=0.01)
    without = FaultConfig(rate_limit=0.1, seed=5)
    # the rate-limited calls are exactly the same ones as without the new kind
    assert [k == "rate_limit" for k in kinds] == [
        without.fault_for(i) == "rate_limit" for i in range(N)
    ]


async def test_server_waits_the_drawn_latency() -> None:
    faults = FaultConfig(latency_ms=15, latency_sigma=0.7, seed=4)  # call 3 draws 78 ms
    expected = [faults.latency_for(i) for i in range(6)]
    async with MockOpenAIServer(faults=faults) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        await provider.generate(req("warm-up"))  # call 0: opens the connection
        measured = []
        for i in range(1, 6):
            start = time.perf_counter()
            await provider.generate(req(f"q{i}"))
            measured.append((time.perf_counter() - start) * 1000)
        await provider.aclose()
    for wanted, took in zip(expected[1:], measured, strict=True):
        assert took >= wanted - 1.0  # never faster than the draw (asyncio.sleep may overrun)
    # the draws differ, and the slowest call is the one with the (clearly) largest draw
    assert len(set(expected)) == 6
    assert int(np.argmax(measured)) == int(np.argmax(expected[1:]))


def req(text: str, model: str = "m") -> ModelRequest:
    return ModelRequest(model=model, messages=(Message(role="user", content=text),))


def key_of(request: ModelRequest) -> str:
    return request_key(request.model, [m.model_dump() for m in request.messages])


async def test_request_counts_across_both_apis() -> None:
    script = ["ok", "rate_limit", "ok", "ok", "ok"]
    async with MockOpenAIServer(faults={"script": script, "retry_after": 0}) as server:
        openai = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        anthropic = AnthropicProvider(base_url=server.anthropic_base_url, api_key_env=None)
        await openai.generate(req("a"))
        with pytest.raises(ProviderError):
            await openai.generate(req("b"))  # faulted calls are counted too
        await openai.generate(req("b"))
        await anthropic.generate(req("a"))  # the same content through the other API
        system = ModelRequest(
            model="m",
            messages=(Message(role="system", content="s"), Message(role="user", content="a")),
        )
        await anthropic.generate(system)  # a hoisted system prompt still keys the same
        await openai.aclose()
        await anthropic.aclose()
        counts = server.request_counts()
    assert counts == {key_of(req("a")): 2, key_of(req("b")): 2, key_of(system): 1}
    assert key_of(req("a")) != key_of(req("a", model="other"))
    counts[key_of(req("a"))] = 99  # a copy: the server's own counter is untouched
    assert server.request_counts()[key_of(req("a"))] == 2


def test_threaded_handle_exposes_counts() -> None:
    import asyncio

    handle = MockOpenAIServer().start_in_thread()

    async def call() -> None:
        provider = AnthropicProvider(base_url=handle.anthropic_base_url, api_key_env=None)
        try:
            await asyncio.gather(*(provider.generate(req(f"q{i % 5}")) for i in range(15)))
        finally:
            await provider.aclose()

    try:
        asyncio.run(call())
        counts = handle.request_counts()
    finally:
        handle.stop()
    assert handle.calls == 15 and handle.answered == 15
    assert sorted(counts.values()) == [3] * 5
    assert statistics.mean(counts.values()) == 3
