"""Per-format row readers: each yields ``(number, row)`` with the row's place in the file.

``number`` is the 1-based line on which the row starts (JSONL, JSON, CSV, YAML) or the 1-based
row number (Parquet); :meth:`RowSource.where` turns it into ``file:12`` or ``file:row 12``.
Readers only split a file into rows; turning a row into a sample (and rejecting bad rows) is
the loader's job, so every format is checked by the same rules. Errors that belong to the file
itself (malformed JSON or YAML, a CSV row with the wrong number of cells) are raised here.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from assay.core.errors import DatasetError

#: Parquet schema-metadata key listing columns whose cells hold JSON text (see writers).
JSON_COLUMNS_KEY = b"assay.json_columns"

Rows = Iterator[tuple[int, Any]]


@dataclass
class RowSource:
    """The rows of one file and how to read their cells.

    ``text_cells``: every cell is text (CSV), so metadata cells are type-inferred and chat
    inputs, list targets, metadata and provenance mappings are JSON text.
    ``json_columns``: columns whose every cell is JSON text (Parquet files written by assay
    where a column mixes kinds of value).
    ``plain``: values are already JSON types (no dates, bytes or tuples to normalise).
    """

    label: str
    rows: Rows
    unit: Literal["line", "row"] = "line"
    text_cells: bool = False
    json_columns: frozenset[str] = field(default_factory=frozenset)
    plain: bool = True

    def where(self, number: int) -> str:
        """``file:line`` or ``file:row N``."""
        if self.unit == "line":
            return f"{self.label}:{number}"
        return f"{self.label}:row {number}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: valid JSON, but no number a row can hash or store
        raise ValueError(f"{text} is too large for a number (it overflows to infinity)")
    return value


#: A JSON decoder that rejects NaN and Infinity, and numbers that overflow to them (they have
#: no canonical form).
JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_JSON_FIX = "write null (or the number as text) instead of NaN, Infinity or an overflowing number"


def _json_error(exc: ValueError, label: str, line: int, fix: str) -> DatasetError:
    """A DatasetError for a JSON decoding failure; ``line`` is used when the error has none."""
    if isinstance(exc, json.JSONDecodeError):
        return DatasetError(
            f"malformed JSON: {exc.msg} (column {exc.colno})", where=f"{label}:{line}", fix=fix
        )
    return DatasetError(f"malformed JSON: {exc}", where=f"{label}:{line}", fix=_JSON_FIX)


def read_jsonl(path: Path, label: str) -> RowSource:
    """One JSON value per line; blank lines are skipped."""

    def rows() -> Rows:
        decode = JSON_DECODER.decode
        fix = 'make each line one complete JSON object, e.g. {"id": "q1", "input": "..."}'
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DatasetError(
                        f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                        where=f"{label}:{lineno}",
                        fix="save the file as UTF-8",
                    ) from None
                if lineno == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                if not line.strip():
                    continue
                try:
                    value = decode(line.rstrip("\r\n"))
                except ValueError as exc:
                    raise _json_error(exc, label, lineno, fix) from None
                except RecursionError:
                    raise _too_deep(label, lineno) from None
                if _SURROGATE.search(line):
                    _check_encodable(value, f"{label}:{lineno}")
                yield lineno, value

    return RowSource(label, rows())


#: A ``\\uD800``–``\\uDFFF`` escape: JSON allows it, but a lone one is not text (UTF-8 cannot
#: encode it), so it would fail later, when the row is hashed or stored.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_encodable(value: Any, where: str) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise DatasetError(
            f"a lone surrogate escape (\\u{ord(bad[0]):04x}) is not text",
            where=where,
            fix="remove it, or write the character it was meant to be (a surrogate pair or "
            "the character itself)",
        ) from None


def _too_deep(label: str, line: int) -> DatasetError:
    return DatasetError(
        "malformed JSON: nested too deeply to read",
        where=f"{label}:{line}",
        fix="a sample is a flat object of fields; flatten the nesting",
    )


def _error_line(exc: ValueError, fallback: int) -> int:
    return exc.lineno if isinstance(exc, json.JSONDecodeError) else fallback


_WS = re.compile(r"[ \t\n\r]*")


def _read_text(path: Path, label: str) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}",
            where=label,
            fix="save the file as UTF-8",
        ) from None
    return text


def read_json(path: Path, label: str) -> RowSource:
    """A JSON array of objects; each row's number is the line its value starts on."""
    text = _read_text(path, label)
    fix = "make the file one JSON array of objects: [{...}, {...}]"

    def rows() -> Rows:
        line, counted = 1, 0

        def line_at(pos: int) -> int:
            nonlocal line, counted
            line += text.count("\n", counted, pos)
            counted = pos
            return line

        def fail(message: str, pos: int) -> DatasetError:
            return DatasetError(message, where=f"{label}:{line_at(pos)}", fix=fix)

        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if pos == len(text):
            return
        if text[pos] != "[":
            try:
                value = JSON_DECODER.decode(text)
            except ValueError as exc:
                raise _json_error(exc, label, _error_line(exc, line_at(pos)), fix) from None
            except RecursionError:
                raise _too_deep(label, line_at(pos)) from None
            raise fail(f"the top level is {described(value)}, not a list of samples", pos)
        pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            pos += 1
        else:
            while True:
                try:
                    value, end = JSON_DECODER.raw_decode(text, pos)
                except ValueError as exc:
                    raise _json_error(exc, label, _error_line(exc, line_at(pos)), fix) from None
                except RecursionError:
                    raise _too_deep(label, line_at(pos)) from None
                if _SURROGATE.search(text, pos, end):
                    _check_encodable(value, f"{label}:{line_at(pos)}")
                yield line_at(pos), value
                pos = _WS.match(text, end).end()  # type: ignore[union-attr]
                if text.startswith(",", pos):
                    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                    continue
                if text.startswith("]", pos):
                    pos += 1
                    break
                raise fail("malformed JSON: expected ',' or ']' after a sample", pos)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos != len(text):
            raise fail("malformed JSON: extra data after the closing ']'", pos)

    return RowSource(label, rows())


