"""Trajectory scorers: an agent's tool-call sequence against a reference path.

A trajectory is a list of calls ``{"tool": name, "arguments": {...}}``. The agent's comes from
the output: ``metadata["trajectory"]`` (or ``metadata["tool_calls"]``), else the tool calls of
an OpenAI-style response body in ``raw`` (``choices[0].message.tool_calls``), else the output
text when it is a JSON list of calls. The reference comes from the sample: ``metadata[reference]``
(default ``trajectory``), else the target (a JSON list of calls, or tool names separated by
commas or ``->``).

Matching modes (the names Vertex AI's trajectory metrics use, plus ``subset``):

* ``exact``: the same calls in the same order, nothing more;
* ``in_order``: every reference call appears in the agent's trajectory in the reference's
  order (other calls may come in between);
* ``any_order``: every reference call appears, in any order (a multiset: a reference call
  listed twice must be made twice);
* ``subset``: every call the agent made is in the reference (it did nothing unexpected).

Two calls match when their tools are the same and, by ``arguments``: ``ignore`` (default), or
``exact`` (equal arguments), or ``subset`` (every argument the reference gives has that value
in the agent's call; extra arguments are allowed). The score is 1 or 0; its metadata also
carries precision (agent calls that match a reference call) and recall (reference calls
matched), each counted as a multiset.

``trajectory_judge`` is a pointwise LLM judge (the ``rubric`` scorer's machinery: cache,
retries, panels, pass/fail or scales) shown the user's input and the numbered path of calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from assay.core import Output, Sample, Score

Mode = Literal["exact", "in_order", "any_order", "subset"]
ArgumentMatch = Literal["ignore", "exact", "subset"]
MODES: tuple[str, ...] = ("exact", "in_order", "any_order", "subset")
ARGUMENT_MATCHES: tuple[str, ...] = ("ignore", "exact", "subset")

Call = dict[str, Any]


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def normalise_call(raw: Any) -> Call | None:
    """One call as ``{"tool", "arguments"}`` from the shapes agents and traces use."""
    if isinstance(raw, str):
        return {"tool": raw.strip(), "arguments": None} if raw.strip() else None
    if not isinstance(raw, dict):
        return None
    fn: dict[str, Any] = raw["function"] if isinstance(raw.get("function"), dict) else raw
    name = fn.get("tool") or fn.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = _loads(fn.get("arguments", fn.get("args", fn.get("input"))))
    return {"tool": name, "arguments": arguments}


def as_trajectory(value: Any) -> list[Call] | None:
    """A list of calls from a list (of dicts or tool names) or JSON text; ``None`` otherwise."""
    value = _loads(value)
    if isinstance(value, str):
        parts = [p.strip() for p in re.split(r"->|→|,|\n", value) if p.strip()]
        if parts and all(re.fullmatch(r"[A-Za-z_][\w.\-]*", p) for p in parts):
            return [{"tool": p, "arguments": None} for p in parts]
        return None
    if not isinstance(value, list):
        return None
    calls = [normalise_call(c) for c in value]
    if any(c is None for c in calls):
        return None
    return [c for c in calls if c is not None]


def output_trajectory(output: Output) -> list[Call] | None:
    """The agent's trajectory from an output (see the module docstring)."""
    for key in ("trajectory", "tool_calls"):
        if key in output.metadata:
            found = as_trajectory(output.metadata[key])
            if found is not None:
                return found
    raw = output.raw or {}
    choices = raw.get("choices") if isinstance(raw, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or {}
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if isinstance(calls, list):
            return as_trajectory(calls)
    parsed = _loads(output.text)
    return as_trajectory(parsed) if isinstance(parsed, list) else None


def reference_trajectory(sample: Sample, key: str = "trajectory") -> list[Call] | None:
    """The reference path from ``sample.metadata[key]``, else from the target."""
    if key in sample.metadata:
        return as_trajectory(sample.metadata[key])
    for target in sample.targets:
        found = as_trajectory(target)
        if found is not None:
            return found
    return None


def _subset(reference: Any, actual: Any) -> bool:
    if isinstance(reference, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in reference.items()
        )
    return bool(reference == actual)


def calls_match(actual: Call, reference: Call, arguments: ArgumentMatch = "ignore") -> bool:
    """Whether ``actual`` satisfies ``reference`` (same tool; arguments by ``arguments``)."""
    if actual["tool"] != reference["tool"]:
        return False
    if arguments == "ignore" or reference.get("arguments") is None:
        return True
    if arguments == "exact":
        return bool(_loads(actual.get("arguments")) == _loads(reference.get("arguments")))
    return _subset(_loads(reference.get("arguments")), _loads(actual.get("arguments")))


def _greedy_matches(
    actual: Sequence[Call], reference: Sequence[Call], arguments: ArgumentMatch
) -> int:
    """Size of a maximum one-to-one matching of actual to reference calls (bipartite, by
    augmenting paths: a call may match several references when arguments are partial)."""
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j, ref in enumerate(reference):
            if j in seen or not calls_match(actual[i], ref, arguments):
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(assign(i, set()) for i in range(len(actual)))


def _in_order(actual: Sequence[Call], reference: Sequence[Call], arguments: ArgumentMatch) -> bool:
    position = 0
    for ref in reference:
        while position < len(actual) and not calls_match(actual[position], ref, arguments):
            position += 1
        if position == len(actual):
            return False
        position += 1
    return True


def match_trajectory(
    actual: Sequence[Call],
    reference: Sequence[Call],
    mode: Mode = "in_order",
    arguments: ArgumentMatch = "ignore",
) -> dict[str, Any]:
    """``{"match", "precision", "recall", "matched"}`` for one trajectory (rules above)."""
    matched = _greedy_matches(actual, reference, arguments)
    if mode == "exact":
        ok = len(actual) == len(reference) and all(
            calls_match(a, r, arguments) for a, r in zip(actual, reference, strict=True)
        )
    elif mode == "in_order":
        ok = _in_order(actual, reference, arguments)
    elif mode == "any_order":
        ok = matched == len(reference)
    elif mode == "subset":
        ok = matched == len(actual)
    else:
        raise ValueError(f"unknown mode {mode!r} (use one of {', '.join(MODES)})")
    return {
        "match": ok,
        "matched": matched,
        "precision": matched / len(actual) if actual else (1.0 if not reference else 0.0),
        "recall": matched / len(reference) if reference else 1.0,
    }


def render_trajectory(calls: Sequence[Call]) -> str:
    """Numbered, one call a line: ``1. create_order({"sku": "A-1"})``."""
    if not calls:
        return "(no tool calls)"
    lines = []
    for k, call in enumerate(calls, 1):
        args = call.get("arguments")
        text = json.dumps(args, ensure_ascii=False, sort_keys=True) if args is not None else ""
        lines.append(f"{k}. {call['tool']}({text})")
    return "\n".join(lines)


class TrajectoryScorer:
    """The ``trajectory`` scorer (see the module docstring)."""

    kind = "trajectory"
    version = "1"

    def __init__(
        self,
        mode: Mode = "in_order",
        arguments: ArgumentMatch = "ignore",
        reference: str = "trajectory",
        name: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if arguments not in ARGUMENT_MATCHES:
            raise ValueError(
                f"arguments must be one of {', '.join(ARGUMENT_MATCHES)}, not {arguments!r}"
            )
        self.mode = mode
        self.arguments = arguments
        self.reference = reference
        self.name = name or f"trajectory_{mode}"
        self.config = {"mode": mode, "arguments": arguments, "reference": reference}

    async def score(self, sample: Sample, output: Output) -> Score:
        return self.score_calls(sample, output_trajectory(output))

    def score_calls(self, sample: Sample, actual: list[Call] | None) -> Score:
        """Grade an already extracted trajectory (imported traces use this)."""
        reference = reference_trajectory(sample, self.reference)
        if reference is None:
            return Score(
                scorer=self.name,
                value=None,
                error=f"no reference trajectory (metadata {self.reference!r} or the target)",
            )
        if actual is None:
            return Score(
                scorer=self.name,
                value=None,
                error="the output carries no trajectory (metadata 'trajectory', tool calls in "
                "the response, or a JSON list of calls)",
            )
        result = match_trajectory(actual, reference, self.mode, self.arguments)
        return Score(
            scorer=self.name,
            value=1.0 if result["match"] else 0.0,
            answer=" -> ".join(c["tool"] for c in actual),
            explanation=f"{self.mode}: {result['matched']} of {len(reference)} reference calls "
            f"matched; precision {result['precision']:.2f}, recall {result['recall']:.2f}",
            metadata={**result, "mode": self.mode, "arguments": self.arguments},
        )


def trajectory(
    mode: Mode = "in_order",
    arguments: ArgumentMatch = "ignore",
    reference: str = "trajectory",
    name: str | None = None,
) -> TrajectoryScorer:
    """Score an agent's tool-call path against a reference (see the module docstring)."""
    return TrajectoryScorer(mode, arguments, reference, name)


trajectory.shorthand = "mode"  # type: ignore[attr-defined]

TRAJECTORY_RUBRIC = (
    "Grade the agent's path of tool calls toward the user's goal: the right tools, in a "
    "sensible order, with correct arguments, and no redundant, looping or risky calls (a side "
    "effect such as creating an order must happen once). A reference path, when given, is one "
    "acceptable way, not the only one."
)


def trajectory_judge(context: Any = None, **options: Any) -> Any:
    """A pointwise LLM judge of the agent's path (see the module docstring); options are the
    ``rubric`` scorer's, plus ``reference_key`` (where a sample keeps its reference path)."""
    from assay.score.judges.pointwise import PointwiseJudge

    class TrajectoryJudge(PointwiseJudge):
        name = "trajectory_judge"
        kind = "trajectory_judge"

        def __init__(self, reference_key: str = "trajectory", **kw: Any) -> None:
            kw.setdefault("rubric", TRAJECTORY_RUBRIC)
            super().__init__(**kw)
            self.reference_key = reference_key
            self.config["reference_key"] = reference_key

        async def score(self, sample: Sample, output: Output) -> Score:
            calls = output_trajectory(output)
            if calls is None:
                return Score(scorer=self.name, value=None, error="the output carries no trajectory")
            shown = output.model_copy(
                update={"text": f"{render_trajectory(calls)}\n\nFinal answer: {output.text}"}
            )
            if self.reference:
                ref = reference_trajectory(sample, self.reference_key)
                if ref is not None:
                    sample = sample.model_copy(update={"target": render_trajectory(ref)})
            return await super().score(sample, shown)

    return TrajectoryJudge(context=context, **options)


trajectory_judge.shorthand = "judge"  # type: ignore[attr-defined]
