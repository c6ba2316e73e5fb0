"""The runner against the local mock server: faults, retries, the cache, silent model changes."""

from collections import Counter

import pytest

from assay.analyse import summarise_run
from assay.core import diff_manifests
from assay.data import dataset_from_records
from assay.providers import OpenAICompatProvider
from assay.run import CallPolicy, Eval, ModelSubject, PromptTemplate, RunOptions, run_async
from assay.score import exact
from assay.store import Store
from assay.testing import MockOpenAIServer


@pytest.fixture
def store(tmp_path, new_store_db):
    s = Store(new_store_db(tmp_path / "assay.db"))
    yield s
    s.close()


def dataset(n):
    return dataset_from_records(
        [
            {"id": f"q{i}", "input": f"question {i}", "target": f"echo: question {i}"}
            for i in range(n)
        ],
        name="echo",
    )


def make_eval(server, n, *, epochs=1, params=None, concurrency=64, name="bot"):
    provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None, timeout=30)
    subject = ModelSubject(
        name, provider=provider, model="mock", params=params or {}, prompt=PromptTemplate()
    )
    return Eval(
        name="faults",
        dataset=dataset(n),
        subjects=[subject],
        scorers=[exact()],
        epochs=epochs,
        concurrency=concurrency,
    )


def user_messages(server):
    return Counter(
        body["messages"][-1]["content"] for body in server.requests if isinstance(body, dict)
    )


FAST = CallPolicy(
    max_retries=6, backoff_base=0.01, backoff_cap=0.05, timeout=2.0, breaker_threshold=1000
)


async def test_faulty_endpoint_every_sample_scored_none_lost_retries_only_for_retryable(store):
    faults = {
        "rate_limit": 0.10,
        "retry_after": 0.02,
        "error_500": 0.05,
        "hang": 0.02,
        "hang_s": 10,
        "malformed": 0.01,
        "seed": 11,
    }
    n = 5000
    async with MockOpenAIServer(model="mock-2026-01", faults=faults) as server:
        outcome = await run_async(make_eval(server, n), db=store, options=RunOptions(policy=FAST))
        injected = Counter(kind for _, kind in server.faults_injected)
        calls, answered = server.calls, server.answered
        per_input = user_messages(server)
    results = list(store.iter_results(outcome.run_id))
    assert len(results) == n == len({r.sample_id for r in results})  # none lost, none doubled
    assert all(r.ok or r.error_class for r in results)
    assert outcome.status == "completed"
    # Every fault was retryable, so each caused exactly one more call and nothing else did.
    # Every call was either answered or faulted. An answer can be lost only if it came after the
    # 2 s client timeout (possible on a loaded machine): then the sample was asked again.
    assert calls == answered + sum(injected.values())
    ok = sum(1 for r in results if r.ok)
    assert ok == n - outcome.n_errors and 0 <= answered - ok <= n // 500
    assert set(injected) == {"rate_limit", "error_500", "hang", "malformed"}
    assert 0.15 < sum(injected.values()) / calls < 0.21
    # A sample was re-sent only after a fault: its call count equals its faults + 1.
    assert max(per_input.values()) <= FAST.max_retries + 1
    # Each fault on a sample that finally succeeded bought one retry; a sample that exhausted its
    # retries (all its attempts faulted; rare but possible at these rates) made one retry fewer
    # than it had faults.
    retried = sum(r.attempts - 1 for r in results)
    assert retried == sum(injected.values()) - (n - ok) + (answered - ok)
    assert summarise_run(store, outcome.run_id).metric("bot", "exact").interval.estimate == 1.0


async def test_client_errors_are_not_retried(store, monkeypatch):
    monkeypatch.setenv("ASSAY_TEST_WRONG_KEY", "wrong")
    async with MockOpenAIServer(require_api_key="right") as server:
        provider = OpenAICompatProvider(
            base_url=server.base_url, api_key_env="ASSAY_TEST_WRONG_KEY"
        )
        subject = ModelSubject("bot", provider=provider, model="mock")
        ev = Eval(name="auth", dataset=dataset(20), subjects=[subject], scorers=[exact()])
        outcome = await run_async(ev, db=store, options=RunOptions(policy=FAST))
        assert server.calls == 20
    assert outcome.error_classes == {"client_error": 20}
    assert all(r.attempts == 1 for r in store.iter_results(outcome.run_id))


async def test_cache_serves_repeats_and_keeps_epochs_and_params_distinct(store):
    async with MockOpenAIServer() as server:
        first = await run_async(make_eval(server, 30, epochs=2), db=store)
        assert server.calls == 60  # epochs are distinct requests
        again = await run_async(make_eval(server, 30, epochs=2), db=store)
        assert server.calls == 60  # all served from the cache
        assert again.accounting.cache_hits == 60
        assert all(r.cached for r in store.iter_results(again.run_id))
        changed = await run_async(make_eval(server, 30, params={"temperature": 0.3}), db=store)
        assert server.calls == 90 and changed.accounting.cache_hits == 0
        await run_async(make_eval(server, 30), db=store, options=RunOptions(cache=False))
        assert server.calls == 120
    scores = [
        [(r.sample_id, r.epoch, r.scores[0].value) for r in store.iter_results(run)]
        for run in (first.run_id, again.run_id)
    ]
    assert scores[0] == scores[1]


