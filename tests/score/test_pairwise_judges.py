import math
import random

import pytest

from assay.analyse import pairwise_report, summarise_run
from assay.core import SpecError
from assay.run import eval_from_spec, run_async
from assay.run.pairwise import pairwise_eval
from assay.score import ScorerContext

from .judge_testutil import qa_rows, sim_eval

TWO = [{"name": "big", "model": "sim/atlas-large"}, {"name": "mini", "model": "sim/cirrus-mini"}]


def pair_truth(sample_metadata):
    pair = sample_metadata["pair"]
    return pair["a"]["sim"]["correct"], pair["b"]["sim"]["correct"]


async def _judged(tmp_path, store, judge_config, n=400, **options):
    ev = sim_eval(tmp_path, n=n, subjects=TWO, judges={"j": judge_config})
    base = await run_async(ev, db=store)
    pairs, _ = pairwise_eval(
        store,
        f"{base.run_id}:mini",
        f"{base.run_id}:big",
        judge="sim/j",
        context=ev.scorer_context,
        **options,
    )
    outcome = await run_async(pairs, db=store)
    assert outcome.status == "completed" and outcome.n_errors == 0
    samples = {s.id: s for s in store.get_samples(outcome.run_id)}
    return outcome, samples


async def test_position_bias_shows_in_stored_verdicts_and_disagreements_become_ties(
    tmp_path, store
):
    outcome, samples = await _judged(tmp_path, store, {"position_bias": 0.3})
    tied_first = tied_verdicts = 0
    for result in store.iter_results(outcome.run_id):
        verdict = result.output.metadata["pairwise"]
        [judge] = verdict["judges"]
        first, second = judge["verdicts"]
        # Both presentation orders are stored.
        assert (first["order"], second["order"]) == ("ab", "ba")
        a_correct, b_correct = pair_truth(samples[result.sample_id].metadata)
        if a_correct != b_correct:
            # Perfect skill: a real difference is always seen, in both orders.
            expected = "b" if b_correct else "a"
            assert first["winner"] == second["winner"] == verdict["winner"] == expected
        else:
            # Unsure: the first-shown output or a tie, never the second-shown one.
            for single in (first, second):
                assert single["label"] in ("A", "tie")
                tied_verdicts += 1
                tied_first += single["label"] == "A"
        # The combined verdict is a tie exactly where the two orders disagree.
        if first["winner"] != second["winner"]:
            assert verdict["winner"] == "tie" and result.scores[0].value == 0.5
            assert result.scores[1].value == 0.0
        else:
            assert verdict["winner"] == first["winner"]
            assert result.scores[1].value == 1.0
    rate = tied_first / tied_verdicts
    se = math.sqrt(0.3 * 0.7 / tied_verdicts)
    assert tied_verdicts > 200 and abs(rate - 0.3) < 4 * se


async def test_pairwise_report_and_summary_read_the_judge_run(tmp_path, store):
    outcome, samples = await _judged(tmp_path, store, {})
    report = pairwise_report(store, outcome.run_id)
    truths = [pair_truth(s.metadata) for s in samples.values()]
    assert report.wins_b == sum(b and not a for a, b in truths)
    assert report.wins_a == sum(a and not b for a, b in truths)
    assert report.ties == sum(a == b for a, b in truths) and report.errors == 0
    assert report.consistency == 1.0  # a perfect judge without position bias is consistent
    assert report.preference_b.estimate > 0.5  # atlas-large beats cirrus-mini in the sim world
    summary = summarise_run(store, outcome.run_id)
    assert summary.metric("judge", "preference").interval.estimate == pytest.approx(
        report.preference_b.estimate
    )
    assert {m.group for m in summary.metrics} >= {"slice=math", "slice=facts"}


async def test_one_order_only_and_malformed_pairwise_verdicts(tmp_path, store):
    outcome, _ = await _judged(tmp_path, store, {"malformed_rate": 0.1}, n=200, both_orders=False)
    results = list(store.iter_results(outcome.run_id))
    assert all(len(r.output.metadata["pairwise"]["judges"][0]["verdicts"]) == 1 for r in results)
    errors = [r.scores[0] for r in results if r.scores[0].error]
    assert 8 <= len(errors) <= 36  # 10% of 200
    assert all(e.value is None and e.metadata["raw"][0]["raw"] for e in errors)
    assert all(r.scores[1].value is None for r in results)  # no consistency with one order
    report = pairwise_report(store, outcome.run_id)
    assert report.errors == len(errors) and report.consistency is None


