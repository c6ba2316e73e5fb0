"""Numeric answers: extract the number a response gives, compare it within a tolerance.

Extraction, in order: the number inside the last answer marker (``\\boxed{…}``, ``#### …``,
``answer: …``, ``answer is …``, ``= …`` at the end of the text) when there is one, otherwise the
last number in the text (``extract="last"``), the first (``"first"``), or the only one
(``"only"``: two different numbers make the answer ambiguous, which grades 0). Numbers may
carry a sign (ASCII ``-`` or the Unicode minus ``−``), a currency symbol, thousands separators
(``1,234,567``; ``1.234.567,5`` with ``decimal=","``; thin and no-break spaces in both), a
decimal part, an exponent (``6.02e23``), and ``/`` for a fraction (``3/4``, with
``fractions=True``); ``%`` makes a percentage, read as a share (``45%`` → 0.45) with
``percent="share"`` or as the bare number (45) by default. Digits of any script count
(``٤٢`` is 42). Targets are read the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from assay.core import Output, Sample, Score

_MARKERS = re.compile(
    r"\\boxed\{(?P<boxed>[^{}]*)\}"
    r"|####\s*(?P<hashes>[^\n]*)"
    r"|\banswer\b(?:\s+is)?\s*[:=]?\s*(?P<answer>[^\n]*)",
    re.IGNORECASE,
)
_CURRENCY = "$€£¥₹"
_SPACES = "\u202f\u00a0\u2009"


def _number_pattern(decimal: str) -> re.Pattern[str]:
    thousands = "," if decimal == "." else r"\."
    point = r"\." if decimal == "." else ","
    sep = f"[{thousands}{_SPACES}]"
    integer = rf"\d{{1,3}}(?:{sep}\d{{3}})+(?!\d)|\d+"
    return re.compile(
        r"(?<![^\W\d_])(?<![\d.,])"  # not glued to a word or to another number
        rf"(?P<sign>[-+−])?\s?[{_CURRENCY}]?\s?"
        rf"(?P<num>(?:{integer})(?:{point}\d+)?|{point}\d+)"
        r"(?P<exp>[eE][-+−]?\d+)?"
        r"(?:\s*/\s*(?P<den>\d+(?:" + point + r"\d+)?))?"
        r"(?P<pct>\s*%)?"
    )


_PATTERNS = {".": _number_pattern("."), ",": _number_pattern(",")}


@dataclass(frozen=True)
class NumberReader:
    """How numbers are read (see the module docstring)."""

    decimal: Literal[".", ","] = "."
    fractions: bool = True
    percent: Literal["number", "share"] = "number"

    def _value(self, match: re.Match[str]) -> float | None:
        text = match.group("num")
        for ch in _SPACES:
            text = text.replace(ch, "")
        if self.decimal == ".":
            text = text.replace(",", "")
        else:
            text = text.replace(".", "").replace(",", ".")
        exp = match.group("exp")
        if exp:
            text += exp.replace("−", "-")
        try:
            value = float(text)
        except ValueError:  # pragma: no cover - the pattern only admits numbers
            return None
        if match.group("sign") in ("-", "−"):
            value = -value
        den = match.group("den")
        if den is not None:
            denominator = float(den.replace(",", ".") if self.decimal == "," else den)
            if denominator == 0:
                return None
            value /= denominator
        if match.group("pct") and self.percent == "share":
            value /= 100.0
        return value if math.isfinite(value) else None

    def numbers(self, text: str) -> list[tuple[float, str]]:
        """Every number in ``text`` with the text it was read from, in order."""
        found = []
        for match in _PATTERNS[self.decimal].finditer(text):
            if match.group("den") is not None and not self.fractions:
                # Without fractions, "3/4" is two numbers, 3 and 4.
                numerator, _, denominator = match.group(0).partition("/")
                found += self.numbers(numerator) + self.numbers(denominator)
                continue
            value = self._value(match)
            if value is not None:
                found.append((value, match.group(0).strip()))
        return found


def extract_number(
    text: str,
    *,
    mode: Literal["auto", "last", "first", "only"] = "auto",
    reader: NumberReader | None = None,
) -> tuple[float, str] | Literal["ambiguous"] | None:
    """The answer number of ``text`` and the text it was read from; ``None`` when there is no
    number, ``"ambiguous"`` when ``mode="only"`` finds different numbers."""
    reader = reader or NumberReader()
    if mode == "auto":
        marked = None
        for match in _MARKERS.finditer(text):
            marked = next(g for g in match.groups() if g is not None)
        if marked is not None:
            numbers = reader.numbers(marked)
            if numbers:
                return numbers[0]
        mode = "last"
    numbers = reader.numbers(text)
    if not numbers:
        return None
    if mode == "first":
        return numbers[0]
    if mode == "only" and len({value for value, _ in numbers}) > 1:
        return "ambiguous"
    return numbers[-1]


class NumericMatch:
    """1 when the response's answer number equals a target number within tolerance, else 0.

    Equality is ``math.isclose(answer, target, rel_tol=rel_tol, abs_tol=abs_tol)``. A response
    with no number grades 0 (it gave no answer); a target with no number is a scorer error (the
    sample cannot be graded), never a 0.
    """

    name = "numeric"
    kind = "numeric"
    version = "1"

    def __init__(
        self,
        *,
        name: str | None = None,
        rel_tol: float = 1e-9,
        abs_tol: float = 0.0,
        extract: Literal["auto", "last", "first", "only"] = "auto",
        decimal: Literal[".", ","] = ".",
        fractions: bool = True,
        percent: Literal["number", "share"] = "number",
    ) -> None:
        if rel_tol < 0 or abs_tol < 0:
            raise ValueError("tolerances must not be negative")
        if extract not in ("auto", "last", "first", "only"):
            raise ValueError(f"extract must be auto, last, first or only, not {extract!r}")
        if decimal not in (".", ","):
            raise ValueError(f"decimal must be '.' or ',', not {decimal!r}")
        if percent not in ("number", "share"):
            raise ValueError(f"percent must be 'number' or 'share', not {percent!r}")
        if name:
            self.name = name
        self.rel_tol, self.abs_tol, self.extract = rel_tol, abs_tol, extract
        self.reader = NumberReader(decimal=decimal, fractions=fractions, percent=percent)
        self.config: dict[str, Any] = {
            "rel_tol": rel_tol,
            "abs_tol": abs_tol,
            "extract": extract,
            "decimal": decimal,
            "fractions": fractions,
            "percent": percent,
        }

    async def score(self, sample: Sample, output: Output) -> Score:
        targets: list[float] = []
        for written in sample.targets:
            read = extract_number(written, mode="auto", reader=self.reader)
            if isinstance(read, tuple):
                targets.append(read[0])
        if not targets:
            return Score(
                scorer=self.name,
                value=None,
                error="sample has no numeric target"
                + (f" (target {sample.targets[0][:80]!r})" if sample.targets else ""),
            )
        found = extract_number(output.text, mode=self.extract, reader=self.reader)
        if found is None:
            return Score(scorer=self.name, value=0.0, explanation="no number in the response")
        if found == "ambiguous":
            return Score(
                scorer=self.name,
                value=0.0,
                explanation="the response gives several different numbers (extract: only)",
            )
        value, text = found
        for target in targets:
            if math.isclose(value, target, rel_tol=self.rel_tol, abs_tol=self.abs_tol):
                return Score(
                    scorer=self.name,
                    value=1.0,
                    answer=text,
                    explanation=f"{value:g} matches {target:g}",
                    metadata={"number": value},
                )
        return Score(
            scorer=self.name,
            value=0.0,
            answer=text,
            explanation=f"{value:g} is not {' or '.join(f'{t:g}' for t in targets)}",
            metadata={"number": value},
        )


def numeric(**options: Any) -> NumericMatch:
    """Numeric answer within tolerance; options: rel_tol, abs_tol, extract, decimal, fractions,
    percent (see :class:`NumericMatch`)."""
    return NumericMatch(**options)
