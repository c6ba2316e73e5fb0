"""What pointwise and pairwise judges share: endpoints, binding to a runner, one judge call.

One call is: render the prompt, send it through the bound caller, record which snapshot
answered, parse the verdict, and (when the endpoint returned logprobs) compute the label
probabilities. Its outcome is a plain dict kept in the score's metadata:

``judge``, ``resolved_model``, ``label``, ``value``, ``rationale`` on success;
``error`` (``unparseable_verdict`` or ``call_failed``), ``detail`` and ``raw`` (the judge's
reply, for unparseable verdicts) on failure; ``distribution`` and ``label_mass`` with logprobs.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from assay.core import AssayError, JudgeManifest, Message, ModelRequest, ProviderError
from assay.score.base import ScorerContext
from assay.score.judges.endpoint import JudgeEndpoint, ModelCaller, resolve_endpoints
from assay.score.judges.logprobs import label_distribution
from assay.score.judges.prompts import JudgePrompt
from assay.score.judges.verdict import Normaliser, VerdictError, parse_verdict

JudgeOutcome = dict[str, Any]
AGGREGATES = ("mean", "majority")


class NotBoundError(AssayError):
    """Raised when a judge scorer is used outside a run without a caller."""

    code = "judge_not_bound"


class JudgeCore:
    """Endpoints, parameters, prompt and caller of one judge scorer (or panel)."""

    def __init__(
        self,
        judge: str | list[str],
        *,
        params: dict[str, Any] | None,
        logprobs: bool,
        top_logprobs: int,
        style: str,
        aggregate: str,
        context: ScorerContext | None,
    ) -> None:
        if style not in ("json", "tagged"):
            raise ValueError(f"style must be json or tagged, not {style!r}")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be mean or majority, not {aggregate!r}")
        if not 1 <= top_logprobs <= 20:
            raise ValueError("top_logprobs must be between 1 and 20")
        merged: dict[str, Any] = {"temperature": 0, **(params or {})}
        if logprobs:
            merged.update({"logprobs": True, "top_logprobs": top_logprobs})
        self.params = merged
        self.style = style
        self.aggregate = aggregate
        self.endpoints: list[JudgeEndpoint] = resolve_endpoints(judge, merged, context)
        self.refs = [e.ref for e in self.endpoints]
        self.caller: ModelCaller | None = None

    def bind(self, caller: ModelCaller) -> None:
        self.caller = caller

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            close = getattr(endpoint.provider, "aclose", None)
            if close is not None:
                await close()

    def manifests(self, owner: str, kind: str, prompt: JudgePrompt) -> list[JudgeManifest]:
        panel = len(self.endpoints) > 1
        return [
            e.manifest(f"{owner}[{i}]" if panel else owner, kind, prompt.text, prompt.hash)
            for i, e in enumerate(self.endpoints)
        ]

    async def ask(
        self,
        endpoint: JudgeEndpoint,
        messages: tuple[Message, ...],
        task: dict[str, Any],
        sample_id: str,
        key: str,
        normalise: Normaliser,
        read_label: Callable[[str], str | None],
    ) -> JudgeOutcome:
        """One judge call, parsed (see the module docstring). Never raises for a bad reply or a
        failed call: both are outcomes with an ``error``."""
        if self.caller is None:
            raise NotBoundError(
                "this judge scorer is not bound to a runner",
                fix="run it through assay.run (which binds it), or call "
                "scorer.bind(assay.score.judges.DirectCaller()) to call the model directly",
            )
        request = ModelRequest.model_construct(
            model=endpoint.model,
            messages=messages,
            params=endpoint.params,
            epoch=0,
            seed=None,
            context={"sample_id": sample_id, "judge": task},
        )
        outcome: JudgeOutcome = {"judge": endpoint.ref}
        try:
            output, _attempts, cached = await self.caller.call_model(endpoint.provider, request)
        except ProviderError as exc:
            outcome.update(error="call_failed", detail=f"{exc.error_class}: {exc.message}")
            return outcome
        endpoint.observe(output)
        outcome["resolved_model"] = output.model
        if cached:
            outcome["cached"] = True
        elif output.usage.input_tokens is not None or output.usage.output_tokens is not None:
            # Tokens and time of the call, for `assay show RUN --cost` (judges' cost and latency).
            outcome["usage"] = {
                "input_tokens": output.usage.input_tokens,
                "output_tokens": output.usage.output_tokens,
                "latency_ms": output.latency_ms,
            }
        try:
            verdict = parse_verdict(output.text, key, normalise)
        except VerdictError as exc:
            outcome.update(error="unparseable_verdict", detail=str(exc), raw=output.text)
            return outcome
        outcome.update(label=verdict.label, value=verdict.value, rationale=verdict.rationale)
        if self.params.get("logprobs"):
            found = label_distribution(output.raw, output.text, verdict.span[0], read_label)
            if found is not None:
                distribution, mass = found
                outcome.update(distribution=distribution, label_mass=round(mass, 6))
        return outcome


def aggregate_values(values: list[float], how: str) -> float:
    """Mean of a panel's values, or the majority value (the most common; ties between values
    are settled by the median of the tied values)."""
    if how == "mean":
        return float(statistics.fmean(values))
    counts = Counter(values)
    top = max(counts.values())
    tied = sorted(v for v, n in counts.items() if n == top)
    return float(statistics.median(tied))


def error_text(outcome: JudgeOutcome) -> str:
    """A one-line description of a failed judge outcome."""
    return f"judge_error: {outcome['error']} ({outcome['judge']}): {outcome.get('detail', '')}"
