"""Flow control for calls to one endpoint: adaptive concurrency, rate budgets, a circuit breaker
and the server's ``Retry-After`` pause.

All four are asyncio primitives used by :class:`~assay.run.gateway.Gateway`, one set per
provider (or per HTTP subject). They are deliberately small and deterministic given the clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class AdaptiveLimiter:
    """Bounded concurrency that adapts to overload: additive increase, multiplicative decrease.

    ``limit`` starts at ``maximum``. An overload signal (HTTP 429/503, "overloaded") halves it
    (never below ``minimum``), at most once per ``cooldown`` seconds so that one burst of 429s
    from requests already in flight counts as one signal; every success adds ``1/limit``, so
    the limit grows by about one per round trip of ``limit`` requests — the AIMD rule TCP
    congestion control uses (Chiu & Jain 1989; RFC 5681 §3.1).
    """

    def __init__(
        self,
        maximum: int,
        *,
        minimum: int = 1,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = float(self.maximum)
        self.cooldown = cooldown
        self.in_flight = 0
        self.decreases = 0
        self._clock = clock
        self._last_decrease = -float("inf")
        self._changed = asyncio.Condition()
        #: Calls queued in :meth:`acquire` (woken ones too, until they have their slot).
        self._waiting = 0

    async def acquire(self) -> None:
        """Wait for a slot under the current limit (first come, first served)."""
        if not self._waiting and self.in_flight < int(self.limit):
            # A free slot and nobody queued ahead: take it without the condition's lock
            # (nothing here awaits, so no other task can run in between).
            self.in_flight += 1
            return
        self._waiting += 1
        try:
            async with self._changed:
                await self._changed.wait_for(lambda: self.in_flight < int(self.limit))
                self.in_flight += 1
        finally:
            self._waiting -= 1

    async def release(self, *, overloaded: bool = False, succeeded: bool = False) -> None:
        """Give the slot back, reporting what the call saw."""
        self.in_flight -= 1
        if overloaded:
            now = self._clock()
            if now - self._last_decrease >= self.cooldown:
                self.limit = max(float(self.minimum), self.limit / 2)
                self._last_decrease = now
                self.decreases += 1
        elif succeeded and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
        if self._waiting:  # only queued calls need waking
            async with self._changed:
                self._changed.notify_all()


class TokenBucket:
    """A token bucket: ``rate_per_minute`` tokens refill continuously up to ``capacity``.

    Used twice per provider: requests per minute (one token per call) and tokens per minute
    (a call takes its estimated tokens up front; :meth:`adjust` settles the difference once the
    provider reports real usage). A request larger than the whole capacity waits for a full
    bucket and then goes, rather than waiting forever.
    """

    def __init__(
        self,
        rate_per_minute: float,
        *,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate = rate_per_minute / 60.0
        self.capacity = capacity if capacity is not None else rate_per_minute
        self.tokens = self.capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def take(self, amount: float = 1.0) -> float:
        """Take ``amount`` tokens, sleeping until they are there; returns the seconds waited."""
        amount = min(amount, self.capacity)
        waited = 0.0
        async with self._lock:  # first come, first served
            self._refill()
            while self.tokens < amount:
                delay = (amount - self.tokens) / self.rate
                await asyncio.sleep(delay)
                waited += delay
                self._refill()
            self.tokens -= amount
        return waited

    def adjust(self, delta: float) -> None:
        """Settle an estimate: ``delta`` > 0 takes more tokens (may go negative), < 0 returns."""
        self._refill()
        self.tokens = min(self.capacity, self.tokens - delta)


class CircuitBreaker:
    """Stops hammering an endpoint that keeps failing.

    Closed: calls flow. After ``threshold`` consecutive failed attempts it opens for
    ``cooldown`` seconds: calls wait instead of being sent. Then it is half-open: one probe call
    goes through; success closes it, failure re-opens it with the cooldown doubled (up to
    ``max_cooldown``). This is the pattern of Nygard, *Release It!* (2007), ch. 5.
    """

    def __init__(
        self,
        *,
        threshold: int = 10,
        cooldown: float = 5.0,
        max_cooldown: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.threshold = threshold
        self._sleep = sleep
        self.base_cooldown = cooldown
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.failures = 0
        self.opened = 0
        self._open_until = 0.0
        self._probing = False
        self._clock = clock

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        if self.failures < self.threshold:
            return "closed"
        return "open" if self._clock() < self._open_until else "half-open"

    def open_for(self, now: float | None = None) -> float:
        """Seconds until an open breaker lets a probe through (0 when it is not open)."""
        now = self._clock() if now is None else now
        return max(0.0, self._open_until - now) if self.failures >= self.threshold else 0.0

    def admit(self) -> tuple[bool, float]:
        """Without waiting: ``(True, 0)`` when a call may be sent now (closed, or half-open and
        this call takes the one probe), else ``(False, seconds)`` to wait: the rest of the
        cooldown while open, a short poll while another call is the probe."""
        if self.failures < self.threshold:
            return True, 0.0
        now = self._clock()
        if now < self._open_until:
            return False, self._open_until - now
        if not self._probing:
            self._probing = True
            return True, 0.0
        return False, min(self.cooldown, 0.5)

    def release_probe(self) -> None:
        """The probe call ended without an outcome (it was cancelled): let another probe."""
        self._probing = False

    async def wait(self) -> None:
        """Return when a call may be sent (immediately while closed)."""
        while self.failures >= self.threshold:
            now = self._clock()
            if now < self._open_until:
                await self._sleep(self._open_until - now)
                continue
            if not self._probing:
                self._probing = True
                return
            await self._sleep(min(self.cooldown, 0.5))

    def record(self, ok: bool) -> None:
        """Report the outcome of an attempt."""
        if ok:
            self.failures = 0
            self.cooldown = self.base_cooldown
            self._probing = False
            return
        self.failures += 1
        if self.failures >= self.threshold:
            if self._probing or self.failures == self.threshold:
                if self._probing:
                    self.cooldown = min(self.max_cooldown, self.cooldown * 2)
                self._open_until = self._clock() + self.cooldown
                self.opened += 1
            self._probing = False


class ServerPause:
    """An endpoint-wide pause asked for by the server (``Retry-After`` on a 429 or 503).

    The policy, so that pauses never stack:

    - **Every request that gets ``Retry-After`` waits at least that long** before its retry
      (:meth:`Gateway.backoff`); that part of honouring the header is unconditional.
    - **The whole endpoint pauses only when the server throttles broadly**: when such replies
      are at least ``share`` (half) of the responses of the last ``Retry-After`` seconds (at
      least one second). A 429 among many successes is that request's answer, not a sign that
      every caller must stop: pausing everything on each of them idled the endpoint for a
      second per stray 429 (a run 8x slower than fault-free at a 5 % 429 rate).
    - **One shared pause**: concurrent replies extend the pause to the latest deadline any of
      them gave, ``max(now + retry_after)``; they never add up.
    """

    def __init__(self, *, share: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.share = share
        self.until = 0.0
        #: Seconds the endpoint spent paused, in total (a pause counts once however many
        #: replies asked for it).
        self.paused_total = 0.0
        self._clock = clock
        self._recent: deque[tuple[float, bool]] = deque()
        self._horizon = 1.0

    def record(self, retry_after: float | None = None) -> None:
        """Note one response: ``retry_after`` for a throttling reply that carried the header,
        ``None`` for any other response."""
        now = self._clock()
        asked = retry_after is not None and retry_after > 0
        if asked:
            self._horizon = min(max(1.0, float(retry_after)), 60.0)  # type: ignore[arg-type]
        self._recent.append((now, asked))
        while self._recent and self._recent[0][0] < now - 60.0:
            self._recent.popleft()
        if not asked:
            return
        window = [a for t, a in self._recent if t >= now - self._horizon]
        if sum(window) < self.share * len(window):
            return
        end = max(self.until, now + float(retry_after))  # type: ignore[arg-type]
        self.paused_total += end - max(self.until, now)
        self.until = end

    def remaining(self) -> float:
        """Seconds left of the current pause (0 when calls may go)."""
        return max(0.0, self.until - self._clock())
