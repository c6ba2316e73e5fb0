"""Multi-turn subjects: the system under test holds a conversation with a simulated user, and
the whole conversation is the output scorers grade.

A :class:`ConversationSubject` wraps any subject that answers chat input (a model and prompt,
your function, your HTTP endpoint) and a simulated user:

* :class:`ScriptedUser` — the simulated world's user (SIMULATION): it opens with the sample's
  input (or ``metadata["turns"][0]``), knows the goal (the sample's target), and after each
  answer either stops, because the answer contains a target as whole words (case and
  punctuation aside), or pushes back with its next scripted turn (``metadata["turns"]``) or a
  generic follow-up, until ``max_turns``;
* :class:`LLMUser` — a model playing a user with a persona and a goal (``metadata["persona"]``
  and ``metadata["goal"]``, or the constructor's); it writes ``[DONE]`` when its goal is met.

The output's text is the transcript (``user: …`` / ``assistant: …`` lines), so judges grade
the whole conversation; ``metadata`` carries the messages, the number of assistant turns,
``goal_met`` and the turn it was met at (``None`` when it never was). The
``conversation_goal`` scorer (:mod:`assay.score.conversation`) turns that into a pass/fail
score (optionally within ``k`` turns) that feeds the ordinary statistics. Token usage is
summed over the assistant's turns; ``model`` is the assistant's last resolved model (so the
manifest records it). In a spec, ``conversation: {user: scripted, max_turns: 4}`` (or
``user: <provider>/<model>`` with ``persona`` and ``goal``) on a model, callable or HTTP
subject makes it one (:class:`~assay.run.spec.ConversationSpec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from assay.core import (
    Message,
    ModelRequest,
    Output,
    Sample,
    SubjectManifest,
    Usage,
)

DONE = "[DONE]"
FOLLOW_UP = "That doesn't answer my question. Could you check again and give me the answer?"


def _fold(text: str) -> str:
    from assay.score.normalise import Normalisation

    return Normalisation(ignore_punctuation=True)(text)


def _says(answer: str, target: str) -> bool:
    """Whether ``answer`` contains ``target`` as whole words, case and punctuation aside."""
    folded = _fold(target)
    return bool(folded) and f" {folded} " in f" {_fold(answer)} "


class SimulatedUser(Protocol):
    """A user the subject talks to."""

    async def opening(self, sample: Sample) -> str: ...

    async def reply(self, sample: Sample, messages: Sequence[Message]) -> tuple[str | None, bool]:
        """The next user message (``None`` ends the conversation) and whether the goal is met."""
        ...

    def describe(self) -> dict[str, Any]: ...


class ScriptedUser:
    """The simulated world's user (see the module docstring). SIMULATION ONLY."""

    def __init__(self, follow_up: str = FOLLOW_UP) -> None:
        self.follow_up = follow_up

    async def opening(self, sample: Sample) -> str:
        turns = sample.metadata.get("turns")
        if isinstance(turns, list) and turns:
            return str(turns[0])
        return sample.input_text

    async def reply(self, sample: Sample, messages: Sequence[Message]) -> tuple[str | None, bool]:
        if any(_says(messages[-1].content, t) for t in sample.targets):
            return None, True
        turns = sample.metadata.get("turns")
        asked = sum(1 for m in messages if m.role == "user")
        if isinstance(turns, list) and asked < len(turns):
            return str(turns[asked]), False
        return self.follow_up, False

    def describe(self) -> dict[str, Any]:
        return {"kind": "scripted", "follow_up": self.follow_up}


