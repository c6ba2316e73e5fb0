"""Expected scores from token log-probabilities.

When a judge endpoint returns log-probabilities (OpenAI-compatible servers do with
``logprobs: true, top_logprobs: k``), the probability the judge put on each possible verdict
at the verdict token gives a graded answer instead of a hard label: AlpacaEval's weighted
judge uses the probabilities of its two single-token labels in the same way (Dubois et al.,
"AlpacaFarm", 2023, the ``weighted_alpaca_eval_gpt4_turbo`` annotator). Here the verdict may
sit inside JSON or tags, so the token that carries the verdict is found by its character
offset in the reply, and its ``top_logprobs`` are read for the labels the task allows.

The raw response is read from ``Output.raw`` (``choices[0].logprobs.content``, a list of
``{token, logprob, top_logprobs: [{token, logprob}]}``). Labels are compared after stripping
spaces, quotes and brackets, case-insensitively; probabilities of tokens that are not labels
are dropped and the rest renormalised (the share kept is reported as ``label_mass``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def _tokens(raw: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not isinstance(raw, dict):
        return None
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    logprobs = choices[0].get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if not isinstance(content, list) or not content:
        return None
    return [t for t in content if isinstance(t, dict) and isinstance(t.get("token"), str)]


def verdict_token(tokens: list[dict[str, Any]], text: str, offset: int) -> dict[str, Any] | None:
    """The token whose text covers character ``offset`` of the reply, skipping tokens that are
    only quotes or spaces (a verdict often starts right after ``"``)."""
    joined = "".join(t["token"] for t in tokens)
    if joined != text:
        # The server's tokens do not spell the reply (a stripped prefix, say): align by the
        # first occurrence of the reply inside the tokens' text, if any.
        shift = joined.find(text)
        if shift < 0:
            return None
        offset += shift
    position = 0
    for i, token in enumerate(tokens):
        end = position + len(token["token"])
        if position <= offset < end:
            for candidate in tokens[i:]:
                if candidate["token"].strip(" \t\n\"'[]*"):
                    return candidate
            return None
        position = end
    return None


def label_distribution(
    raw: dict[str, Any] | None,
    text: str,
    offset: int,
    read_label: Callable[[str], str | None],
) -> tuple[dict[str, float], float] | None:
    """Probabilities of each label at the verdict token, renormalised over labels, and the
    share of the top-k probability that fell on labels; ``None`` without usable logprobs."""
    tokens = _tokens(raw)
    if tokens is None:
        return None
    token = verdict_token(tokens, text, offset)
    if token is None:
        return None
    top = token.get("top_logprobs")
    if not isinstance(top, list) or not top:
        top = [{"token": token["token"], "logprob": token.get("logprob", 0.0)}]
    mass: dict[str, float] = {}
    total = 0.0
    for entry in top:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            continue
        try:
            p = math.exp(float(entry.get("logprob", -math.inf)))
        except (TypeError, ValueError, OverflowError):
            continue
        total += p
        label = read_label(entry["token"].strip(" \t\n\"'[]*"))
        if label is not None:
            mass[label] = mass.get(label, 0.0) + p
    kept = sum(mass.values())
    if kept <= 0:
        return None
    return {label: p / kept for label, p in mass.items()}, (kept / total if total else 0.0)
