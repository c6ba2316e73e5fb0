"""Rows to samples: the checks every row of every format goes through.

The first bad row stops the load with a :class:`~assay.core.DatasetError` naming the row
(``file:line``, ``file:row N`` or the location the caller gave) and saying how to fix it. Rows
are checked here by hand (so every mistake gets its own message and place) before the sample
is built.

Normalisation, so that the same rows give the same content hash whatever the format:
ids are text (``7`` and ``"7"`` are the same id); inputs and targets are text (a number target
``42`` is ``"42"``); a metadata value that is null (or NaN, or an empty CSV cell) is left out;
CSV metadata cells are type-inferred (see :mod:`assay.data.cells`); a blank cluster is none.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import os
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, get_args

from pydantic import ValidationError

from assay.core.errors import DatasetError
from assay.core.hashing import content_hash
from assay.core.sample import Message, Provenance, Role, Sample, SampleValues
from assay.data.cells import infer_cell, parse_text_input, parse_text_target
from assay.data.dataset import Columns, Dataset, append_index, first_duplicate, order_by_id
from assay.data.fields import METADATA_COLUMN, FieldMap
from assay.data.readers import JSON_DECODER, RowSource, described, open_rows

#: A sample's checked fields but the id (see :data:`~assay.core.sample.SampleValues`).
FieldValues = tuple[
    str | tuple[Message, ...],
    str | tuple[str, ...] | None,
    dict[str, Any],
    str | None,
    Provenance,
]

_MISSING: Any = object()
_ROLES = frozenset(get_args(Role))
_INPUT_GUESSES = (
    "prompt",
    "question",
    "query",
    "instruction",
    "messages",
    "conversation",
    "text",
    "input_text",
    "problem",
)
_PROVENANCE_FIELDS = ", ".join(Provenance.model_fields)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any, where: str, column: str) -> Any:
    """``value`` as JSON types: dates become ISO text, tuples lists, decimals numbers."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DatasetError(
                f"column {column!r} holds {value!r}, which has no JSON form",
                where=where,
                fix="use null for a missing value",
            )
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v, where, column) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where, column) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise DatasetError(
        f"column {column!r} holds a {type(value).__name__} value, which assay cannot store",
        where=where,
        fix="store text, numbers, booleans, lists or mappings",
    )


