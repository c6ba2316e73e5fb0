"""The shapes shared by every detector: a finding, the detector protocol, a regex detector."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Finding:
    """One piece of PII in a text: ``text[start:end]`` is ``value``, of ``type``, found by the
    detector ``detector`` (for secrets, which kind: ``openai_key``, ``aws_access_key_id`` …)."""

    type: str
    start: int
    end: int
    value: str
    detector: str


class Detector(Protocol):
    """What :func:`detect` needs of a detector."""

    @property
    def type(self) -> str:
        """The kind of PII found (``EMAIL``, ``SECRET``, or your own)."""
        ...

    @property
    def name(self) -> str:
        """The detector's name, reported with each finding."""
        ...

    @property
    def priority(self) -> int:
        """Which finding wins where two overlap (higher wins)."""
        ...

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        """``(start, end)`` of every finding in ``text``."""
        ...


Validator = Callable[[re.Match[str], str], tuple[int, int] | None]


def _whole(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    return match.span(1 if match.re.groups else 0)


@dataclass(frozen=True)
class PatternDetector:
    """A regex that proposes candidates and a validator that accepts a span or rejects it.

    ``validate(match, text)`` returns the ``(start, end)`` to report, or ``None``.
    ``keywords`` is a cheap prefilter: when given, a text that contains none of them (compared in
    lower case) is skipped without running the pattern. ``prefilter`` is another: a simpler
    regex that every match of ``pattern`` must also match (a necessary condition, such as "six
    digits close together" for phone and card numbers); a text it does not find is skipped.
    """

    type: str
    name: str
    pattern: re.Pattern[str]
    validate: Validator = _whole
    priority: int = 50
    keywords: tuple[str, ...] = ()
    prefilter: re.Pattern[str] | None = None

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        if self.may_match(text):
            yield from self.matches(text)

    def may_match(self, text: str, seen: dict[re.Pattern[str], bool] | None = None) -> bool:
        """Whether ``text`` passes the keywords and the prefilter. ``seen`` keeps prefilter
        results for one text across the detectors that share a prefilter (:func:`detect`
        passes one: eight of the default detectors share "six digits close together")."""
        if self.keywords:
            lowered = text.lower()
            if not any(k in lowered for k in self.keywords):
                return False
        if self.prefilter is None:
            return True
        if seen is None:
            return self.prefilter.search(text) is not None
        passed = seen.get(self.prefilter)
        if passed is None:
            passed = seen[self.prefilter] = self.prefilter.search(text) is not None
        return passed

    def matches(self, text: str) -> Iterator[tuple[int, int]]:
        """The validated spans of the pattern's matches in ``text``, without the prefilters."""
        for match in self.pattern.finditer(text):
            span = self.validate(match, text)
            if span is not None:
                yield span
