"""Length and format checks: pass/fail constraints on the shape of a response.

Characters are Unicode code points, words are whitespace-separated runs, lines are the
response's lines (a trailing newline does not start an empty line). Both scorers pass (1) only
when every configured check passes, and list the failed checks in the score's metadata.
"""

from __future__ import annotations

import re
from typing import Any

from assay.core import Output, Sample, Score

_BULLET = re.compile(r"^\s*(?:[-*•+])\s+\S")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+\S")
_MARKDOWN = re.compile(
    r"^\s{0,3}#{1,6}\s|\*\*[^*\n]+\*\*|__[^_\n]+__|^\s*```|^\s*\|.*\|\s*$|\[[^\]\n]+\]\([^)\s]+\)",
    re.MULTILINE,
)


def _counts(text: str) -> dict[str, int]:
    return {
        "chars": len(text),
        "words": len(text.split()),
        "lines": len(text.splitlines()),
    }


class LengthCheck:
    """Passes when the response's length is within every given bound
    (``min_chars``/``max_chars``, ``min_words``/``max_words``, ``min_lines``/``max_lines``)."""

    name = "length"
    kind = "length"
    version = "1"
    _BOUNDS = ("min_chars", "max_chars", "min_words", "max_words", "min_lines", "max_lines")

    def __init__(self, *, name: str | None = None, **bounds: int | None) -> None:
        unknown = sorted(set(bounds) - set(self._BOUNDS))
        if unknown:
            raise ValueError(
                f"unknown bound(s) {', '.join(unknown)}; known: {', '.join(self._BOUNDS)}"
            )
        given = {k: v for k, v in bounds.items() if v is not None}
        if not given:
            raise ValueError("give at least one bound, e.g. max_words: 100")
        for key, value in given.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a whole number >= 0, not {value!r}")
        for unit in ("chars", "words", "lines"):
            low, high = given.get(f"min_{unit}"), given.get(f"max_{unit}")
            if low is not None and high is not None and low > high:
                raise ValueError(f"min_{unit} ({low}) is above max_{unit} ({high})")
        if name:
            self.name = name
        self.bounds = given
        self.config: dict[str, Any] = dict(sorted(given.items()))

    async def score(self, sample: Sample, output: Output) -> Score:
        counts = _counts(output.text)
        failed = []
        for key, bound in self.bounds.items():
            side, unit = key.split("_", 1)
            n = counts[unit]
            if (side == "min" and n < bound) or (side == "max" and n > bound):
                failed.append(f"{n} {unit} {'<' if side == 'min' else '>'} {key} {bound}")
        return Score(
            scorer=self.name,
            value=0.0 if failed else 1.0,
            answer=f"{counts['chars']} chars, {counts['words']} words, {counts['lines']} lines",
            explanation="; ".join(failed) or "within bounds",
            metadata={"counts": counts, "failed": failed},
        )


class FormatCheck:
    """Passes when the response has the required form. Checks (each optional):

    - ``starts_with`` / ``ends_with``: text the stripped response must start or end with;
    - ``contains`` / ``not_contains``: strings (one or a list) that must all / must none appear;
    - ``ignore_case``: compare the four above case-insensitively;
    - ``single_line``: no line break in the stripped response;
    - ``bullet_list`` / ``numbered_list``: every non-empty line is a ``-``/``*``/``•`` bullet,
      or ``1.``/``1)`` numbered;
    - ``no_markdown``: no headings, bold, code fences, tables or links;
    - ``lowercase`` / ``uppercase``: no upper-case / lower-case letters.
    """

    name = "format"
    kind = "format"
    version = "1"
    _FLAGS = (
        "single_line",
        "bullet_list",
        "numbered_list",
        "no_markdown",
        "lowercase",
        "uppercase",
    )

    def __init__(
        self,
        *,
        name: str | None = None,
        starts_with: str | None = None,
        ends_with: str | None = None,
        contains: str | list[str] | None = None,
        not_contains: str | list[str] | None = None,
        ignore_case: bool = False,
        **flags: bool,
    ) -> None:
        unknown = sorted(set(flags) - set(self._FLAGS))
        if unknown:
            raise ValueError(
                f"unknown check(s) {', '.join(unknown)}; known: starts_with, ends_with, "
                f"contains, not_contains, {', '.join(self._FLAGS)}"
            )
        self.flags = {k: bool(v) for k, v in flags.items() if v}
        self.contains = [contains] if isinstance(contains, str) else list(contains or [])
        self.not_contains = (
            [not_contains] if isinstance(not_contains, str) else list(not_contains or [])
        )
        self.starts_with, self.ends_with, self.ignore_case = starts_with, ends_with, ignore_case
        if not (self.flags or self.contains or self.not_contains or starts_with or ends_with):
            raise ValueError("give at least one check, e.g. single_line: true")
        if name:
            self.name = name
        self.config: dict[str, Any] = {
            "starts_with": starts_with,
            "ends_with": ends_with,
            "contains": self.contains,
            "not_contains": self.not_contains,
            "ignore_case": ignore_case,
            **{k: True for k in sorted(self.flags)},
        }

    def _fold(self, text: str) -> str:
        return text.casefold() if self.ignore_case else text

    def failures(self, text: str) -> list[str]:
        """The names of the checks ``text`` fails."""
        stripped = text.strip()
        folded = self._fold(stripped)
        failed = []
        if self.starts_with is not None and not folded.startswith(self._fold(self.starts_with)):
            failed.append("starts_with")
        if self.ends_with is not None and not folded.endswith(self._fold(self.ends_with)):
            failed.append("ends_with")
        failed += [f"contains {s!r}" for s in self.contains if self._fold(s) not in folded]
        failed += [f"not_contains {s!r}" for s in self.not_contains if self._fold(s) in folded]
        lines = [line for line in stripped.splitlines() if line.strip()]
        checks = {
            "single_line": lambda: "\n" not in stripped and "\r" not in stripped,
            "bullet_list": lambda: bool(lines) and all(_BULLET.match(x) for x in lines),
            "numbered_list": lambda: bool(lines) and all(_NUMBERED.match(x) for x in lines),
            "no_markdown": lambda: _MARKDOWN.search(stripped) is None,
            "lowercase": lambda: stripped == stripped.lower(),
            "uppercase": lambda: stripped == stripped.upper(),
        }
        failed += [flag for flag in self.flags if not checks[flag]()]
        return failed

    async def score(self, sample: Sample, output: Output) -> Score:
        failed = self.failures(output.text)
        return Score(
            scorer=self.name,
            value=0.0 if failed else 1.0,
            explanation=("failed: " + ", ".join(failed)) if failed else "all checks pass",
            metadata={"failed": failed},
        )


def length(**options: Any) -> LengthCheck:
    """Length bounds; options: min_/max_ chars, words, lines."""
    return LengthCheck(**options)


def format_check(**options: Any) -> FormatCheck:
    """Format checks (see :class:`FormatCheck`)."""
    return FormatCheck(**options)
