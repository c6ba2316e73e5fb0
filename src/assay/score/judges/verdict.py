"""Reading a judge's verdict: JSON or tags, strictly.

A verdict that cannot be read is a :class:`VerdictError` carrying the reason; the judge scorer
records it as a judge error with the raw text, never as a score. Rules:

- JSON: the last JSON object in the reply (fenced or bare, prose around it allowed) that has
  the verdict key; ``rationale`` is read from the same object.
- Tags: the last ``<key>…</key>``; ``<rationale>…</rationale>`` for the rationale.
- When both forms are present and disagree, the verdict is ambiguous (an error).
- The value must be one the task allows: a number within the scale, ``pass``/``fail``, or
  ``A``/``B``/``tie`` (written as ``Response A``, ``[[B]]``, ``Tie`` … as judges do).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()


class VerdictError(ValueError):
    """A judge reply with no readable verdict (the message says why)."""


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict: the normalised ``label`` (``"4"``, ``"pass"``, ``"A"``, ``"tie"``), its
    numeric ``value`` (the score; 1/0 for pass/fail; ``None`` for pairwise labels), the
    rationale, and the character span of the value in the reply (for logprobs)."""

    label: str
    value: float | None
    rationale: str | None
    span: tuple[int, int]
    style: str


Normaliser = Callable[[Any], tuple[str, float | None]]


def _json_objects(text: str) -> list[tuple[dict[str, Any], int, int]]:
    found = []
    at = text.find("{")
    while at >= 0:
        try:
            value, end = _DECODER.raw_decode(text, at)
        except (json.JSONDecodeError, RecursionError):
            at = text.find("{", at + 1)
            continue
        if isinstance(value, dict):
            found.append((value, at, end))
        at = text.find("{", end)
    return found


def _tag(text: str, key: str) -> tuple[str, int, int] | None:
    last = None
    for match in re.finditer(rf"<{key}>\s*(.*?)\s*</{key}>", text, re.DOTALL | re.IGNORECASE):
        last = (match.group(1), match.start(1), match.end(1))
    return last


def parse_verdict(text: str, key: str, normalise: Normaliser) -> Verdict:
    """The verdict under ``key`` in a judge's reply (see the module docstring)."""
    if not text.strip():
        raise VerdictError("the judge replied with nothing")
    candidates: list[Verdict] = []
    objects = [(obj, s, e) for obj, s, e in _json_objects(text) if key in obj]
    if objects:
        obj, start, end = objects[-1]
        label, value = normalise(obj[key])
        span = (start, end)
        literal = re.search(rf'"{re.escape(key)}"\s*:\s*"?', text[start:end])
        if literal is not None:
            span = (start + literal.end(), end)
        rationale = obj.get("rationale")
        candidates.append(
            Verdict(
                label,
                value,
                None if rationale is None else str(rationale),
                span,
                "json",
            )
        )
    tagged = _tag(text, key)
    if tagged is not None:
        raw, start, end = tagged
        label, value = normalise(raw)
        rationale_tag = _tag(text, "rationale")
        candidates.append(
            Verdict(
                label,
                value,
                None if rationale_tag is None else rationale_tag[0],
                (start, end),
                "tagged",
            )
        )
    if not candidates:
        raise VerdictError(f"no {key!r} found (neither a JSON object with it nor <{key}> tags)")
    if len({c.label for c in candidates}) > 1:
        raise VerdictError(
            "ambiguous verdict: " + " vs ".join(f"{c.style} says {c.label!r}" for c in candidates)
        )
    return candidates[0]


def scale_normaliser(low: int, high: int) -> Normaliser:
    """Numbers within [low, high]; ``"4"``, ``4``, ``4.0`` and ``"4/5"`` read as 4."""

    def normalise(raw: Any) -> tuple[str, float | None]:
        if isinstance(raw, bool):
            raise VerdictError(f"score {raw!r} is not a number")
        if isinstance(raw, (int, float)):
            number = float(raw)
        else:
            text = str(raw).strip().strip("\"'*[]")
            match = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+)?", text)
            if match is None:
                raise VerdictError(f"score {str(raw)[:40]!r} is not a number")
            number = float(match.group(1))
        if not math.isfinite(number) or not low <= number <= high:
            raise VerdictError(f"score {number:g} is outside the scale {low}-{high}")
        return f"{number:g}", number

    return normalise


_PASS = {"pass", "passed", "yes", "true", "1"}
_FAIL = {"fail", "failed", "no", "false", "0"}


def pass_fail_normaliser(raw: Any) -> tuple[str, float | None]:
    """``pass`` → 1, ``fail`` → 0 (also passed/failed, yes/no, true/false)."""
    text = str(raw).strip().strip("\"'*[].").lower()
    if text in _PASS:
        return "pass", 1.0
    if text in _FAIL:
        return "fail", 0.0
    raise VerdictError(f"verdict {str(raw)[:40]!r} is neither pass nor fail")


def winner_normaliser(raw: Any) -> tuple[str, float | None]:
    """``A``, ``B`` or ``tie`` (also ``Response A``, ``[[B]]``, ``draw``, ``equal``)."""
    text = str(raw).strip().strip("\"'*[]().").lower()
    text = re.sub(r"^(?:response|output|answer|assistant)\s+", "", text)
    if text == "a":
        return "A", None
    if text == "b":
        return "B", None
    if text in ("tie", "draw", "equal", "both", "neither", "same"):
        return "tie", None
    raise VerdictError(f"winner {str(raw)[:40]!r} is not A, B or tie")
