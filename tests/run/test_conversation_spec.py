"""A spec declares a multi-turn subject: `conversation:` wraps a model, callable or HTTP subject
with the sim world's scripted user (or a model playing one), and `conversation_goal` grades it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.core import AssayError
from assay.run import load_eval
from assay.run import run as run_eval
from assay.store import Store

BOT = '''
def answer(sample):
    """Answers only once the user has pushed back: the goal is met on the second turn."""
    user_turns = [m for m in sample.input if m.role == "user"]
    return str(sample.target) if len(user_turns) >= 2 else "Could you say more?"
'''


def _spec(tmp_path: Path, conversation: str) -> Path:
    (tmp_path / "patient_bot.py").write_text(BOT)
    (tmp_path / "qa.jsonl").write_text(
        '{"id": "a", "input": "What is the refund window?", "target": "30 days"}\n'
        '{"id": "b", "input": "Which plan has SSO?", "target": "Enterprise"}\n'
    )
    spec = tmp_path / "conv.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            name: conv
            dataset: {{path: qa.jsonl}}
            subjects:
              - name: bot
                callable: patient_bot:answer
                conversation: {conversation}
            scorers: [conversation_goal, {{conversation_goal: {{within: 1, name: first_turn}}}}]
            """
        )
    )
    return spec


def test_a_scripted_user_conversation_runs_from_a_spec(tmp_path: Path) -> None:
    ev = load_eval(_spec(tmp_path, "{user: scripted, max_turns: 3}"))
    outcome = run_eval(ev, db=Store(str(tmp_path / "assay.db")))
    with Store(str(tmp_path / "assay.db")) as store:
        results = list(store.iter_results(outcome.run_id))
    assert len(results) == 2
    for result in results:
        scores = {s.scorer: s.value for s in result.scores}
        assert scores == {"conversation_goal": 1.0, "first_turn": 0.0}
        assert result.output.metadata["goal_turn"] == 2
        assert result.output.text.count("assistant:") == 2


def test_bad_conversation_declarations_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(AssayError) as caught:
        load_eval(_spec(tmp_path, "{user: somebody}"))
    assert "conversation" in str(caught.value) and "scripted" in str(caught.value)
    with pytest.raises(AssayError) as caught:
        load_eval(_spec(tmp_path, "{max_turns: 0}"))
    assert "max_turns" in str(caught.value)
