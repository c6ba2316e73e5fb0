"""Trajectory scorers (exact, in order, any order, subset; argument match) in runs, in specs and
on imported traces, the trajectory judge, and multi-turn conversations against a simulated
user, all feeding the ordinary statistics."""

from __future__ import annotations

import json

import pytest
from tests.agents.build import TraceBuilder, write

from assay.agents import load_references, score_trace_trajectories
from assay.analyse import summarise_run
from assay.core import Output, Sample, SpecError
from assay.data import dataset_from_records
from assay.run import CallableSubject, Eval, eval_from_yaml_text, run
from assay.run.conversation import ConversationSubject, LLMUser, ScriptedUser
from assay.score.conversation import conversation_goal
from assay.score.trajectory import match_trajectory, trajectory

REF = [
    {"tool": "lookup_customer", "arguments": {"email": "a@x.io"}},
    {"tool": "create_order", "arguments": {"sku": "SKU-1"}},
]


def calls(*names: str, sku: str = "SKU-1") -> list[dict]:
    args = {"lookup_customer": {"email": "a@x.io"}, "create_order": {"sku": sku, "quantity": 1}}
    return [{"tool": n, "arguments": args.get(n, {})} for n in names]


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (
            calls("lookup_customer", "create_order"),
            {"exact": 1, "in_order": 1, "any_order": 1, "subset": 1},
        ),
        (
            calls("lookup_customer", "search", "create_order"),
            {"exact": 0, "in_order": 1, "any_order": 1, "subset": 0},
        ),
        (
            calls("create_order", "lookup_customer"),
            {"exact": 0, "in_order": 0, "any_order": 1, "subset": 1},
        ),
        (calls("lookup_customer"), {"exact": 0, "in_order": 0, "any_order": 0, "subset": 1}),
        (
            calls("create_order", "create_order"),
            {"exact": 0, "in_order": 0, "any_order": 0, "subset": 0},
        ),
        ([], {"exact": 0, "in_order": 0, "any_order": 0, "subset": 1}),
    ],
)
def test_modes(actual, expected):
    got = {m: int(match_trajectory(actual, REF, m, "subset")["match"]) for m in expected}
    assert got == expected


def test_argument_matching_and_precision_recall():
    wrong_sku = calls("lookup_customer", "create_order", sku="SKU-9")
    assert match_trajectory(wrong_sku, REF, "exact", "ignore")["match"]
    assert not match_trajectory(wrong_sku, REF, "exact", "subset")["match"]
    assert not match_trajectory(calls("lookup_customer", "create_order"), REF, "exact", "exact")[
        "match"
    ]
    result = match_trajectory(
        calls("lookup_customer", "search", "create_order", "create_order"), REF
    )
    assert result["precision"] == pytest.approx(0.5) and result["recall"] == 1.0


async def test_scorer_reads_metadata_raw_tool_calls_and_targets():
    scorer = trajectory(mode="in_order", arguments="subset")
    sample = Sample(id="s", input="order", metadata={"trajectory": REF})
    from_metadata = Output(
        text="done", metadata={"trajectory": calls("lookup_customer", "create_order")}
    )
    assert (await scorer.score(sample, from_metadata)).value == 1.0
    raw = {
        "choices": [
            {
                "message": {
                    "tool_calls": [
                        {
                            "id": "1",
                            "type": "function",
                            "function": {
                                "name": "lookup_customer",
                                "arguments": '{"email": "a@x.io"}',
                            },
                        },
                    ]
                }
            }
        ]
    }
    partial = await scorer.score(sample, Output(text="", raw=raw))
    assert partial.value == 0.0 and partial.metadata["recall"] == 0.5
    by_target = Sample(id="t", input="x", target="lookup_customer -> create_order")
    assert (await trajectory("exact").score(by_target, from_metadata)).value == 1.0
    missing = await scorer.score(Sample(id="u", input="x"), from_metadata)
    assert missing.value is None and "no reference" in missing.error


