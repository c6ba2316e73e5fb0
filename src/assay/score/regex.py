"""Regular-expression scorer: does the response match a pattern?"""

from __future__ import annotations

import re
from typing import Any

from assay.core import Output, Sample, Score


class RegexMatch:
    """1 when the response matches ``pattern`` (or, without one, any of the sample's targets
    read as patterns), else 0; ``negate`` inverts it (a forbidden pattern).

    ``full`` requires the whole response (stripped) to match, not just a part; ``ignore_case``,
    ``multiline`` and ``dotall`` are the ``re`` flags. The matched text is kept as the answer.
    Patterns run on Python's ``re`` engine, which backtracks: keep patterns simple on long
    outputs (a nested quantifier such as ``(a+)+`` can take exponential time).
    """

    name = "regex"
    kind = "regex"
    version = "1"

    def __init__(
        self,
        *,
        name: str | None = None,
        pattern: str | None = None,
        full: bool = False,
        negate: bool = False,
        ignore_case: bool = False,
        multiline: bool = False,
        dotall: bool = False,
    ) -> None:
        self.flags = (
            (re.IGNORECASE if ignore_case else 0)
            | (re.MULTILINE if multiline else 0)
            | (re.DOTALL if dotall else 0)
        )
        self.pattern = None
        if pattern is not None:
            try:
                self.pattern = re.compile(pattern, self.flags)
            except re.error as exc:
                msg = f"pattern {pattern!r} is not a valid regular expression: {exc}"
                raise ValueError(msg) from None
        if name:
            self.name = name
        self.full, self.negate = full, negate
        self.config: dict[str, Any] = {
            "pattern": pattern,
            "full": full,
            "negate": negate,
            "ignore_case": ignore_case,
            "multiline": multiline,
            "dotall": dotall,
        }

    def _patterns(self, sample: Sample) -> list[re.Pattern[str]] | str:
        if self.pattern is not None:
            return [self.pattern]
        if not sample.targets:
            return "no pattern given and the sample has no target to use as one"
        try:
            return [re.compile(t, self.flags) for t in sample.targets]
        except re.error as exc:
            return f"target is not a valid regular expression: {exc}"

    async def score(self, sample: Sample, output: Output) -> Score:
        patterns = self._patterns(sample)
        if isinstance(patterns, str):
            return Score(scorer=self.name, value=None, error=patterns)
        text = output.text.strip() if self.full else output.text
        for pattern in patterns:
            match = pattern.fullmatch(text) if self.full else pattern.search(text)
            if match is not None:
                return Score(
                    scorer=self.name,
                    value=0.0 if self.negate else 1.0,
                    answer=match.group(0)[:500],
                    explanation=f"matches /{pattern.pattern}/"
                    + (" (forbidden)" if self.negate else ""),
                )
        return Score(
            scorer=self.name,
            value=1.0 if self.negate else 0.0,
            explanation="no match for " + ", ".join(f"/{p.pattern}/" for p in patterns),
        )


def regex(**options: Any) -> RegexMatch:
    """Pattern match; options: pattern, full, negate, ignore_case, multiline, dotall."""
    return RegexMatch(**options)
