"""Pointwise judges: grade one output against a rubric, on a 1..N scale or pass/fail,
optionally guided by the sample's target as a reference answer. A list of judges is a panel:
every judge's grade is kept in the score's metadata and the value is their mean or majority.

Spec::

    scorers:
      - rubric: sim/judge-fair                        # the defaults: 1-5 overall quality
      - rubric:
          name: helpful
          judge: [openai/gpt-4o-mini, vllm/qwen2.5-7b] # a panel
          aggregate: majority
          scale: pass_fail                             # or 5, or [0, 10]
          rubric: "Pass if the reply cites the policy section it relies on."
          reference: true                              # the target as a reference answer
          logprobs: true                               # expected score from token probabilities
"""

from __future__ import annotations

import asyncio
from typing import Any

from assay.core import JudgeManifest, Output, Sample, Score
from assay.score.base import ScorerContext
from assay.score.judges.base import JudgeCore, JudgeOutcome, aggregate_values, error_text
from assay.score.judges.endpoint import JudgeEndpoint, ModelCaller
from assay.score.judges.prompts import (
    DEFAULT_PASS_FAIL_RUBRIC,
    DEFAULT_SCALE_RUBRIC,
    POINTWISE_SYSTEM,
    POINTWISE_USER,
    REFERENCE_BLOCK,
    JudgePrompt,
    fill,
    format_instructions,
)
from assay.score.judges.verdict import pass_fail_normaliser, scale_normaliser

_PLACEHOLDERS = {
    "input",
    "response",
    "reference",
    "reference_block",
    "rubric",
    "scale_min",
    "scale_max",
}


def _scale(scale: Any) -> tuple[int, int] | None:
    """``None`` for pass/fail, else (low, high)."""
    if scale == "pass_fail":
        return None
    if isinstance(scale, int) and not isinstance(scale, bool) and scale >= 2:
        return 1, scale
    if (
        isinstance(scale, (list, tuple))
        and len(scale) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in scale)
        and scale[0] < scale[1]
    ):
        return int(scale[0]), int(scale[1])
    raise ValueError(
        f"scale must be pass_fail, a number N >= 2 (1..N) or [low, high], not {scale!r}"
    )