def test_trajectory_scorer_in_a_run_and_a_spec(tmp_path):
    rows = [
        {"id": f"q{k}", "input": "buy a kettle", "trajectory": [c["tool"] for c in REF]}
        for k in range(10)
    ]

    def agent(sample):  # type: ignore[no-untyped-def]
        path = ["lookup_customer", "create_order"] if int(sample.id[1:]) < 7 else ["create_order"]
        return Output(text="ok", metadata={"trajectory": path})

    ev = Eval(
        name="agent",
        dataset=dataset_from_records(rows, name="agent"),
        subjects=[CallableSubject("agent", agent)],
        scorers=[trajectory("in_order")],
    )
    db = str(tmp_path / "assay.db")
    outcome = run(ev, db=db)
    from assay.store import Store

    with Store(db) as store:
        metric = summarise_run(store, outcome.run_id).metrics[0]
    assert metric.scorer == "trajectory_in_order"
    assert metric.interval.estimate == pytest.approx(0.7) and metric.interval.method == "wilson"
    # Through a spec, by the registered name.
    (tmp_path / "agent_mod.py").write_text(
        "from assay import Output\n"
        "def agent(sample):\n    return Output(text='ok', metadata={'trajectory': ['create_order']})\n"
    )
    text = (
        "name: t\ndataset: {samples: [{id: a, input: x, target: 'lookup_customer, create_order'}]}\n"
        "subjects: [{name: s, callable: 'agent_mod:agent'}]\n"
        "scorers: [{trajectory: {mode: subset}}, {trajectory: {mode: exact, name: strict}}]\n"
    )
    spec_ev = eval_from_yaml_text(text, base_dir=tmp_path)
    assert [s.name for s in spec_ev.scorers] == ["trajectory_subset", "strict"]
    with pytest.raises(SpecError, match="mode must be one of"):
        eval_from_yaml_text(text.replace("mode: subset", "mode: sideways"), base_dir=tmp_path)


def test_imported_traces_scored_against_references(store, tmp_path):
    good, bad, other = (
        TraceBuilder(route="agent-orders"),
        TraceBuilder(route="agent-orders"),
        TraceBuilder(route="faq"),
    )
    for b, names in (
        (good, ["lookup_customer", "create_order"]),
        (bad, ["create_order", "create_order"]),
    ):
        for k, name in enumerate(names):
            b.tool(name, {"sku": "SKU-1"}, offset_ms=100 * k, result={"ok": True})
    other.tool("search", {"q": "x"}, offset_ms=0)
    write(store, good, bad, other)
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        json.dumps({"route": "agent-orders", "trajectory": ["lookup_customer", "create_order"]})
        + "\n"
    )
    report = score_trace_trajectories(store, load_references(refs), mode="in_order", write=True)
    data = report.as_dict()
    assert data["traces"] == 2 and data["match_rate"]["k"] == 1
    assert {r["trace_id"]: r["value"] for r in data["rows"]} == {
        good.trace_id: 1.0,
        bad.trace_id: 0.0,
    }
    assert [f.code for f in report.findings] == ["trajectory_mismatch"]
    from sqlalchemy import select

    from assay.store.tables import trace_scores

    with store.engine.connect() as conn:
        stored = dict(conn.execute(select(trace_scores.c.trace_id, trace_scores.c.value)).all())
    assert stored == {good.trace_id: 1.0, bad.trace_id: 0.0}
    refs.write_text('{"route": "x", "trace_id": "y", "trajectory": []}\n')
    with pytest.raises(SpecError, match=r"refs.jsonl:1: give exactly one of"):
        load_references(refs)


def test_trajectory_judge_grades_the_path_through_a_model():
    """The judge sees the numbered path; the mock model passes paths that create one order."""
    from assay.testing import MockOpenAIServer

    def judge(body):  # type: ignore[no-untyped-def]
        prompt = body["messages"][-1]["content"]
        once = prompt.count("create_order(") == 1
        return json.dumps({"verdict": "pass" if once else "fail", "rationale": "checked"})

    handle = MockOpenAIServer(model="judge-1", answer=judge).start_in_thread()
    try:
        text = (
            "name: j\ndataset: {samples: [{id: a, input: 'buy a kettle'}, {id: b, input: 'buy a mug'}]}\n"
            "subjects: [{name: s, callable: 'agent_paths:agent'}]\n"
            f"providers: {{mock: {{type: openai, base_url: '{handle.base_url}', api_key_env: null}}}}\n"
            "scorers: [{trajectory_judge: {judge: mock/judge-1, scale: pass_fail}}]\n"
        )
        import sys
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp())
        (folder / "agent_paths.py").write_text(
            "from assay import Output\n"
            "def agent(sample):\n"
            "    n = 1 if sample.id == 'a' else 2\n"
            "    return Output(text='ordered', metadata={'trajectory': ['lookup_customer'] + ['create_order'] * n})\n"
        )
        ev = eval_from_yaml_text(text, base_dir=folder)
        outcome = run(ev, db=str(folder / "assay.db"))
        from assay.store import Store

        with Store(str(folder / "assay.db")) as store:
            scores = {r.sample_id: r.scores[0].value for r in store.iter_results(outcome.run_id)}
        assert scores == {"a": 1.0, "b": 0.0}
        sent = [r for r in handle.requests if isinstance(r, dict)]
        assert (
            "1. lookup_customer()\n2. create_order()\n\nFinal answer: ordered"
            in sent[0]["messages"][-1]["content"]
        )
    finally:
        handle.stop()
        sys.modules.pop("agent_paths", None)


