"""A prompt as clauses, and the diff between two prompts as numbered edits (K1, K2).

A clause is a sentence or a line: text up to a sentence end (``.``, ``!``, ``?`` followed by
whitespace) or a line break, with its trailing whitespace, so joining the clauses gives the
text back byte for byte. Two versions are compared clause by clause (:mod:`difflib`); each
inserted, deleted or rewritten clause is one edit (inside a replaced block, similar clauses
are paired as rewrites and the rest count as insertions and deletions). Any subset of the
edits can be applied to the old text (:func:`apply_edits`), which is what bisect needs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass

_CLAUSE = re.compile(r"[^\n]*?(?:[.!?](?=\s)|\n|$)[ \t]*\n*", re.DOTALL)


def split_clauses(text: str) -> list[str]:
    """The clauses of ``text``; ``"".join(split_clauses(t)) == t``."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _CLAUSE.match(text, pos)
        assert match is not None  # the pattern matches the empty string
        end = match.end()
        if end == pos:  # only at the very end
            end = len(text)
        out.append(text[pos:end])
        pos = end
    return out


def _key(clause: str) -> str:
    return " ".join(clause.split())


@dataclass(frozen=True)
class Edit:
    """One edit: ``kind`` is ``added``, ``removed`` or ``changed``; ``start``/``end`` the old
    clauses it replaces (``start == end`` for an insertion before clause ``start``)."""

    number: int
    kind: str
    start: int
    end: int
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def before_text(self) -> str:
        return "".join(self.before)

    @property
    def after_text(self) -> str:
        return "".join(self.after)

    def describe(self, limit: int = 70) -> str:
        """A one-line description: ``#3 changed: "old…" → "new…"``."""

        def short(text: str) -> str:
            flat = " ".join(text.split())
            return '"' + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + '"'

        if self.kind == "added":
            return f"#{self.number} added {short(self.after_text)}"
        if self.kind == "removed":
            return f"#{self.number} removed {short(self.before_text)}"
        return f"#{self.number} changed {short(self.before_text)} → {short(self.after_text)}"

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "kind": self.kind,
            "before": self.before_text or None,
            "after": self.after_text or None,
        }


def _align(old: list[str], new: list[str]) -> list[tuple[str, int, int]]:
    """A monotone alignment of a replaced block's clauses: pairs of similar clauses (a rewrite
    of one clause is one ``changed`` edit), the rest deleted or inserted, in text order."""
    m, k = len(old), len(new)
    if m == k:
        return [("pair", i, i) for i in range(m)]
    sim = [
        [difflib.SequenceMatcher(a=_key(o), b=_key(n), autojunk=False).ratio() for n in new]
        for o in old
    ]
    best = [[0.0] * (k + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        for j in range(k - 1, -1, -1):
            pair = sim[i][j] + best[i + 1][j + 1] if sim[i][j] >= 0.4 else -1.0
            best[i][j] = max(pair, best[i + 1][j], best[i][j + 1])
    ops: list[tuple[str, int, int]] = []
    i = j = 0
    while i < m and j < k:
        if sim[i][j] >= 0.4 and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            ops.append(("pair", i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            ops.append(("del", i, j))
            i += 1
        else:
            ops.append(("ins", i, j))
            j += 1
    ops.extend(("del", r, j) for r in range(i, m))
    ops.extend(("ins", i, c) for c in range(j, k))
    return ops


def diff_edits(old: str, new: str) -> list[Edit]:
    """The edits that turn ``old`` into ``new``, numbered from 1 in text order."""
    a, b = split_clauses(old), split_clauses(new)
    matcher = difflib.SequenceMatcher(
        a=[_key(c) for c in a], b=[_key(c) for c in b], autojunk=False
    )
    edits: list[Edit] = []

    def add(kind: str, i1: int, i2: int, j1: int, j2: int) -> None:
        edits.append(Edit(len(edits) + 1, kind, i1, i2, tuple(a[i1:i2]), tuple(b[j1:j2])))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert":
            for j in range(j1, j2):
                add("added", i1, i1, j, j + 1)
        elif tag == "delete":
            for i in range(i1, i2):
                add("removed", i, i + 1, j1, j1)
        else:
            p = i1
            for op, _i, j in _align(a[i1:i2], b[j1:j2]):
                if op == "pair":
                    add("changed", p, p + 1, j1 + j, j1 + j + 1)
                    p += 1
                elif op == "del":
                    add("removed", p, p + 1, j1, j1)
                    p += 1
                else:
                    add("added", p, p, j1 + j, j1 + j + 1)
    return edits


def apply_edits(old: str, edits: list[Edit], chosen: Collection[int]) -> str:
    """``old`` with the edits numbered in ``chosen`` applied (the others left out).

    Applying every edit gives the new text (up to whitespace inside unchanged clauses)."""
    clauses = split_clauses(old)
    out: list[str] = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end, e.number)):
        out.extend(clauses[pos : edit.start])
        pos = max(pos, edit.start)
        if edit.number in chosen:
            out.extend(edit.after)
        else:
            out.extend(clauses[edit.start : edit.end])
        pos = max(pos, edit.end)
    out.extend(clauses[pos:])
    return "".join(out)
