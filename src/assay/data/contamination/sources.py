"""Streaming readers for training corpora of any size: JSONL, Parquet and plain text, gzipped or
not, one document at a time.

A corpus is cut into *work units* that can be read independently (and so in parallel): byte
ranges of an uncompressed line-per-document file, groups of row groups of a Parquet file, or a
whole gzip file (which cannot be entered in the middle). A unit yields ``(key, text)`` pairs in
file order; ``key`` is the document's id when the row has one, or its 1-based line (row) number
*within the unit*, which the scanner turns into ``file:line`` once it knows how many lines the
units before it held. Memory per reader is one line, one Parquet batch or one chunk of a
document-per-file text, whatever the file's size.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from assay.core.errors import DatasetError

Format = Literal["jsonl", "parquet", "text"]
DocPer = Literal["line", "file"]
#: A document's id (text) or its 1-based line/row number within its work unit (int).
DocKey = str | int

_SUFFIX_FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
}
_FILE_CHUNK = 16 << 20  # document-per-file texts are read this much at a time...
_FILE_OVERLAP = 256 << 10  # ...with this much repeated, so a match across a cut is still seen


@dataclass(frozen=True)
class CorpusOptions:
    """How to read training files.

    ``text_field``/``id_field``: the JSONL key or Parquet column holding the document text and
    id (a dotted path such as ``meta.id`` reaches into nested JSON objects; rows without an id
    are named ``file:line``). ``doc_per``: whether a plain-text file holds one document per line
    or is one document. ``format``: force a format instead of guessing from the file suffix.
    """

    text_field: str = "text"
    id_field: str | None = "id"
    doc_per: DocPer = "line"
    format: Format | None = None


@dataclass(frozen=True)
class TrainingFile:
    """One training file: where, which format, compressed or not, and its size on disk."""

    path: Path
    format: Format
    compressed: bool
    size: int

    @property
    def label(self) -> str:
        return os.fspath(self.path)


@dataclass(frozen=True)
class WorkUnit:
    """A piece of a file that can be read on its own (``start``/``end``: bytes, or Parquet row
    groups). ``number`` orders units; ``unit`` names positional keys (``line`` or ``row``);
    ``size`` is about how many bytes on disk it covers (for progress)."""

    number: int
    file: TrainingFile
    start: int
    end: int
    unit: Literal["line", "row", "file"]
    size: int

    def name(self, key: DocKey, offset: int) -> str:
        """The document id for ``key``, with ``offset`` lines (rows) before this unit's first."""
        if isinstance(key, str):
            return key
        if self.unit == "row":
            return f"{self.file.label}:row {key + offset}"
        return f"{self.file.label}:{key + offset}"


