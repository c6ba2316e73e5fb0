"""Where CPU-bound work runs: in this process (or a fork pool), or on a Ray cluster.

An :class:`Executor` maps a module-level function over work items that share one large,
read-only value (a contamination scan's eval index): ``map(fn, shared, items)`` yields
``fn(shared, item)`` for every item *in item order*, whatever order the work finished in, so
a caller that merges the results in the order it receives them gets the same answer on every
executor. Only results cross back to the caller; at most a bounded number are in flight.

:class:`LocalExecutor` runs items inline (one worker) or in a fork pool whose processes inherit
``shared`` instead of unpickling a copy each. :class:`~assay.scale.ray_runtime.RayExecutor` puts
``shared`` into the object store once and runs each item as a retried Ray task. Nothing here
imports Ray: :func:`make_executor` imports it only when ``"ray"`` is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from assay.core.errors import ConfigError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

#: The executors a command accepts with ``--executor``.
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs ``fn(shared, item)`` for each item and yields the results in item order."""

    name: str
    #: Workers the executor runs at once (processes, or Ray tasks in flight).
    workers: int

    def map(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """This machine: inline for one worker, else a fork pool of ``workers`` processes
    (``0``: one per CPU)."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if workers < 0:
            raise ConfigError("workers must be 0 (one per CPU) or more", where="--workers")
        self.workers = workers or os.cpu_count() or 1

    def map(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T]) -> Iterator[R]:
        work = list(items)
        if self.workers <= 1 or len(work) <= 1:
            for item in work:
                yield fn(shared, item)
            return
        import multiprocessing  # here: `assay run` imports this module, rarely a pool

        # fork: the workers inherit ``shared`` instead of unpickling a copy of it each.
        context = multiprocessing.get_context("fork")
        with context.Pool(
            processes=min(self.workers, len(work)),
            initializer=_init_worker,
            initargs=(fn, shared),
        ) as pool:
            yield from pool.imap(_run_item, work, chunksize=1)

    def close(self) -> None:
        """Nothing to release: a pool lives only as long as one :meth:`map`."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WORKER: tuple[Callable[[Any, Any], Any], Any] | None = None


def _init_worker(fn: Callable[[Any, Any], Any], shared: Any) -> None:
    global _WORKER
    _WORKER = (fn, shared)


def _run_item(item: Any) -> Any:
    assert _WORKER is not None, "worker not initialised"
    fn, shared = _WORKER
    return fn(shared, item)


def check_executor_options(
    executor: str, ray_address: str | None = None, workers: int | None = None
) -> None:
    """Refuse impossible combinations before any work starts (a clear usage error)."""
    if executor not in EXECUTORS:
        raise ConfigError(
            f"unknown executor {executor!r}",
            where="--executor",
            fix=f"use one of {', '.join(EXECUTORS)}",
        )
    if ray_address and executor != "ray":
        raise ConfigError(
            "--ray-address only applies with --executor ray",
            where="--ray-address",
            fix="add --executor ray",
        )
    minimum = 1 if executor == "ray" else 0  # local: 0 is one process per CPU
    if workers is not None and workers < minimum:
        raise ConfigError(
            f"--workers must be at least {minimum} with the {executor} executor, not {workers}",
            where="--workers",
        )


def make_executor(
    executor: str = "local", *, ray_address: str | None = None, workers: int | None = None
) -> Executor:
    """The executor named ``executor``: ``local`` (``workers`` processes, default 1) or
    ``ray`` (connects to ``ray_address``, else starts a local Ray runtime of ``workers``
    CPUs; see :class:`~assay.scale.ray_runtime.RayExecutor`). Raises :class:`ConfigError` for an
    unknown name, an address without Ray, or Ray not installed."""
    check_executor_options(executor, ray_address, workers)
    if executor == "local":
        return LocalExecutor(1 if workers is None else workers)
    from assay.scale.ray_runtime import RayExecutor

    return RayExecutor(address=ray_address, workers=workers)
