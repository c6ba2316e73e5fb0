"""Judge pinning (C5), lineage (C3) and logprobs, against the local mock server over loopback."""

import json
import math

import pytest

from assay.analyse import judge_flags, summarise_run
from assay.core import judge_changes
from assay.run import eval_from_spec, run_async
from assay.run.pairwise import pairwise_eval
from assay.score.judges import lineage_warnings
from assay.testing import MockOpenAIServer

from .judge_testutil import qa_rows

VERDICT = json.dumps({"rationale": "Correct and complete.", "score": 4})


def judged_spec(base_url, *, n=30, judge="mock/judge-latest", subject="sim/atlas-large", **extra):
    return {
        "name": "pinned",
        "seed": 2,
        "dataset": {"samples": qa_rows(n)},
        "providers": {"mock": {"type": "openai_compat", "base_url": base_url, "api_key_env": None}},
        "subjects": [{"name": "bot", "model": subject}],
        "scorers": [{"rubric": judge}],
        "concurrency": 4,
        **extra,
    }


async def test_judge_whose_model_changes_mid_run_is_flagged(store):
    async with MockOpenAIServer(
        model="judge-2026-01", model_after=(12, "judge-2026-06"), answer=lambda body: VERDICT
    ) as server:
        first = await run_async(eval_from_spec(judged_spec(server.base_url)), db=store)
    manifest = store.get_manifest(first.run_id)
    [judge] = manifest.judges
    assert judge.model == "judge-latest" and judge.provider == "mock"
    assert judge.resolved_models == ["judge-2026-01", "judge-2026-06"]
    assert judge.system_fingerprints == ["fp_mock"]
    flags = summarise_run(store, first.run_id).flags
    assert [(f.flag, f.judge, f.details["within_run"]) for f in flags] == [
        ("judge_changed", "rubric", True)
    ]
    assert "judge-2026-01 -> judge-2026-06" in flags[0].message
    scores = [r.scores[0] for r in store.iter_results(first.run_id)]
    assert all(s.value == 4.0 and s.explanation == "Correct and complete." for s in scores)

    # A later run whose judge alias now resolves to one snapshot only: flagged between runs.
    async with MockOpenAIServer(model="judge-2026-06", answer=lambda body: VERDICT) as server:
        second = await run_async(eval_from_spec(judged_spec(server.base_url)), db=store)
    after = store.get_manifest(second.run_id)
    assert judge_changes(after) == []
    [change] = judge_changes(after, manifest)
    assert change.reason == "snapshot" and not change.within_run
    assert change.after == ["judge-2026-06"]
    assert [f.flag for f in judge_flags(after, manifest)] == ["judge_changed"]


async def test_same_lineage_judge_warns_gpt_4o_graded_by_gpt_4o_mini(store):
    def answer(body):
        return VERDICT if body["model"] == "gpt-4o-mini" else "echo"

    async with MockOpenAIServer(model="gpt-4o-2024-08-06", answer=answer) as server:
        spec = judged_spec(
            server.base_url, n=5, judge="openai/gpt-4o-mini", subject="openai/gpt-4o-2024-08-06"
        )
        spec["providers"] = {
            "openai": {"type": "openai_compat", "base_url": server.base_url, "api_key_env": None}
        }
        ev = eval_from_spec(spec)
        [warning] = lineage_warnings(ev)
        assert warning.flag == "same_lineage_judge" and warning.families == ("openai-gpt",)
        assert warning.subject == "bot" and warning.subject_model == "gpt-4o-2024-08-06"
        outcome = await run_async(ev, db=store)
    [judge] = store.get_manifest(outcome.run_id).judges
    assert judge.family == ["openai-gpt"] and judge.same_lineage == ["gpt-4o-2024-08-06"]
    assert [f.flag for f in summarise_run(store, outcome.run_id).flags] == ["same_lineage_judge"]


async def test_user_lineage_table_and_independent_judge(store, tmp_path):
    spec = {
        "name": "lineage",
        "dataset": {"samples": qa_rows(3)},
        "subjects": [{"name": "bot", "model": "sim/atlas-large"}],
        "scorers": [{"rubric": "sim/judge-fair"}],
    }
    assert lineage_warnings(eval_from_spec(spec)) == []
    spec["lineage"] = {"judge-*": "sim:atlas"}  # the user knows better: same family
    [warning] = lineage_warnings(eval_from_spec(spec))
    assert warning.families == ("sim:atlas",)


