"""The anchor set (C5): frozen (input, output) pairs that every judge re-scores on every run.

A judge upgraded behind the same endpoint name may report the same model name; its scores of a
fixed set of outputs cannot hide the change. The anchors are scored after each completed run,
with fresh calls (the response cache is bypassed: a cached verdict would hide exactly the
change being looked for), and each judge's scores and their fingerprint
(:func:`assay.core.anchor_fingerprint`) go into its :class:`~assay.core.JudgeManifest`, where
``judge_changes`` compares them between runs.

File format: JSONL, one object per line with ``id``, ``input`` and ``output`` (the answer to
be graded), and optionally ``target`` (for reference-guided judges) and ``metadata``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay.core import Output, Sample, SpecError

#: Most anchors read from one file (a mini-set: each is re-scored on every run).
MAX_ANCHORS = 500


def load_anchors(path: str | Path) -> list[tuple[Sample, Output]]:
    """Read an anchor file (see the module docstring); errors name ``file:line`` and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("anchor file not found", where=str(path), fix="check the path") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason})", where=str(path)) from None
    anchors: list[tuple[Sample, Output]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"malformed JSON: {exc.msg}", where=where) from None
        if not isinstance(row, dict):
            raise SpecError("each line must be a JSON object", where=where)
        for field in ("id", "input", "output"):
            if field not in row:
                raise SpecError(
                    f"missing field {field!r} (present: {', '.join(row) or 'none'})",
                    where=where,
                    fix='write each anchor as {"id": ..., "input": ..., "output": ...}',
                )
        anchor_id = str(row["id"])
        if anchor_id in seen:
            raise SpecError(
                f"duplicate anchor id {anchor_id!r} (first at line {seen[anchor_id]})",
                where=where,
            )
        seen[anchor_id] = number
        try:
            sample = Sample(
                id=anchor_id,
                input=row["input"],
                target=row.get("target"),
                metadata=row.get("metadata") or {},
            )
        except ValueError as exc:
            raise SpecError(f"invalid anchor: {exc}", where=where) from None
        anchors.append((sample, Output(text=str(row["output"]))))
    if not anchors:
        raise SpecError("the anchor file has no anchors", where=str(path))
    if len(anchors) > MAX_ANCHORS:
        raise SpecError(
            f"{len(anchors)} anchors; at most {MAX_ANCHORS} (they are re-scored on every run)",
            where=str(path),
            fix="keep a small, frozen mini-set",
        )
    return anchors
