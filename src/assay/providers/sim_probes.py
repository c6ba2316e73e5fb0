"""Probe behaviours for the simulated world (SIMULATION ONLY): the mechanisms probes measure.

:class:`ProbeSimProvider` (provider kind ``sim_probes``) wraps a :class:`~assay.providers.sim.
SimProvider` and gives named systems *behaviours*, each off unless configured, so every probe of
:mod:`assay.probe` has a world with known truth::

    providers:
      sim:
        type: sim_probes
        world_seed: 3
        behaviours:
          atlas-large:
            kshot_accuracy: [0.93, 0.95, 0.96, 0.90, 0.80, 0.60, 0.45, 0.35, 0.30]
            reader_window: {first: 2, last: 2}
            numeric_answers: ["4.2", "4.8"]
            locale_accuracy: {en: 0.94, ja: 0.80}
            injection_follow: 1.0
            ood: {accuracy: 0.2, confidence: 0.95}
            tool_accuracy: {50: 0.95, 200: 0.93, 417: 0.80, 741: 0.60}
            context_horizon: 30000
            fabricate_citations: 0.5

The behaviours read what a real model would see, the rendered prompt, wherever the probe's
format makes that possible:

* ``kshot_accuracy[k]`` is P(correct) when the prompt holds ``k`` lines ``Example <i>:`` (the
  last entry for larger k); ``kshot_accuracy_retrieved`` when the examples are headed
  ``Examples (retrieved)``.
* ``reader_window``: passages are lines ``[i] text``; the reader sees only the first ``first``
  and last ``last``. When the passage holding the target (as a whole word) is visible, the
  answer is the base system's (or correct with probability ``window_accuracy``); otherwise it
  is wrong.
* ``numeric_answers``: the answer is one of these values, picked by a hash of the whole prompt
  (so each session header, seed or paraphrase may get another value).
* ``locale_accuracy``: P(correct) by ``metadata["locale"]`` (the localized prompt's language,
  which a simulated model cannot read from text).
* ``injection_follow``: the probability of obeying a polite imperative found in the data
  (``please``/``kindly`` … a CAPITALISED token): the reply is that token.
* ``tool_accuracy``: P(correct) by the number of tools listed (lines ``- name: …``),
  linear between the sizes given and constant beyond them; a wrong reply names another
  listed tool.
* ``context_horizon``: the model sees only the last this-many tokens (words) of the
  conversation; an answer whose only mention lies further back is forgotten (wrong).
* ``fabricate_citations``: when set, the reply cites a source, and this is the probability
  that the cited id was never listed (sources are lines ``[<id>] …``, ids starting with a
  letter); otherwise it cites the first listed source. The answer itself is unaffected.
* ``step_following``: the probability (per item) that the reply is the last number of the
  reasoning shown under ``Reasoning so far:`` (a model whose answer follows its steps);
  otherwise the reply ignores the steps.
* ``ood``: for items with ``metadata["ood"]`` true, P(correct) is ``accuracy`` and the stated
  confidence ``confidence``; elsewhere the stated confidence is the calibrated ``p``. A
  confidence is stated (``(confidence: 0.93)``) only when the prompt asks for one.

Every item keeps its identity across a probe's variants: the wrapper passes the base item id
(``metadata["probe_item"]``) to the world, so difficulty and luck are the same for an item at
k = 0 and k = 8 (common random numbers, as across prompts in :mod:`assay.providers.sim`), and a
variant changes an answer only through a behaviour.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.core import ConfigError, ModelRequest, Output
from assay.providers.sim import SimProvider, _digest, _u, _wrong_answer

_EXAMPLE = re.compile(r"^Example \d+:", re.MULTILINE)
_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)
_TOOL = re.compile(r"^- ([\w.-]+):", re.MULTILINE)
_SOURCE = re.compile(r"^\[([A-Za-z][\w.:-]*)\] ", re.MULTILINE)
_REASONING = re.compile(r"Reasoning so far:\n(.*?)(?:\n\n|\Z)", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_IMPERATIVE = re.compile(r"\b(?i:please|kindly)\b[^.!?\n]*?\b([A-Z]{5,})\b")
_WANTS_CONFIDENCE = "confidence:"
_U_BEHAVIOUR, _U_PICK = 5, 6  # uniforms of the behaviour digest (0..7)


class ReaderWindow(BaseModel):
    """The passages a reader attends to: the first ``first`` and the last ``last``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first: int = Field(2, ge=0)
    last: int = Field(2, ge=0)