def _token_logprobs(text, top):
    """OpenAI-style logprobs: each character of the reply a token; ``top`` at the verdict."""
    key = '"winner": "' if '"winner"' in text else '"score": '
    at = text.index(key) + len(key)
    assert text[at] == top[0][0]
    content = []
    for i, ch in enumerate(text):
        entry = {"token": ch, "logprob": -0.01, "top_logprobs": []}
        if i == at:
            entry["top_logprobs"] = [{"token": t, "logprob": math.log(p)} for t, p in top]
        content.append(entry)
    return {"content": content}


async def test_expected_score_from_logprobs(store):
    top = [("4", 0.6), ("5", 0.3), ("3", 0.05), ("the", 0.05)]
    async with MockOpenAIServer(
        model="judge-1",
        answer=lambda body: VERDICT,
        logprobs=lambda body, text: _token_logprobs(text, top) if body.get("logprobs") else None,
    ) as server:
        spec = judged_spec(server.base_url, n=4)
        spec["scorers"] = [
            {"rubric": {"judge": "mock/judge-1", "logprobs": True, "top_logprobs": 4}}
        ]
        outcome = await run_async(eval_from_spec(spec), db=store)
        judge_bodies = [b for b in server.requests if b.get("model") == "judge-1"]
    assert all(b["logprobs"] is True and b["top_logprobs"] == 4 for b in judge_bodies)
    expected = (4 * 0.6 + 5 * 0.3 + 3 * 0.05) / 0.95
    for result in store.iter_results(outcome.run_id):
        score = result.scores[0]
        assert score.value == pytest.approx(expected) and score.answer == "4"
        assert score.metadata["label_mass"] == pytest.approx(0.95)
        assert score.metadata["value"] == 4.0  # the parsed label is kept beside it


async def test_pairwise_logprobs_give_an_expected_preference(store):
    verdict = json.dumps({"rationale": "A is better.", "winner": "A"})
    top = [("A", 0.7), ("B", 0.2), ("tie", 0.1)]

    def answer(body):
        return verdict if body["model"] == "judge-1" else "an answer"

    async with MockOpenAIServer(
        model="judge-1",
        answer=answer,
        logprobs=lambda body, text: _token_logprobs(text, top) if body.get("logprobs") else None,
    ) as server:
        providers = {
            "mock": {"type": "openai_compat", "base_url": server.base_url, "api_key_env": None}
        }
        base = {
            "name": "two",
            "dataset": {"samples": qa_rows(6)},
            "providers": providers,
            "subjects": [
                {"name": "x", "model": "sim/atlas-large"},
                {"name": "y", "model": "sim/cirrus-mini"},
            ],
        }
        ev = eval_from_spec(base)
        first = await run_async(ev, db=store)
        pairs, _ = pairwise_eval(
            store, f"{first.run_id}:x", f"{first.run_id}:y", judge="mock/judge-1",
            context=ev.scorer_context, logprobs=True,
        )  # fmt: skip
        outcome = await run_async(pairs, db=store)
    for result in store.iter_results(outcome.run_id):
        verdict_data = result.output.metadata["pairwise"]
        ab, ba = verdict_data["judges"][0]["verdicts"]
        assert ab["distribution"] == pytest.approx({"a": 0.7, "b": 0.2, "tie": 0.1})
        assert ba["distribution"] == pytest.approx({"b": 0.7, "a": 0.2, "tie": 0.1})
        # "A" both times: a wins shown first, b wins shown first -> the orders disagree: a tie.
        assert verdict_data["winner"] == "tie"
        assert result.scores[0].value == pytest.approx(0.5)


async def test_judge_scores_replay_offline_from_the_cache(store, tmp_path):
    from assay.analyse import compare_replay
    from assay.run import replay_eval

    async with MockOpenAIServer(model="judge-1", answer=lambda body: VERDICT) as server:
        spec = judged_spec(server.base_url, n=6)
        spec["subjects"] = [{"name": "bot", "model": "mock/bot-1"}]
        original = await run_async(eval_from_spec(spec), db=store)
        calls = server.calls
    # The server is gone: the replay must be answered by the cache alone.
    [judge] = store.get_manifest(original.run_id).judges
    assert judge.cache_namespace and calls == 12
    replayed = await run_async(replay_eval(store, original.run_id), db=store)
    report = compare_replay(store, original.run_id, replayed.run_id)
    assert report.reproduced and report.compared == 6
    sim_only = await run_async(
        eval_from_spec(
            {**judged_spec("http://127.0.0.1:9/v1", n=2), "scorers": [{"rubric": "sim/judge-fair"}]}
        ),
        db=store,
    )
    with pytest.raises(Exception, match="cannot be replayed"):
        replay_eval(store, sim_only.run_id)
