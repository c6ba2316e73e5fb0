"""Pairwise judges: which of two outputs for the same sample is better, ties allowed.

Each pair is judged in both presentation orders by default (the A/B order of the two systems,
then the reverse), and both verdicts are kept. The combined verdict is the common winner when
the two orders agree and a tie when they disagree, so a judge that merely prefers whatever is
shown first cannot manufacture a winner (Zheng et al. 2023, "Judging LLM-as-a-Judge", §3.4,
swap positions and call inconsistent verdicts a tie).

Pairwise judging runs as its own run: the judge is the subject, and its dataset is the pairs
of outputs to grade (see :mod:`assay.run.pairwise`). The judge subject's output is the
combined verdict (``a``, ``b`` or ``tie``); ``metadata["pairwise"]`` keeps every verdict. Two
scorers read it: ``preference`` (1 when b wins, 0 when a wins, ½ for a tie: its mean is b's
win rate with ties counted half) and ``position_consistent`` (1 when the two orders agree).
"""

from __future__ import annotations

import asyncio
from typing import Any

from assay.core import JudgeManifest, Output, Sample, Score, SubjectManifest, Usage
from assay.score.base import ScorerContext
from assay.score.judges.base import JudgeCore, JudgeOutcome, aggregate_values
from assay.score.judges.endpoint import JudgeEndpoint, ModelCaller
from assay.score.judges.prompts import (
    PAIRWISE_SYSTEM,
    PAIRWISE_USER,
    REFERENCE_BLOCK,
    JudgePrompt,
    fill,
    format_instructions,
)
from assay.score.judges.verdict import winner_normaliser

_PLACEHOLDERS = {"input", "response_a", "response_b", "reference", "reference_block", "rubric",
                 "rubric_block"}  # fmt: skip
_PREFERENCE = {"a": 0.0, "b": 1.0, "tie": 0.5}


