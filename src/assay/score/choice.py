"""Multiple choice: which option letter a response chose.

The letters are ``letters`` (default: as many as the sample's ``metadata["choices"]`` lists,
else ``A``–``E``). A response's choice is read, most explicit evidence first:

1. the whole response is a letter, perhaps decorated (``B``, ``(B)``, ``**B.**``);
2. an answer marker: ``answer: B``, ``the answer is (B)``, ``correct option is B`` (the last
   one counts, so a response that changes its mind is read at its conclusion);
3. letters set off as options: ``(B)``, ``[B]``, ``**B**``, or ``B)`` / ``B.`` / ``B:`` at the
   start of a line, when they all name the same letter;
4. the text of exactly one choice appearing in the response (``match_text``).

Bare capital letters in prose ("A cat sat…") are never read as a choice, and a response that
sets off several different letters without a marker (restating the options) is ambiguous. A
response with no readable choice grades 0; the target may be a letter, a 0-based index or the
text of a choice.
"""

from __future__ import annotations

import re
import string
from typing import Any

from assay.core import Output, Sample, Score

_DECOR = " \t\r\n*_`'\"()[]{}.:,;!"


def _marker(letters: str) -> re.Pattern[str]:
    cls = f"[{re.escape(letters)}]"
    lower = cls.lower()
    # A capital letter, or a lower-case one only inside brackets ("the answer is (b)"): the
    # article in "answer: a prime number" is not a choice.
    return re.compile(
        r"\b(?:answer|option|choice)(?:\s+(?:is|would be|should be))?\s*[:=\-]?\s*"
        r"(?:option\s+|choice\s+)?"
        rf"(?:[*_`\"']*[\(\[]?[*_`\"']*(?-i:({cls}))(?![A-Za-z0-9])|[\(\[](?-i:({lower}))[\)\]])",
        re.IGNORECASE,
    )


def _set_off(letters: str) -> re.Pattern[str]:
    cls = f"[{re.escape(letters)}]"
    return re.compile(
        rf"\(({cls})\)|\[({cls})\]|\*\*({cls})[.)]?\*\*|^[ \t>*-]*({cls})[.):](?=\s|$)",
        re.MULTILINE,
    )


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


class MultipleChoice:
    """1 when the letter the response chose is the target's, else 0 (see the module docs)."""

    name = "choice"
    kind = "choice"
    version = "1"

    def __init__(
        self, *, name: str | None = None, letters: str | None = None, match_text: bool = True
    ) -> None:
        if letters is not None:
            letters = letters.strip().upper()
            if not letters or not all(c in string.ascii_uppercase for c in letters):
                raise ValueError(f"letters must be capital letters such as 'ABCD', not {letters!r}")
            if len(set(letters)) != len(letters):
                raise ValueError(f"letters repeat in {letters!r}")
        if name:
            self.name = name
        self.letters = letters
        self.match_text = match_text
        self.config: dict[str, Any] = {"letters": letters, "match_text": match_text}

    def _letters(self, sample: Sample) -> tuple[str, list[str]]:
        choices = sample.metadata.get("choices")
        texts = [str(c) for c in choices] if isinstance(choices, (list, tuple)) else []
        if self.letters is not None:
            return self.letters, texts
        n = len(texts) if texts else 5
        return string.ascii_uppercase[: max(1, min(n, 26))], texts

    def read_choice(self, text: str, letters: str, texts: list[str]) -> tuple[str | None, str]:
        """The letter ``text`` chose and how it was read (``None`` if none or ambiguous)."""
        bare = text.strip(_DECOR)
        if len(bare) == 1 and bare.upper() in letters and (bare.isupper() or len(text) < 8):
            return bare.upper(), "the response is the letter"
        last = None
        for match in _marker(letters).finditer(text):
            last = (match.group(1) or match.group(2)).upper()
        if last is not None:
            return last, "answer marker"
        found = {
            next(g for g in m.groups() if g is not None) for m in _set_off(letters).finditer(text)
        }
        if len(found) == 1:
            return found.pop(), "option letter"
        if len(found) > 1:
            return None, f"ambiguous: the response sets off {', '.join(sorted(found))}"
        if self.match_text and texts:
            said = _normalise(text)
            hits = [
                letters[i]
                for i, choice in enumerate(texts[: len(letters)])
                if _normalise(choice)
                and re.search(rf"(?<!\w){re.escape(_normalise(choice))}(?!\w)", said)
            ]
            if len(hits) == 1:
                return hits[0], "choice text"
            if len(hits) > 1:
                return None, f"ambiguous: the response names choices {', '.join(hits)}"
        return None, "no choice letter in the response"

    def _target_letter(self, target: str, letters: str, texts: list[str]) -> str | None:
        bare = target.strip(_DECOR)
        if len(bare) == 1 and bare.upper() in letters:
            return bare.upper()
        if bare.isdigit() and int(bare) < len(letters):
            return letters[int(bare)]
        for i, choice in enumerate(texts[: len(letters)]):
            if _normalise(choice) == _normalise(target):
                return letters[i]
        return None

    async def score(self, sample: Sample, output: Output) -> Score:
        letters, texts = self._letters(sample)
        wanted = {
            letter
            for t in sample.targets
            if (letter := self._target_letter(t, letters, texts)) is not None
        }
        if not wanted:
            return Score(
                scorer=self.name,
                value=None,
                error="the target names no choice letter"
                + (f" (target {sample.targets[0][:80]!r})" if sample.targets else ""),
            )
        chosen, how = self.read_choice(output.text, letters, texts)
        if chosen is None:
            return Score(scorer=self.name, value=0.0, explanation=how)
        value = 1.0 if chosen in wanted else 0.0
        return Score(
            scorer=self.name,
            value=value,
            answer=chosen,
            explanation=f"chose {chosen} ({how}); correct: {', '.join(sorted(wanted))}",
        )


def choice(**options: Any) -> MultipleChoice:
    """Multiple-choice letter; options: letters, match_text (see :class:`MultipleChoice`)."""
    return MultipleChoice(**options)
