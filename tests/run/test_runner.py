import json

import pytest
from aiohttp import web

from assay.analyse import summarise_run
from assay.core import Output, Sample
from assay.data import dataset_from_records
from assay.run import (
    CallableSubject,
    CallPolicy,
    Eval,
    HttpSubject,
    PrecomputedSubject,
    RunOptions,
    eval_from_yaml_text,
    run_async,
)
from assay.score import exact, includes
from assay.store import Store


@pytest.fixture
def store(tmp_path, new_store_db):
    s = Store(new_store_db(tmp_path / "assay.db"))
    yield s
    s.close()


def dataset(n=30):
    rows = [
        {
            "id": f"q{i}",
            "input": f"{i}+{i}?",
            "target": str(2 * i),
            "slice": "even" if i % 2 == 0 else "odd",
        }
        for i in range(n)
    ]
    return dataset_from_records(rows, name="sums")


async def test_sim_run_stores_every_result_with_scores_and_resolved_model(store):
    ev = eval_from_yaml_text(
        "name: sims\nseed: 3\nepochs: 2\nslices: [slice]\n"
        "dataset:\n  samples:\n"
        + "".join(
            f"    - {{id: q{i}, input: 'q{i}', target: 'a{i}', slice: {'s1' if i % 2 else 's2'}}}\n"
            for i in range(40)
        )
        + "subjects:\n  - {name: big, model: sim/atlas-large}\n  - {name: small, model: sim/atlas-small}\n"
        + "scorers: [exact, includes]\n",
        filename="e.yaml",
    )
    outcome = await run_async(ev, db=store)
    assert outcome.status == "completed" and outcome.n_results == 160 and outcome.n_errors == 0
    results = list(store.iter_results(outcome.run_id))
    assert len(results) == 160
    assert {(r.subject, r.sample_id, r.epoch) for r in results} == {
        (s, f"q{i}", e) for s in ("big", "small") for i in range(40) for e in (0, 1)
    }
    assert all([sc.scorer for sc in r.scores] == ["exact", "includes"] for r in results)
    # The score agrees with the simulated world's ground truth for every sample.
    for r in results:
        assert r.scores[0].value == float(r.output.metadata["sim"]["correct"])
    manifest = store.get_manifest(outcome.run_id)
    assert [s.resolved_models for s in manifest.subjects] == [
        ["sim:atlas-large@2026-01"],
        ["sim:atlas-small@2026-01"],
    ]
    assert manifest.finished_at is not None and manifest.dataset.n_samples == 40
    summary = summarise_run(store, outcome.run_id)
    big = summary.metric("big", "exact")
    small = summary.metric("small", "exact")
    assert big.interval.n == 40 and big.interval.estimate > small.interval.estimate
    assert {m.group for m in summary.metrics if m.subject == "big" and m.scorer == "exact"} == {
        "all",
        "slice=s1",
        "slice=s2",
    }


async def test_callable_subject_errors_are_recorded_not_raised(store):
    def answer(sample: Sample) -> str:
        if sample.id == "q3":
            raise RuntimeError("boom")
        return str(2 * int(sample.id[1:]))

    ev = Eval(
        name="c", dataset=dataset(10), subjects=[CallableSubject("fn", answer)], scorers=[exact()]
    )
    outcome = await run_async(ev, db=store)
    assert (
        outcome.n_results == 10
        and outcome.n_errors == 1
        and outcome.error_classes == {"exception": 1}
    )
    failed = [r for r in store.iter_results(outcome.run_id) if r.error]
    assert failed[0].sample_id == "q3" and "boom" in failed[0].error and failed[0].scores == []
    assert summarise_run(store, outcome.run_id).metric("fn", "exact").interval.estimate == 1.0


async def test_async_callable_returning_output(store):
    async def answer(sample: Sample) -> Output:
        return Output(text="0", model="my-model-v3")

    ev = Eval(
        name="c", dataset=dataset(4), subjects=[CallableSubject("fn", answer)], scorers=[exact()]
    )
    outcome = await run_async(ev, db=store)
    assert outcome.manifest.subjects[0].resolved_models == ["my-model-v3"]
    assert summarise_run(store, outcome.run_id).metric("fn", "exact").interval.estimate == 0.25


async def test_precomputed_outputs_missing_one(store, tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"q{i}", "output": str(2 * i)}) + "\n" for i in range(9))
    )
    ev = Eval(
        name="p",
        dataset=dataset(10),
        subjects=[PrecomputedSubject("elsewhere", path)],
        scorers=[exact()],
    )
    outcome = await run_async(ev, db=store)
    assert outcome.n_errors == 1 and outcome.error_classes == {"subject_error": 1}
    m = summarise_run(store, outcome.run_id).metric("elsewhere", "exact")
    assert m.interval.n == 9 and m.interval.estimate == 1.0 and m.n_ungraded == 1


async def test_http_subject_against_a_local_app(store):
    async def handle(request):
        body = await request.json()
        if body["id"] == "q1":
            return web.json_response({"error": "nope"}, status=500)
        return web.json_response({"result": {"text": str(2 * int(body["id"][1:]))}})

    app = web.Application()
    app.router.add_post("/answer", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        subject = HttpSubject("app", f"http://127.0.0.1:{port}/answer", output_path="result.text")
        ev = Eval(name="h", dataset=dataset(6), subjects=[subject], scorers=[exact(), includes()])
        # The default backoff (base 1 s, full jitter) would sleep ~15 s over the 500's five
        # retries; the retries are what matters here, not the length of the waits.
        fast = RunOptions(policy=CallPolicy(backoff_base=0.01, backoff_cap=0.05))
        outcome = await run_async(ev, db=store, options=fast)
    finally:
        await runner.cleanup()
    assert outcome.n_results == 6 and outcome.error_classes == {"server_error": 1}
    failed = [r for r in store.iter_results(outcome.run_id) if r.sample_id == "q1"]
    assert [r.attempts for r in failed] == [CallPolicy().max_retries + 1]
    assert summarise_run(store, outcome.run_id).metric("app", "exact").interval.estimate == 1.0


async def test_epochs_average_per_sample_before_the_interval(store):
    calls = {}

    def flaky(sample: Sample) -> str:
        calls[sample.id] = calls.get(sample.id, 0) + 1
        # q0 right in 2 of 4 epochs, others always right
        if sample.id == "q0" and calls[sample.id] % 2:
            return "wrong"
        return str(2 * int(sample.id[1:]))

    ev = Eval(
        name="e",
        dataset=dataset(5),
        subjects=[CallableSubject("fn", flaky)],
        scorers=[exact()],
        epochs=4,
        concurrency=1,
    )
    outcome = await run_async(ev, db=store)
    m = summarise_run(store, outcome.run_id).metric("fn", "exact")
    assert m.interval.n == 5  # samples, not 20 answers
    assert m.interval.method == "t"
    assert m.interval.estimate == pytest.approx((0.5 + 4) / 5)
