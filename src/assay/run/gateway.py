"""The way every call leaves assay: flow control, timeouts and retries for one endpoint.

A :class:`Gateway` wraps the calls to one provider (or one HTTP subject): it waits for the
circuit breaker, any ``Retry-After`` pause, the rate budgets and a concurrency slot; applies the
per-request timeout; and retries *retryable* failures (rate limits, 5xx, timeouts, dropped
connections, malformed bodies) with exponential backoff and full jitter. A non-retryable
failure (a 400, a missing output) is raised at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from assay.core import Output, ProviderError
from assay.run.limits import AdaptiveLimiter, CircuitBreaker, ServerPause, TokenBucket

_OVERLOAD = frozenset({"rate_limited", "overloaded"})


@dataclass(frozen=True)
class CallPolicy:
    """How calls to an endpoint are paced and retried.

    ``max_retries`` counts retries after the first attempt; backoff before retry *k* (from 0)
    is uniform on [0, min(cap, base·2^k)] ("full jitter", Brooker 2015, AWS Architecture Blog
    "Exponential Backoff And Jitter"), and never shorter than a server's ``Retry-After``.
    ``timeout`` bounds one attempt (seconds; ``None`` for no bound). ``rpm``/``tpm`` are
    optional requests- and tokens-per-minute budgets.
    """

    max_concurrency: int = 16
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    timeout: float | None = 120.0
    rpm: float | None = None
    tpm: float | None = None
    breaker_threshold: int = 10
    breaker_cooldown: float = 5.0


@dataclass
class GatewayStats:
    """Counters a gateway keeps (summed into the run's accounting).

    ``failing``: calls whose last attempt failed and that wait to be retried (backoff, a
    ``Retry-After`` pause or an open circuit breaker); ``last_error`` describes the newest
    failed attempt (``server_error, HTTP 500``); ``blocked``: attempts an open breaker failed
    without sending them.
    """

    attempts: int = 0
    retries: int = 0
    overloads: int = 0
    failing: int = 0
    last_error: str | None = None
    blocked: int = 0


class Gateway:
    """Flow control and retries for one endpoint."""

    def __init__(
        self,
        name: str,
        policy: CallPolicy,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.policy = policy
        self.limiter = AdaptiveLimiter(policy.max_concurrency, clock=clock)
        self.breaker = CircuitBreaker(
            threshold=policy.breaker_threshold,
            cooldown=policy.breaker_cooldown,
            clock=clock,
            sleep=sleep,
        )
        self.rpm = TokenBucket(policy.rpm, clock=clock) if policy.rpm else None
        self.tpm = TokenBucket(policy.tpm, clock=clock) if policy.tpm else None
        self.stats = GatewayStats()
        self._rng = random.Random(f"{seed}|{name}")
        self._clock = clock
        self._sleep = sleep
        self.pause = ServerPause(clock=clock)

    def status(self) -> str | None:
        """What a person watching the run should know about this endpoint, or ``None`` when
        calls flow: the circuit breaker's state (and when it lets a probe through), the calls
        waiting to be retried, a server-requested pause, and the newest error."""
        now = self._clock()
        parts = []
        state = self.breaker.state
        if state == "open":
            parts.append(f"circuit open, probe in {self.breaker.open_for(now):.0f} s")
        elif state == "half-open":
            parts.append("circuit half-open (probing)")
        if self.stats.failing:
            parts.append(f"{self.stats.failing} call(s) retrying")
        if self.pause.until > now:
            parts.append(f"server asked to wait {self.pause.until - now:.0f} s")
        if not parts:
            return None
        if self.stats.last_error:
            parts.append(f"last error: {self.stats.last_error}")
        return f"{self.name}: " + ", ".join(parts)

    @property
    def paused_total(self) -> float:
        """Seconds this endpoint spent paused at the server's request (``Retry-After``)."""
        return self.pause.paused_total

    @property
    def stuck(self) -> int:
        """Calls that have failed and wait behind an open circuit breaker: failing samples in
        all but name (``--max-errors`` counts them)."""
        return self.stats.failing if self.breaker.state != "closed" else 0

    def _gave_up(self, last: ProviderError | None, attempts: int) -> ProviderError:
        """The error a call ends with when its last retry found the breaker open: its own
        newest error if it had one, else ``circuit_open`` naming the endpoint's."""
        if last is not None:
            last.attempts = attempts
            return last
        error = ProviderError(
            f"circuit breaker open: the endpoint failed {self.breaker.failures} attempts in a "
            f"row ({self.stats.last_error or 'no detail'}); this call was never sent",
            error_class="circuit_open",
            retryable=True,
            where=self.name,
        )
        error.attempts = attempts
        return error

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2**retry)
        delay = self._rng.uniform(0, ceiling)
        return max(delay, retry_after or 0.0)

    async def _admit(self, est_tokens: int) -> None:
        while (pause := self.pause.remaining()) > 0:
            await self._sleep(pause)
        if self.rpm is not None:
            await self.rpm.take(1)
        if self.tpm is not None:
            await self.tpm.take(max(1, est_tokens))

    def own_timer_needed(self, enforced: float | None) -> bool:
        """Whether an attempt needs this gateway's timer (``policy.timeout``), given that the
        called function ends (returns or raises a timeout) within ``enforced`` seconds by
        itself (``None``: no such promise). A second, later timer would never fire, and
        arming one costs a timer handle per call on the event loop."""
        timeout = self.policy.timeout
        if timeout is None:
            return False
        if isinstance(enforced, bool) or not isinstance(enforced, int | float):
            return True
        return not 0 < enforced <= timeout

    async def _attempt(self, fn: Callable[[], Awaitable[Output]], timed: bool = True) -> Output:
        if self.policy.timeout is None:
            return await fn()
        try:
            if not timed:  # fn ends in time by itself (:meth:`own_timer_needed`)
                return await fn()
            async with asyncio.timeout(self.policy.timeout):
                return await fn()
        except TimeoutError:  # the timer's, or one fn let out: the same retryable timeout
            raise self._timed_out() from None

    def _timed_out(self) -> ProviderError:
        return ProviderError(
            f"no response within {self.policy.timeout:g} s",
            error_class="timeout",
            retryable=True,
            where=self.name,
        )

    async def call(
        self,
        fn: Callable[[], Awaitable[Output]],
        *,
        est_tokens: int = 0,
        enforced_timeout: float | None = None,
    ) -> tuple[Output, int]:
        """Call ``fn`` under this gateway's policy; returns its output and the number of attempts
        it took, or raises the last :class:`ProviderError` (with ``attempts`` set).

        ``enforced_timeout``: seconds within which ``fn`` is known to end by itself (an HTTP
        provider whose session has a total timeout, :attr:`JsonHttpProvider.enforced_timeout
        <assay.providers._http.JsonHttpProvider.enforced_timeout>`). When that is no longer
        than ``policy.timeout`` the gateway does not arm a timer of its own; otherwise (or
        when ``None``) every attempt is bounded by ``policy.timeout`` as usual."""
        timed = self.own_timer_needed(enforced_timeout)
        retry = 0
        last: ProviderError | None = None
        try:
            while True:
                admitted, wait = self.breaker.admit()
                if not admitted and self.breaker.state == "open":
                    # An open breaker fails the attempt without sending it (Nygard's fail
                    # fast): the call spends a retry and waits for the probe window, instead
                    # of queueing for as long as the endpoint stays down. A dead endpoint thus
                    # fails each sample after max_retries probe windows, not after hours.
                    self.stats.blocked += 1
                    if retry >= self.policy.max_retries:
                        raise self._gave_up(last, retry + 1)
                    if retry == 0:
                        self.stats.failing += 1
                    retry += 1
                    await self._sleep(max(self.backoff(retry - 1, None), wait))
                    continue
                if not admitted:  # half-open: another call is the probe
                    await self._sleep(wait)
                    continue
                probe = self.breaker.state == "half-open"
                try:
                    # Nothing to wait for until the server first asks for a pause or the
                    # policy sets a rate budget (a coroutine less per call otherwise).
                    if self.pause.until or self.rpm is not None or self.tpm is not None:
                        await self._admit(est_tokens)
                    await self.limiter.acquire()
                except BaseException:
                    if probe:
                        self.breaker.release_probe()
                    raise
                self.stats.attempts += 1
                try:
                    if timed or self.policy.timeout is None:
                        output = await self._attempt(fn, timed)
                    else:  # what _attempt does untimed, without its coroutine (hot path)
                        try:
                            output = await fn()
                        except TimeoutError:
                            raise self._timed_out() from None
                except ProviderError as error:
                    overloaded = error.error_class in _OVERLOAD or error.status in (503, 529)
                    await self.limiter.release(overloaded=overloaded)
                    if overloaded:
                        self.stats.overloads += 1
                    if error.retryable:
                        self.breaker.record(False)
                    elif probe:
                        self.breaker.release_probe()  # an answer, if not the one hoped for
                    self.stats.last_error = error.error_class + (
                        f", HTTP {error.status}" if error.status else ""
                    )
                    # Retry-After pauses the endpoint only when the server throttles
                    # broadly, once however many replies ask (ServerPause).
                    self.pause.record(error.retry_after if overloaded else None)
                    error.attempts = retry + 1
                    last = error
                    if not error.retryable or retry >= self.policy.max_retries:
                        raise
                    delay = self.backoff(retry, error.retry_after)
                    self.stats.retries += 1
                    if retry == 0:
                        self.stats.failing += 1
                    retry += 1
                    await self._sleep(delay)
                    continue
                except BaseException:
                    await self.limiter.release()
                    if probe:
                        self.breaker.release_probe()
                    raise
                await self.limiter.release(succeeded=True)
                self.breaker.record(True)
                self.pause.record()
                if self.tpm is not None and output.usage.total_tokens is not None:
                    self.tpm.adjust(output.usage.total_tokens - max(1, est_tokens))
                return output, retry + 1
        finally:
            if retry:
                self.stats.failing -= 1