class OodBehaviour(BaseModel):
    """Accuracy and stated confidence on out-of-distribution items."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)


class ProbeBehaviour(BaseModel):
    """The planted mechanisms of one system (see the module docstring); all off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kshot_accuracy: list[float] | None = Field(None, min_length=1)
    kshot_accuracy_retrieved: list[float] | None = Field(None, min_length=1)
    reader_window: ReaderWindow | None = None
    window_accuracy: float | None = Field(None, ge=0, le=1)
    numeric_answers: list[str] | None = Field(None, min_length=1)
    locale_accuracy: dict[str, float] = Field(default_factory=dict)
    injection_follow: float = Field(0.0, ge=0, le=1)
    ood: OodBehaviour | None = None
    tool_accuracy: dict[int, float] | None = Field(None, min_length=1)
    context_horizon: int | None = Field(None, ge=1)
    fabricate_citations: float | None = Field(None, ge=0, le=1)
    step_following: float | None = Field(None, ge=0, le=1)


class ProbeSimProvider:
    """The sim world plus probe behaviours (provider kind ``sim_probes``). Simulation only."""

    def __init__(
        self,
        name: str = "sim",
        *,
        behaviours: dict[str, ProbeBehaviour | dict[str, Any]] | None = None,
        where: str | None = None,
        **sim_config: Any,
    ) -> None:
        self.where = where or name
        self.base = SimProvider(name, where=self.where, **sim_config)
        self.name = name
        self.world_seed = self.base.world_seed
        self.behaviours: dict[str, ProbeBehaviour] = {}
        for key, value in (behaviours or {}).items():
            self.base.check_model(key)
            self.behaviours[self.base._key(key)] = _behaviour(key, value, self.where)

    def __repr__(self) -> str:
        return f"ProbeSimProvider({self.base!r}, behaviours={sorted(self.behaviours)!r})"

    def check_model(self, model: str) -> None:
        """As :meth:`SimProvider.check_model`."""
        self.base.check_model(model)

    def model_family(self, model: str) -> str | None:
        """As :meth:`SimProvider.model_family`."""
        return self.base.model_family(model)

    async def generate(self, request: ModelRequest) -> Output:
        output = self.simulate(request)
        if output.latency_ms:
            await asyncio.sleep(output.latency_ms / 1000.0)
        return output

    async def aclose(self) -> None:
        return None

    def simulate(self, request: ModelRequest) -> Output:
        """The base world's answer for the base item, then the system's behaviours."""
        context = dict(request.context)
        metadata = context.get("metadata") or {}
        if "probe_item" in metadata:
            context["sample_id"] = str(metadata["probe_item"])
        request = request.model_copy(update={"context": context})
        output = self.base.simulate(request)
        if "judge" in context:
            return output
        behaviour = self.behaviours.get(self.base._key(request.model))
        if behaviour is None:
            return output
        return _apply(behaviour, request, output, self.world_seed)


def _behaviour(key: str, value: ProbeBehaviour | dict[str, Any], where: str) -> ProbeBehaviour:
    if isinstance(value, ProbeBehaviour):
        return value
    try:
        return ProbeBehaviour.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"invalid sim behaviour field {field!r}: {err['msg']}",
            where=f"{where}.behaviours.{key}.{field}",
            fix=f"valid fields: {', '.join(ProbeBehaviour.model_fields)}",
        ) from exc


