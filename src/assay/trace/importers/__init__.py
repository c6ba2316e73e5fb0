"""Importers: traces that already exist elsewhere, as :class:`~assay.trace.model.SpanRecord` s.

``import_file(path, fmt)`` yields batches of spans read row by row from

- ``otlp-jsonl``: one OTLP/JSON ``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``)
  or ``ResourceSpans`` per line (decoded by :func:`assay.trace.otlp.iter_otlp_jsonl`);
- ``langfuse``: a Langfuse observations export (:mod:`assay.trace.importers.langfuse`);
- ``phoenix``: a Phoenix spans dataframe or span JSONL (:mod:`assay.trace.importers.phoenix`).

With ``fmt=None`` the format is told from the file's first row (:func:`detect_format`). The
functions are pure: they read the file and return spans; writing them (with redaction) is
:func:`assay.trace.ingest.store_spans`'s job. A bad row raises :class:`TraceImportError` naming
``file:line`` after the batches before it have been yielded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from assay.trace.importers import langfuse, phoenix
from assay.trace.importers._rows import TraceImportError, read_export
from assay.trace.importers.langfuse import iter_langfuse
from assay.trace.importers.phoenix import iter_phoenix
from assay.trace.model import SpanRecord

FORMATS: tuple[str, ...] = ("otlp-jsonl", "langfuse", "phoenix")
BATCH_SIZE = 1000


def _row_format(row: Any) -> str | None:
    if not isinstance(row, Mapping):
        return None
    if "resourceSpans" in row or "scopeSpans" in row or "resource_spans" in row:
        return "otlp-jsonl"
    if phoenix.looks_like(row):
        return "phoenix"
    if langfuse.looks_like(row):
        return "langfuse"
    return None


def detect_format(path: str | os.PathLike[str]) -> str | None:
    """``otlp-jsonl``, ``langfuse`` or ``phoenix`` from the file's first row; ``None`` for a
    file without rows. Raises :class:`TraceImportError` when the row is none of them."""
    export = read_export(path)
    first = next(export.rows, None)
    close = getattr(export.rows, "close", None)
    if close is not None:
        close()
    if first is None:
        return None
    where, row = first
    fmt = _row_format(row)
    if fmt is None:
        keys = ", ".join(sorted(map(str, row))[:8]) if isinstance(row, Mapping) else "no keys"
        raise TraceImportError(
            f"cannot tell the export format from the first row (keys: {keys})",
            where=where,
            fix="pass --format " + "|".join(FORMATS),
        )
    return fmt


def import_file(
    path: str | os.PathLike[str], fmt: str | None = None, *, batch_size: int = BATCH_SIZE
) -> Iterator[list[SpanRecord]]:
    """The spans of an export file in batches (lists of at most ``batch_size`` spans).

    ``fmt`` is one of :data:`FORMATS`, or ``None`` to tell it from the content.
    """
    if fmt is None:
        fmt = detect_format(path)
        if fmt is None:
            return
    if fmt == "langfuse":
        yield from iter_langfuse(path, batch_size=batch_size)
    elif fmt == "phoenix":
        yield from iter_phoenix(path, batch_size=batch_size)
    elif fmt == "otlp-jsonl":
        from assay.trace.otlp import iter_otlp_jsonl

        yield from iter_otlp_jsonl(Path(path))
    else:
        raise TraceImportError(
            f"unknown import format {fmt!r}",
            where="--format",
            fix="use one of " + ", ".join(FORMATS),
        )


__all__ = [
    "FORMATS",
    "TraceImportError",
    "detect_format",
    "import_file",
    "iter_langfuse",
    "iter_phoenix",
]
