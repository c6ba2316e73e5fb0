"""What the importers share: reading an export file row by row with each row's ``file:line``,
turning foreign ids into OTLP hex ids, and reading the cells exports write (timestamps as ISO
text or epoch numbers, JSON or Python-repr text in CSV cells, NaN for a missing number).

Rows come from :func:`assay.data.readers.open_rows` (JSONL, CSV and Parquet stream; a JSON array
is read whole), plus one shape of its own: a JSON *object* whose list under ``data`` (an API
page) or ``observations``/``spans`` (a single-trace download) holds the rows; the object's other
keys are returned as the rows' context.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.core import AssayError
from assay.data.readers import JSON_DECODER, open_rows

_HEX = re.compile(r"[0-9a-f]+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_WS = re.compile(r"[ \t\n\r]*")

#: Keys of a JSON object export whose list holds the rows.
ROW_LIST_KEYS = ("data", "observations", "spans")


class TraceImportError(AssayError):
    """Raised for an export file that cannot be imported: a row that is not an object, a missing
    or unreadable id or timestamp, a value of the wrong type, an unknown format."""

    code = "trace_import_error"


@dataclass
class ExportRows:
    """The rows of an export file: ``rows`` yields ``(where, row)`` with ``where`` as
    ``file:line`` (or ``file:row N`` for Parquet); ``context`` holds the other top-level keys of
    a JSON object export (the trace of a single-trace download); ``text_cells`` is true for CSV,
    whose every cell is text; ``json_values`` is true when cells already hold JSON types only
    (false for Parquet, whose cells may be datetimes, tuples or NumPy values)."""

    rows: Iterator[tuple[str, Any]]
    context: dict[str, Any] = field(default_factory=dict)
    text_cells: bool = False
    json_values: bool = True


def read_export(path: str | os.PathLike[str]) -> ExportRows:
    """The rows of an export file (see the module docstring for the shapes read)."""
    label = os.fspath(path)
    file = Path(path)
    if file.suffix.lower() == ".json" and file.is_file() and _first_char(file) == "{":
        return _object_rows(file, label)
    source = open_rows(path)
    where = source.where
    return ExportRows(
        ((where(number), row) for number, row in source.rows),
        text_cells=source.text_cells,
        json_values=source.plain,
    )


def _first_char(file: Path) -> str:
    with open(file, "rb") as fh:
        head = fh.read(4096).decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    return head[:1]


def _object_rows(file: Path, label: str) -> ExportRows:
    """A JSON object with the rows in a list under one of :data:`ROW_LIST_KEYS`; every row keeps
    the line it starts on."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise TraceImportError(
            f"not UTF-8 text: {error.reason} at byte {error.start}",
            where=label,
            fix="save the file as UTF-8",
        ) from None
    fix = 'an object export holds its rows in a list under "data" or "observations"'

    def line_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def decode(pos: int) -> tuple[Any, int]:
        try:
            return JSON_DECODER.raw_decode(text, pos)
        except ValueError as error:
            line = error.lineno if isinstance(error, json.JSONDecodeError) else line_at(pos)
            raise TraceImportError(f"malformed JSON: {error}", where=f"{label}:{line}") from None

    def skip(pos: int) -> int:
        return _WS.match(text, pos).end()  # type: ignore[union-attr]

    def expect(pos: int, char: str) -> int:
        if not text.startswith(char, pos):
            raise TraceImportError(
                f"malformed JSON: expected {char!r}", where=f"{label}:{line_at(pos)}"
            )
        return skip(pos + 1)

    context: dict[str, Any] = {}
    items: list[tuple[int, Any]] = []
    pos = expect(skip(0), "{")
    found = False
    while not text.startswith("}", pos):
        key, pos = decode(pos)
        pos = expect(skip(pos), ":")
        if key in ROW_LIST_KEYS and not found and text.startswith("[", pos):
            found = True
            pos = skip(pos + 1)
            while not text.startswith("]", pos):
                start = pos
                value, pos = decode(pos)
                items.append((line_at(start), value))
                pos = skip(pos)
                if text.startswith(",", pos):
                    pos = skip(pos + 1)
            pos = skip(pos + 1)
        else:
            context[str(key)], pos = decode(pos)
            pos = skip(pos)
        if text.startswith(",", pos):
            pos = skip(pos + 1)
    if not found:
        raise TraceImportError("the JSON object holds no list of rows", where=label, fix=fix)
    return ExportRows(((f"{label}:{line}", row) for line, row in items), context=context)