def _scalar_text(value: Any) -> str | None:
    """Text of a scalar as JSON writes it (``42``, ``0.5``, ``true``), or None otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return None


class _RowChecker:
    """Checks rows of one source and turns them into samples."""

    def __init__(
        self,
        fields: FieldMap,
        *,
        label: str,
        provenance: dict[str, Any] | None,
        text_cells: bool = False,
        json_columns: frozenset[str] = frozenset(),
        plain: bool = True,
    ) -> None:
        self.fields = fields
        self.label = label
        self.text_cells = text_cells
        self.json_columns = json_columns
        self.plain = plain
        self.merge_column = METADATA_COLUMN if fields.merges_metadata_column else None
        self.excluded = fields.mapped_columns() | {METADATA_COLUMN}
        self.provenance_defaults = dict(provenance or {})
        try:
            self.default_provenance = Provenance.model_validate(self.provenance_defaults)
        except ValidationError as exc:
            raise DatasetError(
                f"invalid dataset provenance: {_problems(exc)}",
                where=label,
                fix=f"use Provenance fields ({_PROVENANCE_FIELDS}) with valid values",
            ) from None

    # -- one row -------------------------------------------------------------------------

    def values(self, row: dict[str, Any], where: str, sample_id: str | None) -> SampleValues:
        """The row's sample fields, checked (``sample_id`` None generates the id from the
        content): ``(id, input, target, metadata, cluster, provenance)``, the arguments of
        :meth:`Sample.from_checked <assay.core.Sample.from_checked>`."""
        fields = self.fields
        input_ = self._input(row, where)
        target = None
        if fields.target is not None:
            target = self._target(row.get(fields.target), where)
        metadata = self._metadata(row, where)
        cluster = None
        if fields.cluster is not None:
            cluster = self._cluster(row.get(fields.cluster), where)
        provenance = self.default_provenance
        if fields.provenance is not None:
            provenance = self._provenance(row.get(fields.provenance), where)
        if sample_id is None:
            sample_id = _generated_id(input_, target, metadata, cluster, where)
        return sample_id, input_, target, metadata, cluster, provenance

    def raw_id(self, row: Any, where: str) -> Any:
        if not isinstance(row, dict):
            raise DatasetError(
                f"row is {described(row)}, not an object",
                where=where,
                fix="make every row an object (a mapping of column names to values)",
            )
        if self.fields.id is None:
            return _MISSING
        return row.get(self.fields.id, _MISSING)

    def id_text(self, value: Any, where: str) -> str:
        column = self.fields.id
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DatasetError(
                f"empty id in column {column!r}",
                where=where,
                fix=f"give this row a non-empty {column!r}, or remove the {column!r} column "
                "from every row to have ids generated from the content",
            )
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # an integer id column that pandas turned into floats
        text = _scalar_text(value)
        if text is None or isinstance(value, bool):
            raise DatasetError(
                f"id must be text or an integer, got {described(value)} ({_short(value)})",
                where=where,
                fix=f'make {column!r} a string such as "q1"',
            )
        return text

    def _input(self, row: dict[str, Any], where: str) -> str | tuple[Message, ...]:
        column = self.fields.input
        value = row.get(column, _MISSING)
        if value is _MISSING or value is None:
            self._missing_input(row, where, value)
        if isinstance(value, str):
            if column in self.json_columns:
                value = self._json_cell(value, where, column)
            elif self.text_cells:
                value = parse_text_input(value)
        if isinstance(value, str):
            if not value.strip():
                raise DatasetError(
                    f"input {column!r} is empty",
                    where=where,
                    fix="give every row a non-empty input, or map another column with "
                    "`fields: {input: <column>}`",
                )
            return value
        if isinstance(value, (list, tuple)):
            return self._messages(value, where)
        raise DatasetError(
            f"input {column!r} must be text or a list of {{role, content}} messages, "
            f"got {described(value)} ({_short(value)})",
            where=where,
            fix=f'write the input as a string, e.g. "{value}"'
            if _scalar_text(value) is not None
            else 'write the input as text or as [{"role": "user", "content": "..."}]',
        )

    def _missing_input(self, row: dict[str, Any], where: str, value: Any) -> NoReturn:
        column = self.fields.input
        columns = list(row)
        others = [c for c in columns if c not in self.excluded]
        guess = next((c for c in _INPUT_GUESSES if c in others), others[0] if others else None)
        state = "is null" if value is None else "is missing"
        raise DatasetError(
            f"input field {column!r} {state} (columns present: "
            f"{', '.join(columns) if columns else 'none'})",
            where=where,
            fix=f"map the input column in the spec, e.g. `fields: {{input: {guess}}}`"
            if guess is not None and value is _MISSING
            else f"give every row an {column!r} field, or map another column with "
            "`fields: {input: <column>}`",
        )

    def _messages(self, items: Sequence[Any], where: str) -> tuple[Message, ...]:
        fix = 'write chat input as [{"role": "user", "content": "..."}, ...]'
        if not items:
            raise DatasetError("input is an empty list of messages", where=where, fix=fix)
        messages = []
        for i, item in enumerate(items):
            if isinstance(item, Message):
                messages.append(item)
                continue
            if not isinstance(item, dict):
                raise DatasetError(
                    f"input message {i} is {described(item)}, not a {{role, content}} object",
                    where=where,
                    fix=fix,
                )
            extra = sorted(
                k for k, v in item.items() if k not in ("role", "content") and v is not None
            )
            if extra:
                raise DatasetError(
                    f"input message {i} has unexpected keys {', '.join(map(repr, extra))}",
                    where=where,
                    fix="keep only 'role' and 'content' in each message",
                )
            role, content = item.get("role"), item.get("content")
            if role not in _ROLES:
                raise DatasetError(
                    f"input message {i} has role {_short(role)}; expected one of "
                    f"{', '.join(sorted(_ROLES))}",
                    where=where,
                    fix=fix,
                )
            if not isinstance(content, str):
                raise DatasetError(
                    f"input message {i} content must be text, got {described(content)}",
                    where=where,
                    fix=fix,
                )
            messages.append(Message(role=role, content=content))
        return tuple(messages)

    def _target(self, value: Any, where: str) -> str | tuple[str, ...] | None:
        column = self.fields.target
        assert column is not None
        if value is None:
            return None
        if isinstance(value, str):
            if column in self.json_columns:
                value = self._json_cell(value, where, column)
            elif self.text_cells:
                value = parse_text_target(value)
            if value is None or isinstance(value, str):
                return value
        text = _scalar_text(value)
        if text is not None:
            return text
        if isinstance(value, (list, tuple)):
            targets = []
            for item in value:
                text = _scalar_text(item)
                if text is None:
                    raise DatasetError(
                        f"target {column!r} is a list holding {described(item)}; each target "
                        "must be text",
                        where=where,
                        fix='write the targets as a list of strings, e.g. ["Paris", "paris"]',
                    )
                targets.append(text)
            return tuple(targets)
        raise DatasetError(
            f"target {column!r} must be text or a list of texts, got {described(value)}",
            where=where,
            fix='write the target as a string or a list of strings, e.g. ["Paris", "paris"]',
        )

    def _cluster(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        text = _scalar_text(value)
        if text is None:
            raise DatasetError(
                f"cluster {self.fields.cluster!r} must be text, got {described(value)}",
                where=where,
                fix="use a text key such as the source document's id",
            )
        return text if text.strip() else None

    def _provenance(self, value: Any, where: str) -> Provenance:
        column = self.fields.provenance
        assert column is not None
        if value is None or value == "":
            return self.default_provenance
        if isinstance(value, str):
            value = self._json_cell(value, where, column)
        if not isinstance(value, dict):
            raise DatasetError(
                f"provenance {column!r} must be an object, got {described(value)}",
                where=where,
                fix=f"write provenance as a mapping of Provenance fields ({_PROVENANCE_FIELDS})",
            )
        merged = dict(self.provenance_defaults)
        merged.update((k, v) for k, v in value.items() if v is not None)
        try:
            return Provenance.model_validate(merged)
        except ValidationError as exc:
            raise DatasetError(
                f"invalid provenance: {_problems(exc)}",
                where=where,
                fix=f"use Provenance fields ({_PROVENANCE_FIELDS}) with valid values",
            ) from None

    def _metadata(self, row: dict[str, Any], where: str) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        if self.merge_column is not None and self.merge_column in row:
            merged = row[self.merge_column]
            if merged is not None and merged != "":
                if isinstance(merged, str):
                    merged = self._json_cell(merged, where, self.merge_column)
                if not isinstance(merged, dict):
                    raise DatasetError(
                        f"column {self.merge_column!r} must hold an object, "
                        f"got {described(merged)}",
                        where=where,
                        fix="put a mapping (in CSV, a JSON object) in the 'metadata' column, or "
                        "rename the column",
                    )
                for key, value in merged.items():
                    if value is None or (isinstance(value, float) and math.isnan(value)):
                        continue
                    metadata[str(key)] = value if self.plain else _plain(value, where, str(key))
        columns: Iterable[str]
        if self.fields.metadata is None:
            excluded = self.excluded
            if self.plain and not self.text_cells:
                # JSON values (NaN is rejected when parsing): the common case, kept fast.
                metadata.update(
                    {k: v for k, v in row.items() if v is not None and k not in excluded}
                )
                return metadata
            columns = [c for c in row if c not in excluded]
        else:
            columns = self.fields.metadata
        for column in columns:
            value = row.get(column)
            if value is None:
                continue
            if self.text_cells and isinstance(value, str):
                value = infer_cell(value)
                if value is None:
                    continue
            elif isinstance(value, float) and math.isnan(value):
                continue
            elif not self.plain:
                value = _plain(value, where, column)
            metadata[str(column)] = value
        return metadata

    def _json_cell(self, text: str, where: str, column: str) -> Any:
        try:
            return JSON_DECODER.decode(text)
        except ValueError as exc:
            raise DatasetError(
                f"column {column!r} does not hold valid JSON: {exc}",
                where=where,
                fix=f"write {column!r} as JSON text",
            ) from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


def _generated_id(
    input_: str | tuple[Message, ...],
    target: str | tuple[str, ...] | None,
    metadata: dict[str, Any],
    cluster: str | None,
    where: str,
) -> str:
    """``"s"`` + the first 12 hex digits of the hash of :meth:`Sample.content` without the id."""
    content = {
        "input": input_
        if isinstance(input_, str)
        else [{"role": m.role, "content": m.content} for m in input_],
        "target": list(target) if isinstance(target, tuple) else target,
        "metadata": metadata,
        "cluster": cluster,
    }
    try:
        return "s" + content_hash(content)[:12]
    except (ValueError, TypeError) as exc:
        raise DatasetError(
            f"the row's content cannot be hashed: {exc}",
            where=where,
            fix="use null for missing values (no NaN or infinity)",
        ) from None


def _checked(
    rows: Iterable[tuple[int, Any]],
    checker: _RowChecker,
    where: Callable[[int], str],
    *,
    ids: list[str] | None = None,
    limit: int | None = None,
) -> Generator[FieldValues, None, array[int]]:
    """The checked fields of each row but the id, in order, appending each id to ``ids``.

    ``rows`` are ``(number, row)`` and ``where(number)`` names a row's place. Raises at the
    first bad row and, once the rows are read, at a repeated id, when there were no rows or
    when an explicitly mapped column is in no row. Errors come in file order: a repeated id
    before a bad row is reported first, and of several repeated ids, the one repeated first.
    Returns the positions sorted by id (the duplicate check works them out).

    Ids are checked for repeats at the end rather than as they come, so nothing but the ids
    themselves and each row's number (4 bytes) is held: a set of the ids seen would cost
    another 45 bytes a row.
    """
    fields = checker.fields
    ids = [] if ids is None else ids
    numbers = array("I")
    generated = False  # whether ids are generated from the content
    with_id: str | None = None  # where the first row with an id is
    without_id: str | None = None  # where the first row without one is
    # Columns the user named explicitly must exist somewhere; track what columns rows have.
    explicit: list[tuple[str, str]] = [
        (role, getattr(fields, role))
        for role in ("id", "target", "cluster", "provenance")
        if role in fields.model_fields_set and getattr(fields, role) is not None
    ]
    explicit += [("metadata", c) for c in fields.metadata or ()]
    seen_columns: set[str] | None = set() if explicit else None

    def repeats() -> tuple[array[int], DatasetError | None]:
        """The positions sorted by id, and the error for the id repeated first, if any."""
        order = order_by_id(ids)
        repeat = first_duplicate(ids, order)
        if repeat is None:
            return order, None
        first, second = where(numbers[repeat[0]]), where(numbers[repeat[1]])
        sample_id = ids[repeat[1]]
        if generated:
            return order, DatasetError(
                f"duplicate id {sample_id!r} (first seen at {first}): the two rows have "
                "identical content",
                where=second,
                fix="remove the repeated row, or add an id column to tell the rows apart",
            )
        return order, DatasetError(
            f"duplicate id {sample_id!r} (first seen at {first})",
            where=second,
            fix="give every row a unique id",
        )

    for number, row in rows:
        place = where(number)
        try:
            raw_id = checker.raw_id(row, place)
            if raw_id is _MISSING:
                if with_id is not None:
                    raise DatasetError(
                        f"row has no {fields.id!r} field, but other rows have one (e.g. {with_id})",
                        where=place,
                        fix=f"give every row an {fields.id!r}, or none (ids are then generated "
                        "from the content)",
                    )
                without_id = without_id or place
                generated = True
                sample_id = None
            else:
                if without_id is not None:
                    raise DatasetError(
                        f"row has no {fields.id!r} field, but other rows have one (e.g. {place})",
                        where=without_id,
                        fix=f"give every row an {fields.id!r}, or none (ids are then generated "
                        "from the content)",
                    )
                with_id = with_id or place
                sample_id = checker.id_text(raw_id, place)
            values = checker.values(row, place, sample_id)
        except DatasetError:
            repeated = repeats()[1]  # a repeated id in the rows before this one comes first
            if repeated is not None:
                raise repeated from None
            raise
        if seen_columns is not None:
            seen_columns.update(row)
        ids.append(values[0])
        numbers = append_index(numbers, number)
        yield values[1:]
        if limit is not None and len(numbers) >= limit:
            break  # before reading another row

    order, repeated = repeats()
    if repeated is not None:
        raise repeated
    if seen_columns is not None and ids:
        for role, column in explicit:
            if column not in seen_columns:
                raise DatasetError(
                    f"{role} column {column!r} is not in any row (columns: "
                    f"{', '.join(sorted(seen_columns))})",
                    where=checker.label,
                    fix=f"check the spelling of {column!r} in the field mapping",
                )
    if not ids:
        raise DatasetError(
            "the dataset has no samples",
            where=checker.label,
            fix="add at least one row (blank lines are skipped)",
        )
    return order


def _build(
    rows: Iterable[tuple[int, Any]],
    checker: _RowChecker,
    where: Callable[[int], str],
    *,
    limit: int | None = None,
) -> Columns:
    """The checked rows as columns (with their order by id)."""
    columns = Columns(checker.default_provenance)
    add = columns.add_fields
    values = _checked(rows, checker, where, ids=columns.ids, limit=limit)
    try:
        while True:
            add(*next(values))
    except StopIteration as done:
        columns.order = done.value
    finally:
        values.close()
    return columns


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that all stay alive.

    Every full collection walks all live objects, so without this a 100,000-row load spends a
    third of its time re-scanning the objects it has already built.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _file_rows(
    path: str | os.PathLike[str],
    fields: FieldMap | dict[str, Any] | None,
    provenance: dict[str, Any] | None,
    limit: int | None,
) -> Iterator[tuple[RowSource, _RowChecker]]:
    """A file's rows and the checker for them; the file is closed on leaving."""
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    label = os.fspath(path)
    field_map = FieldMap.coerce(fields, where=label)
    source = open_rows(path)
    try:
        yield (
            source,
            _RowChecker(
                field_map,
                label=label,
                provenance=provenance,
                text_cells=source.text_cells,
                json_columns=source.json_columns,
                plain=source.plain,
            ),
        )
    finally:
        close = getattr(source.rows, "close", None)
        if close is not None:
            close()