async def test_pairs_join_by_sample_id_not_position(tmp_path, store):
    rows = qa_rows(60)
    shuffled = rows[10:]
    random.Random(3).shuffle(shuffled)

    def spec(name, samples, model):
        return {
            "name": name,
            "seed": 4,
            "dataset": {"samples": samples},
            "subjects": [{"name": "bot", "model": model}],
        }

    first = await run_async(eval_from_spec(spec("v1", rows, "sim/atlas-small")), db=store)
    second = await run_async(eval_from_spec(spec("v2", shuffled, "sim/atlas-large")), db=store)
    ev, pairing = pairwise_eval(store, first.run_id, second.run_id, judge="sim/judge-fair")
    assert pairing.n_pairs == 50 and len(pairing.only_a) == 10
    outcome = await run_async(ev, db=store)
    outputs_a = {r.sample_id: r.output.text for r in store.iter_results(first.run_id)}
    outputs_b = {r.sample_id: r.output.text for r in store.iter_results(second.run_id)}
    for sample in store.get_samples(outcome.run_id):
        pair = sample.metadata["pair"]
        assert pair["a"]["text"] == outputs_a[sample.id]
        assert pair["b"]["text"] == outputs_b[sample.id]
        assert pair["a"]["run"] == first.run_id and pair["b"]["run"] == second.run_id


async def test_pairwise_refuses_nonsense(tmp_path, store):
    ev = sim_eval(tmp_path, n=5, subjects=TWO)
    base = await run_async(ev, db=store)
    with pytest.raises(SpecError, match="2 subjects"):
        pairwise_eval(store, base.run_id, base.run_id, judge="sim/judge-fair")
    with pytest.raises(SpecError, match="no subject"):
        pairwise_eval(store, f"{base.run_id}:nope", f"{base.run_id}:big", judge="sim/judge-fair")
    with pytest.raises(SpecError, match="same run and subject"):
        pairwise_eval(store, f"{base.run_id}:big", f"{base.run_id}:big", judge="sim/judge-fair")


async def test_spec_pairwise_section_and_panel_of_pairwise_judges(tmp_path, store):
    ev = sim_eval(
        tmp_path,
        n=80,
        subjects=TWO,
        judges={"harsh": {"skill": 0.0}},
        pairwise={
            "judge": ["sim/judge-fair", "sim/harsh"],
            "a": "mini",
            "b": "big",
            "aggregate": "mean",
        },
    )
    assert ev.pairwise["a"] == "mini"
    base = await run_async(ev, db=store)
    options = dict(ev.pairwise)
    a, b = options.pop("a"), options.pop("b")
    pairs, _ = pairwise_eval(
        store, f"{base.run_id}:{a}", f"{base.run_id}:{b}", context=ev.scorer_context, **options
    )
    outcome = await run_async(pairs, db=store)
    for result in store.iter_results(outcome.run_id):
        judges = result.output.metadata["pairwise"]["judges"]
        assert [j["judge"] for j in judges] == ["sim/judge-fair", "sim/harsh"]
        assert judges[1]["winner"] == "tie"  # no skill: it can never tell them apart
        expected = (judges[0]["preference"] + 0.5) / 2
        assert result.scores[0].value == pytest.approx(expected)
    manifest = store.get_manifest(outcome.run_id)
    assert [j.name for j in manifest.judges] == ["judge[0]", "judge[1]"]
    assert all(j.kind == "pairwise" for j in manifest.judges)


def test_spec_pairwise_must_name_subjects(tmp_path):
    with pytest.raises(SpecError, match="not a subject"):
        sim_eval(
            tmp_path, n=3, subjects=TWO, pairwise={"judge": "sim/judge-fair", "a": "x", "b": "big"}
        )


def test_scorer_context_is_exposed(tmp_path):
    ev = sim_eval(tmp_path, n=3)
    assert isinstance(ev.scorer_context, ScorerContext)
