"""What every importer returns, and the small helpers they share.

An importer reads another tool's result file and returns an :class:`ImportedRun`: the samples,
the per-sample results with their scores, and everything a manifest needs. It never touches the
store; :func:`assay.importers._write.write_run` stores it through the store's normal run-writing
API, so an imported run is a run like any other.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.core import (
    AssayError,
    JudgeManifest,
    Sample,
    SampleResult,
    ScorerManifest,
    SubjectManifest,
)


class ImportFileError(AssayError):
    """Raised when a file given to ``assay import`` (or to ``compare``/``gate``/``show`` in
    place of a run) cannot be read as the tool's results: unknown kind, malformed JSON, a
    missing or mistyped field. The message names the file, line or field and what was
    expected."""

    code = "import_error"


@dataclass
class ImportedRun:
    """One tool run, ready to be stored (see the module docstring).

    ``tool`` and ``tool_version`` name the program that made the file (``inspect_ai``,
    ``0.3.285``); ``source_sha256`` is the SHA-256 of the file's bytes, the key the on-the-fly
    import caches on. ``started_at``/``finished_at`` are the tool's own clock times when the
    file has them.
    """

    kind: str
    name: str
    tool: str
    tool_version: str | None
    source: Path
    source_sha256: str
    dataset_name: str
    samples: list[Sample]
    subjects: list[SubjectManifest]
    scorers: list[ScorerManifest]
    results: list[SampleResult]
    epochs: int = 1
    seed: int = 0
    slices: list[str] = field(default_factory=list)
    cluster: str | None = None
    judges: list[JudgeManifest] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    git_sha: str | None = None
    python: str | None = None
    platform: str | None = None
    #: Extra versions worth recording (``transformers`` for lm-eval, node for promptfoo).
    tool_versions: dict[str, str] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path, what: str) -> Any:
    """The JSON document in ``path``; a clear error naming line and column when malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"is not UTF-8 text (byte {error.start})", where=str(path), fix=f"give {what}"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFileError(
            f"is not valid JSON: {error.msg}",
            where=f"{path}:{error.lineno}:{error.colno}",
            fix=f"give {what}",
        ) from None


def read_jsonl(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` for every non-blank line of a JSON Lines file."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise ImportFileError(
                    f"line is not valid JSON: {error.msg} (column {error.colno})",
                    where=f"{path}:{number}",
                    fix=f"give {what}",
                ) from None


def require(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]``, checked to be of ``kind``; an :class:`ImportFileError` naming the field
    otherwise."""
    if not isinstance(obj, dict):
        raise ImportFileError(f"expected a JSON object, found {type(obj).__name__}", where=where)
    if key not in obj:
        raise ImportFileError(f"missing field {key!r}", where=where)
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ImportFileError(
            f"field {key!r} should be {names}, found {type(value).__name__}", where=where
        )
    return value


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed) or a UNIX timestamp, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def as_float(value: Any) -> float | None:
    """A number (bools as 1/0, numeric strings parsed); ``None`` for anything else or NaN."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(number) else number


def choose_slices(metadata: list[dict[str, Any]], *, limit: int = 20) -> list[str]:
    """Metadata keys worth slicing by: scalar labels present on every sample, with at least
    two and at most ``limit`` distinct values, fewer than the samples themselves (an id is not
    a slice)."""
    if not metadata:
        return []
    keys = set(metadata[0])
    for item in metadata[1:]:
        keys &= set(item)
    chosen = []
    for key in sorted(keys):
        values = [item[key] for item in metadata]
        if not all(isinstance(v, (str, int, bool)) for v in values):
            continue
        distinct = {str(v) for v in values}
        if 2 <= len(distinct) <= limit and len(distinct) < len(values):
            chosen.append(key)
    return chosen


def message_text(content: Any) -> str:
    """A chat message's text: a string as is, a list of content parts joined (text parts'
    ``text``, other parts by their type in brackets)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                parts.append(text if isinstance(text, str) else f"[{part.get('type', 'part')}]")
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return "" if content is None else str(content)
