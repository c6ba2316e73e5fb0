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
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, get_args

from pydantic import ValidationError

from assay.core.errors import DatasetError
from assay.core.hashing import content_hash
from assay.core.sample import Message, Provenance, Role, Sample
from assay.data.cells import infer_cell, parse_text_input, parse_text_target
from assay.data.dataset import Dataset
from assay.data.fields import METADATA_COLUMN, FieldMap
from assay.data.readers import JSON_DECODER, RowSource, described, open_rows

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

    def sample(self, row: dict[str, Any], where: str, sample_id: str | None) -> Sample:
        """The row as a sample; ``sample_id`` None generates the id from the content."""
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
        try:
            # Everything is checked already; pydantic validation is about as cheap as
            # model_construct here and keeps the models' own invariants.
            return Sample(
                id=sample_id,
                input=input_,
                target=target,
                metadata=metadata,
                cluster=cluster,
                provenance=provenance,
            )
        except ValidationError as exc:  # pragma: no cover - the checks above should catch all
            raise DatasetError(
                f"invalid sample: {_problems(exc)}", where=where, fix="correct this row"
            ) from None

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


def _build(
    rows: Iterable[tuple[str, Any]],
    checker: _RowChecker,
    *,
    limit: int | None = None,
) -> list[Sample]:
    fields = checker.fields
    samples: list[Sample] = []
    first_seen: dict[str, str] = {}
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

    for where, row in rows:
        if limit is not None and len(samples) >= limit:
            break
        raw_id = checker.raw_id(row, where)
        if raw_id is _MISSING:
            if with_id is not None:
                raise DatasetError(
                    f"row has no {fields.id!r} field, but other rows have one (e.g. {with_id})",
                    where=where,
                    fix=f"give every row an {fields.id!r}, or none (ids are then generated "
                    "from the content)",
                )
            without_id = without_id or where
            sample_id = None
        else:
            if without_id is not None:
                raise DatasetError(
                    f"row has no {fields.id!r} field, but other rows have one (e.g. {where})",
                    where=without_id,
                    fix=f"give every row an {fields.id!r}, or none (ids are then generated "
                    "from the content)",
                )
            with_id = with_id or where
            sample_id = checker.id_text(raw_id, where)
        sample = checker.sample(row, where, sample_id)
        if seen_columns is not None:
            seen_columns.update(row)
        first = first_seen.get(sample.id)
        if first is not None:
            if sample_id is None:
                raise DatasetError(
                    f"duplicate id {sample.id!r} (first seen at {first}): the two rows have "
                    "identical content",
                    where=where,
                    fix="remove the repeated row, or add an id column to tell the rows apart",
                )
            raise DatasetError(
                f"duplicate id {sample.id!r} (first seen at {first})",
                where=where,
                fix="give every row a unique id",
            )
        first_seen[sample.id] = where
        samples.append(sample)

    if seen_columns is not None and samples:
        for role, column in explicit:
            if column not in seen_columns:
                raise DatasetError(
                    f"{role} column {column!r} is not in any row (columns: "
                    f"{', '.join(sorted(seen_columns))})",
                    where=checker.label,
                    fix=f"check the spelling of {column!r} in the field mapping",
                )
    if not samples:
        raise DatasetError(
            "the dataset has no samples",
            where=checker.label,
            fix="add at least one row (blank lines are skipped)",
        )
    return samples


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that all stay alive.

    Every full collection walks all live objects, so without this a 100,000-row load spends a
    third of its time re-scanning the samples it has already built.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _located(source: RowSource) -> Generator[tuple[str, Any], None, None]:
    where = source.where
    for number, row in source.rows:
        yield where(number), row


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
    them field by field. ``limit`` keeps only the first rows. The dataset's name defaults to
    the file's stem and its source is the path as given.

    Raises :class:`~assay.core.DatasetError` at the first bad row.
    """
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    label = os.fspath(path)
    field_map = FieldMap.coerce(fields, where=label)
    source = open_rows(path)
    checker = _RowChecker(
        field_map,
        label=label,
        provenance=provenance,
        text_cells=source.text_cells,
        json_columns=source.json_columns,
        plain=source.plain,
    )
    rows = _located(source)
    try:
        with _gc_paused():
            samples = _build(rows, checker, limit=limit)
    finally:
        rows.close()
        close = getattr(source.rows, "close", None)
        if close is not None:
            close()
    return Dataset(name or Path(label).stem, samples, source=label)


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
    located: Iterable[tuple[str, Any]]
    if locations is None:
        located = ((f"{label}:item {i}", r) for i, r in enumerate(records, 1))
    else:
        located = zip(locations, records, strict=True)
    samples = _build(located, checker)
    return Dataset(name, samples, source=source)