def detect_format(path: Path, forced: Format | None = None) -> tuple[Format, bool]:
    """``(format, gzipped)`` of a training file from its suffixes (or the forced format)."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    if forced is not None:
        return forced, compressed
    fmt = _SUFFIX_FORMATS.get(suffixes[-1] if suffixes else "", "text")
    if fmt == "parquet" and compressed:
        raise DatasetError(
            "a gzipped Parquet file cannot be streamed",
            where=os.fspath(path),
            fix="decompress it (Parquet compresses its own pages)",
        )
    return fmt, compressed


def training_files(
    paths: Iterable[str | os.PathLike[str]], options: CorpusOptions | None = None
) -> list[TrainingFile]:
    """The files to scan, in order: each path, or every file under a directory (sorted, hidden
    files skipped). Raises :class:`DatasetError` for a path that does not exist."""
    options = options or CorpusOptions()
    found: list[TrainingFile] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            members = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            members = [path]
        else:
            raise DatasetError(
                "training file not found",
                where=os.fspath(path),
                fix="check the path (a directory scans every file under it)",
            )
        for member in members:
            fmt, compressed = detect_format(member, options.format)
            found.append(TrainingFile(member, fmt, compressed, member.stat().st_size))
    if not found:
        raise DatasetError(
            "no training files to scan",
            where=", ".join(str(p) for p in paths) or "--train",
            fix="pass training files or a directory that contains some",
        )
    return found


def plan_units(
    files: Iterable[TrainingFile], options: CorpusOptions, unit_bytes: int = 32 << 20
) -> list[WorkUnit]:
    """Cut files into work units of about ``unit_bytes`` each."""
    units: list[WorkUnit] = []
    for file in files:
        if file.format == "parquet":
            ranges = _row_group_ranges(file, unit_bytes)
            total = max(1, ranges[-1][1])
            for start, end in ranges:
                share = file.size * (end - start) // total
                units.append(WorkUnit(len(units), file, start, end, "row", share))
        elif file.format == "text" and options.doc_per == "file":
            units.append(WorkUnit(len(units), file, 0, file.size, "file", file.size))
        elif file.compressed:
            units.append(WorkUnit(len(units), file, 0, file.size, "line", file.size))
        else:
            start = 0
            while True:
                end = min(file.size, start + unit_bytes)
                units.append(WorkUnit(len(units), file, start, end, "line", end - start))
                if end >= file.size:
                    break
                start = end
    return units


def _parquet(file: TrainingFile) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(file.path)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(
            f"cannot read the Parquet file: {exc}",
            where=file.label,
            fix="check that it is a complete Parquet file (or pass --format for another format)",
        ) from None


def _row_group_ranges(file: TrainingFile, unit_bytes: int) -> list[tuple[int, int]]:
    meta = _parquet(file).metadata
    ranges: list[tuple[int, int]] = []
    start = size = 0
    for group in range(meta.num_row_groups):
        size += meta.row_group(group).total_byte_size
        if size >= unit_bytes:
            ranges.append((start, group + 1))
            start, size = group + 1, 0
    if start < meta.num_row_groups or not ranges:
        ranges.append((start, meta.num_row_groups))
    return ranges


class UnitDocs:
    """The documents of a work unit: iterate for ``(key, text, raw_bytes)`` in file order.

    ``raw_bytes`` is the size of the record as read (the line, or the text for Parquet), which
    the scanner counts for throughput. After iterating, ``records`` is how many lines (rows)
    the unit held, blank ones included: the offset of the next unit's line numbers.
    """

    def __init__(self, unit: WorkUnit, options: CorpusOptions) -> None:
        self.unit = unit
        self.options = options
        self.records = 0

    def __iter__(self) -> Iterator[tuple[DocKey, str, int]]:
        unit, options = self.unit, self.options
        if unit.file.format == "parquet":
            yield from _parquet_docs(unit, options, self)
        elif unit.unit == "file":
            yield from _file_doc(unit)
        elif unit.file.format == "jsonl":
            yield from _jsonl_docs(unit, options, self)
        else:
            for number, line in _lines(unit):
                self.records = number
                text = line.decode("utf-8", "replace")
                if text.strip():
                    yield number, text, len(line)


def read_unit(unit: WorkUnit, options: CorpusOptions) -> UnitDocs:
    """The documents of a work unit (see :class:`UnitDocs`)."""
    return UnitDocs(unit, options)


def _open(file: TrainingFile) -> BinaryIO:
    if file.compressed:
        return gzip.open(file.path, "rb")  # type: ignore[return-value]
    return open(file.path, "rb", buffering=1 << 20)


def _lines(unit: WorkUnit) -> Iterator[tuple[int, bytes]]:
    """``(number, line)`` of every line that *starts* in the unit's byte range."""
    with _open(unit.file) as handle:
        position = unit.start
        if unit.start > 0 and not unit.file.compressed:
            handle.seek(unit.start - 1)
            skipped = handle.readline()  # the rest of a line owned by the previous unit
            position = unit.start - 1 + len(skipped)
        number = 0
        try:
            for line in handle:
                if not unit.file.compressed and position >= unit.end:
                    break
                number += 1
                position += len(line)
                yield number, line
        except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
            raise DatasetError(
                f"cannot read the file: {exc}",
                where=unit.file.label,
                fix="check that the file is complete and not corrupt",
            ) from None


