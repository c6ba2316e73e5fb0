"""The monitors on a schedule inside the server (``assay serve --monitor``).

:class:`Scheduler` runs, in one background thread, what cron would run with the CLI:

- a monitoring pass (:func:`assay.monitor.engine.run_pass`, the pass ``assay monitor run``
  makes: alerts written and delivered to the sinks) every ``every:`` of ``monitors.yaml``
  (default: the window);
- each canary (:mod:`assay.monitor.canary`) every its own ``every:``, before the pass that
  reads it;
- each online judge's anchor re-grade (:mod:`assay.monitor.anchors`) every its
  ``anchors_every:``, so a judge that moved is a substrate event before its scores are read.

A job that fails (a dead endpoint, a locked store) is logged and counted, and the schedule goes
on; the next due time of a job is counted from when it last ran. :meth:`Scheduler.stop` sets an
event the thread waits on, so shutdown takes at most the job in progress, never a full
interval. The schedule's state is the clock of the last run of each job, seeded from the store
(a canary's last synthetic trace), so a restarted server does not re-run a canary that just ran.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.monitor.spec import Monitors
from assay.store import Store

log = logging.getLogger("assay.monitor")

#: The longest the thread sleeps between looks at the schedule.
MAX_WAIT = timedelta(minutes=1)


@dataclass
class Tick:
    """What one look at the schedule ran."""

    at: datetime
    passes: list[Any] = field(default_factory=list)
    canaries: list[Any] = field(default_factory=list)
    anchors: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Scheduler:
    """Monitoring passes, canaries and anchor re-grades on their schedules (module docstring).

    ``clock`` returns the current time (tests pass a simulated one); ``on_tick`` is called with
    every :class:`Tick` that ran something."""

    def __init__(
        self,
        store: Store,
        monitors: Monitors,
        *,
        clock: Callable[[], datetime] | None = None,
        on_tick: Callable[[Tick], None] | None = None,
        deliver_alerts: bool = True,
    ) -> None:
        self.store = store
        self.monitors = monitors
        self.clock = clock or (lambda: datetime.now(UTC))
        self.on_tick = on_tick
        self.deliver_alerts = deliver_alerts
        self.last_pass: datetime | None = None
        self.last_canary: dict[str, datetime | None] = {}
        self.last_anchors: dict[str, datetime | None] = {}
        self.passes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seeded = False

    # -- one look at the schedule -----------------------------------------------------------

    def _seed(self) -> None:
        from assay.monitor.canary import last_canary_pass

        for canary in self.monitors.canaries:
            self.last_canary[canary.name] = last_canary_pass(self.store, canary)
        self._seeded = True

    def _job(self, tick: Tick, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # a failing job must not stop the schedule
            self.failures += 1
            self.last_error = f"{what}: {type(exc).__name__}: {exc}"
            tick.errors.append(self.last_error)
            log.warning("assay monitor: %s failed: %s", what, exc, exc_info=True)
            return None

    def tick(self, now: datetime | None = None) -> Tick:
        """Run every job that is due at ``now`` (default: the clock): canaries, then anchor
        re-grades, then the pass, so the pass reads what they wrote."""
        from assay.monitor.anchors import regrade_anchors
        from assay.monitor.canary import due, run_canary
        from assay.monitor.engine import run_pass
        from assay.monitor.spec import _duration

        if not self._seeded:
            self._seed()
        at = (now or self.clock()).astimezone(UTC)
        tick = Tick(at)
        for canary in self.monitors.canaries:
            if due(self.last_canary.get(canary.name), canary.every, at):
                report = self._job(
                    tick,
                    f"canary {canary.name}",
                    lambda c=canary: run_canary(self.store, self.monitors, c, now=at),
                )
                self.last_canary[canary.name] = at
                if report is not None:
                    tick.canaries.append(report)
        for judge in self.monitors.judges:
            if not judge.anchors_every:
                continue
            every = _duration(judge.anchors_every, f"judges.{judge.name}.anchors_every")
            if due(self.last_anchors.get(judge.name), every, at):
                report = self._job(
                    tick,
                    f"anchors of judge {judge.name}",
                    lambda j=judge: regrade_anchors(self.store, self.monitors, j),
                )
                self.last_anchors[judge.name] = at
                if report is not None:
                    tick.anchors.append(report)
        if due(self.last_pass, self.monitors.interval, at):
            report = self._job(
                tick,
                "monitoring pass",
                lambda: run_pass(
                    self.store, self.monitors, now=at, deliver_alerts=self.deliver_alerts
                ),
            )
            self.last_pass = at
            if report is not None:
                self.passes += 1
                tick.passes.append(report)
        ran = tick.passes or tick.canaries or tick.anchors or tick.errors
        if self.on_tick is not None and ran:
            self.on_tick(tick)
        return tick

    def next_due(self) -> datetime:
        """The earliest time a job is due next."""
        from assay.monitor.spec import _duration

        times = [(self.last_pass or self.clock()) + self.monitors.interval]
        for canary in self.monitors.canaries:
            last = self.last_canary.get(canary.name)
            times.append(last + canary.every if last else self.clock())
        for judge in self.monitors.judges:
            if judge.anchors_every:
                last = self.last_anchors.get(judge.name)
                every = _duration(judge.anchors_every, "anchors_every")
                times.append(last + every if last else self.clock())
        return min(times)

    # -- the thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            wait = (self.next_due() - self.clock()).total_seconds()
            self._stop.wait(min(max(wait, 0.01), MAX_WAIT.total_seconds()))

    def start(self) -> Scheduler:
        """Start the background thread (a daemon: it never keeps a dying process alive)."""
        if self._thread is not None:
            raise RuntimeError("the scheduler is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="assay-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> bool:
        """Ask the thread to stop after the job in progress and wait for it; returns whether it
        stopped within ``timeout`` seconds."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        started = time.monotonic()
        thread.join(timeout)
        stopped = not thread.is_alive()
        log.info("assay monitor: scheduler stopped in %.1fs", time.monotonic() - started)
        return stopped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """The schedule's state (for the server's ``/api/monitor/scheduler``)."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "running": self.running,
            "interval_seconds": self.monitors.interval.total_seconds(),
            "passes": self.passes,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_pass": iso(self.last_pass),
            "canaries": {k: iso(v) for k, v in self.last_canary.items()},
            "anchors": {k: iso(v) for k, v in self.last_anchors.items()},
        }