def load_dataset(
    path: str | os.PathLike[str],
    *,
    fields: FieldMap | dict[str, Any] | None = None,
    name: str | None = None,
    provenance: dict[str, Any] | None = None,
    limit: int | None = None,
) -> Dataset:
    """Read a dataset file: ``.jsonl``/``.ndjson``, ``.json`` (a list of objects), ``.csv``,
    ``.parquet`` or ``.yaml``/``.yml`` (a list of mappings, or a mapping with key ``samples``).

    ``fields`` maps columns to sample fields (see :class:`FieldMap`). ``provenance`` holds
    dataset-level :class:`~assay.core.Provenance` defaults; a row's provenance column overrides
    them field by field. ``limit`` keeps only the first rows (the rest are not read). The
    dataset's name defaults to the file's stem and its source is the path as given.

    The dataset holds its samples compactly (see :mod:`assay.data.dataset`); to look at each
    sample once without holding them, use :func:`iter_samples`.

    Raises :class:`~assay.core.DatasetError` at the first bad row.
    """
    label = os.fspath(path)
    with _file_rows(path, fields, provenance, limit) as (source, checker), _gc_paused():
        columns = _build(source.rows, checker, source.where, limit=limit)
    return Dataset.from_columns(name or Path(label).stem, columns, source=label)