def _line_in_file(unit: WorkUnit, number: int) -> int:
    """The absolute line number of a unit's ``number``-th line (only for error messages)."""
    if unit.start == 0 or unit.file.compressed:
        return number
    # The unit's first line follows the line holding byte start - 1 (owned by the unit before).
    with open(unit.file.path, "rb") as handle:
        before = sum(chunk.count(b"\n") for chunk in _chunks(handle, unit.start - 1))
    return before + 1 + number


def _chunks(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    remaining = limit
    while remaining > 0:
        chunk = handle.read(min(remaining, 1 << 20))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


def _jsonl_docs(
    unit: WorkUnit, options: CorpusOptions, docs: UnitDocs
) -> Iterator[tuple[DocKey, str, int]]:
    text_path = options.text_field.split(".")
    id_path = options.id_field.split(".") if options.id_field else None
    for number, line in _lines(unit):
        docs.records = number
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            row = _lenient_json(unit, number, line)
        if not isinstance(row, dict):
            raise DatasetError(
                f"line is a JSON {type(row).__name__}, not an object",
                where=f"{unit.file.label}:{_line_in_file(unit, number)}",
                fix="write one JSON object per line",
            )
        value = _dig(row, text_path)
        if value is _MISSING:
            raise DatasetError(
                f"no field {options.text_field!r} (fields: {', '.join(map(str, row)) or 'none'})",
                where=f"{unit.file.label}:{_line_in_file(unit, number)}",
                fix="name the text field with --text-field",
            )
        text = _as_text(value)
        if not text:
            continue
        key: DocKey = number
        if id_path is not None:
            doc_id = _dig(row, id_path)
            if doc_id is not _MISSING and doc_id is not None:
                key = str(doc_id)
        yield key, text, len(line)


def _lenient_json(unit: WorkUnit, number: int, line: bytes) -> Any:
    # orjson rejects NaN/Infinity and invalid UTF-8; the standard library is more forgiving.
    try:
        return json.loads(line.decode("utf-8", "replace"))
    except ValueError as exc:
        raise DatasetError(
            f"malformed JSON: {exc}",
            where=f"{unit.file.label}:{_line_in_file(unit, number)}",
            fix="write one JSON object per line",
        ) from None


_MISSING: Any = object()


def _dig(row: dict[str, Any], path: list[str]) -> Any:
    value: Any = row
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _as_text(value: Any) -> str:
    """Document text from a field: text as is, chat messages and lists of strings joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("content", item.get("text", ""))
            parts.append(_as_text(item))
        return "\n".join(p for p in parts if p)
    return str(value)


def _parquet_docs(
    unit: WorkUnit, options: CorpusOptions, docs: UnitDocs
) -> Iterator[tuple[DocKey, str, int]]:
    handle = _parquet(unit.file)
    names = handle.schema_arrow.names
    if options.text_field not in names:
        raise DatasetError(
            f"no column {options.text_field!r} (columns: {', '.join(names)})",
            where=unit.file.label,
            fix="name the text column with --text-field",
        )
    id_column = options.id_field if options.id_field in names else None
    columns = [options.text_field] + ([id_column] if id_column else [])
    number = 0
    for batch in handle.iter_batches(
        batch_size=8192, row_groups=range(unit.start, unit.end), columns=columns
    ):
        texts = batch.column(0).to_pylist()
        ids = batch.column(1).to_pylist() if id_column else [None] * len(texts)
        for value, doc_id in zip(texts, ids, strict=True):
            number += 1
            docs.records = number
            text = _as_text(value)
            if text:
                yield (str(doc_id) if doc_id is not None else number), text, len(text)


def _file_doc(unit: WorkUnit) -> Iterator[tuple[DocKey, str, int]]:
    """A whole file as one document, read in overlapping chunks so memory stays bounded."""
    with _open(unit.file) as raw:
        reader = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        tail = ""
        while True:
            chunk = reader.read(_FILE_CHUNK)
            if not chunk:
                break
            text = tail + chunk
            yield unit.file.label, text, len(chunk)
            # Repeat the end of this chunk at the start of the next, cut at a space so no
            # word is split; the scanner merges the pieces of one document.
            cut = text.find(" ", max(0, len(text) - _FILE_OVERLAP))
            tail = text[cut:] if cut >= 0 else ""
