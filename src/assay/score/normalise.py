"""Answer normalisation shared by the text-matching scorers."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCT = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class Normalisation:
    """Which differences to ignore when comparing answers.

    With every option on this is the SQuAD answer normalisation (Rajpurkar et al. 2016,
    ``normalize_answer`` in the official evaluation script): lower-case, drop punctuation,
    drop the articles a/an/the, collapse whitespace.
    """

    ignore_case: bool = True
    ignore_whitespace: bool = True
    ignore_punctuation: bool = False
    ignore_articles: bool = False

    def __call__(self, text: str) -> str:
        if self.ignore_case:
            text = text.lower()
        if self.ignore_punctuation:
            text = text.translate(_PUNCT)
        if self.ignore_articles:
            text = _ARTICLES.sub(" ", text)
        if self.ignore_whitespace:
            # Runs of whitespace to one space, ends stripped: what re.sub(r"\s+", " ", text)
            # .strip() gives (both use str.isspace's characters), three times faster.
            text = " ".join(text.split())
        return text

    def as_config(self) -> dict[str, bool]:
        return {
            "ignore_case": self.ignore_case,
            "ignore_whitespace": self.ignore_whitespace,
            "ignore_punctuation": self.ignore_punctuation,
            "ignore_articles": self.ignore_articles,
        }
