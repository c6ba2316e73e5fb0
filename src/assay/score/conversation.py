"""The ``conversation_goal`` scorer: did the simulated user get what it came for?

It reads what a :class:`~assay.run.conversation.ConversationSubject` puts in an output's
metadata (``goal_met``, ``goal_turn``, ``turns``) and scores 1 when the goal was met (within
``within`` assistant turns, when given), else 0; an output that is not a conversation is
ungradable (``value=None``), never a zero.
"""

from __future__ import annotations

from assay.core import Output, Sample, Score


class ConversationGoal:
    """Pass when the simulated user's goal was met (within ``within`` assistant turns)."""

    kind = "conversation_goal"
    version = "1"

    def __init__(self, within: int | None = None, name: str | None = None) -> None:
        if within is not None and within < 1:
            raise ValueError("within must be at least 1")
        self.within = within
        self.name = name or "conversation_goal"
        self.config = {"within": within}

    async def score(self, sample: Sample, output: Output) -> Score:
        if "goal_met" not in output.metadata:
            return Score(
                scorer=self.name, value=None, error="not a conversation (no goal_met in metadata)"
            )
        turn = output.metadata.get("goal_turn")
        met = bool(output.metadata["goal_met"]) and (
            self.within is None or (turn is not None and turn <= self.within)
        )
        return Score(
            scorer=self.name,
            value=1.0 if met else 0.0,
            answer=str(output.metadata.get("final_answer", "")),
            explanation=f"goal met at turn {turn}" if turn else "goal never met",
            metadata={"turns": output.metadata.get("turns"), "goal_turn": turn},
        )


def conversation_goal(within: int | None = None, name: str | None = None) -> ConversationGoal:
    """The ``conversation_goal`` scorer (see :class:`ConversationGoal`)."""
    return ConversationGoal(within, name)