def test_conversation_with_a_scripted_user(tmp_path):
    rows = [
        {"id": "q1", "input": "What is 6 x 7?", "target": "42"},
        {
            "id": "q2",
            "input": "What is 2 + 2?",
            "target": "4",
            "turns": ["What is 2 + 2?", "Are you sure? Add them again."],
        },
        {"id": "q3", "input": "What is 9 - 3?", "target": "6"},
    ]

    def stubborn(sample):  # type: ignore[no-untyped-def]
        """Right at once on q1, right after one pushback on q2, never right on q3."""
        asked = sum(1 for m in sample.messages if m.role == "user")
        if sample.id == "q1" or (sample.id == "q2" and asked >= 2):
            return {"q1": "It is 42.", "q2": "Sorry: 4."}[sample.id]
        return "It is 14."

    subject = ConversationSubject(
        "bot", CallableSubject("bot", stubborn), ScriptedUser(), max_turns=3
    )
    ev = Eval(
        name="conv",
        dataset=dataset_from_records(rows, name="conv"),
        subjects=[subject],
        scorers=[conversation_goal(), conversation_goal(within=1, name="first_turn")],
    )
    db = str(tmp_path / "assay.db")
    outcome = run(ev, db=db)
    from assay.store import Store

    with Store(db) as store:
        results = {r.sample_id: r for r in store.iter_results(outcome.run_id)}
        metrics = {
            m.scorer: m.interval.estimate for m in summarise_run(store, outcome.run_id).metrics
        }
    assert results["q1"].output.metadata["goal_turn"] == 1
    assert results["q2"].output.metadata["goal_turn"] == 2
    convo = results["q2"].output.metadata["conversation"]
    assert [m["content"] for m in convo if m["role"] == "user"] == [
        "What is 2 + 2?",
        "Are you sure? Add them again.",
    ]
    assert (
        results["q3"].output.metadata["turns"] == 3
        and not results["q3"].output.metadata["goal_met"]
    )
    assert results["q3"].output.text.count("assistant: It is 14.") == 3
    assert metrics == {
        "conversation_goal": pytest.approx(2 / 3),
        "first_turn": pytest.approx(1 / 3),
    }


async def test_an_llm_user_with_a_persona_and_goal():
    from assay.providers import create_provider
    from assay.testing import MockOpenAIServer

    def user_model(body):  # type: ignore[no-untyped-def]
        system = body["messages"][0]["content"]
        assert "Persona: an impatient pilot" in system and "Your goal: book a window seat" in system
        last = body["messages"][-1]["content"]  # what the assistant said, as the user model sees it
        return "[DONE]" if "window" in last else "I asked for a WINDOW seat."

    async with MockOpenAIServer(model="user-1", answer=user_model) as server:
        provider = create_provider(
            "openai", {"base_url": server.base_url, "api_key_env": None}, name="mock"
        )
        user = LLMUser(provider, "user-1", persona="an impatient pilot", goal="book a window seat")
        replies = iter(["Booked an aisle seat.", "Booked a window seat, 14A."])
        bot = CallableSubject("bot", lambda s: next(replies))
        subject = ConversationSubject("bot", bot, user, max_turns=4)
        out = await subject.respond(Sample(id="s", input="I need a seat to Oslo."), epoch=0)
        await subject.aclose()
    assert out.metadata["goal_turn"] == 2 and out.metadata["turns"] == 2
    assert out.text.splitlines()[2] == "user: I asked for a WINDOW seat."
    assert subject.manifest().config["user"]["model"] == "user-1"