def iter_samples(
    path: str | os.PathLike[str],
    *,
    fields: FieldMap | dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    limit: int | None = None,
) -> Iterator[Sample]:
    """The samples of a dataset file one at a time, checked as :func:`load_dataset` checks
    them (same ids, same errors), without holding them: for one pass such as counting,
    validating or hashing. Only the ids are kept, for the duplicate check, which runs when the
    pass reaches the end of the file (or a bad row): a repeated id is reported then, after the
    samples before the end have been given out. The file is closed when the iterator is
    exhausted or closed.
    """
    with _file_rows(path, fields, provenance, limit) as (source, checker):
        ids: list[str] = []
        values = _checked(source.rows, checker, source.where, ids=ids, limit=limit)
        try:
            for rest in values:
                yield Sample.from_checked(ids[-1], *rest)
        finally:
            values.close()


def dataset_from_records(
    records: Sequence[dict[str, Any]],
    *,
    fields: FieldMap | dict[str, Any] | None = None,
    name: str,
    source: str | None = None,
    locations: Sequence[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Dataset:
    """A dataset from in-memory rows, such as the inline samples of a YAML spec.

    ``locations`` are human-readable places for the records (``"eval.yaml:14"``) used in error
    messages; without them a record is named ``<source or name>:item N`` (1-based).
    """
    label = source or name
    if locations is not None and len(locations) != len(records):
        raise ValueError(
            f"got {len(locations)} locations for {len(records)} records; give one per record"
        )
    field_map = FieldMap.coerce(fields, where=label)
    checker = _RowChecker(field_map, label=label, provenance=provenance, plain=False)
    if locations is None:

        def where(number: int) -> str:
            return f"{label}:item {number}"
    else:
        places = locations

        def where(number: int) -> str:
            return places[number - 1]

    columns = _build(enumerate(records, 1), checker, where)
    return Dataset.from_columns(name, columns, source=source)