class LLMUser:
    """A model playing a user with a persona and a goal; it says ``[DONE]`` when satisfied."""

    PROMPT = (
        "You are role-playing a user talking to an assistant. Persona: {persona}\n"
        "Your goal: {goal}\nWrite only your next message to the assistant, in the user's "
        "voice. When your goal has been fully met, reply with exactly " + DONE + "."
    )

    def __init__(
        self,
        provider: Any,
        model: str,
        *,
        persona: str = "a customer in a hurry",
        goal: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.persona = persona
        self.goal = goal
        self.params = dict(params or {})

    def _system(self, sample: Sample) -> str:
        persona = str(sample.metadata.get("persona") or self.persona)
        goal = str(sample.metadata.get("goal") or self.goal or sample.input_text)
        return self.PROMPT.format(persona=persona, goal=goal)

    async def opening(self, sample: Sample) -> str:
        return sample.input_text

    async def reply(self, sample: Sample, messages: Sequence[Message]) -> tuple[str | None, bool]:
        # The user model sees the conversation with the roles swapped: the assistant's words
        # are what it was told, its own earlier messages are its answers.
        swapped = [
            Message(role="user" if m.role == "assistant" else "assistant", content=m.content)
            for m in messages
            if m.role in ("user", "assistant")
        ]
        request = ModelRequest(
            model=self.model,
            messages=(Message(role="system", content=self._system(sample)), *swapped),
            params=self.params,
            context={"sample_id": sample.id, "role": "simulated_user"},
        )
        output = await self.provider.generate(request)
        text = output.text.strip()
        if DONE in text:
            return None, True
        return text, False

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "llm",
            "provider": getattr(self.provider, "name", None),
            "model": self.model,
            "persona": self.persona,
            "goal": self.goal,
            "params": self.params,
        }

    async def aclose(self) -> None:
        await self.provider.aclose()


class ConversationSubject:
    """A subject holding a multi-turn conversation with a simulated user (module docstring)."""

    kind = "conversation"

    def __init__(
        self, name: str, assistant: Any, user: SimulatedUser, *, max_turns: int = 4
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.name = name
        self.assistant = assistant
        self.user = user
        self.max_turns = max_turns

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        messages: list[Message] = [Message(role="user", content=await self.user.opening(sample))]
        usage_in = usage_out = 0
        latency = 0.0
        last: Output | None = None
        goal_turn: int | None = None
        turns = 0
        for turn in range(1, self.max_turns + 1):
            asked = sample.model_copy(update={"input": tuple(messages)})
            last = await self.assistant.respond(asked, epoch=epoch)
            turns = turn
            usage_in += last.usage.input_tokens or 0
            usage_out += last.usage.output_tokens or 0
            latency += last.latency_ms or 0.0
            messages.append(Message(role="assistant", content=last.text))
            follow_up, met = await self.user.reply(sample, messages)
            if met:
                goal_turn = turn
            if follow_up is None or met:
                break
            messages.append(Message(role="user", content=follow_up))
        assert last is not None
        transcript = "\n".join(f"{m.role}: {m.content}" for m in messages)
        return Output(
            text=transcript,
            model=last.model,
            system_fingerprint=last.system_fingerprint,
            finish_reason=last.finish_reason,
            usage=Usage(
                input_tokens=usage_in, output_tokens=usage_out, total_tokens=usage_in + usage_out
            ),
            latency_ms=latency,
            metadata={
                "conversation": [m.model_dump() for m in messages],
                "turns": turns,
                "goal_met": goal_turn is not None,
                "goal_turn": goal_turn,
                "final_answer": last.text,
            },
        )

    def manifest(self) -> SubjectManifest:
        inner = self.assistant.manifest()
        return SubjectManifest(
            name=self.name,
            kind=self.kind,
            provider=inner.provider,
            requested_model=inner.requested_model,
            prompt_template=inner.prompt_template,
            prompt_hash=inner.prompt_hash,
            params=inner.params,
            config={
                "assistant": inner.model_dump(),
                "user": self.user.describe(),
                "max_turns": self.max_turns,
            },
        )

    async def aclose(self) -> None:
        await self.assistant.aclose()
        close = getattr(self.user, "aclose", None)
        if close is not None:
            await close()
