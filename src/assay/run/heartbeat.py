"""The runner's heartbeat: renew the run's lease while it runs, and end a run on SIGTERM.

The lease (:mod:`assay.store.leases`) is renewed every third of its TTL from a thread, not the
event loop: a CPU-bound scorer that holds the loop for a while must not let the lease lapse
while the process is alive. If a renewal finds the lease taken (this process stalled for longer
than the TTL and another took the run over), the run is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

from assay.core import StoreError
from assay.store import Store


class Heartbeat:
    """A daemon thread that renews ``store``'s lease of ``run_id`` until :meth:`stop`.

    ``on_lost`` is called (from the thread) with a message once the lease is no longer ours.
    A renewal that fails on a database error is retried at the next beat."""

    def __init__(self, store: Store, run_id: str, on_lost: Callable[[str], None]) -> None:
        self.store = store
        self.run_id = run_id
        self.on_lost = on_lost
        self.interval = store.lease_ttl / 3
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(self.interval, 1.0))

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                ours = self.store.renew_lease(self.run_id)
            except StoreError:
                continue  # the store is briefly unreachable: the lease may still hold
            self.beats += 1
            if not ours:
                lease = None
                with contextlib.suppress(StoreError):
                    lease = self.store.run_lease(self.run_id)
                holder = f" (now held by {lease.describe()})" if lease is not None else ""
                self.on_lost(
                    f"lost the lease of run {self.run_id}{holder}: this process stalled for "
                    f"longer than the lease TTL ({self.store.lease_ttl:g} s)"
                )
                return


class RunTerminated(KeyboardInterrupt):
    """Raised out of a run that a SIGTERM stopped, once its results were flushed and the run
    marked ``interrupted`` (a ``KeyboardInterrupt``, so callers that handle Ctrl-C handle it)."""

    signum = int(signal.SIGTERM)


@contextlib.contextmanager
def sigterm_cancels(task: asyncio.Task[object] | None) -> Iterator[list[int]]:
    """While inside: SIGTERM cancels ``task`` as SIGINT does (the run then flushes and marks
    itself interrupted). Yields a list that holds the signal number once one arrived. Does
    nothing off the main thread or where the loop cannot take signal handlers (Windows)."""
    received: list[int] = []
    if task is None or threading.current_thread() is not threading.main_thread():
        yield received
        return
    loop = asyncio.get_running_loop()

    def terminate() -> None:
        received.append(int(signal.SIGTERM))
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):
        yield received
        return
    try:
        yield received
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