def read_csv(path: Path, label: str) -> RowSource:
    """A header line then one record per row; a record's number is its first physical line.

    Blank lines and rows whose every cell is empty are skipped; columns with an empty header
    (such as a spreadsheet's unnamed index column) are ignored.
    """
    # A cell can hold a long document; the csv module's default cap is 128 KiB.
    if csv.field_size_limit() < 2**31 - 1:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

    def rows() -> Rows:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            previous = 0
            try:
                header = next(reader, None)
                if header is None:
                    return
                seen: set[str] = set()
                for name in header:
                    if name in seen and name.strip():
                        raise DatasetError(
                            f"column {name!r} appears twice in the header",
                            where=f"{label}:1",
                            fix="give every column a distinct name",
                        )
                    seen.add(name)
                keep = [(i, name) for i, name in enumerate(header) if name.strip()]
                previous = reader.line_num
                for cells in reader:
                    start, previous = previous + 1, reader.line_num
                    if not any(cells):
                        continue
                    if len(cells) != len(header):
                        raise DatasetError(
                            f"row has {len(cells)} cells but the header has {len(header)} columns",
                            where=f"{label}:{start}",
                            fix="quote cells that contain commas, quotes or line breaks, and "
                            "give every row one cell per column",
                        )
                    yield start, {name: cells[i] for i, name in keep}
            except csv.Error as exc:
                raise DatasetError(
                    f"malformed CSV: {exc}",
                    where=f"{label}:{previous + 1}",
                    fix="check the quoting around this line",
                ) from None
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"not UTF-8 text: {exc.reason}",
                    where=f"{label}:{previous + 1}",
                    fix="save the file as UTF-8",
                ) from None

    return RowSource(label, rows(), text_cells=True)


