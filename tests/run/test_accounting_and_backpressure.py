"""Judge calls in the run's accounting (subjects and judges apart), and the writer's
backpressure: results wait for the store instead of piling up in memory."""

import asyncio

import pytest

from assay.core import Output, SampleResult, Score, StoreError, Usage
from assay.data import dataset_from_records
from assay.run import CallableSubject, Eval, RunOptions, eval_from_yaml_text, run_async
from assay.run.accounting import Accounting, PriceTable
from assay.score import exact
from assay.store import Store


@pytest.fixture
def store(tmp_path, new_store_db):
    s = Store(new_store_db(tmp_path / "assay.db"))
    yield s
    s.close()


def _output(model, n_in, n_out):
    return Output(text="x", model=model, usage=Usage(input_tokens=n_in, output_tokens=n_out))


def test_summary_shows_subjects_and_judges_apart():
    acc = Accounting(total=2, prices=PriceTable({"subj*": (1.0, 2.0), "judge*": (10.0, 20.0)}))
    for sid in ("a", "b"):
        acc.add(SampleResult(subject="s", sample_id=sid, epoch=0, output=_output("subj", 100, 50)))
    acc.add_judge_call(_output("judge-1", 1000, 10), attempts=2)
    acc.add_judge_call(_output("judge-1", 1000, 10), cached=True)
    acc.add_judge_failure(attempts=3)
    assert (acc.input_tokens, acc.output_tokens) == (200, 100)
    assert (acc.judge_input_tokens, acc.judge_output_tokens) == (1000, 10)
    assert acc.cost_usd == pytest.approx((200 * 1.0 + 100 * 2.0) / 1e6)
    assert acc.judge_cost_usd == pytest.approx((1000 * 10.0 + 10 * 20.0) / 1e6)
    assert (acc.judge_calls, acc.judge_cache_hits, acc.judge_errors, acc.retries) == (3, 1, 1, 3)
    line = acc.summary()
    assert "subjects: 300 tokens, $0.0004" in line
    assert "judges: 3 calls (1 cached, 1 failed), 1,010 tokens, $0.0102" in line
    assert acc.total_tokens == 1310 and acc.total_cost_usd == pytest.approx(0.0106)


def test_summary_without_judges_is_unchanged_and_unknown_prices_say_so():
    acc = Accounting(total=1)
    acc.add(SampleResult(subject="s", sample_id="a", epoch=0, output=_output("mystery", 5, 5)))
    line = acc.summary()
    assert "judges" not in line and "subjects" not in line
    assert "10 tokens, cost unknown" in line
    acc.add_judge_call(_output("mystery-judge", 7, 3))
    assert "judges: 1 calls (0 cached), 10 tokens, cost unknown" in acc.summary()


SPEC = (
    "name: judged\nseed: 5\n"
    "dataset:\n  samples:\n"
    + "".join(f"    - {{id: q{i}, input: 'q{i}', target: 'a{i}'}}\n" for i in range(12))
    + "subjects:\n  - {name: big, model: sim/atlas-large}\n  - {name: small, model: sim/atlas-small}\n"
    "scorers:\n  - exact\n  - {rubric: {judge: sim/judge-fair, scale: 5}}\n"
    "prices:\n  'sim:atlas*': {input: 1.0, output: 2.0}\n  'sim:judge-fair*': {input: 10.0, output: 30.0}\n"
)


async def test_judge_tokens_and_cost_are_counted_in_the_run(store):
    ev = eval_from_yaml_text(SPEC, filename="e.yaml")
    judge = ev.scorers[1]
    endpoint = judge.core.endpoints[0]
    provider = endpoint.provider  # the simulated world serves subjects and judge alike
    seen: list[Output] = []
    generate = provider.generate

    async def counting(request):
        output = await generate(request)
        if request.model == endpoint.model:
            seen.append(output)
        return output

    provider.generate = counting
    outcome = await run_async(ev, db=store)
    acc = outcome.accounting
    assert outcome.status == "completed" and outcome.n_errors == 0
    # One verdict per (subject, sample); each counted once, with the judge's own usage.
    assert acc.judge_calls == len(seen) == 24 and acc.judge_errors == 0
    assert acc.judge_input_tokens == sum(o.usage.input_tokens for o in seen) > 0
    assert acc.judge_output_tokens == sum(o.usage.output_tokens for o in seen) > 0
    assert {o.model for o in seen} and all(o.model.startswith("sim:judge-fair") for o in seen)
    expected = sum(o.usage.input_tokens * 10.0 + o.usage.output_tokens * 30.0 for o in seen) / 1e6
    assert acc.judge_cost_usd == pytest.approx(expected) and acc.judge_unpriced == 0
    # The subjects' figures are the stored results' usage, judges not mixed in.
    results = list(store.iter_results(outcome.run_id))
    assert acc.input_tokens == sum(r.output.usage.input_tokens for r in results)
    line = acc.summary()
    assert "subjects: " in line and "judges: 24 calls (0 cached), " in line
    assert f"{acc.judge_input_tokens + acc.judge_output_tokens:,} tokens" in line


class SlowStore(Store):
    """A store whose writes take a while and which records every batch's size."""

    def __init__(self, *args, fail=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.fail = fail

    def add_results(self, run_id, results, *, cache_entries=()):
        import time

        time.sleep(0.02)
        if self.fail:
            raise StoreError("disk full (simulated)")
        self.batches.append(len(results))
        super().add_results(run_id, results, cache_entries=cache_entries)


def _fast_eval(n, concurrency=4):
    rows = [{"id": f"q{i}", "input": str(i), "target": str(i)} for i in range(n)]
    return Eval(
        name="fast",
        dataset=dataset_from_records(rows, name="fast"),
        subjects=[CallableSubject("echo", lambda s: s.input)],
        scorers=[exact()],
        concurrency=concurrency,
    )


async def test_workers_wait_for_a_slow_writer_instead_of_piling_up_results(tmp_path):
    store = SlowStore(str(tmp_path / "slow.db"))
    try:
        outcome = await run_async(
            _fast_eval(300), db=store, options=RunOptions(max_pending=10, flush_interval=0.001)
        )
        assert outcome.status == "completed" and outcome.n_results == 300
        # Never more than the bound plus what the other workers had in flight.
        assert max(store.batches) <= 10 + 4 - 1
        assert sum(store.batches) == 300
        assert len(list(store.iter_results(outcome.run_id))) == 300
    finally:
        store.close()


async def test_a_failing_writer_stops_the_run_with_its_error(tmp_path):
    store = SlowStore(str(tmp_path / "fail.db"), fail=True)
    calls = []

    def answer(sample):
        calls.append(sample.id)
        return sample.input

    ev = _fast_eval(500)
    ev.subjects = [CallableSubject("echo", answer)]
    try:
        with pytest.raises(StoreError, match="disk full"):
            await asyncio.wait_for(
                run_async(ev, db=store, options=RunOptions(max_pending=5)), timeout=60
            )
        # The workers stopped instead of calling every sample for nothing.
        assert len(calls) < 500
    finally:
        store.close()


def test_score_model_is_importable_for_results():
    # SampleResult with scores round-trips through the accounting (scores are not counted).
    acc = Accounting(total=1)
    acc.add(
        SampleResult(
            subject="s",
            sample_id="a",
            epoch=0,
            output=Output(text="x"),
            scores=[Score(scorer="exact", value=1.0)],
        )
    )
    assert acc.done == 1 and acc.cost_usd == 0 and acc.unpriced == 0
