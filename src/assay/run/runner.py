"""The runner: subjects × samples × epochs, paced and retried, results streamed to the store.

Each (subject, sample, epoch) goes through a :class:`~assay.run.gateway.Gateway` (flow
control, timeouts, retries) unless the response cache already holds its request. Results are
committed in small batches by one writer task as they finish; a batch is one transaction, so a
killed process loses only results that had not been committed, and resuming the run re-issues
exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assay.core import (
    AssayError,
    JudgeManifest,
    ModelRequest,
    Output,
    ProviderError,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    StoreError,
    anchor_fingerprint,
    content_hash,
)
from assay.core.construct import construct_checked
from assay.providers import Provider
from assay.run.accounting import Accounting, PriceTable
from assay.run.cache import cache_namespace
from assay.run.environment import environment_manifest
from assay.run.evaluation import Eval
from assay.run.gateway import CallPolicy, Gateway
from assay.run.heartbeat import Heartbeat, RunTerminated, sigterm_cancels
from assay.run.subjects import ModelSubject, Subject
from assay.scale.scorers import Offload, offload_scorers
from assay.score import scorer_manifest
from assay.score.judges import judge_manifests
from assay.store import Store
from assay.store.repository import CacheEntry

#: Kept for callers of the first runner: progress is now the live :class:`Accounting`.
Progress = Accounting


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves, beyond what the eval says.

    ``cache`` serves repeated requests from the store's response cache (and fills it);
    ``max_errors`` aborts the run once more results than that have failed (an ``int``), or a
    larger share than that of at least 20 finished results (a ``float`` below 1); ``policy``
    paces and retries calls (its concurrency defaults to the eval's); ``prices`` overrides
    the price table used for the cost estimate.

    ``redact_pii`` (or the eval's ``redact_pii``) redacts PII with stable placeholders
    (:mod:`assay.data.pii`) from everything written to the store: samples, outputs (text, raw
    response body, metadata), scores' answers, explanations and metadata, error messages and the
    spec. A sample and the results made from it share one placeholder numbering. Responses are
    then not written to the shared response cache (reads still hit it): a redacted response
    would be served to later runs that did not ask for redaction, and an unredacted one would
    put PII in the store. The manifest records redaction in ``RunManifest.redaction``, and it
    is part of the spec hash, so a
    redacted and an unredacted run of one spec are never resumed into each other.

    ``max_pending`` bounds the finished results held in memory for the writer: when the store
    falls behind, workers wait for it instead of piling results up, so a run's memory does not
    grow with its size (at most two batches of this many results, plus the calls in flight).

    ``executor="ray"`` runs the CPU-bound scorers (``python``, ``embedding``) on a pool of
    ``workers`` Ray actors (:mod:`assay.scale`), on the cluster at ``ray_address`` or a local
    runtime; model calls stay here. Results are stored by the same writer either way.
    """

    cache: bool = True
    max_errors: int | float | None = None
    policy: CallPolicy | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    flush_interval: float = 0.05
    max_pending: int = 2048
    redact_pii: bool = False
    executor: str = "local"
    ray_address: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    run_id: str
    status: str
    n_planned: int
    n_results: int
    n_errors: int
    error_classes: dict[str, int]
    manifest: RunManifest
    accounting: Accounting | None = None
    resumed: bool = False
    abort_reason: str | None = None
    #: Results abandoned by a ``--max-errors`` abort while failing behind an open circuit
    #: breaker: counted as failed by the limit, not stored (a resumed run asks for them again).
    n_abandoned_failing: int = 0