def read_parquet(path: Path, label: str) -> RowSource:
    """Rows of a Parquet file, numbered from 1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fix = "check that the file is a complete Parquet file"
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"cannot read Parquet file: {exc}", where=label, fix=fix) from None
    metadata = parquet.schema_arrow.metadata or {}
    json_columns = frozenset(json.loads(metadata.get(JSON_COLUMNS_KEY, b"[]")))

    def rows() -> Rows:
        number = 0
        try:
            for batch in parquet.iter_batches(batch_size=8192):
                for row in batch.to_pylist():
                    number += 1
                    yield number, row
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(
                f"cannot read Parquet file: {exc}", where=f"{label}:row {number + 1}", fix=fix
            ) from None
        finally:
            parquet.close()

    return RowSource(label, rows(), unit="row", json_columns=json_columns, plain=False)


#: How many nodes aliases may add to a YAML document once expanded. A spec that shares a
#: subject's settings through anchors adds a few hundred; the "billion laughs" file of
#: issue 20 (seven levels of nine aliases) adds 4.8 million, and everything that walks the
#: expanded structure (line maps, validation, hashing) then takes minutes and gigabytes.
MAX_ALIAS_EXPANSION = 100_000


class YamlAliasBombError(yaml.MarkedYAMLError):
    """A YAML document whose aliases expand to too many nodes, or refer to themselves."""


def _check_alias_expansion(root: yaml.Node, limit: int = MAX_ALIAS_EXPANSION) -> None:
    """Raise :class:`YamlAliasBombError` when ``root`` expands to more than ``limit`` nodes
    beyond the nodes written in the file, or contains a recursive alias.

    An alias is a second reference to an already composed node, so the composed graph stays
    small while its expansion grows exponentially with the nesting depth. The expanded size is
    counted without expanding: size(node) = 1 + Σ size(child), memoised per node, which is
    linear in the composed graph. A node met again while its own size is being counted is a
    cycle (``&a [*a]``), which nothing downstream could serialise.
    """
    sizes: dict[int, int] = {}
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] - distinct > limit:
                raise YamlAliasBombError(
                    None,
                    None,
                    f"aliases expand this document to more than {limit:,} extra nodes "
                    "(a 'billion laughs' file?)",
                    node.start_mark,
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlAliasBombError(
                None, None, "a recursive alias: this node contains itself", node.start_mark
            )
        open_nodes.add(key)
        distinct += 1
        stack.append((node, True))
        for child in reversed(children):
            if id(child) in open_nodes:
                raise YamlAliasBombError(
                    None, None, "a recursive alias: this node contains itself", child.start_mark
                )
            if id(child) not in sizes:
                stack.append((child, False))


class DataYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans and integers and without timestamps, and
    with alias expansion capped.

    YAML 1.1 (PyYAML's default) reads ``yes``/``no``/``on``/``off`` as booleans, ``010`` as
    the octal 8 and ``2024-01-02`` as a date, which silently changes answers such as
    ``target: no``. Here only ``true``/``false`` are booleans, integers are plain decimal
    (``007`` stays text, as in a CSV cell) and dates stay text. Everything PyYAML writes reads
    back unchanged. A document whose aliases would expand to more than
    :data:`MAX_ALIAS_EXPANSION` extra nodes, or that contains a recursive alias, is refused
    with :class:`YamlAliasBombError` (a ``MarkedYAMLError``: it names its line) before
    anything is built from it. Every YAML assay reads (specs, data files, declarations,
    rubrics, schemas) goes through this loader.
    """

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _check_alias_expansion(node)
        return node


_BOOL, _INT, _TIMESTAMP = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "timestamp"))
DataYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
DataYamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
DataYamlLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)


