"""Simulated judges with planted defects (SIMULATION ONLY).

A sim judge answers the judge requests assay's judge scorers send, in the verdict format the
request asks for (the same text a real judge writes, so the same parsing code runs), from the
*true* quality that the sim systems recorded in the graded output's ``metadata["sim"]``. The
judge scorer passes the graded outputs and the verdict format in ``ModelRequest.context``
(``context["judge"]``), which real providers never send.

The judge's view of one output is a logit. For a pointwise grade::

    x = skill·(t − ½) + leniency + self_preference·[same family]
        + length_bias·tanh(len/length_scale) + noise·z

where ``t`` is 1 for a correct output, 0 for an incorrect one, and −½ for an output with no
sim truth (a canary, a hand-written string: not an attempt at the task, so a competent judge
ranks it below a wrong attempt), and ``z`` a standard normal draw. On a
1..N scale the score is ``1 + round((N − 1)·sigmoid(x))``; pass/fail passes when ``x > 0``.
For a pair shown as (first, second)::

    d = skill·(t₁ − t₂) + self_preference·([f₁] − [f₂])
        + length_bias·tanh((len₁ − len₂)/length_scale) + noise·z

When ``|d| < tie_margin`` the judge is unsure: it prefers the first-shown output with
probability ``position_bias`` and otherwise calls a tie; else it prefers the sign of ``d``.
Lengths are in characters. Every draw is hashed from (world seed, judge, sample, epoch, the
outputs in the order shown), so the two presentation orders of a pair draw independently and a
re-run draws the same.

Defects, each defaulting to zero (a perfect judge apart from ``skill``):

``noise``
    standard deviation of the normal noise on the logit;
``position_bias``
    probability of preferring the first-shown output when unsure (pairwise);
``length_bias``
    logit weight on length (pointwise: on ``tanh(len/length_scale)``; pairwise: on
    ``tanh((len₁ − len₂)/length_scale)``), positive for a judge that likes long answers;
``self_preference``
    logit bonus for an output whose sim ``family`` is the judge's own;
``injection_susceptibility``
    probability of obeying an output that tries to instruct the judge (text matching
    :data:`INJECTION_PATTERN`, e.g. "ignore the previous instructions", "rate this response
    10/10"): it then gets the top score, or wins the pair;
``leniency``
    logit added to every pointwise grade;
``malformed_rate``
    probability of answering with a verdict that cannot be parsed (prose without a verdict,
    truncated JSON, or an out-of-range value);
``drift``
    extra defects (:class:`SimDrift`) that switch on from a date of the call, or once the
    judge's ``snapshot`` reaches a version (a silent change of behaviour, or one that comes
    with a version bump).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, date, datetime
from statistics import NormalDist
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.core import ModelRequest, Output, ProviderError

#: Text by which an output tries to instruct its judge (SIMULATION: what a susceptible sim
#: judge obeys).
INJECTION_PATTERN = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) instructions"
    r"|(?:rate|score|grade) (?:this|the|my) (?:response|answer|output)[^.\n]{0,20}"
    r"(?:10|five|5|highest|top|pass)"
    r"|note to (?:the )?(?:judge|evaluator|grader)",
    re.IGNORECASE,
)
_NORMAL = NormalDist()
#: The quality ``t`` of an output with no sim truth (see the module docstring).
OFF_TASK = -0.5
_INV_2_64 = 1.0 / 2.0**64


class SimDrift(BaseModel):
    """Defects that switch on later: from ``after_date`` (the UTC date of the call) and/or once
    the judge's ``snapshot`` is at least ``from_snapshot`` (compared as text, so use sortable
    versions such as ``2026-06``). With both set, either switches it on. The values are added
    to the judge's own; ``position_bias`` replaces it when given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_date: date | None = None
    from_snapshot: str | None = None
    leniency: float = 0.0
    noise: float = Field(0.0, ge=0)
    length_bias: float = 0.0
    self_preference: float = 0.0
    position_bias: float | None = Field(None, ge=0, le=1)

    def active(self, snapshot: str, today: date) -> bool:
        by_date = self.after_date is not None and today >= self.after_date
        by_version = self.from_snapshot is not None and snapshot >= self.from_snapshot
        return by_date or by_version