def new_run_id() -> str:
    """A sortable, unique run id: UTC date-time plus 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def spec_hash(ev: Eval, *, redact_pii: bool | None = None) -> str:
    """Identity of "the same eval": everything fixed before the run starts. Redaction
    (``redact_pii``, else the eval's) counts only when on, so hashes of unredacted evals are
    those of earlier versions."""
    identity: dict[str, Any] = {
        "name": ev.name,
        "dataset": ev.dataset.content_hash,
        "subjects": [s.manifest().model_dump(mode="json") for s in ev.subjects],
        "scorers": [scorer_manifest(s).model_dump(mode="json") for s in ev.scorers],
        "epochs": ev.epochs,
        "seed": ev.seed,
    }
    if ev.redact_pii if redact_pii is None else redact_pii:
        identity["redact_pii"] = True
    return content_hash(identity)


#: What a redacted run's ``RunManifest.redaction`` says was redacted.
REDACTION_NOTE = (
    "assay.data.pii: samples, outputs, scores, errors, spec, manifest texts; no cache writes"
)


def redacted(manifest: RunManifest) -> bool:
    """Whether the run's stored data was redacted (``redact_pii``)."""
    return manifest.redaction is not None


def index_snapshot(ev: Eval) -> str | None:
    """The retrieval index snapshot of a run (A1): the spec's ``index_snapshot``, else the
    distinct ``index_snapshot`` ids the dataset's RAG samples are pinned to (sorted, comma
    separated; see :mod:`assay.data.kb_pinning`), else ``None`` (no retrieval declared)."""
    if ev.index_snapshot:
        return ev.index_snapshot
    # Read from the dataset's metadata column, without building every sample.
    pinned = (label for label in ev.dataset.slice_counts("index_snapshot") if label != "")
    return ", ".join(pinned) or None


def build_manifest(ev: Eval, run_id: str, *, redact_pii: bool | None = None) -> RunManifest:
    """The manifest as known before the run starts (resolved models are added at the end)."""
    redact = ev.redact_pii if redact_pii is None else redact_pii
    environment = environment_manifest(ev.project_dir)
    embedding_models = [
        m for s in ev.scorers if isinstance(m := getattr(s, "embedding_model", None), str)
    ]
    manifest = RunManifest(
        run_id=run_id,
        name=ev.name,
        spec_hash=spec_hash(ev, redact_pii=redact),
        dataset=ev.dataset.manifest(),
        subjects=[s.manifest() for s in ev.subjects],
        scorers=[scorer_manifest(s) for s in ev.scorers],
        judges=judge_manifests(ev),
        embedding_model=", ".join(dict.fromkeys(embedding_models)) or None,
        index_snapshot=index_snapshot(ev),
        epochs=ev.epochs,
        seed=ev.seed,
        slices=list(ev.slices),
        cluster=ev.cluster,
        environment=environment,
        started_at=datetime.now(UTC),
        redaction=REDACTION_NOTE if redact else None,
    )
    if redact:  # the spec's own texts (prompt, system, judge rubric) are stored here too
        from assay.run.redaction import redact_manifest

        return redact_manifest(manifest)
    return manifest


def estimate_tokens(request: ModelRequest) -> int:
    """A rough token count for the tokens-per-minute budget: 4 characters a token for the
    prompt plus the requested completion length (256 when unset)."""
    prompt = sum(len(m.content) for m in request.messages) // 4
    completion = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
    return prompt + int(completion if isinstance(completion, int) else 256)


#: Allocations between two young-generation collections while a run is live (CPython's
#: default is 700). See :func:`fewer_young_collections`.
RUN_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def fewer_young_collections(threshold: int = RUN_GC_THRESHOLD) -> Iterator[None]:
    """Collect the youngest generation every ``threshold`` allocations instead of every 700
    while the block runs (``gc.set_threshold``, CPython's documented tuning knob), then put the
    thresholds back. The older generations' ratios are kept; a lower setting of the caller's
    (or a disabled collector) is left as it is.

    Each sample allocates a few hundred container objects (aiohttp's request, pydantic models,
    rows), so at 700 a collection ran every couple of samples, and each one walks the whole
    young generation, most of it the other in-flight samples' objects, still alive. Counted in
    instructions (valgrind callgrind, 4,000 HTTP samples at concurrency 64): collection cost
    87k instructions a sample at 700 and 6.5k at 10,000, 5% of assay's whole per-sample cost
    (1,382k → 1,312k; the bare aiohttp loop is 546k). Cyclic garbage waits at most 10,000
    allocations longer to be freed.
    """
    old = gc.get_threshold()
    if old[0] == 0 or old[0] >= threshold:
        yield
        return
    gc.set_threshold(threshold, *old[1:])
    try:
        yield
    finally:
        if gc.get_threshold()[0] == threshold:  # unless someone set another meanwhile
            gc.set_threshold(*old)


class Runner:
    """Runs one :class:`Eval` into a :class:`~assay.store.Store`, or resumes a stored run."""

    def __init__(
        self,
        ev: Eval,
        store: Store,
        *,
        run_id: str | None = None,
        resume: bool = False,
        options: RunOptions | None = None,
        on_progress: Callable[[Accounting], None] | None = None,
    ) -> None:
        self.ev = ev
        self.store = store
        self.options = options or RunOptions()
        self.resume = resume
        if resume and run_id is None:
            raise ValueError("resume needs the id of the run to resume")
        self.run_id = run_id or new_run_id()
        self.on_progress = on_progress
        self.redact_pii = bool(self.options.redact_pii or ev.redact_pii)
        self.manifest = (
            store.get_manifest(self.run_id)
            if resume
            else build_manifest(ev, self.run_id, redact_pii=self.redact_pii)
        )
        prices = {**ev.prices, **self.options.prices}
        self.accounting = Accounting(total=ev.n_planned, prices=PriceTable(prices))
        policy = self.options.policy or ev.policy or CallPolicy()
        self.policy = dataclasses.replace(policy, max_concurrency=ev.concurrency)
        self._gateways: dict[int | str, Gateway] = {}
        self._pending: list[SampleResult] = []
        self._pending_cache: list[CacheEntry] = []
        self._wake = asyncio.Event()
        # Backpressure: set while the writer has room; workers wait on it when it has none.
        self._room = asyncio.Event()
        self._room.set()
        self._full = asyncio.Event()
        self._max_pending = max(1, self.options.max_pending)
        self._started = time.perf_counter()
        self._workers: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._abort: str | None = None
        self._heartbeat: Heartbeat | None = None
        self._done_keys: set[tuple[str, str, int]] = set()
        # Resolved models and fingerprints per subject, in order of first appearance.
        #: While the anchor set is scored: every call fresh, nothing read from or written to
        #: the response cache.
        self._fresh_calls = False
        #: Results finished (and failed) by the workers in this session, for ``max_errors``.
        self._finished = 0
        self._failed = 0
        self._abandoned_failing = 0
        self._resolved: dict[str, tuple[dict[str, None], dict[str, None]]] = {
            s.name: ({}, {}) for s in ev.subjects
        }
        #: The scorers as applied: CPU-bound ones on Ray actors with executor="ray".
        self.offload = Offload(ev.scorers)

    # -- work ----------------------------------------------------------------------------------

    def _work(self) -> Iterator[tuple[Subject, Sample, int]]:
        done = self._done_keys
        for epoch in range(self.ev.epochs):
            for sample in self.ev.dataset:
                for subject in self.ev.subjects:
                    if (subject.name, sample.id, epoch) not in done:
                        yield subject, sample, epoch

    async def call_model(
        self, provider: Provider, request: ModelRequest
    ) -> tuple[Output, int, bool]:
        """A judge's model call (judge scorers and judge subjects are bound to the runner and
        call this): sent like every call in the run (:meth:`request_model`: cache, gateway,
        retries), and counted as a judge call in the run's accounting (tokens and cost apart
        from the subjects')."""
        try:
            output, attempts, cached = await self.request_model(provider, request)
        except ProviderError as exc:
            self.accounting.add_judge_failure(exc.attempts)
            raise
        self.accounting.add_judge_call(output, attempts=attempts, cached=cached)
        return output, attempts, cached

    async def request_model(
        self, provider: Provider, request: ModelRequest
    ) -> tuple[Output, int, bool]:
        """Send one model request the way every call in a run goes: from the response cache
        when it holds the request, else through the provider's gateway (pacing, timeout,
        retries), filling the cache. Returns (output, attempts, cached). Subjects' and judges'
        calls alike, so they share the cache, the rate budgets and the retry policy."""
        use_cache = self.options.cache and not self._fresh_calls
        namespace = cache_namespace(provider) if use_cache else None
        key = request.request_hash(provider=namespace) if namespace else None
        if key is not None:
            hit = self.store.get_cached(key)
            if hit is not None:
                return hit, 0, True
        gateway = self._gateway_for(id(provider), provider.name)
        output, attempts = await gateway.call(
            lambda: provider.generate(request),
            # The estimate only feeds the tokens-per-minute budget.
            est_tokens=estimate_tokens(request) if gateway.tpm is not None else 0,
            enforced_timeout=getattr(provider, "enforced_timeout", None),
        )
        if key is not None and not self.redact_pii:
            self._pending_cache.append((key, provider.name, request.model, output))
        return output, attempts, False

    def _gateway_for(self, key: int | str, name: str) -> Gateway:
        gateway = self._gateways.get(key)
        if gateway is None:
            gateway = self._gateways[key] = Gateway(name, self.policy, seed=self.ev.seed)
        return gateway

    def _bind(self) -> None:
        """Hand the runner to every subject and scorer that makes model calls of its own (LLM
        judges: ``bind(runner)``), so their calls go through :meth:`call_model`."""
        for thing in (*self.ev.subjects, *self.ev.scorers):
            bind = getattr(thing, "bind", None)
            if callable(bind):
                bind(self)

    async def _call(self, subject: Subject, sample: Sample, epoch: int) -> tuple[Output, int, bool]:
        """One sample, from the cache or through the gateway: (output, attempts, cached)."""
        if isinstance(subject, ModelSubject):
            return await self.request_model(subject.provider, subject.request(sample, epoch=epoch))
        if getattr(subject, "calls_models", False):
            # A judge subject: each of its model calls already goes through call_model (cache,
            # gateway, retries); retrying the whole subject would repeat the calls.
            return await subject.respond(sample, epoch=epoch), 1, False
        gateway = self._gateway_for(subject.name, subject.name)
        output, attempts = await gateway.call(lambda: subject.respond(sample, epoch=epoch))
        return output, attempts, False

    async def _score(self, sample: Sample, output: Output) -> list[Score]:
        scores = []
        for scorer in self.offload.scorers:
            try:
                scores.append(await scorer.score(sample, output))
            except Exception as exc:  # a broken scorer must not lose the output
                scores.append(
                    Score(scorer=scorer.name, value=None, error=f"{type(exc).__name__}: {exc}")
                )
        return scores

    async def _one(self, subject: Subject, sample: Sample, epoch: int) -> SampleResult:
        key: dict[str, Any] = {"subject": subject.name, "sample_id": sample.id, "epoch": epoch}
        try:
            output, attempts, cached = await self._call(subject, sample, epoch)
        except ProviderError as exc:
            return SampleResult(
                **key, error=str(exc), error_class=exc.error_class, attempts=exc.attempts
            )
        except AssayError as exc:
            return SampleResult(**key, error=str(exc), error_class=exc.code)
        except Exception as exc:  # a user's callable may raise anything
            return SampleResult(
                **key, error=f"{type(exc).__name__}: {exc}", error_class="exception"
            )
        scores = await self._score(sample, output)
        # Every field is set with its declared type; skipping validation matters on this path.
        key.update(
            output=output,
            scores=scores,
            error=None,
            error_class=None,
            attempts=attempts,
            cached=cached,
        )
        return construct_checked(SampleResult, key)

    async def _worker(self, work: Iterator[tuple[Subject, Sample, int]]) -> None:
        limit = self._max_pending
        for subject, sample, epoch in work:
            if self._abort:
                return
            result = await self._one(subject, sample, epoch)
            self._pending.append(result)
            self._wake.set()
            self._finished += 1
            self._failed += result.error_class is not None
            self._check_errors()
            if len(self._pending) >= limit:
                # The writer is behind (a slow disk, or a busy event loop starving its thread):
                # wait until it takes the batch rather than holding ever more results.
                self._full.set()
                self._room.clear()
                await self._room.wait()

    # -- writing -------------------------------------------------------------------------------

    def _check_errors(self) -> None:
        """Abort once more results than ``max_errors`` have failed. Counted as workers finish
        results, not as the writer stores them, so the limit holds however far the writer lags
        (results already finished are still stored).

        Calls that failed and now wait behind an open circuit breaker count as failed too:
        against a mostly failing endpoint the breaker holds every sample back for minutes
        before its retries run out, and a limit that waited for them would look like a hang.
        Those samples are not stored (a resumed run asks for them again)."""
        limit = self.options.max_errors
        if limit is None or self._abort:
            return
        stuck = sum(g.stuck for g in self._gateways.values())
        finished, failed = self._finished + stuck, self._failed + stuck
        what = f"{self._failed} results failed"
        if stuck:
            what += (
                f" and {stuck} more are failing behind an open circuit breaker "
                f"({self._last_error()})"
            )
        if isinstance(limit, float) and limit < 1:
            if finished >= 20 and failed / finished > limit:
                self._abort = f"{what}: {failed} of {finished}, more than --max-errors {limit:.0%}"
        elif failed > limit:
            self._abort = f"{what}: more than --max-errors {int(limit)}"
        if self._abort:
            self._abandoned_failing = stuck
            for worker in self._workers:
                worker.cancel()

    def _last_error(self) -> str:
        errors = [g.stats.last_error for g in self._gateways.values() if g.stats.last_error]
        return f"last error: {errors[-1]}" if errors else "no error detail"

    async def _watch(self) -> None:
        """Twice a second while the run is live: the endpoints' state for the progress line
        (a frozen bar with an open circuit breaker looks like a hang), the elapsed time, and
        the ``max_errors`` check (which must not wait for a result to finish)."""
        while True:
            await asyncio.sleep(0.5)
            self.accounting.elapsed = time.perf_counter() - self._started
            self.accounting.endpoints = "; ".join(
                status for g in self._gateways.values() if (status := g.status())
            )
            self._check_errors()
            if self.on_progress:
                self.on_progress(self.accounting)

    async def _flush(self) -> None:
        if not self._pending and not self._pending_cache:
            return
        batch, self._pending = self._pending, []
        cache, self._pending_cache = self._pending_cache, []
        self._full.clear()
        self._room.set()
        await asyncio.to_thread(self._store_batch, batch, cache)
        for result in batch:
            self.accounting.add(result)
            if result.output is not None:
                models, fingerprints = self._resolved[result.subject]
                if result.output.model:
                    models.setdefault(result.output.model)
                if result.output.system_fingerprint:
                    fingerprints.setdefault(result.output.system_fingerprint)
        self.accounting.elapsed = time.perf_counter() - self._started
        if self.on_progress:
            self.on_progress(self.accounting)

    def _store_batch(self, batch: list[SampleResult], cache: list[CacheEntry]) -> None:
        """Write one batch (in the writer's thread), redacted first when redaction is on."""
        if self.redact_pii:
            batch = [self._redact(result) for result in batch]
        self.store.add_results(self.run_id, batch, cache_entries=cache)

    def _redact(self, result: SampleResult) -> SampleResult:
        """``result`` redacted with its sample's placeholder numbering: the sample is redacted
        first (as it was stored) with the same table, so a value in both has one placeholder."""
        from assay.data.pii import Placeholders, redact_result, redact_sample

        placeholders = Placeholders()
        # A result of no sample of this dataset (none is expected) gets its own numbering.
        with contextlib.suppress(KeyError):
            redact_sample(self.ev.dataset.get(result.sample_id), placeholders=placeholders)
        return redact_result(result, placeholders=placeholders)

    async def _writer(self, workers_done: asyncio.Event) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                if workers_done.is_set():
                    return
                wake = asyncio.ensure_future(self._wake.wait())
                done = asyncio.ensure_future(workers_done.wait())
                await asyncio.wait({wake, done}, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                done.cancel()
            # Let a few more results finish so batches are not one row each (unless the
            # buffer is already full and workers are waiting for room).
            if not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.options.flush_interval):
                        await self._full.wait()
            await self._flush()

    def _writer_done(self, writer: asyncio.Task[None]) -> None:
        """A writer that failed (the store is unreachable, the disk full) stops the workers:
        nothing more could be stored, and they must not wait for room forever."""
        if writer.cancelled() or writer.exception() is None:
            return
        self._room.set()
        for worker in self._workers:
            worker.cancel()

    # -- the run -------------------------------------------------------------------------------

    async def _prepare(self) -> None:
        if not self.resume:
            samples: Iterable[Sample] = self.ev.dataset
            spec = self.ev.spec
            if self.redact_pii:
                # Imported here: the detectors' regexes cost every run that does not redact.
                from assay.data.pii import redact_sample, redact_value

                samples = (redact_sample(s) for s in self.ev.dataset)  # one at a time
                spec = None if spec is None else redact_value(spec)[0]
            await asyncio.to_thread(
                self.store.create_run,
                self.manifest,
                samples,
                n_planned=self.ev.n_planned,
                spec=spec,
            )
            return
        if redacted(self.manifest) != self.redact_pii:
            was = "with" if redacted(self.manifest) else "without"
            raise StoreError(
                f"run {self.run_id} was stored {was} PII redaction; resuming it "
                f"{'without' if self.redact_pii else 'with'} redaction would mix the two",
                fix="resume with the same redact_pii setting, or start a new run (--new)",
            )
        info = await asyncio.to_thread(self.store.get_run, self.run_id)
        if info.spec_hash != self.manifest.spec_hash or self.manifest.spec_hash != spec_hash(
            self.ev, redact_pii=self.redact_pii
        ):
            raise StoreError(
                f"run {self.run_id} was made from a different spec; resuming would mix two evals",
                fix="run the spec as a new run (assay run --new)",
            )
        # Claims the run's lease atomically (refused, naming the holder, while another live
        # process holds it) before anything of the run is touched.
        await asyncio.to_thread(self.store.resume_run, self.run_id)
        await asyncio.to_thread(self.store.delete_errors, self.run_id)
        earlier = await asyncio.to_thread(self.store.resolved_models, self.run_id)
        for name, (models, fingerprints) in earlier.items():
            if name in self._resolved:
                self._resolved[name][0].update(dict.fromkeys(models))
                self._resolved[name][1].update(dict.fromkeys(fingerprints))
        self._done_keys = await asyncio.to_thread(self.store.completed_keys, self.run_id)
        self.accounting.done = self.accounting.skipped = len(self._done_keys)

    async def run(self) -> RunOutcome:
        """Run (or resume) everything; on cancellation flush what finished and mark the run
        interrupted; on ``max_errors`` stop and mark it failed."""
        self._bind()
        # Before the run is marked running: a cluster that cannot be reached fails fast.
        options = self.options
        base_dir = self.ev.scorer_context.base_dir if self.ev.scorer_context else None
        self.offload = offload_scorers(  # in this thread: ray.init expects the main one
            self.ev.scorers,
            options.executor,
            ray_address=options.ray_address,
            workers=options.workers,
            base_dir=base_dir,
        )
        try:
            await self._prepare()
        except BaseException:
            self.offload.close()
            raise
        loop = asyncio.get_running_loop()
        self._heartbeat = Heartbeat(
            self.store,
            self.run_id,
            lambda why: loop.call_soon_threadsafe(self._lease_lost, why),
        ).start()
        try:
            with fewer_young_collections():
                return await self._run_prepared()
        finally:
            self._heartbeat.stop()

    def _lease_lost(self, why: str) -> None:
        """Another process took the run over (our lease lapsed): stop working on it."""
        if not self._abort:
            self._abort = why
            for worker in self._workers:
                worker.cancel()

    async def _run_prepared(self) -> RunOutcome:
        if self.on_progress:
            self.on_progress(self.accounting)
        work = self._work()
        workers_done = asyncio.Event()
        writer = asyncio.create_task(self._writer(workers_done))
        writer.add_done_callback(self._writer_done)
        remaining = self.ev.n_planned - len(self._done_keys)
        self._workers = [
            asyncio.create_task(self._worker(work))
            for _ in range(min(self.ev.concurrency, max(remaining, 1)))
        ]
        self._watcher = asyncio.create_task(self._watch())
        status = "completed"
        try:
            await asyncio.gather(*self._workers)
            if self._abort:
                # Every worker saw the abort and returned before its cancellation landed.
                status = "failed"
        except asyncio.CancelledError:
            current = asyncio.current_task()
            outer = current is not None and current.cancelling() > 0
            status = "failed" if self._abort and not outer else "interrupted"
            for w in self._workers:
                w.cancel()
            if outer:
                await asyncio.shield(self._finish(writer, workers_done, status))
                raise
        except BaseException:
            status = "failed"
            for w in self._workers:
                w.cancel()
            await asyncio.shield(self._finish(writer, workers_done, status))
            raise
        await self._finish(writer, workers_done, status)
        acc = self.accounting
        return RunOutcome(
            run_id=self.run_id,
            status=status,
            n_planned=self.ev.n_planned,
            n_results=acc.done,
            n_errors=acc.errors,
            error_classes=dict(acc.error_classes),
            manifest=self.manifest,
            accounting=acc,
            resumed=self.resume,
            abort_reason=self._abort,
            n_abandoned_failing=self._abandoned_failing,
        )

    async def _finish(
        self, writer: asyncio.Task[None], workers_done: asyncio.Event, status: str
    ) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        self.accounting.endpoints = ""
        workers_done.set()
        self._wake.set()
        # The writer may be holding a batch open for more results (``flush_interval``): none
        # will come, so end that wait now rather than idle out the interval at every run's end.
        self._full.set()
        with contextlib.suppress(asyncio.CancelledError):
            await writer  # drains every pending result, then returns
        await self._flush()  # anything left if the writer itself was cancelled
        anchor_scores = await self._score_anchors() if status == "completed" else {}
        subjects = [
            s.model_copy(
                update={
                    "resolved_models": list(self._resolved.get(s.name, ({}, {}))[0]),
                    "system_fingerprints": list(self._resolved.get(s.name, ({}, {}))[1]),
                }
            )
            for s in self.manifest.subjects
        ]
        self.manifest = self.manifest.model_copy(
            update={
                "subjects": subjects,
                "judges": self._judges(anchor_scores),
                "finished_at": datetime.now(UTC) if status == "completed" else None,
            }
        )
        if self.redact_pii:  # the judges were rebuilt from the eval, unredacted
            from assay.run.redaction import redact_manifest

            self.manifest = redact_manifest(self.manifest)
        if self._heartbeat is not None:
            self._heartbeat.stop()  # finish_run drops the lease
        await asyncio.to_thread(self.store.finish_run, self.run_id, self.manifest, status)
        with contextlib.suppress(Exception):  # ending the actors must not mask the outcome
            self.offload.close()
        if status != "running":  # the runs list reads the summary from the store (issue 12)
            from assay.analyse.summary_cache import refresh_summary

            await asyncio.to_thread(refresh_summary, self.store, self.run_id)
        for thing in (*self.ev.subjects, *self.ev.scorers):
            close = getattr(thing, "aclose", None)
            # Closing connections must not mask the run's outcome.
            with contextlib.suppress(Exception):
                if close is not None:
                    await close()

    async def _score_anchors(self) -> dict[str, dict[str, float]]:
        """Every judge scorer's scores of the anchor set (``Eval.anchors``), by scorer name then
        anchor id, from fresh calls (the cache is bypassed: a cached verdict would hide a
        judge that changed behind the same name). A failed or unparseable verdict is left
        out."""
        judges = [s for s in self.ev.scorers if callable(getattr(s, "judge_manifests", None))]
        if not self.ev.anchors or not judges:
            return {}
        limit = asyncio.Semaphore(max(1, self.ev.concurrency))

        async def grade(scorer: Any, sample: Sample, output: Output) -> tuple[str, float | None]:
            async with limit:
                try:
                    score = await scorer.score(sample, output)
                except Exception:  # a broken judge must not fail a finished run
                    return sample.id, None
            return sample.id, score.value

        self._fresh_calls = True
        try:
            found: dict[str, dict[str, float]] = {}
            for scorer in judges:
                graded = await asyncio.gather(
                    *(grade(scorer, sample, output) for sample, output in self.ev.anchors)
                )
                found[scorer.name] = {k: float(v) for k, v in graded if v is not None}
            return found
        finally:
            self._fresh_calls = False

    def _judges(
        self, anchor_scores: dict[str, dict[str, float]] | None = None
    ) -> list[JudgeManifest]:
        """The judges with the snapshots their responses reported, merged (in order of first
        appearance) with those recorded before a resume, and their anchor scores and
        fingerprint when the run scored an anchor set."""
        earlier = {j.name: j for j in self.manifest.judges}
        judges = []
        for judge in judge_manifests(self.ev):
            old = earlier.pop(judge.name, None)
            if old is not None:
                judge = judge.model_copy(
                    update={
                        "resolved_models": list(
                            dict.fromkeys([*old.resolved_models, *judge.resolved_models])
                        ),
                        "system_fingerprints": list(
                            dict.fromkeys([*old.system_fingerprints, *judge.system_fingerprints])
                        ),
                    }
                )
            scores = (anchor_scores or {}).get(judge.name.split("[")[0])
            if scores:
                judge = judge.model_copy(
                    update={
                        "anchor_scores": scores,
                        "anchor_fingerprint": anchor_fingerprint(judge.resolved_models, scores),
                    }
                )
            judges.append(judge)
        return judges + list(earlier.values())


async def run_async(
    ev: Eval,
    *,
    db: str | Store | None = None,
    run_id: str | None = None,
    resume: bool = False,
    options: RunOptions | None = None,
    on_progress: Callable[[Accounting], None] | None = None,
) -> RunOutcome:
    """Run ``ev`` (or resume run ``run_id`` with ``resume=True``) and store its results.

    A SIGTERM (what a container is stopped with) ends the run as Ctrl-C does: finished results
    are flushed, the run is marked ``interrupted``, and :class:`RunTerminated` (a
    ``KeyboardInterrupt``) is raised."""
    store = db if isinstance(db, Store) else Store(db)
    try:
        runner = Runner(
            ev, store, run_id=run_id, resume=resume, options=options, on_progress=on_progress
        )
        with sigterm_cancels(asyncio.current_task()) as terminated:
            try:
                return await runner.run()
            except asyncio.CancelledError:
                if terminated:
                    raise RunTerminated(f"run {runner.run_id} stopped by SIGTERM") from None
                raise
    finally:
        if not isinstance(db, Store):
            store.close()


def run(
    ev: Eval,
    *,
    db: str | Store | None = None,
    run_id: str | None = None,
    resume: bool = False,
    options: RunOptions | None = None,
    on_progress: Callable[[Accounting], None] | None = None,
) -> RunOutcome:
    """Run ``ev`` to completion and return how it ended.

    ``db`` is a store URL, a SQLite path, an open :class:`~assay.store.Store`, or ``None`` for
    the default (``ASSAY_DB`` or ``.assay/assay.db``). ``resume=True`` with ``run_id`` finishes
    a stored run of the same spec: results already stored are kept and not re-requested, and
    failed ones are retried.
    """
    return asyncio.run(
        run_async(ev, db=db, run_id=run_id, resume=resume, options=options, on_progress=on_progress)
    )