async def test_silent_model_change_shows_in_results_and_manifest_diff(store):
    async with MockOpenAIServer(model="mock-2026-01", model_after=(25, "mock-2026-06")) as server:
        before = await run_async(make_eval(server, 20, concurrency=1), db=store)
        after = await run_async(
            make_eval(server, 20, concurrency=1), db=store, options=RunOptions(cache=False)
        )
    models = [r.output.model for r in store.iter_results(after.run_id)]
    assert set(models) == {"mock-2026-01", "mock-2026-06"}
    manifest_after = store.get_manifest(after.run_id)
    assert manifest_after.subjects[0].resolved_models == ["mock-2026-01", "mock-2026-06"]
    changes = diff_manifests(store.get_manifest(before.run_id), manifest_after)
    assert changes[0].category == "model snapshot"


async def test_max_errors_aborts_a_failing_run_and_keeps_what_finished(store):
    async with MockOpenAIServer(faults={"error_500": 1.0}) as server:
        policy = CallPolicy(max_retries=0, breaker_threshold=1000)
        outcome = await run_async(
            make_eval(server, 400, concurrency=4),
            db=store,
            options=RunOptions(policy=policy, max_errors=10),
        )
    assert outcome.status == "failed" and "more than --max-errors 10" in outcome.abort_reason
    stored = list(store.iter_results(outcome.run_id))
    assert 11 <= len(stored) < 400 and all(r.error_class == "server_error" for r in stored)
    assert store.get_run(outcome.run_id).status == "failed"


async def test_resume_finishes_only_the_remaining_work_and_retries_failures(store):
    async with MockOpenAIServer(faults={"script": ["error_500"] * 5}) as server:
        ev = make_eval(server, 50, concurrency=1)
        first = await run_async(ev, db=store, options=RunOptions(policy=CallPolicy(max_retries=0)))
        assert first.n_errors == 5 and server.calls == 50
        resumed = await run_async(
            make_eval(server, 50, concurrency=1), db=store, run_id=first.run_id, resume=True
        )
        assert server.calls == 55  # only the five failures were asked again
        assert resumed.accounting.skipped == 45
        noop = await run_async(make_eval(server, 50), db=store, run_id=first.run_id, resume=True)
        assert server.calls == 55 and noop.accounting.skipped == 50
    results = list(store.iter_results(first.run_id))
    assert len(results) == 50 and all(r.ok for r in results)
    assert store.get_run(first.run_id).status == "completed"


async def test_max_errors_stops_a_mostly_failing_endpoint_within_seconds(store):
    # Issue 20: 90% HTTP 500s, 30 samples, --max-errors 3, default retry policy. The circuit
    # breaker opens and holds every sample back for minutes; before the fix the limit waited
    # for retries to run out and had not stopped the run after 180 s.
    import asyncio
    import time

    async with MockOpenAIServer(model="mock", faults={"error_500": 0.9, "seed": 3}) as server:
        seen: list[str] = []

        def progress(acc):  # type: ignore[no-untyped-def]
            if acc.endpoints:
                seen.append(acc.endpoints)

        start = time.perf_counter()
        async with asyncio.timeout(30):
            outcome = await run_async(
                make_eval(server, 30, concurrency=16),
                db=store,
                options=RunOptions(max_errors=3),
                on_progress=progress,
            )
        elapsed = time.perf_counter() - start
    assert outcome.status == "failed"
    assert elapsed < 10
    assert "behind an open circuit breaker" in outcome.abort_reason
    assert "server_error, HTTP 500" in outcome.abort_reason
    assert outcome.n_results < 30


async def test_the_progress_line_names_an_open_breaker_and_retrying_calls(store):
    async with MockOpenAIServer(model="mock", faults={"error_500": 1.0, "seed": 1}) as server:
        seen: list[str] = []
        policy = CallPolicy(
            max_retries=3,
            backoff_base=0.2,
            backoff_cap=0.5,
            breaker_threshold=4,
            breaker_cooldown=1.0,
        )

        def progress(acc):  # type: ignore[no-untyped-def]
            if acc.endpoints:
                seen.append(acc.endpoints)

        outcome = await run_async(
            make_eval(server, 6, concurrency=6),
            db=store,
            options=RunOptions(policy=policy),
            on_progress=progress,
        )
    assert outcome.n_errors == 6  # every sample failed after its retries, and was stored
    assert any("circuit open, probe in" in s for s in seen), seen
    assert any("call(s) retrying" in s and "last error: server_error, HTTP 500" in s for s in seen)
