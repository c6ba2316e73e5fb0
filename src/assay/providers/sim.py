"""The simulated world: seeded model "systems" with known ground truth (SIMULATION ONLY).

There is no real model on the machines assay is developed on, so demos and tests run against
this world. Every output it produces is labelled: the resolved model is
``sim:<system>@<snapshot>``, the fingerprint ``sim-world-<seed>``, and
``Output.metadata["sim"]`` carries the truth (``correct``, ``p_correct``, ``difficulty`` …).

Item response model. For a system answering an item::

    logit = ability + slice_skill[slice] + Σ prompt effects − difficulty,   p = sigmoid(logit)

``difficulty`` is ``context["metadata"]["difficulty"]`` when given, else a standard-normal draw
hashed from ``(world_seed, sample_id)`` — a property of the item, the same for every system in
a world. The answer is correct iff ``u < p`` with ``u`` uniform:

* ``u`` starts as the item's *luck*, hashed from ``(world_seed, system, sample_id)``, so at
  temperature 0 a system answers an item the same way in every epoch (and a prompt that raises
  ``p`` can only turn wrong answers right: common random numbers);
* at temperature ``t > 0`` each epoch re-draws ``u`` afresh (hashed with the epoch) with
  probability ``min(t, 1)``, so at ``t >= 1`` epochs are independent draws from ``p``.

Either way ``P(correct) = p`` exactly. Hashing (blake2b) replaces per-call RNG objects; a call
costs a few tens of microseconds.

The world also has judges (:mod:`assay.providers.sim_judges`): a request whose model names a
sim judge, or that carries a judge task in ``context["judge"]``, is answered with a verdict
computed from the graded outputs' recorded truth and the judge's planted defects.

The request ``context`` keys read are ``sample_id`` (or ``id``), ``target`` (a string or a list
whose first element is used) and ``metadata`` (``difficulty``, ``choices`` and the slice label
under ``slice_key``).
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import math
from datetime import date
from functools import lru_cache
from statistics import NormalDist
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.core import ConfigError, ModelRequest, Output, ProviderError
from assay.providers.sim_judges import SIM_JUDGES, SimJudge, judge_answer


class PromptEffect(BaseModel):
    """When the rendered prompt contains ``contains``, add ``delta`` (plus ``slices[slice]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contains: str
    delta: float = 0.0
    slices: dict[str, float] = Field(default_factory=dict)


class SimSystem(BaseModel):
    """One simulated model. ``ability`` is on the logit scale; ``verbosity`` is the mean number
    of filler words around the answer (0: the bare answer); ``temperature`` is the default
    sampling temperature (``request.params["temperature"]`` overrides it); ``latency_ms`` is
    slept per call, with lognormal jitter of sigma ``latency_jitter`` when that is positive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str
    ability: float = 0.0
    slice_skill: dict[str, float] = Field(default_factory=dict)
    verbosity: float = Field(0.0, ge=0)
    temperature: float = Field(0.0, ge=0)
    prompt_effects: list[PromptEffect] = Field(default_factory=list)
    latency_ms: float = Field(0.0, ge=0)
    latency_jitter: float = Field(0.0, ge=0)
    snapshot: str = "2026-01"

    @property
    def resolved_model(self) -> str:
        return f"sim:{self.name}@{self.snapshot}"


def _catalog() -> dict[str, SimSystem]:
    systems = [
        SimSystem(
            name="atlas-large",
            family="atlas",
            ability=1.4,
            slice_skill={"arithmetic": 0.6, "reasoning": 0.3, "multilingual": -0.4},
        ),
        SimSystem(
            name="atlas-small",
            family="atlas",
            ability=0.2,
            slice_skill={"arithmetic": 0.3, "reasoning": -0.5, "multilingual": -0.6},
        ),
        SimSystem(
            name="boreal-medium",
            family="boreal",
            ability=0.8,
            verbosity=40,
            slice_skill={"arithmetic": -0.5, "reasoning": 0.2, "multilingual": 0.7},
        ),
        SimSystem(
            name="cirrus-mini",
            family="cirrus",
            ability=-0.3,
            slice_skill={"arithmetic": -0.4, "trivia": 0.5},
        ),
    ]
    return {s.name: s for s in systems}


#: The built-in systems, used for ``model: sim/<name>``. Simulation only.
SIM_SYSTEMS: dict[str, SimSystem] = _catalog()

_FILLER_TEXT = (
    "well let me think about this carefully and consider the question from a few angles "
    "before settling on a final response since it is worth being thorough here and taking "
    "into account the relevant details context and any possible pitfalls that might lead "
    "to a mistaken conclusion so after weighing everything"
)
_FILLER = _FILLER_TEXT.split()
_DISTRACTOR_WORDS = (
    "blue", "seven", "paris", "river", "oxygen", "copper", "march", "triangle", "lion",
    "maple", "north", "violin",
)  # fmt: skip
_OPPOSITES = {"yes": "no", "no": "yes", "true": "false", "false": "true"}
_CORRECT_GENERIC = "Here is a careful and complete response that addresses the request."
_WRONG_GENERIC = "Here is a response that misreads the request and misses its point."
_INV_2_64 = 1.0 / 2.0**64
_NORMAL = NormalDist()


# Uniforms drawn from one 64-byte digest, by index.
_U_LUCK, _U_FRESH, _U_LENGTH, _U_START, _U_PICK, _U_SIGN, _U_LATENCY = range(7)


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8"), digest_size=64).digest()


def _u(digest: bytes, i: int) -> float:
    """The i-th uniform in [0, 1) from a 64-byte digest (i in 0..7)."""
    return int.from_bytes(digest[8 * i : 8 * i + 8], "big") * _INV_2_64


@lru_cache(maxsize=262_144)
def item_difficulty(world_seed: int, sample_id: str) -> float:
    """The hashed standard-normal difficulty of an item (the same for every system)."""
    u = _u(_digest(f"difficulty|{world_seed}|{sample_id}"), 0)
    return _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class SimProvider:
    """A provider that answers from the simulated world (see the module docstring).

    ``systems`` adds to or overrides the built-in catalog :data:`SIM_SYSTEMS`: values are
    :class:`SimSystem` objects or dicts (a dict for a catalog name is merged over the catalog
    entry, so ``{"atlas-large": {"latency_ms": 20}}`` only changes the latency). The request's
    model names the system: ``atlas-large``, ``sim/atlas-large`` or ``sim:atlas-large@2026-01``.
    """

    def __init__(
        self,
        name: str = "sim",
        systems: dict[str, SimSystem | dict[str, Any]] | None = None,
        world_seed: int = 0,
        *,
        judges: dict[str, SimJudge | dict[str, Any]] | None = None,
        slice_key: str = "slice",
        today: date | None = None,
        where: str | None = None,
    ) -> None:
        self.name = name
        self.world_seed = int(world_seed)
        self.slice_key = slice_key
        self.today = today
        self.where = where or name
        self.systems: dict[str, SimSystem] = dict(SIM_SYSTEMS)
        for key, value in (systems or {}).items():
            self.systems[key] = self._validate_system(key, value)
        self.judges: dict[str, SimJudge] = dict(SIM_JUDGES)
        for key, value in (judges or {}).items():
            self.judges[key] = self._validate_judge(key, value)
        clash = sorted(set(self.judges) & set(self.systems))
        if clash:
            raise ConfigError(
                f"sim name(s) {', '.join(map(repr, clash))} name both a system and a judge",
                where=f"{self.where}.judges",
                fix="give judges names of their own",
            )
        self._resolved: dict[str, SimSystem] = {}
        self._fingerprint = f"sim-world-{self.world_seed}"

    def __repr__(self) -> str:
        return (
            f"SimProvider(name={self.name!r}, world_seed={self.world_seed}, "
            f"systems={sorted(self.systems)!r})"
        )

    def _validate_system(self, key: str, value: SimSystem | dict[str, Any]) -> SimSystem:
        if isinstance(value, SimSystem):
            return value if value.name == key else value.model_copy(update={"name": key})
        if not isinstance(value, dict):
            raise ConfigError(
                f"sim system {key!r} must be a mapping of SimSystem fields",
                where=f"{self.where}.systems.{key}",
            )
        data: dict[str, Any] = {}
        if key in SIM_SYSTEMS:
            data = SIM_SYSTEMS[key].model_dump()
        data.update(value)
        data.setdefault("name", key)
        try:
            return SimSystem.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"invalid sim system field {field!r}: {err['msg']}",
                where=f"{self.where}.systems.{key}.{field}",
                fix=f"valid fields: {', '.join(SimSystem.model_fields)}",
            ) from exc

    def _validate_judge(self, key: str, value: SimJudge | dict[str, Any]) -> SimJudge:
        if isinstance(value, SimJudge):
            return value if value.name == key else value.model_copy(update={"name": key})
        if not isinstance(value, dict):
            raise ConfigError(
                f"sim judge {key!r} must be a mapping of SimJudge fields",
                where=f"{self.where}.judges.{key}",
            )
        data: dict[str, Any] = SIM_JUDGES[key].model_dump() if key in SIM_JUDGES else {}
        data.update(value)
        data.setdefault("name", key)
        try:
            return SimJudge.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"invalid sim judge field {field!r}: {err['msg']}",
                where=f"{self.where}.judges.{key}.{field}",
                fix=f"valid fields: {', '.join(SimJudge.model_fields)}",
            ) from exc

    def check_model(self, model: str) -> None:
        """Fail early (ConfigError) when ``model`` names no system or judge of this world."""
        if self._judge(model) is not None or self._key(model) in self.systems:
            return
        key = self._key(model)
        known = sorted(self.systems) + sorted(self.judges)
        close = difflib.get_close_matches(key, known, n=1)
        raise ConfigError(
            f"unknown sim system or judge {key!r}",
            where=self.where,
            fix=(f"did you mean {close[0]!r}? " if close else "")
            + f"systems: {', '.join(sorted(self.systems))}; "
            + f"judges: {', '.join(sorted(self.judges))}",
        )

    @staticmethod
    def _key(model: str) -> str:
        key = model
        for prefix in ("sim/", "sim:"):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        return key.split("@", 1)[0]

    def _judge(self, model: str) -> SimJudge | None:
        return self.judges.get(self._key(model))

    def model_family(self, model: str) -> str | None:
        """The lineage family of a system or judge of this world (``sim:<family>``), for the
        lineage registry (:mod:`assay.providers.lineage`)."""
        judge = self._judge(model)
        if judge is not None:
            return f"sim:{judge.family}"
        system = self.systems.get(self._key(model))
        return None if system is None else f"sim:{system.family}"

    def judge_for(self, model: str) -> SimJudge:
        """The judge a judge request's model names: a sim judge, or a sim system acting as a
        judge with default (defect-free) settings and the system's family and snapshot."""
        judge = self._judge(model)
        if judge is not None:
            return judge
        system = self.system(model)
        return SimJudge(name=system.name, family=system.family, snapshot=system.snapshot)

    def system(self, model: str) -> SimSystem:
        """The system a request's model names (ConfigError listing the known ones if none)."""
        system = self._resolved.get(model)
        if system is not None:
            return system
        key = self._key(model)
        system = self.systems.get(key)
        if system is None:
            known = sorted(self.systems)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown sim system {key!r}",
                where=self.where,
                fix=f"{hint}known systems: {', '.join(known)}",
            )
        self._resolved[model] = system
        return system

    async def generate(self, request: ModelRequest) -> Output:
        output = self.simulate(request)
        if output.latency_ms:
            await asyncio.sleep(output.latency_ms / 1000.0)
        return output

    async def aclose(self) -> None:
        return None

    def simulate(self, request: ModelRequest) -> Output:
        """The deterministic part of :meth:`generate` (no sleeping)."""
        if "judge" in request.context or self._judge(request.model) is not None:
            return judge_answer(
                self.judge_for(request.model),
                request,
                world_seed=self.world_seed,
                today=self.today,
                where=self.where,
            )
        system = self.system(request.model)
        context = request.context
        metadata = context.get("metadata") or {}
        sample_id = context.get("sample_id", context.get("id"))
        messages = request.messages
        if sample_id is None:
            sample_id = "prompt:" + "\x1f".join(m.content for m in messages)
        sample_id = str(sample_id)
        seed = self.world_seed
        name = system.name

        given = metadata.get("difficulty")
        difficulty = (
            item_difficulty(seed, sample_id) if given is None else self._number(given, sample_id)
        )
        slice_label = metadata.get(self.slice_key)
        slice_label = None if slice_label is None else str(slice_label)

        logit = system.ability - difficulty
        if slice_label is not None and system.slice_skill:
            logit += system.slice_skill.get(slice_label, 0.0)
        if system.prompt_effects:
            rendered = "\n".join(m.content for m in messages)
            for effect in system.prompt_effects:
                if effect.contains in rendered:
                    logit += effect.delta
                    if slice_label is not None and effect.slices:
                        logit += effect.slices.get(slice_label, 0.0)
        p = _sigmoid(logit)

        temperature = request.params.get("temperature")
        temperature = (
            system.temperature
            if temperature is None
            else self._number(temperature, sample_id, "temperature")
        )
        item = _digest(f"{seed}|{name}|{sample_id}")
        u = _u(item, _U_LUCK)
        text_draws = item
        if temperature > 0:
            epoch = _digest(f"{seed}|{name}|{sample_id}|{request.epoch}")
            text_draws = epoch
            if _u(epoch, _U_LUCK) < min(temperature, 1.0):
                u = _u(epoch, _U_FRESH)
        correct = u < p

        text = self._answer_text(system, context.get("target"), metadata, correct, text_draws)
        input_tokens = sum(len(m.content.split()) for m in messages)
        output_tokens = len(text.split())
        latency = system.latency_ms
        if latency and system.latency_jitter:
            z = _NORMAL.inv_cdf(min(max(_u(text_draws, _U_LATENCY), 1e-12), 1 - 1e-12))
            latency *= math.exp(system.latency_jitter * z - system.latency_jitter**2 / 2)

        # Plain validation from dicts is faster than model_construct (pydantic-core does it).
        return Output(
            text=text,
            model=f"sim:{name}@{system.snapshot}",
            system_fingerprint=self._fingerprint,
            finish_reason="stop",
            usage={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
            latency_ms=float(latency),
            raw=None,
            metadata={
                "sim": {
                    "system": name,
                    "family": system.family,
                    "correct": correct,
                    "p_correct": p,
                    "difficulty": difficulty,
                    "ability": system.ability,
                    "slice": slice_label,
                }
            },
        )

    def _number(self, value: Any, sample_id: str, what: str = "difficulty") -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ProviderError(
                f"sim: {what} {value!r} of sample {sample_id!r} is not a finite number",
                error_class="client_error",
                retryable=False,
                where=self.where,
                fix=f"give a number for {what}",
            )
        return number

    @staticmethod
    def _answer_text(
        system: SimSystem,
        target: Any,
        metadata: dict[str, Any],
        correct: bool,
        draws: bytes,
    ) -> str:
        if isinstance(target, (list, tuple)):
            targets = [str(t) for t in target]
            target = targets[0] if targets else None
        elif target is not None:
            target = str(target)
            targets = [target]
        if target is None:
            answer = _CORRECT_GENERIC if correct else _WRONG_GENERIC
            sentence = True
        else:
            answer = target if correct else _wrong_answer(target, targets, metadata, draws)
            sentence = False
        if system.verbosity <= 0:
            return answer
        # Filler length: uniform on [0.5, 1.5) x verbosity, so its mean is the verbosity.
        n = int(system.verbosity * (0.5 + _u(draws, _U_LENGTH)) + 0.5)
        start = int(_u(draws, _U_START) * len(_FILLER))
        words = (_FILLER[start:] + _FILLER * (n // len(_FILLER) + 1))[:n]
        filler = " ".join(words).capitalize() + "." if words else ""
        body = answer if sentence else f"The answer is {answer}."
        return f"{filler} {body}" if filler else body


def _wrong_answer(target: str, targets: list[str], metadata: dict[str, Any], draws: bytes) -> str:
    """A deterministic wrong answer: a listed distractor, else one derived from the target."""
    pick = _u(draws, _U_PICK)
    choices = metadata.get("choices")
    if isinstance(choices, (list, tuple)):
        wrong = [str(c) for c in choices if str(c) not in targets]
        if wrong:
            return wrong[int(pick * len(wrong))]
    stripped = target.strip()
    lowered = stripped.lower()
    if lowered in _OPPOSITES:
        opposite = _OPPOSITES[lowered]
        return opposite.capitalize() if stripped[:1].isupper() else opposite
    offset = 1 + int(pick * 9)
    if _u(draws, _U_SIGN) < 0.5:
        offset = -offset
    number: int | float | None
    try:
        number = int(stripped)
    except ValueError:
        try:
            number = float(stripped)
        except ValueError:
            number = None
    if number is not None and math.isfinite(number):
        direction = 1 if offset > 0 else -1
        for step in range(len(targets) + 1):  # step past any other accepted target
            text = str(number + offset + direction * step)
            if text not in targets:
                return text
    lowered_targets = {t.strip().lower() for t in targets}
    words = [w for w in _DISTRACTOR_WORDS if w not in lowered_targets]
    return words[int(pick * len(words))]
