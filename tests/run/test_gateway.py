"""Flow control and retries, with a fake clock where timing matters."""

import asyncio
import time

import pytest

from assay.core import Output, ProviderError
from assay.run import CallPolicy, Gateway
from assay.run.limits import AdaptiveLimiter, CircuitBreaker, ServerPause, TokenBucket


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def failing(errors, output=Output(text="ok")):
    calls = {"n": 0}

    async def fn():
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return output

    return fn, calls


async def test_retries_retryable_errors_then_succeeds():
    t = FakeTime()
    gw = Gateway(
        "p", CallPolicy(max_retries=3, backoff_base=1, backoff_cap=8), clock=t.clock, sleep=t.sleep
    )
    fn, calls = failing(
        [
            ProviderError("503", error_class="server_error", retryable=True, status=503),
            ProviderError("drop", error_class="connection", retryable=True),
        ]
    )
    output, attempts = await gw.call(fn)
    assert output.text == "ok" and attempts == 3 and calls["n"] == 3
    assert gw.stats.retries == 2
    # Full jitter: the k-th wait is within [0, base * 2**k].
    assert 0 <= t.slept[0] <= 1 and 0 <= t.slept[1] <= 2


async def test_non_retryable_error_is_not_retried():
    gw = Gateway("p", CallPolicy(max_retries=5))
    fn, calls = failing(
        [ProviderError("bad request", error_class="client_error", retryable=False, status=400)]
    )
    with pytest.raises(ProviderError) as info:
        await gw.call(fn)
    assert calls["n"] == 1 and info.value.attempts == 1 and gw.stats.retries == 0


async def test_gives_up_after_max_retries_with_attempts_recorded():
    t = FakeTime()
    gw = Gateway("p", CallPolicy(max_retries=2), clock=t.clock, sleep=t.sleep)
    fn, calls = failing(
        [ProviderError("x", error_class="server_error", retryable=True) for _ in range(5)]
    )
    with pytest.raises(ProviderError) as info:
        await gw.call(fn)
    assert calls["n"] == 3 and info.value.attempts == 3


async def test_retry_after_is_honoured_and_pauses_the_endpoint():
    t = FakeTime()
    gw = Gateway("p", CallPolicy(max_retries=1, backoff_base=0.001), clock=t.clock, sleep=t.sleep)
    fn, _ = failing(
        [
            ProviderError(
                "429", error_class="rate_limited", retryable=True, retry_after=7.5, status=429
            )
        ]
    )
    await gw.call(fn)
    assert t.slept[0] >= 7.5
    # 16 halved by the 429, then +1/8 for the success that followed.
    assert gw.stats.overloads == 1 and gw.limiter.limit == pytest.approx(8.125)


async def test_a_stray_429_among_successes_delays_only_its_own_request():
    """Issue 20 §9: a random 429 with Retry-After must not idle the whole endpoint."""
    t = FakeTime()
    gw = Gateway("p", CallPolicy(max_retries=1, backoff_base=0.001), clock=t.clock, sleep=t.sleep)
    ok, _ = failing([])
    for _ in range(19):  # the endpoint answers most calls
        await gw.call(ok)
    fn, calls = failing(
        [
            ProviderError(
                "429", error_class="rate_limited", retryable=True, retry_after=1.0, status=429
            )
        ]
    )
    start = t.now
    await gw.call(fn)
    assert calls["n"] == 2 and t.now - start >= 1.0  # that request waited for Retry-After
    assert gw.pause.until == 0.0 and gw.paused_total == 0.0  # nobody else did
    assert gw.status() is None


def test_concurrent_429s_extend_one_shared_pause_to_the_latest_deadline():
    t = FakeTime()
    pause = ServerPause(clock=t.clock)
    for i in range(10):  # ten calls in flight all answered 429 within 45 ms
        t.now = i * 0.005
        pause.record(1.0)
    assert pause.until == pytest.approx(1.045)  # max(now + Retry-After), not 10 seconds
    assert pause.paused_total == pytest.approx(1.045)
    t.now = 0.5
    pause.record(2.0)  # a longer ask moves the one deadline
    assert pause.until == pytest.approx(2.5) and pause.paused_total == pytest.approx(2.5)
    assert pause.remaining() == pytest.approx(2.0)


def test_the_endpoint_pauses_when_at_least_half_the_recent_replies_throttle():
    t = FakeTime()
    pause = ServerPause(clock=t.clock)
    for i in range(6):
        t.now = i * 0.01
        pause.record(None)
    for i in range(5):  # 5 of 11 in the last second: not yet
        t.now = 0.1 + i * 0.01
        pause.record(1.0)
    assert pause.until == 0.0
    t.now = 0.2
    pause.record(1.0)  # 6 of 12: the server throttles broadly
    assert pause.until == pytest.approx(1.2)
    t.now = 5.0  # replies older than the Retry-After window no longer count
    pause.record(None)
    pause.record(1.0)
    assert pause.until == pytest.approx(6.0)


async def test_timeout_becomes_a_retryable_timeout_error():
    gw = Gateway("p", CallPolicy(max_retries=0, timeout=0.05))

    async def slow():
        await asyncio.sleep(1)
        return Output(text="late")

    with pytest.raises(ProviderError) as info:
        await gw.call(slow)
    assert info.value.error_class == "timeout" and info.value.retryable