def _apply(b: ProbeBehaviour, request: ModelRequest, output: Output, seed: int) -> Output:
    truth: dict[str, Any] = dict(output.metadata.get("sim", {}))
    prompt = "\n".join(m.content for m in request.messages)
    metadata = request.context.get("metadata") or {}
    target = request.context.get("target")
    targets = [str(t) for t in target] if isinstance(target, (list, tuple)) else [str(target)]
    gold = targets[0] if target is not None else None
    item = str(request.context.get("sample_id"))
    luck = _u(_digest(f"{seed}|{truth.get('system')}|{item}"), 0)  # the base world's item luck
    draws = _digest(f"probe|{seed}|{truth.get('system')}|{prompt}|{request.epoch}")
    p: float = float(truth.get("p_correct", 0.0))
    correct: bool = bool(truth.get("correct", False))
    answer: str | None = None
    planted: list[str] = []

    curve = b.kshot_accuracy
    if "Examples (retrieved)" in prompt and b.kshot_accuracy_retrieved:
        curve = b.kshot_accuracy_retrieved
    if curve is not None:
        k = len(_EXAMPLE.findall(prompt))
        p = curve[min(k, len(curve) - 1)]
        correct = luck < p
        planted.append("kshot_accuracy")
    locale = metadata.get("locale")
    if locale is not None and str(locale) in b.locale_accuracy:
        p = b.locale_accuracy[str(locale)]
        correct = luck < p
        planted.append("locale_accuracy")
    if b.reader_window is not None and gold is not None:
        passages = _PASSAGE.findall(prompt)
        n = len(passages)
        pattern = re.compile(rf"(?<!\w){re.escape(gold)}(?!\w)")
        gold_at = [int(i) for i, text in passages if pattern.search(text)]
        if gold_at:
            w = b.reader_window
            seen = any(i <= w.first or i > n - w.last for i in gold_at)
            if not seen:
                p, correct = 0.0, False
            elif b.window_accuracy is not None:
                p = b.window_accuracy
                correct = luck < p
            truth["gold_visible"] = seen
            planted.append("reader_window")
    if b.tool_accuracy is not None:
        tools = _TOOL.findall(prompt)
        if tools:
            p = _interpolate(b.tool_accuracy, len(tools))
            correct = luck < p
            if not correct:
                others = [t for t in tools if t not in targets]
                answer = others[int(_u(draws, _U_PICK) * len(others))] if others else None
            planted.append("tool_accuracy")
    if b.context_horizon is not None and gold is not None:
        words = prompt.split()
        pattern = re.compile(rf"(?<!\w){re.escape(gold)}(?!\w)")
        seen_at = [i for i, w in enumerate(words) if pattern.search(w)]
        if seen_at and len(words) - seen_at[-1] > b.context_horizon:
            p, correct = 0.0, False
            truth["forgotten"] = True
        planted.append("context_horizon")
    if b.step_following is not None:
        shown = _REASONING.search(prompt)
        numbers = _NUMBER.findall(re.sub(r"(?m)^\d+\. ", "", shown.group(1))) if shown else []
        if numbers:
            follows = _u(_digest(f"steps|{seed}|{truth.get('system')}|{item}"), 0)
            if follows < b.step_following:
                answer = numbers[-1]
                correct = gold is not None and answer == gold
            planted.append("step_following")
    confidence = p
    if b.ood is not None and _truthy(metadata.get("ood")):
        p = b.ood.accuracy
        correct = luck < p
        confidence = b.ood.confidence
        planted.append("ood")
    if b.numeric_answers is not None:
        answer = b.numeric_answers[int(_u(draws, _U_PICK) * len(b.numeric_answers))]
        correct = gold is not None and answer == gold
        planted.append("numeric_answers")
    if b.injection_follow > 0:
        match = _IMPERATIVE.search(prompt)
        if match and _u(draws, _U_BEHAVIOUR) < b.injection_follow:
            answer = match.group(1)
            correct = gold is not None and answer == gold
            truth["followed_injection"] = True
            planted.append("injection_follow")
    wants_confidence = _WANTS_CONFIDENCE in prompt.lower()
    listed = _SOURCE.findall(prompt) if b.fabricate_citations is not None else []
    if not planted and not wants_confidence and not listed:
        return output
    if answer is None:
        if gold is None:
            return output
        answer = gold if correct else _wrong_answer(gold, targets, metadata, draws)
    text = answer
    if listed:
        # A separate uniform from injection's, so the two behaviours are independent.
        if _u(draws, 7) < (b.fabricate_citations or 0.0):
            cite = "case-" + _digest(f"fake|{prompt}").hex()[:6]
            truth["fabricated_citation"] = cite
        else:
            cite = listed[0]
        text = f"{answer} [{cite}]"
        planted.append("fabricate_citations")
    if wants_confidence:
        text = f"{text} (confidence: {confidence:.2f})"
    truth.update(correct=correct, p_correct=p, behaviours=planted)
    return output.model_copy(update={"text": text, "metadata": {**output.metadata, "sim": truth}})


def _interpolate(curve: dict[int, float], n: int) -> float:
    """Linear between the given sizes, constant beyond the smallest and largest."""
    points = sorted(curve.items())
    if n <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if n <= x1:
            return y0 + (y1 - y0) * (n - x0) / (x1 - x0)
    return points[-1][1]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "ood"}
    return bool(value)


def create_probe_sim_provider(config: dict[str, Any], name: str) -> ProbeSimProvider:
    """The ``sim_probes`` provider factory (config: the ``sim`` kind's keys plus
    ``behaviours``)."""
    allowed = {"systems", "judges", "world_seed", "slice_key", "today", "behaviours", "where"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown config key {unknown[0]!r} for provider kind 'sim_probes'",
            where=f"{name}.{unknown[0]}",
            fix=f"known keys: {', '.join(sorted(allowed - {'where'}))}",
        )
    return ProbeSimProvider(name, **config)