class PairwiseJudge:
    """Judges pairs of outputs with one judge or a panel (see the module docstring)."""

    kind = "pairwise"

    def __init__(
        self,
        *,
        judge: str | list[str],
        both_orders: bool = True,
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
        self.both_orders = both_orders
        self.reference = reference
        self.rubric_block = f"## What matters here\n{rubric}\n\n" if rubric else ""
        self.prompt = JudgePrompt(
            system=(system or PAIRWISE_SYSTEM) + "\n\n" + format_instructions(style, "winner"),
            user=prompt or PAIRWISE_USER,
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
        self.config: dict[str, Any] = {
            "judge": judge,
            "both_orders": both_orders,
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

    def bind(self, caller: ModelCaller) -> None:
        self.core.bind(caller)

    @staticmethod
    def _read_label(token: str) -> str | None:
        try:
            return winner_normaliser(token)[0]
        except ValueError:
            return None

    async def _order(
        self,
        endpoint: JudgeEndpoint,
        sample: Sample,
        first: tuple[str, dict[str, Any]],
        second: tuple[str, dict[str, Any]],
        reference: str,
    ) -> JudgeOutcome:
        values = {
            "input": sample.input_text,
            "response_a": str(first[1].get("text", "")),
            "response_b": str(second[1].get("text", "")),
            "reference": reference,
            "reference_block": fill(REFERENCE_BLOCK, {"reference": reference})
            if self.reference
            else "",
            "rubric": self.rubric_block,
            "rubric_block": self.rubric_block,
        }
        task = {
            "task": "pairwise",
            "style": self.core.style,
            "verdict_key": "winner",
            "labels": ["A", "B"],
            "outputs": [
                {"text": first[1].get("text", ""), "sim": first[1].get("sim")},
                {"text": second[1].get("text", ""), "sim": second[1].get("sim")},
            ],
        }
        outcome = await self.core.ask(
            endpoint,
            self.prompt.render(values),
            task,
            sample.id,
            "winner",
            winner_normaliser,
            self._read_label,
        )
        shown = {"A": first[0], "B": second[0], "tie": "tie"}
        outcome["order"] = first[0] + second[0]
        if "label" in outcome:
            outcome["winner"] = shown[outcome["label"]]
        distribution = outcome.pop("distribution", None)
        if distribution:
            # Probabilities of the underlying sides (a, b, tie), whatever the order shown.
            outcome["distribution"] = {shown[k]: p for k, p in distribution.items()}
        return outcome

    async def compare(self, sample: Sample, pair: dict[str, Any]) -> dict[str, Any]:
        """Every verdict on one pair and their combination (see the module docstring)."""
        a, b = pair.get("a") or {}, pair.get("b") or {}
        reference = sample.targets[0] if sample.targets else ""
        if self.reference and not sample.targets:
            return {"error": "a reference-guided judge needs the sample's target", "judges": []}
        orders = [(("a", a), ("b", b))]
        if self.both_orders:
            orders.append((("b", b), ("a", a)))
        per_judge = []
        for endpoint in self.core.endpoints:
            verdicts = await asyncio.gather(
                *(self._order(endpoint, sample, f, s, reference) for f, s in orders)
            )
            per_judge.append(_combine(endpoint.ref, list(verdicts)))
        return _aggregate(per_judge, self.core.aggregate)

    def manifests(self, owner: str) -> list[JudgeManifest]:
        return self.core.manifests(owner, "pairwise", self.prompt)


def _combine(ref: str, verdicts: list[JudgeOutcome]) -> dict[str, Any]:
    """One judge's verdicts on a pair: the winner when they agree, else a tie."""
    failed = [v for v in verdicts if "error" in v]
    result: dict[str, Any] = {"judge": ref, "verdicts": verdicts}
    if failed:
        result["error"] = failed[0]["error"]
        result["detail"] = "; ".join(f"order {v['order']}: {v.get('detail', '')}" for v in failed)
        return result
    winners = {v["winner"] for v in verdicts}
    result["winner"] = winners.pop() if len(winners) == 1 else "tie"
    result["consistent"] = len({v["winner"] for v in verdicts}) == 1 if len(verdicts) > 1 else None
    distributions = [v["distribution"] for v in verdicts if "distribution" in v]
    if len(distributions) == len(verdicts):
        result["expected"] = sum(
            d.get("b", 0.0) + 0.5 * d.get("tie", 0.0) for d in distributions
        ) / len(distributions)
    result["preference"] = result.get("expected", _PREFERENCE[result["winner"]])
    return result


def _aggregate(per_judge: list[dict[str, Any]], how: str) -> dict[str, Any]:
    graded = [j for j in per_judge if "error" not in j]
    result: dict[str, Any] = {"judges": per_judge, "aggregate": how}
    if not graded:
        result["error"] = per_judge[0].get("error", "judge_error") if per_judge else "no judge"
        result["detail"] = "; ".join(f"{j['judge']}: {j.get('detail', '')}" for j in per_judge)
        return result
    if len(graded) == 1:
        result["winner"] = graded[0]["winner"]
        result["preference"] = graded[0]["preference"]
    else:
        result["preference"] = aggregate_values([j["preference"] for j in graded], how)
        p = result["preference"]
        result["winner"] = "b" if p > 0.5 else "a" if p < 0.5 else "tie"
    consistency = [j["consistent"] for j in graded if j.get("consistent") is not None]
    if consistency:
        result["consistency"] = sum(consistency) / len(consistency)
    if len(graded) < len(per_judge):
        result["n_failed"] = len(per_judge) - len(graded)
    return result


class PairwiseJudgeSubject:
    """The subject of a pairwise judge run: answers each pair with the judge's verdicts.

    Its samples carry the pair in ``metadata["pair"]`` (``{"a": {...}, "b": {...}}``, each
    with the output's ``text``, its ``run``, ``subject``, ``model`` and sim truth). It makes
    its model calls through the runner itself (``calls_models``), so they are cached, paced
    and retried per call rather than as a whole.
    """

    kind = "pairwise_judge"
    calls_models = True

    def __init__(
        self,
        name: str,
        judge: PairwiseJudge,
        *,
        sides: dict[str, str] | None = None,
        graded: list[tuple[str, str, frozenset[str]]] | None = None,
    ) -> None:
        self.name = name
        self.judge = judge
        self.sides = dict(sides or {})
        #: (label, model, families) of the systems whose outputs are graded (lineage check).
        self.graded = list(graded or [])

    def bind(self, caller: ModelCaller) -> None:
        self.judge.bind(caller)

    def judge_endpoints(self) -> list[tuple[str, JudgeEndpoint]]:
        return [(self.name, e) for e in self.judge.core.endpoints]

    def judge_manifests(self) -> list[JudgeManifest]:
        return self.judge.manifests(self.name)

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        pair = sample.metadata.get("pair")
        if not isinstance(pair, dict):
            from assay.core import SubjectError

            raise SubjectError(f"sample {sample.id!r} carries no pair of outputs to judge")
        result = await self.judge.compare(sample, pair)
        resolved = [
            v.get("resolved_model")
            for j in result.get("judges", [])
            for v in j.get("verdicts", [])
            if v.get("resolved_model")
        ]
        text = result.get("winner") or "error"
        return Output(
            text=text,
            model=resolved[-1] if resolved else None,
            usage=Usage(),
            metadata={"pairwise": result},
        )

    def manifest(self) -> SubjectManifest:
        endpoints = self.judge.core.endpoints
        first = endpoints[0]
        return SubjectManifest(
            name=self.name,
            kind=self.kind,
            provider=getattr(first.provider, "name", None),
            requested_model=first.model if len(endpoints) == 1 else None,
            prompt_template=self.judge.prompt.text,
            prompt_hash=self.judge.prompt.hash,
            params=dict(self.judge.core.params),
            config={**self.judge.config, "sides": self.sides},
        )

    async def aclose(self) -> None:
        await self.judge.core.aclose()


def _pairwise_result(output: Output) -> dict[str, Any] | None:
    result = output.metadata.get("pairwise")
    return result if isinstance(result, dict) else None


class PairwisePreference:
    """Reads a pairwise judge run's output: 1 when b wins, 0 when a wins, ½ for a tie (the
    expected preference from logprobs when the judge returned them)."""

    name = "preference"
    kind = "pairwise_preference"
    version = "1"

    def __init__(self, *, name: str | None = None) -> None:
        if name:
            self.name = name
        self.config: dict[str, Any] = {}

    async def score(self, sample: Sample, output: Output) -> Score:
        result = _pairwise_result(output)
        if result is None:
            return Score(
                scorer=self.name, value=None, error="the output carries no pairwise verdict"
            )
        if "error" in result:
            raw = [
                {"order": v.get("order"), "raw": v.get("raw")}
                for j in result.get("judges", [])
                for v in j.get("verdicts", [])
                if "error" in v
            ]
            return Score(
                scorer=self.name,
                value=None,
                error=f"judge_error: {result['error']}: {result.get('detail', '')}",
                metadata={"raw": raw},
            )
        rationales = [
            f"{v['order']}: {v.get('rationale') or ''}"
            for j in result.get("judges", [])
            for v in j.get("verdicts", [])
            if "error" not in v
        ]
        return Score(
            scorer=self.name,
            value=float(result["preference"]),
            answer=result["winner"],
            explanation=" | ".join(rationales),
        )


class PositionConsistency:
    """1 when a pair's verdicts agree across the two presentation orders, 0 when they do not
    (the panel's share of consistent judges for a panel); ungraded with one order or an error."""

    name = "position_consistent"
    kind = "position_consistency"
    version = "1"

    def __init__(self, *, name: str | None = None) -> None:
        if name:
            self.name = name
        self.config: dict[str, Any] = {}

    async def score(self, sample: Sample, output: Output) -> Score:
        result = _pairwise_result(output)
        if result is None or "error" in result:
            return Score(scorer=self.name, value=None, error="no pairwise verdict to check")
        if "consistency" not in result:
            return Score(scorer=self.name, value=None, error="judged in one order only")
        return Score(scorer=self.name, value=float(result["consistency"]))


def pairwise_preference(**options: Any) -> PairwisePreference:
    """The preference score of a pairwise judge run."""
    return PairwisePreference(**options)


def pairwise_consistency(**options: Any) -> PositionConsistency:
    """The position-consistency score of a pairwise judge run."""
    return PositionConsistency(**options)
