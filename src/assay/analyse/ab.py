"""Two runs side by side, sample by sample: what each sample scored in run A and in run B, which
samples flipped, and the word-level difference between the two outputs.

The unit is the sample, as in :mod:`assay.analyse.compare`: a sample's epochs are averaged
first, so a sample answered three times counts once. A pass/fail scorer (every score 0 or 1)
classifies each sample by the majority of its epochs: it *passes* when more than half its
epochs passed (``2/3``), *fails* when fewer than half did, and is *split* at exactly half. Then,
per scorer:

- ``fixed``: not passing in A, passing in B (with one epoch, McNemar's "B only" pairs);
- ``broken``: passing in A, not passing in B (McNemar's "A only" pairs);
- ``moved``: the mean moved without a flip (``2/3 → 3/3``);
- ``unchanged``: the same mean in both runs;
- ``ungraded``: no score in one of the runs (an error, or a scorer that could not grade).

A scorer with other values (a 1-10 judge, a similarity) has no pass line: a sample whose mean
rose is ``fixed``, one whose mean fell ``broken``.

The word diff tokenises both texts into words, runs of whitespace and single punctuation marks
and aligns them with :class:`difflib.SequenceMatcher` (Ratcliff/Obershelp; Python standard
library documentation, "difflib — Helpers for computing deltas"), so a reader sees which words
changed rather than which characters.

The reads from the store (:mod:`assay.analyse.ab_reads`, re-exported here) are narrow: one query
for the whole grid's scores (sample id, epoch, scorer, value: no outputs) and one for the
outputs of just the samples on screen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["fixed", "broken", "moved", "unchanged", "ungraded"]
KINDS: tuple[Kind, ...] = ("fixed", "broken", "moved", "unchanged", "ungraded")
#: The grid's filters: a kind, ``changed`` (fixed, broken or moved) or ``all``.
SHOWS = ("all", "changed", "fixed", "broken", "moved", "unchanged", "ungraded")
#: The grid's orders: largest change first, worst first, best first, or by sample id.
SORTS = ("change", "worst", "best", "id")

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
#: Above this many tokens a side, the diff aligns lines instead of words: SequenceMatcher is
#: quadratic in the worst case, and a page must not stall on a very long output.
MAX_DIFF_TOKENS = 4_000


# -- word diff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffPart:
    """A run of text that both outputs share (``equal``), only B has (``insert``) or only A
    had (``delete``)."""

    op: Literal["equal", "insert", "delete"]
    text: str


def tokens(text: str) -> list[str]:
    """``text`` as words, whitespace runs and punctuation marks; joining them gives it back."""
    return _TOKEN.findall(text)


def word_diff(a: str | None, b: str | None) -> list[DiffPart]:
    """The word-level difference from ``a`` (run A's output) to ``b`` (run B's).

    Replacements become a deletion followed by an insertion; adjacent parts of the same kind
    are merged. Texts longer than :data:`MAX_DIFF_TOKENS` tokens are aligned line by line."""
    a, b = a or "", b or ""
    ta, tb = tokens(a), tokens(b)
    if len(ta) > MAX_DIFF_TOKENS or len(tb) > MAX_DIFF_TOKENS:
        ta, tb = a.splitlines(keepends=True), b.splitlines(keepends=True)
    from difflib import SequenceMatcher

    matcher = SequenceMatcher(None, ta, tb, autojunk=False)
    parts: list[DiffPart] = []

    def add(op: Literal["equal", "insert", "delete"], text: str) -> None:
        if not text:
            return
        if parts and parts[-1].op == op:
            parts[-1] = DiffPart(op, parts[-1].text + text)
        else:
            parts.append(DiffPart(op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(ta[i1:i2]))
        else:
            add("delete", "".join(ta[i1:i2]))
            add("insert", "".join(tb[j1:j2]))
    return parts


# -- per-sample pairs ------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def pass_state(values: Sequence[float]) -> str | None:
    """``pass``/``fail``/``split`` by the majority of a pass/fail sample's epochs (None: no
    scores)."""
    if not values:
        return None
    passed = sum(1 for v in values if v == 1.0)
    if 2 * passed > len(values):
        return "pass"
    return "fail" if 2 * passed < len(values) else "split"


@dataclass(frozen=True)
class ScorePair:
    """One scorer's scores of one sample over its epochs in run A and run B."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    binary: bool

    @property
    def mean_a(self) -> float:
        return _mean(self.a)

    @property
    def mean_b(self) -> float:
        return _mean(self.b)

    @property
    def delta(self) -> float:
        """B − A of the per-sample means (NaN when a side has no score)."""
        return self.mean_b - self.mean_a

    def count(self, side: Literal["a", "b"]) -> str:
        """``2/3``: epochs passed of epochs graded (pass/fail scorers); else the mean."""
        values = self.a if side == "a" else self.b
        if not values:
            return "—"
        if self.binary:
            return f"{sum(1 for v in values if v == 1.0)}/{len(values)}"
        return f"{_mean(values):.3g}"

    @property
    def kind(self) -> Kind:
        if not self.a or not self.b:
            return "ungraded"
        if self.binary:
            was, now = pass_state(self.a) == "pass", pass_state(self.b) == "pass"
            if now and not was:
                return "fixed"
            if was and not now:
                return "broken"
        else:
            if self.delta > 0:
                return "fixed"
            if self.delta < 0:
                return "broken"
        return "unchanged" if self.delta == 0 else "moved"

    def as_dict(self) -> dict[str, Any]:
        delta = self.delta
        return {
            "a": list(self.a),
            "b": list(self.b),
            "mean_a": None if math.isnan(self.mean_a) else self.mean_a,
            "mean_b": None if math.isnan(self.mean_b) else self.mean_b,
            "delta": None if math.isnan(delta) else delta,
            "binary": self.binary,
            "count_a": self.count("a"),
            "count_b": self.count("b"),
            "kind": self.kind,
        }