def read_yaml(path: Path, label: str) -> RowSource:
    """A YAML list of mappings, or a mapping whose ``samples`` key holds that list.

    The file is composed to nodes first so every row keeps the line it starts on. Scalars are
    resolved by :class:`DataYamlLoader`.
    """
    text = _read_text(path, label)
    fix = "make the file a YAML list of mappings, or a mapping with a 'samples:' list"

    def rows() -> Rows:
        try:
            loader = DataYamlLoader(text)
        except yaml.reader.ReaderError as exc:  # a control character, before any parsing
            line = text.count("\n", 0, max(exc.position, 0)) + 1
            raise DatasetError(
                f"malformed YAML: control character #x{exc.character:04x} is not allowed",
                where=f"{label}:{line}",
                fix="remove it (inside double quotes, write it as an escape such as \\x01)",
            ) from None
        try:
            root = loader.get_single_node()
            if root is None:
                return
            items = root
            if isinstance(root, yaml.MappingNode):
                found = [v for k, v in root.value if getattr(k, "value", None) == "samples"]
                if not found:
                    raise DatasetError(
                        "the top level is a mapping without a 'samples' key",
                        where=f"{label}:{root.start_mark.line + 1}",
                        fix=fix,
                    )
                items = found[0]
            if not isinstance(items, yaml.SequenceNode):
                kind = "null" if items.tag.endswith(":null") else f"a {_node_kind(items)}"
                raise DatasetError(
                    f"expected a list of samples, found {kind}",
                    where=f"{label}:{items.start_mark.line + 1}",
                    fix=fix,
                )
            for node in items.value:
                _check_duplicate_keys(node, label)
                yield node.start_mark.line + 1, loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{label}:{mark.line + 1}" if mark is not None else label
            message = f"malformed YAML: {exc.problem or exc.context or 'invalid YAML'}"
            if exc.problem and exc.context:
                message += f" ({exc.context}"
                if exc.context_mark is not None:
                    message += f" started on line {exc.context_mark.line + 1}"
                message += ")"
            how = (
                "write the values out, or share fewer nested anchors (&name / *name)"
                if isinstance(exc, YamlAliasBombError)
                else "fix the YAML syntax"
            )
            raise DatasetError(message, where=where, fix=how) from None
        except yaml.YAMLError as exc:
            raise DatasetError(f"malformed YAML: {exc}", where=label, fix=fix) from None
        except RecursionError:
            raise DatasetError(
                "malformed YAML: nested too deeply to read", where=label, fix=fix
            ) from None
        finally:
            loader.dispose()

    return RowSource(label, rows(), plain=False)


def _check_duplicate_keys(root: yaml.Node, label: str) -> None:
    """Refuse a mapping in ``root`` that gives one key twice (PyYAML silently keeps the last
    value, so ``input:`` written twice in a sample would drop one of them without a word).
    Merge keys (``<<: *base``) are left to PyYAML, whose merge lets a key override the base."""
    stack, seen_nodes = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias: the same node again
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}  # by text: keys become strings (1 and "1" collide)
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in first:
                        raise DatasetError(
                            f"duplicate key {key.value!r} (first on line {first[key.value]})",
                            where=f"{label}:{line}",
                            fix="keep one of them",
                        )
                    first[key.value] = line
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "scalar"


def value_kind(value: Any) -> str:
    """The JSON name of a value's type, for messages ("a list, not an object")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def described(value: Any) -> str:
    """``value_kind`` with its article: "an object", "a list", "null"."""
    kind = value_kind(value)
    if kind == "null":
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


READERS: dict[str, Callable[[Path, str], RowSource]] = {
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".json": read_json,
    ".csv": read_csv,
    ".parquet": read_parquet,
    ".yaml": read_yaml,
    ".yml": read_yaml,
}


def open_rows(path: str | os.PathLike[str]) -> RowSource:
    """The rows of a dataset file, by its extension. Raises DatasetError for a missing file or an
    unknown extension."""
    label = os.fspath(path)
    file = Path(path)
    if not file.exists():
        raise DatasetError(
            "dataset file not found",
            where=label,
            fix="check the path (relative paths are resolved from the current directory)",
        )
    if file.is_dir():
        raise DatasetError(
            "dataset path is a directory, not a file",
            where=label,
            fix="point at one file",
        )
    if not file.is_file():  # a device (/dev/zero), a pipe or a socket: it may never end
        raise DatasetError(
            "dataset path is not a regular file (a device, pipe or socket)",
            where=label,
            fix="point at a file on disk",
        )
    reader = READERS.get(file.suffix.lower())
    if reader is None:
        raise DatasetError(
            f"unknown dataset format {file.suffix or '(no extension)'!r}",
            where=label,
            fix="use one of " + ", ".join(sorted(READERS)),
        )
    return reader(file, label)