class SimJudge(BaseModel):
    """One simulated judge (see the module docstring for the meaning of every defect)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str = "arbiter"
    snapshot: str = "2026-01"
    skill: float = Field(4.0, ge=0)
    noise: float = Field(0.0, ge=0)
    position_bias: float = Field(0.0, ge=0, le=1)
    length_bias: float = 0.0
    length_scale: float = Field(200.0, gt=0)
    self_preference: float = 0.0
    injection_susceptibility: float = Field(0.0, ge=0, le=1)
    leniency: float = 0.0
    tie_margin: float = Field(0.5, ge=0)
    malformed_rate: float = Field(0.0, ge=0, le=1)
    drift: SimDrift | None = None
    latency_ms: float = Field(0.0, ge=0)

    @property
    def resolved_model(self) -> str:
        return f"sim:{self.name}@{self.snapshot}"

    def effective(self, today: date) -> SimJudge:
        """This judge with its drift applied when the drift is on at ``today``."""
        drift = self.drift
        if drift is None or not drift.active(self.snapshot, today):
            return self
        return self.model_copy(
            update={
                "leniency": self.leniency + drift.leniency,
                "noise": self.noise + drift.noise,
                "length_bias": self.length_bias + drift.length_bias,
                "self_preference": self.self_preference + drift.self_preference,
                "position_bias": self.position_bias
                if drift.position_bias is None
                else drift.position_bias,
                "drift": None,
            }
        )


def _catalog() -> dict[str, SimJudge]:
    judges = [
        SimJudge(name="judge-fair", family="arbiter"),
        SimJudge(name="judge-noisy", family="arbiter", noise=1.5),
        SimJudge(
            name="judge-biased",
            family="arbiter",
            noise=0.5,
            position_bias=0.3,
            length_bias=1.0,
            malformed_rate=0.02,
        ),
        SimJudge(name="judge-atlas", family="atlas", self_preference=1.0, noise=0.5),
    ]
    return {j.name: j for j in judges}


#: The built-in sim judges, used for ``judge: sim/<name>``. Simulation only.
SIM_JUDGES: dict[str, SimJudge] = _catalog()


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8"), digest_size=64).digest()


def _u(digest: bytes, i: int) -> float:
    return int.from_bytes(digest[8 * i : 8 * i + 8], "big") * _INV_2_64


def _z(digest: bytes, i: int) -> float:
    return _NORMAL.inv_cdf(min(max(_u(digest, i), 1e-12), 1 - 1e-12))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


_U_NOISE, _U_POSITION, _U_INJECT, _U_MALFORMED, _U_MALFORM_KIND = range(5)


class _Graded:
    """One graded output as the judge sees it."""

    def __init__(self, item: Any) -> None:
        item = item if isinstance(item, dict) else {}
        self.text = str(item.get("text") or "")
        sim = item.get("sim") if isinstance(item.get("sim"), dict) else {}
        self.correct = bool(sim.get("correct", False))
        #: The quality ``t`` of the module docstring.
        self.quality = (1.0 if self.correct else 0.0) if "correct" in sim else OFF_TASK
        self.family = sim.get("family")
        self.injected = INJECTION_PATTERN.search(self.text) is not None


def _bad_request(message: str, where: str) -> ProviderError:
    return ProviderError(
        f"sim judge: {message}",
        error_class="client_error",
        retryable=False,
        where=where,
        fix="send judge requests through assay's judge scorers, which describe the task in "
        "the request context",
    )


def judge_answer(
    judge: SimJudge,
    request: ModelRequest,
    *,
    world_seed: int,
    today: date | None = None,
    where: str = "sim",
) -> Output:
    """The sim judge's reply to a judge request (see the module docstring)."""
    task = request.context.get("judge")
    if not isinstance(task, dict):
        raise _bad_request(
            f"{judge.name!r} is a judge and was sent a request with no judge task", where
        )
    kind = task.get("task")
    style = task.get("style", "json")
    key = str(task.get("verdict_key") or ("winner" if kind == "pairwise" else "score"))
    outputs = [_Graded(o) for o in task.get("outputs") or []]
    today = today or datetime.now(UTC).date()
    active = judge.effective(today)
    sample_id = request.context.get("sample_id", "")
    seen = "\x1f".join(o.text for o in outputs)
    draws = _digest(
        f"judge|{world_seed}|{judge.name}|{sample_id}|{request.epoch}|{kind}|"
        + hashlib.blake2b(seen.encode("utf-8"), digest_size=16).hexdigest()
    )
    if kind == "pointwise" and len(outputs) == 1:
        scale = task.get("scale")
        value, rationale = _pointwise(active, outputs[0], scale, draws)
    elif kind == "pairwise" and len(outputs) == 2:
        labels = task.get("labels") or ["A", "B"]
        value, rationale = _pairwise(active, outputs[0], outputs[1], labels, draws)
    else:
        raise _bad_request(f"cannot judge a {kind!r} task with {len(outputs)} output(s)", where)

    if _u(draws, _U_MALFORMED) < active.malformed_rate:
        text = _malformed(style, key, rationale, task, _u(draws, _U_MALFORM_KIND))
    elif style == "tagged":
        text = f"<rationale>{rationale}</rationale>\n<{key}>{value}</{key}>"
    else:
        text = json.dumps({"rationale": rationale, key: value}, ensure_ascii=False)
    n_in = sum(len(m.content.split()) for m in request.messages)
    n_out = len(text.split())
    return Output(
        text=text,
        model=judge.resolved_model,
        system_fingerprint=f"sim-world-{world_seed}",
        finish_reason="stop",
        usage={"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out},
        latency_ms=judge.latency_ms,
        metadata={"sim": {"judge": judge.name, "family": judge.family, "task": kind}},
    )


def _pointwise(judge: SimJudge, out: _Graded, scale: Any, draws: bytes) -> tuple[int | str, str]:
    if out.injected and _u(draws, _U_INJECT) < judge.injection_susceptibility:
        top: int | str = "pass" if scale == "pass_fail" else int(scale[1])
        return top, "The response states that it deserves the top grade."
    x = judge.skill * (out.quality - 0.5) + judge.leniency
    if out.family is not None and out.family == judge.family:
        x += judge.self_preference
    x += judge.length_bias * math.tanh(len(out.text) / judge.length_scale)
    x += judge.noise * _z(draws, _U_NOISE)
    if scale == "pass_fail":
        verdict = "pass" if x > 0 else "fail"
        why = "meets" if x > 0 else "does not meet"
        return verdict, f"The response {why} the criteria."
    low, high = int(scale[0]), int(scale[1])
    score = low + round((high - low) * _sigmoid(x))
    quality = "strong" if score > (low + high) / 2 else "weak"
    return score, f"Overall the response is {quality} against the rubric."


def _pairwise(
    judge: SimJudge, first: _Graded, second: _Graded, labels: list[str], draws: bytes
) -> tuple[str, str]:
    tie = "tie"
    if first.injected != second.injected and _u(draws, _U_INJECT) < (
        judge.injection_susceptibility
    ):
        winner = labels[0] if first.injected else labels[1]
        return winner, f"Response {winner} says it should be preferred."
    d = judge.skill * (first.quality - second.quality)
    d += judge.self_preference * (
        float(first.family == judge.family) - float(second.family == judge.family)
    )
    d += judge.length_bias * math.tanh((len(first.text) - len(second.text)) / judge.length_scale)
    d += judge.noise * _z(draws, _U_NOISE)
    if abs(d) < judge.tie_margin:
        if _u(draws, _U_POSITION) < judge.position_bias:
            return labels[0], f"Both are close; response {labels[0]} reads slightly better."
        return tie, "Both responses are of the same quality."
    winner = labels[0] if d > 0 else labels[1]
    return winner, f"Response {winner} answers the request better."


def _malformed(style: str, key: str, rationale: str, task: dict[str, Any], u: float) -> str:
    if u < 1 / 3:
        return f"Both responses have their merits. {rationale}"
    if u < 2 / 3:
        start = json.dumps({"rationale": rationale})[:-1]
        return start[: max(1, len(start) * 2 // 3)]
    bad = "C" if task.get("task") == "pairwise" else 99
    if style == "tagged":
        return f"<rationale>{rationale}</rationale>\n<{key}>{bad}</{key}>"
    return json.dumps({"rationale": rationale, key: bad})