def hex_id(value: Any, digits: int) -> tuple[str, bool]:
    """An OTLP id of ``digits`` lower-case hex digits for a foreign id, and whether it changed.

    Hex of the right length is kept (an OTel id); a UUID becomes its 32 hex digits (as a trace
    id) or the first 16 of the SHA-256 of its text (as a span id); any other text is hashed the
    same way, so the same foreign id always maps to the same OTLP id.
    """
    text = str(value).strip()
    lowered = text.lower()
    if len(lowered) == digits and _HEX.fullmatch(lowered) and lowered.strip("0"):
        return lowered, lowered != text
    if digits == 32 and _UUID.fullmatch(lowered):
        return lowered.replace("-", ""), True
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:digits], True


def missing(value: Any) -> bool:
    """True for a cell that holds nothing: ``None``, ``""`` or a float NaN (pandas' blank)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value == ""


def structured(value: Any) -> Any:
    """A CSV cell holding a list or object as JSON (or as pandas writes it, a Python repr)
    parsed back; any other value unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{":
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def json_text(value: Any) -> Any:
    """A string that holds a JSON object or list, parsed; anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def timestamp(value: Any, name: str, where: str) -> datetime:
    """A timestamp cell as an aware UTC datetime: a datetime (naive is UTC), ISO 8601 text, or a
    Unix time in seconds, milliseconds, microseconds or nanoseconds (told apart by size)."""
    fix = f"write {name} as ISO 8601 (2024-05-01T10:00:00Z) or a Unix time"
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):
            raise TraceImportError(f"{name} is {value!r}", where=where, fix=fix)
        for scale in (1e9, 1e6, 1e3):
            if abs(number) >= scale * 1e8:  # past 1973 in that unit
                number /= scale
                break
        try:
            moment = datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError):
            raise TraceImportError(
                f"{name} {value!r} is out of range", where=where, fix=fix
            ) from None
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return timestamp(float(text), name, where)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TraceImportError(f"cannot read {name} {value!r}", where=where, fix=fix) from None
    else:
        raise TraceImportError(f"{name} is {_described(value)}", where=where, fix=fix)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def count(value: Any, name: str, where: str) -> int | None:
    """A token count: a non-negative integer (text in CSV), or ``None`` when blank."""
    if missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise TraceImportError(
            f"{name} is {value!r}, not a whole number of tokens",
            where=where,
            fix=f"write {name} as an integer ≥ 0, or leave it empty",
        )
    return int(number)


def amount(value: Any, name: str, where: str) -> float | None:
    """A cost in USD: a non-negative number (text in CSV), or ``None`` when blank."""
    if missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise TraceImportError(
            f"{name} is {value!r}, not a cost",
            where=where,
            fix=f"write {name} as a number ≥ 0 (USD), or leave it empty",
        )
    return number


def text_or_none(value: Any) -> str | None:
    """A cell as text, ``None`` when blank."""
    return None if missing(value) else str(value)


def plain(value: Any) -> Any:
    """A cell as a JSON-like value: datetimes as ISO text, NaN as ``None``, tuples and NumPy
    arrays (from Parquet) as lists, NumPy scalars as Python numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _described(value: Any) -> str:
    if missing(value):
        return "missing"
    return f"{value!r} (a {type(value).__name__})"


def require_mapping(row: Any, where: str, what: str) -> Mapping[str, Any]:
    """The row as a mapping, or an error naming its place."""
    if not isinstance(row, Mapping):
        raise TraceImportError(
            f"a row must be an object ({what}), not {type(row).__name__}",
            where=where,
            fix="export one object per line (or per CSV row)",
        )
    return row
