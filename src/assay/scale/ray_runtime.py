"""The Ray connection, and work items mapped over Ray tasks.

:class:`RayRuntime` connects to an existing cluster (``address``, as ``--ray-address`` gives
it: ``host:port`` of the head, or ``ray://host:10001`` for Ray Client), reuses a connection
this process already has (``ray.init`` called by the caller, as tests do), or starts a local
runtime limited to ``workers`` CPUs. It shuts down only what it started.

:class:`RayExecutor` puts the shared value into the object store once (``ray.put``; numpy
arrays are then read zero-copy by every task on a node) and runs each item as a task that Ray
retries when its worker dies (``max_retries``). Results come back in item order with a bounded
number of tasks in flight, so the driver's memory does not grow with the corpus. Input files
are read by the tasks themselves: on a cluster of several machines they must be on storage
every node mounts at the same path.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from assay.core.errors import AssayError, ConfigError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

_FIX = 'install the extra: pip install "assay[ray]"'


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the ray executor needs Ray, which is not installed "
            "(it is the optional `ray` extra, not part of the base install)",
            where="--executor ray",
            fix=_FIX,
        ) from None
    return ray


class RayRuntime:
    """A connection to Ray (see the module docstring); ``close()`` ends only one it started."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        ray = self.ray = import_ray()
        self.started = False
        if ray.is_initialized():
            return
        options: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        if address:
            _reachable(address)
        try:
            if address:
                ray.init(address=address, **options)
            else:
                # A local runtime of a bounded size, never a connection to a cluster found
                # through RAY_ADDRESS: a team's cluster is chosen with --ray-address only.
                cpus = workers or os.cpu_count() or 1
                ray.init(address="local", num_cpus=cpus, **options)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = f"--ray-address {address}" if address else "--executor ray"
            raise ConfigError(
                f"cannot {'connect to the Ray cluster' if address else 'start Ray'}: {exc}",
                where=where,
                fix="check the head node's address (host:port, as `ray start --head` printed)"
                if address
                else "check that Ray can start on this machine (`ray start --head` says why not)",
            ) from None
        self.started = True

    def cpus(self) -> int:
        """CPUs the cluster offers (at least 1)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Shut Ray down if this runtime started or connected it; leave a caller's be."""
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a head that does not answer: ``ray.init`` retries a dead address for
    minutes. ``ray://`` (Ray Client) and ``auto`` are left to Ray."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"{address!r} is not a Ray head address",
            where="--ray-address",
            fix="give host:port (e.g. 10.0.0.5:6379) or ray://host:10001",
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"no Ray head answers at {address}: {exc}",
            where="--ray-address",
            fix="start the cluster (`ray start --head`) or check the address it printed",
        ) from None


def unwrap(exc: BaseException) -> BaseException:
    """The assay error a Ray task raised, when it was one (its message, not a traceback)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, AssayError) else exc


class RayExecutor:
    """Items as Ray tasks, results in item order (see the module docstring).

    ``workers``: tasks in flight (default: the cluster's CPUs); for a local runtime also the
    CPUs it is started with. ``max_retries``: how often a task whose worker died is run again
    (Ray's system-failure retries; an exception raised by the work itself is not retried).
    """

    name = "ray"

    def __init__(
        self, address: str | None = None, workers: int | None = None, max_retries: int = 3
    ) -> None:
        self.runtime = RayRuntime(address, workers)
        self.workers = workers or self.runtime.cpus()
        self.max_retries = max_retries

    def map(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T]) -> Iterator[R]:
        ray = self.runtime.ray
        shared_ref = ray.put(shared)
        task = ray.remote(num_cpus=1, max_retries=self.max_retries)(fn)
        window = 2 * self.workers  # keeps every worker busy while the driver merges
        pending: deque[Any] = deque()
        try:
            for item in items:
                pending.append(task.remote(shared_ref, item))
                if len(pending) >= window:
                    yield self._get(pending.popleft())
            while pending:
                yield self._get(pending.popleft())
        finally:
            for ref in pending:  # the caller stopped early (an error, or a closed generator)
                ray.cancel(ref, force=True)

    def _get(self, ref: Any) -> Any:
        try:
            return self.runtime.ray.get(ref)
        except Exception as exc:
            cause = unwrap(exc)
            if cause is exc:
                raise
            raise cause from None

    def close(self) -> None:
        """Shut down a Ray runtime this executor started."""
        self.runtime.close()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