class PointwiseJudge:
    """An LLM judge grading one output (see the module docstring)."""

    name = "rubric"
    kind = "rubric"
    version = "1"
    #: ``{rubric: sim/judge-fair}`` in a spec is ``{rubric: {judge: sim/judge-fair}}``.
    shorthand = "judge"

    def __init__(
        self,
        *,
        judge: str | list[str],
        name: str | None = None,
        scale: Any = 5,
        rubric: str | None = None,
        reference: bool = False,
        prompt: str | None = None,
        system: str | None = None,
        style: str = "json",
        params: dict[str, Any] | None = None,
        logprobs: bool = False,
        top_logprobs: int = 5,
        aggregate: str = "mean",
        context: ScorerContext | None = None,
    ) -> None:
        self.range = _scale(scale)
        self.key = "verdict" if self.range is None else "score"
        if name:
            self.name = name
        self.reference = reference
        low, high = self.range or (0, 1)
        self.scale_values = {"scale_min": str(low), "scale_max": str(high)}
        rubric_text = rubric or (
            DEFAULT_PASS_FAIL_RUBRIC if self.range is None else DEFAULT_SCALE_RUBRIC
        )
        self.rubric = fill(rubric_text, self.scale_values)
        instructions = fill(format_instructions(style, self.key), self.scale_values)
        self.prompt = JudgePrompt(
            system=(system or POINTWISE_SYSTEM) + "\n\n" + instructions,
            user=prompt or POINTWISE_USER,
        )
        self.prompt.check(_PLACEHOLDERS)
        self.core = JudgeCore(
            judge,
            params=params,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            style=style,
            aggregate=aggregate,
            context=context,
        )
        self.normalise = pass_fail_normaliser if self.range is None else scale_normaliser(low, high)
        self.config: dict[str, Any] = {
            "judge": judge,
            "scale": scale,
            "rubric": rubric,
            "reference": reference,
            "prompt": prompt,
            "system": system,
            "style": style,
            "params": params or {},
            "logprobs": logprobs,
            "top_logprobs": top_logprobs,
            "aggregate": aggregate,
        }

    # -- runner hooks --------------------------------------------------------------------------

    def bind(self, caller: ModelCaller) -> None:
        """Route judge calls through ``caller`` (the runner binds itself before a run)."""
        self.core.bind(caller)

    def judge_endpoints(self) -> list[tuple[str, JudgeEndpoint]]:
        """(owner name, endpoint) of every judge, for the lineage check."""
        return [(self.name, e) for e in self.core.endpoints]

    def judge_manifests(self) -> list[JudgeManifest]:
        return self.core.manifests(self.name, "pointwise", self.prompt)

    async def aclose(self) -> None:
        await self.core.aclose()

    # -- grading -------------------------------------------------------------------------------

    def _read_label(self, token: str) -> str | None:
        try:
            label, _ = self.normalise(token)
        except ValueError:
            return None
        return label

    def _expected(self, outcome: JudgeOutcome) -> float | None:
        distribution = outcome.get("distribution")
        if not distribution:
            return None
        if self.range is None:
            return float(distribution.get("pass", 0.0))
        return float(sum(float(label) * p for label, p in distribution.items()))

    async def score(self, sample: Sample, output: Output) -> Score:
        targets = sample.targets
        if self.reference and not targets:
            return Score(
                scorer=self.name,
                value=None,
                error="a reference-guided judge needs the sample's target as its reference",
            )
        reference = targets[0] if targets else ""
        values = {
            "input": sample.input_text,
            "response": output.text,
            "reference": reference,
            "reference_block": fill(REFERENCE_BLOCK, {"reference": reference})
            if self.reference
            else "",
            "rubric": self.rubric,
            **self.scale_values,
        }
        messages = self.prompt.render(values)
        task = {
            "task": "pointwise",
            "style": self.core.style,
            "verdict_key": self.key,
            "scale": "pass_fail" if self.range is None else list(self.range),
            "outputs": [{"text": output.text, "sim": output.metadata.get("sim")}],
        }
        outcomes = await asyncio.gather(
            *(
                self.core.ask(
                    e, messages, task, sample.id, self.key, self.normalise, self._read_label
                )
                for e in self.core.endpoints
            )
        )
        for outcome in outcomes:
            expected = self._expected(outcome)
            if expected is not None:
                outcome["expected"] = expected
        if len(outcomes) == 1:
            return self._single(outcomes[0])
        return self._panel(list(outcomes))

    def _single(self, outcome: JudgeOutcome) -> Score:
        if "error" in outcome:
            return Score(scorer=self.name, value=None, error=error_text(outcome), metadata=outcome)
        value = outcome.get("expected", outcome["value"])
        return Score(
            scorer=self.name,
            value=value,
            answer=outcome["label"],
            explanation=outcome.get("rationale"),
            metadata=outcome,
        )

    def _panel(self, outcomes: list[JudgeOutcome]) -> Score:
        graded = [o for o in outcomes if "error" not in o]
        metadata: dict[str, Any] = {"panel": outcomes, "aggregate": self.core.aggregate}
        if not graded:
            return Score(
                scorer=self.name,
                value=None,
                error="judge_error: every judge of the panel failed: "
                + "; ".join(error_text(o) for o in outcomes),
                metadata=metadata,
            )
        values = [float(o["expected"] if "expected" in o else o["value"]) for o in graded]
        value = aggregate_values(values, self.core.aggregate)
        explanation = " | ".join(f"{o['judge']}: {o.get('rationale') or ''}" for o in graded)
        if len(graded) < len(outcomes):
            metadata["n_failed"] = len(outcomes) - len(graded)
        return Score(
            scorer=self.name,
            value=value,
            answer=", ".join(o["label"] for o in graded),
            explanation=explanation,
            metadata=metadata,
        )


def rubric(context: ScorerContext | None = None, **options: Any) -> PointwiseJudge:
    """A pointwise LLM judge (see :class:`PointwiseJudge`)."""
    return PointwiseJudge(context=context, **options)


rubric.shorthand = "judge"  # type: ignore[attr-defined]
