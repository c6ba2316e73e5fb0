"""CPU-bound scorers on a pool of Ray actors (``assay run --executor ray``).

Only scorers whose work is computation on this side run there: the ``python`` scorer (a
user's function) and ``embedding`` (a sentence-transformers model). Model calls, judges
included, stay on the runner's async event loop, where one machine already saturates any
endpoint and the gateway's pacing, retries and response cache apply.

In the run, each such scorer is replaced by a :class:`RayScorer` with the same name, kind,
version and config (so the manifest, the spec hash and resume are unchanged) whose ``score``
awaits a call on the least busy actor of a :class:`ScorerPool`. Each actor holds its own copy
of the scorers (an embedding model is loaded once per actor). The score comes back to the
runner, which stores it with the same writer as a local run: a result is written once, by the
driver, in a transaction keyed on (run, subject, sample, epoch), so a retried call cannot
write twice and a resumed run skips what is stored.

A worker that dies (killed, out of memory, its machine lost) loses nothing: actors are
created with ``max_restarts`` and their calls with ``max_task_retries``, so Ray starts the
actor again and re-sends the calls it had not answered. Scoring is a pure function of
(sample, output), so a repeated call gives the same score.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.core import Output, Sample, Score
from assay.scale.executor import check_executor_options

#: Scorer kinds that are CPU-bound on this side and may run on Ray actors.
CPU_BOUND_KINDS = frozenset({"python", "embedding"})


def runs_on_actors(scorer: Any) -> bool:
    """Whether ``scorer`` is CPU-bound work that ``--executor ray`` moves to actors (never a
    scorer that calls a model: those are bound to the runner and stay on its event loop)."""
    return getattr(scorer, "kind", None) in CPU_BOUND_KINDS and not callable(
        getattr(scorer, "bind", None)
    )


def _import_roots(scorers: Sequence[Any], base_dir: Path | None) -> list[str]:
    """Folders an actor needs on ``sys.path`` to unpickle the scorers: the spec's folder and
    the root of each user module a scorer's function comes from."""
    roots: dict[str, None] = {}
    if base_dir is not None:
        roots[os.fspath(Path(base_dir).resolve())] = None
    for scorer in scorers:
        for thing in (getattr(scorer, "fn", None), scorer):
            module = sys.modules.get(getattr(thing, "__module__", "") or "")
            path = getattr(module, "__file__", None)
            if module is None or path is None:
                continue
            depth = module.__name__.count(".") + (Path(path).stem == "__init__")
            roots[os.fspath(Path(path).resolve().parents[depth])] = None
    return list(roots)


class _ScorerActor:
    """One Ray actor: a copy of the offloaded scorers and an event loop to await them on."""

    def __init__(self, payload: bytes, roots: list[str]) -> None:
        from ray import cloudpickle

        for root in reversed(roots):
            if root not in sys.path:
                sys.path.insert(0, root)
        self.scorers: list[Any] = cloudpickle.loads(payload)
        self.loop = asyncio.new_event_loop()

    def score(self, slot: int, sample: Sample, output: Output) -> Score:
        scorer = self.scorers[slot]
        try:
            score: Score = self.loop.run_until_complete(scorer.score(sample, output))
        except Exception as exc:  # like the runner: a broken scorer must not lose the output
            return Score(scorer=scorer.name, value=None, error=f"{type(exc).__name__}: {exc}")
        return score

    def getpid(self) -> int:
        return os.getpid()


class ScorerPool:
    """``workers`` actors holding ``scorers``; calls go to the actor with the fewest in flight.

    ``max_restarts`` / ``max_task_retries``: how often Ray restarts a dead actor and re-sends
    a call it lost (a call that still fails after that becomes the score's error, so a scorer
    that crashes its process every time cannot hang the run).
    """

    def __init__(
        self,
        scorers: Sequence[Any],
        *,
        address: str | None = None,
        workers: int | None = None,
        base_dir: Path | None = None,
        max_restarts: int = 4,
        max_task_retries: int = 4,
    ) -> None:
        from ray import cloudpickle

        from assay.scale.ray_runtime import RayRuntime

        self.runtime = RayRuntime(address, workers)
        ray = self.runtime.ray
        try:
            size = workers or self.runtime.cpus()
            payload = cloudpickle.dumps(list(scorers))  # type: ignore[no-untyped-call]
            actor = ray.remote(
                num_cpus=1, max_restarts=max_restarts, max_task_retries=max_task_retries
            )(_ScorerActor)
            roots = _import_roots(scorers, base_dir)
            self.actors = [actor.remote(payload, roots) for _ in range(size)]
        except BaseException:
            self.runtime.close()
            raise
        self._busy = [0] * len(self.actors)

    async def score(self, slot: int, sample: Sample, output: Output) -> Score:
        """The score of the ``slot``-th offloaded scorer, computed on an actor."""
        actor = min(range(len(self.actors)), key=self._busy.__getitem__)
        self._busy[actor] += 1
        try:
            score: Score = await self.actors[actor].score.remote(slot, sample, output)
            return score
        finally:
            self._busy[actor] -= 1

    def pids(self) -> list[int]:
        """The process id of every actor (where a test sends a kill)."""
        ray = self.runtime.ray
        pids: list[int] = ray.get([a.getpid.remote() for a in self.actors])
        return pids

    def close(self) -> None:
        """End the actors, and the Ray runtime if the pool started it."""
        ray = self.runtime.ray
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        self.runtime.close()


class RayScorer:
    """Stands in for a CPU-bound scorer in a run: same identity, scored on the pool."""

    def __init__(self, scorer: Any, pool: ScorerPool, slot: int) -> None:
        self.inner = scorer
        self.name: str = scorer.name
        self.kind: str = getattr(scorer, "kind", scorer.name)
        self.version: str = scorer.version
        self.config: dict[str, Any] = scorer.config
        self.pool, self.slot = pool, slot

    def __getattr__(self, name: str) -> Any:  # e.g. embedding_model for the manifest
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def score(self, sample: Sample, output: Output) -> Score:
        return await self.pool.score(self.slot, sample, output)


class Offload:
    """The scorers a run applies, and the pool (if any) to close when the run ends."""

    def __init__(self, scorers: Sequence[Any], pool: ScorerPool | None = None) -> None:
        self.scorers = list(scorers)
        self.pool = pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def offload_scorers(
    scorers: Sequence[Any],
    executor: str = "local",
    *,
    ray_address: str | None = None,
    workers: int | None = None,
    base_dir: Path | None = None,
) -> Offload:
    """``scorers`` as a run should apply them: unchanged with the ``local`` executor; with
    ``ray``, the CPU-bound ones (:data:`CPU_BOUND_KINDS`) replaced by :class:`RayScorer` on
    one :class:`ScorerPool` of ``workers`` actors (default: the cluster's CPUs). With no
    CPU-bound scorer, Ray is not started at all."""
    check_executor_options(executor, ray_address, workers)
    moved = [s for s in scorers if runs_on_actors(s)]
    if executor == "local" or not moved:
        return Offload(scorers)
    pool = ScorerPool(moved, address=ray_address, workers=workers, base_dir=base_dir)
    slots = {id(s): n for n, s in enumerate(moved)}
    return Offload(
        [RayScorer(s, pool, slots[id(s)]) if id(s) in slots else s for s in scorers], pool
    )
