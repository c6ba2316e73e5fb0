"""Text-matching scorers: exact match and "includes"."""

from __future__ import annotations

from typing import Any

from assay.core import Output, Sample, Score
from assay.core.construct import construct_checked
from assay.score.normalise import Normalisation


class _MatchScorer:
    version = "1"
    name: str

    def __init__(self, *, name: str | None = None, **options: bool) -> None:
        try:
            self.normalise = Normalisation(**options)
        except TypeError as exc:
            known = ", ".join(Normalisation().as_config())
            raise ValueError(
                f"unknown option for {type(self).__name__}: {exc}; known: {known}"
            ) from None
        if name:
            self.name = name
        self.config: dict[str, Any] = self.normalise.as_config()

    def _matches(self, answer: str, target: str) -> bool:
        raise NotImplementedError

    async def score(self, sample: Sample, output: Output) -> Score:
        targets = sample.targets
        if not targets:
            return Score(scorer=self.name, value=None, error="sample has no target to compare with")
        answer = self.normalise(output.text)
        # Built unvalidated (every value has its field's type): this runs for every sample, and
        # costs a third of pydantic-core's validation of the six fields.
        for target in targets:
            if self._matches(answer, self.normalise(target)):
                return construct_checked(
                    Score,
                    {
                        "scorer": self.name,
                        "value": 1.0,
                        "answer": output.text,
                        "explanation": f"matched {target!r}",
                        "error": None,
                        "metadata": {},
                    },
                )
        return construct_checked(
            Score,
            {
                "scorer": self.name,
                "value": 0.0,
                "answer": output.text,
                "explanation": None,
                "error": None,
                "metadata": {},
            },
        )


class ExactMatch(_MatchScorer):
    """1 when the normalised output equals a normalised target, else 0."""

    name = "exact"
    kind = "exact"

    def _matches(self, answer: str, target: str) -> bool:
        return answer == target


class Includes(_MatchScorer):
    """1 when a normalised target occurs inside the normalised output, else 0."""

    name = "includes"
    kind = "includes"

    def _matches(self, answer: str, target: str) -> bool:
        return target in answer


def exact(**options: Any) -> ExactMatch:
    """Exact match; options: ignore_case, ignore_whitespace, ignore_punctuation, ignore_articles."""
    return ExactMatch(**options)


def includes(**options: Any) -> Includes:
    """Target contained in the output (same normalisation options as :func:`exact`)."""
    return Includes(**options)