async def test_aimd_halves_once_per_cooldown_and_recovers_additively():
    t = FakeTime()
    lim = AdaptiveLimiter(32, cooldown=1.0, clock=t.clock)
    for _ in range(5):  # a burst of 429s from requests already in flight: one decrease
        await lim.acquire()
        await lim.release(overloaded=True)
    assert lim.limit == 16 and lim.decreases == 1
    t.now += 2
    await lim.acquire()
    await lim.release(overloaded=True)
    assert lim.limit == 8
    for _ in range(8):  # about +1 per `limit` successes
        await lim.acquire()
        await lim.release(succeeded=True)
    assert 8.9 < lim.limit < 9.1


async def test_limiter_bounds_concurrency():
    lim = AdaptiveLimiter(3)
    peak = 0

    async def job():
        nonlocal peak
        await lim.acquire()
        peak = max(peak, lim.in_flight)
        await asyncio.sleep(0.01)
        await lim.release(succeeded=True)

    await asyncio.gather(*(job() for _ in range(20)))
    assert peak == 3


async def test_token_bucket_paces_requests_per_minute():
    bucket = TokenBucket(600, capacity=1)  # 10 per second, no burst
    start = time.perf_counter()
    for _ in range(6):
        await bucket.take(1)
    elapsed = time.perf_counter() - start
    assert 0.4 <= elapsed < 1.5  # 5 waits of 0.1 s


async def test_token_bucket_adjust_settles_estimates():
    t = FakeTime()
    bucket = TokenBucket(60_000, clock=t.clock)  # 1000 tokens per second
    await bucket.take(500)
    bucket.adjust(+300)  # the call used 800, not 500
    assert bucket.tokens == pytest.approx(60_000 - 800)


async def test_circuit_breaker_opens_probes_and_closes():
    t = FakeTime()
    cb = CircuitBreaker(threshold=3, cooldown=10, clock=t.clock, sleep=lambda s: asyncio.sleep(0))
    for _ in range(3):
        cb.record(False)
    assert cb.state == "open" and cb.opened == 1
    waiter = asyncio.ensure_future(cb.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    t.now += 10
    await asyncio.wait_for(waiter, 2)  # the probe goes through
    cb.record(False)  # the probe failed: re-open with a doubled cooldown
    assert cb.state == "open" and cb.cooldown == 20 and cb.opened == 2
    t.now += 20
    await asyncio.wait_for(cb.wait(), 2)
    cb.record(True)
    assert cb.state == "closed" and cb.cooldown == 10


async def test_an_open_breaker_fails_calls_fast_without_sending_them():
    # Issue 20: with the breaker open, a call used to wait as long as the endpoint stayed
    # down (cooldowns doubling to 300 s), so a mostly failing endpoint looked like a hang.
    # Now each attempt that finds it open spends a retry and waits for the probe window.
    t = FakeTime()
    policy = CallPolicy(max_retries=0, breaker_threshold=2, breaker_cooldown=5)
    gw = Gateway("p", policy, clock=t.clock, sleep=t.sleep)
    gw.breaker.record(False)
    gw.breaker.record(False)  # open for 5 s
    gw.stats.last_error = "server_error, HTTP 500"
    fn, calls = failing([])
    with pytest.raises(ProviderError) as info:
        await gw.call(fn)
    assert calls["n"] == 0 and t.slept == []  # never sent, never waited
    assert info.value.error_class == "circuit_open" and "HTTP 500" in str(info.value)
    assert gw.stats.blocked == 1


async def test_a_dead_endpoint_fails_each_call_after_its_retries_in_probe_windows():
    t = FakeTime()
    policy = CallPolicy(max_retries=4, backoff_base=0.1, breaker_threshold=2, breaker_cooldown=5)
    gw = Gateway("p", policy, clock=t.clock, sleep=t.sleep)
    gw.breaker.record(False)
    gw.breaker.record(False)
    error = ProviderError("500", error_class="server_error", retryable=True, status=500)
    fn, calls = failing([error] * 10)
    with pytest.raises(ProviderError) as info:
        await gw.call(fn)
    # Attempts alternate: blocked (wait 5 s), probe sent and failed (cooldown doubles), ...
    assert info.value.error_class == "server_error" and info.value.attempts == 5
    assert calls["n"] == 2 and gw.stats.blocked == 3
    assert t.slept[0] == pytest.approx(5.0) and t.now < 5 + 10 + 20 + 1
    assert gw.stats.failing == 0


async def test_a_probe_through_a_half_open_breaker_closes_it():
    t = FakeTime()
    policy = CallPolicy(max_retries=3, backoff_base=0.1, breaker_threshold=2, breaker_cooldown=5)
    gw = Gateway("p", policy, clock=t.clock, sleep=t.sleep)
    gw.breaker.record(False)
    gw.breaker.record(False)
    t.now += 5  # half-open: the next call is the probe
    fn, calls = failing([])
    output, attempts = await gw.call(fn)
    assert output.text == "ok" and attempts == 1 and calls["n"] == 1
    assert gw.breaker.state == "closed" and gw.status() is None
