"""Exact and near-duplicate samples (A5).

A duplicated item counts twice in every mean and interval, and two near copies in one eval
(or one copied from a training set's paraphrase) make the eval look larger and more certain
than it is. Two samples are compared on their *input* text (a chat input's non-system
messages), normalised: Unicode NFKC, case
folded, punctuation and symbols turned into spaces, whitespace collapsed. Same normalised input
is an ``exact_duplicate`` (an ``error``: one of the rows is a mistake, and if their targets
differ, one label is wrong). Otherwise the inputs are cut into overlapping character shingles
(``shingle_size`` characters; robust to a changed word or a typo, where word n-grams are not)
and candidate pairs come from MinHash signatures in an LSH index (datasketch: 128 permutations,
bands chosen for the threshold); every candidate is then *verified* by the actual Jaccard
similarity of the two shingle sets, so a reported pair is never a hashing accident. Pairs at or
above ``near_duplicate_threshold`` (default 0.8) are ``near_duplicate``; pairs are grouped into
connected components, one smell per group. LSH can miss a pair whose similarity sits just at
the threshold (a false negative), never invent one. A long template shared by every input
(an instruction preamble) makes rows look alike: lint the variable part, or raise the
threshold.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict

from assay.core.sample import Sample
from assay.data.lint.context import LintContext
from assay.data.lint.report import Smell

NUM_PERM = 128
SEED = 1


def compared_text(sample: Sample) -> str:
    """The text two samples are compared on: the input, or for a chat input its non-system
    messages (a system prompt shared by every sample would make them all look alike)."""
    if isinstance(sample.input, str):
        return sample.input
    return "\n".join(m.content for m in sample.input if m.role != "system")


def normalise(text: str) -> str:
    """NFKC, case folded, punctuation and symbols as spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return " ".join(text.split())


def shingles(text: str, size: int) -> set[str]:
    """The set of ``size``-character substrings of ``text`` (the whole text when shorter)."""
    if len(text) <= size:
        return {text}
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def _components(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in sorted({i for p in pairs for i in p[:2]}):
        groups[find(i)].append(i)
    return sorted(groups.values())


def check_duplicates(ctx: LintContext) -> list[Smell]:
    """``exact_duplicate`` and ``near_duplicate`` smells (rules in the module docstring)."""
    samples = ctx.dataset.samples
    settings = ctx.settings
    smells: list[Smell] = []

    by_text: dict[str, list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        by_text[normalise(compared_text(sample))].append(i)
    representatives: list[int] = []
    for positions in by_text.values():
        representatives.append(positions[0])
        if len(positions) < 2:
            continue
        group = [samples[i] for i in positions]
        conflicting = len({s.targets for s in group}) > 1
        also = " and check which target is right" if conflicting else ""
        smells.append(
            Smell(
                code="exact_duplicate",
                severity="error",
                message=f"{len(group)} samples have the same input"
                + (" but different targets (at least one label is wrong)" if conflicting else ""),
                fix="keep one of them" + also,
                rows=ctx.rows(group),
                details={"conflicting_targets": conflicting},
            )
        )

    threshold = settings.near_duplicate_threshold
    if threshold >= 1.0 or len(representatives) < 2:
        return smells
    from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

    size = settings.shingle_size

    def shingle_set(k: int) -> set[str]:
        return shingles(normalise(compared_text(samples[representatives[k]])), size)

    # One sample's shingles at a time (issue 20: holding every sample's shingle set, and its
    # bytes, took about 50 KB per row, 7.9 GB on a 50 MB file). Each signature is queried
    # against the samples before it and then inserted, so none is kept: LSH candidates are
    # symmetric, so this finds the same pairs as querying every sample against all.
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    encoded = ([s.encode("utf-8") for s in shingle_set(k)] for k in range(len(representatives)))
    candidates: list[tuple[int, int]] = []
    for k, signature in enumerate(MinHash.generator(encoded, num_perm=NUM_PERM, seed=SEED)):
        candidates.extend((other, k) for other in lsh.query(signature))
        lsh.insert(k, signature)
    pairs: list[tuple[int, int, float]] = []
    for k, other in sorted(candidates):
        similarity = jaccard(shingle_set(k), shingle_set(other))
        if similarity >= threshold:
            pairs.append((k, other, similarity))

    for component in _components(len(representatives), pairs):
        members = [samples[representatives[k]] for k in component]
        members_set = set(component)
        inside = [p for p in pairs if p[0] in members_set]
        lowest = min(p[2] for p in inside)
        smells.append(
            Smell(
                code="near_duplicate",
                severity="warning",
                message=f"{len(members)} samples have nearly the same input "
                f"(Jaccard ≥ {lowest:.2f} on {settings.shingle_size}-character shingles)",
                fix="keep one, or make them test different things",
                rows=ctx.rows(members),
                details={
                    "pairs": [
                        {
                            "a": samples[representatives[i]].id,
                            "b": samples[representatives[j]].id,
                            "jaccard": round(sim, 4),
                        }
                        for i, j, sim in inside
                    ]
                },
            )
        )
    return smells