@dataclass(frozen=True)
class SamplePair:
    """A sample present in both runs: every scorer's :class:`ScorePair`, and how many of its
    epochs failed to produce an output in each run."""

    sample_id: str
    scores: dict[str, ScorePair]
    errors_a: int = 0
    errors_b: int = 0

    def kind(self, scorer: str) -> Kind:
        pair = self.scores.get(scorer)
        return "ungraded" if pair is None else pair.kind

    def delta(self, scorer: str) -> float:
        pair = self.scores.get(scorer)
        return math.nan if pair is None else pair.delta

    def as_dict(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "errors_a": self.errors_a,
            "errors_b": self.errors_b,
            "scores": {k: v.as_dict() for k, v in self.scores.items()},
        }


@dataclass
class EpochScores:
    """One subject of one run: scorer → sample id → scores over epochs (epoch order), the
    sample ids with a result, and the number of errored epochs per sample (as
    :func:`assay.analyse.load_scores` reads them: an errored result has no scores)."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    sample_ids: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)


def _binary(values: Iterable[list[float]]) -> bool:
    return all(v in (0.0, 1.0) for epochs in values for v in epochs)


def sample_pairs(a: EpochScores, b: EpochScores, scorers: Sequence[str]) -> list[SamplePair]:
    """Every sample with a result in both runs, in sample id order, with each scorer's pair.

    A scorer counts as pass/fail when every score it gave in either run is 0 or 1 (as
    ``assay compare`` decides), whatever the number of epochs."""
    binary = {
        s: _binary(a.values.get(s, {}).values()) and _binary(b.values.get(s, {}).values())
        for s in scorers
    }
    out = []
    for sample_id in sorted(a.sample_ids & b.sample_ids):
        out.append(
            SamplePair(
                sample_id,
                {
                    s: ScorePair(
                        tuple(a.values.get(s, {}).get(sample_id, ())),
                        tuple(b.values.get(s, {}).get(sample_id, ())),
                        binary[s],
                    )
                    for s in scorers
                },
                a.errors.get(sample_id, 0),
                b.errors.get(sample_id, 0),
            )
        )
    return out


def kind_counts(pairs: Sequence[SamplePair], scorer: str) -> dict[str, int]:
    """How many pairs of each kind on ``scorer``, plus ``changed`` and ``all``."""
    counts: dict[str, int] = dict.fromkeys(KINDS, 0)
    for p in pairs:
        counts[p.kind(scorer)] += 1
    counts["changed"] = counts["fixed"] + counts["broken"] + counts["moved"]
    counts["all"] = len(pairs)
    return counts


def select_pairs(
    pairs: Sequence[SamplePair], scorer: str, show: str = "all", sort: str = "change"
) -> list[SamplePair]:
    """The pairs a grid shows: filtered by kind on ``scorer`` (see :data:`SHOWS`) and ordered
    (see :data:`SORTS`; equal changes put flips first, then go by sample id). Raises
    ``ValueError`` for an unknown filter or order."""
    if show not in SHOWS:
        raise ValueError(f"unknown filter {show!r}: use one of {', '.join(SHOWS)}")
    if sort not in SORTS:
        raise ValueError(f"unknown order {sort!r}: use one of {', '.join(SORTS)}")
    groups: dict[str, set[str]] = {"changed": {"fixed", "broken", "moved"}, "all": set(KINDS)}
    wanted = groups.get(show, {show})
    chosen = [p for p in pairs if p.kind(scorer) in wanted]

    # Rounded so that equal changes tie (2/3 − 1/3 and 1 − 2/3 differ in the last bit), then
    # flips before mere moves, then sample id.
    def size(p: SamplePair) -> float:
        d = p.delta(scorer)
        return -1.0 if math.isnan(d) else round(abs(d), 9)

    def signed(p: SamplePair) -> float:
        d = p.delta(scorer)
        return 0.0 if math.isnan(d) else round(d, 9)

    def moved(p: SamplePair) -> bool:
        return p.kind(scorer) not in ("fixed", "broken")

    keys = {
        "change": lambda p: (-size(p), moved(p), p.sample_id),
        "worst": lambda p: (signed(p), moved(p), p.sample_id),
        "best": lambda p: (-signed(p), moved(p), p.sample_id),
        "id": lambda p: (0.0, False, p.sample_id),
    }
    return sorted(chosen, key=keys[sort])


def flips(pairs: Sequence[SamplePair], scorer: str) -> tuple[list[str], list[str]]:
    """Sample ids ``(fixed, broken)`` on a pass/fail scorer, by the majority of their
    epochs."""
    fixed = [p.sample_id for p in pairs if p.kind(scorer) == "fixed"]
    broken = [p.sample_id for p in pairs if p.kind(scorer) == "broken"]
    return fixed, broken


from assay.analyse.ab_reads import (  # noqa: E402  (they build the EpochScores defined above)
    load_epoch_scores,
    pair_outputs,
    pair_samples,
    usage_totals,
)

__all__ = [
    "KINDS",
    "SHOWS",
    "SORTS",
    "DiffPart",
    "EpochScores",
    "SamplePair",
    "ScorePair",
    "flips",
    "kind_counts",
    "load_epoch_scores",
    "pair_outputs",
    "pair_samples",
    "pass_state",
    "sample_pairs",
    "select_pairs",
    "tokens",
    "usage_totals",
    "word_diff",
]
