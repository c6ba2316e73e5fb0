"""Writing a dataset to JSONL, CSV or Parquet so that loading it back gives the same samples.

Every format is written with the default column names (``id``, ``input``, ``target``,
``cluster``, ``metadata``, ``provenance``), so ``load_dataset(path)`` reads it back without a
field mapping and with the same content hash.

- JSONL: one object per sample; metadata under ``"metadata"``, provenance (fields that differ
  from the defaults) under ``"provenance"``.
- CSV: chat inputs and list targets as JSON text; each metadata key whose values survive the
  trip through a text cell gets its own column, and the rest (nested values, text that would
  read back as a number or boolean, keys named like a reserved column) go to a ``metadata``
  column as a JSON object; provenance as a JSON object.
- Parquet: chat inputs as ``list<struct<role, content>>``, list targets as ``list<string>``;
  metadata keys with one scalar type get a typed column each, the rest a ``metadata`` column of
  JSON text. A column that mixes text and chat inputs (or text and list targets) is stored as
  JSON text and named in the schema metadata key ``assay.json_columns``.

Files are written to a temporary name and renamed into place, so a failed write never leaves a
half-written dataset behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.core.errors import DatasetError
from assay.core.sample import Sample
from assay.data.cells import cell_round_trips, parse_text_input, parse_text_target, to_cell
from assay.data.dataset import Dataset
from assay.data.fields import METADATA_COLUMN, FieldMap
from assay.data.readers import JSON_COLUMNS_KEY

_RESERVED = FieldMap().mapped_columns() | {METADATA_COLUMN}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _input_json(sample: Sample) -> Any:
    if isinstance(sample.input, str):
        return sample.input
    return [{"role": m.role, "content": m.content} for m in sample.input]


def _target_json(sample: Sample) -> Any:
    return list(sample.target) if isinstance(sample.target, tuple) else sample.target


def _provenance_json(sample: Sample) -> dict[str, Any] | None:
    dumped = sample.provenance.model_dump(mode="json", exclude_defaults=True)
    return dumped or None


def sample_record(sample: Sample) -> dict[str, Any]:
    """A sample as one JSON object in the layout ``load_dataset`` reads by default."""
    record: dict[str, Any] = {"id": sample.id, "input": _input_json(sample)}
    if sample.target is not None:
        record["target"] = _target_json(sample)
    if sample.metadata:
        record["metadata"] = dict(sample.metadata)
    if sample.cluster is not None:
        record["cluster"] = sample.cluster
    provenance = _provenance_json(sample)
    if provenance:
        record["provenance"] = provenance
    return record


_JSON_FIX = "keep metadata and provenance to JSON values (no NaN, infinity or custom objects)"


def _unwritable(path: Path, sample: Sample, why: str, fix: str) -> DatasetError:
    return DatasetError(f"sample {sample.id!r} {why}", where=os.fspath(path), fix=fix)


def _write_jsonl(dataset: Dataset, path: Path, target: Path) -> None:
    with open(target, "w", encoding="utf-8", newline="\n") as fh:
        for sample in dataset:
            try:
                line = _dumps(sample_record(sample))
            except (ValueError, TypeError) as exc:
                raise _unwritable(
                    path, sample, f"cannot be written as JSON: {exc}", _JSON_FIX
                ) from None
            fh.write(line)
            fh.write("\n")


def _metadata_keys(dataset: Dataset) -> list[str]:
    keys: dict[str, None] = {}
    for sample in dataset:
        keys.update(dict.fromkeys(sample.metadata))
    return list(keys)


def _csv_text(sample: Sample, path: Path) -> tuple[str, str]:
    """The input and target cells of a sample; raises when CSV cannot hold them faithfully."""
    fix = "write this dataset as JSONL or Parquet instead"
    if isinstance(sample.input, str):
        if parse_text_input(sample.input) != sample.input:
            raise _unwritable(
                path, sample, "has a text input that reads back from CSV as a chat", fix
            )
        input_cell = sample.input
    else:
        input_cell = _dumps(_input_json(sample))
    if sample.target is None:
        target_cell = ""
    elif isinstance(sample.target, str):
        if parse_text_target(sample.target) != sample.target:
            raise _unwritable(
                path,
                sample,
                "has a target that reads back from CSV differently (empty, or a JSON list)",
                fix,
            )
        target_cell = sample.target
    else:
        target_cell = _dumps(list(sample.target))
    return input_cell, target_cell


def _write_csv(dataset: Dataset, path: Path, target: Path) -> None:
    # The reader ignores columns with a blank header, so such keys go to the JSON column too.
    keys = [k for k in _metadata_keys(dataset) if k not in _RESERVED and k.strip()]
    columns = [
        k
        for k in keys
        if any(cell_round_trips(s.metadata.get(k)) for s in dataset if k in s.metadata)
    ]
    column_set = set(columns)
    rows: list[dict[str, str]] = []
    for sample in dataset:
        input_cell, target_cell = _csv_text(sample, path)
        row = {"id": sample.id, "input": input_cell, "target": target_cell}
        row["cluster"] = sample.cluster or ""
        leftovers: dict[str, Any] = {}
        for key, value in sample.metadata.items():
            if value is None:
                continue
            if key in column_set and cell_round_trips(value):
                row[key] = to_cell(value)
            else:
                leftovers[key] = value
        provenance = _provenance_json(sample)
        try:
            row[METADATA_COLUMN] = _dumps(leftovers) if leftovers else ""
            row["provenance"] = _dumps(provenance) if provenance else ""
        except (ValueError, TypeError) as exc:
            raise _unwritable(
                path, sample, f"cannot be written as JSON: {exc}", _JSON_FIX
            ) from None
        rows.append(row)

    header = ["id", "input"]
    header += ["target"] if any(s.target is not None for s in dataset) else []
    header += ["cluster"] if any(s.cluster is not None for s in dataset) else []
    header += columns
    header += [c for c in (METADATA_COLUMN, "provenance") if any(r[c] for r in rows)]
    with open(target, "w", encoding="utf-8", newline="") as fh:
        # The default "\r\n" terminator also makes the writer quote a lone "\r" in a cell, which
        # the reader would otherwise take for a line break.
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])


def _arrow_kind(values: list[Any]) -> str | None:
    """The one Arrow-friendly scalar type of the values, or None when they need JSON."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, str) for v in present):
        return "string"
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in present):
        return None
    if all(isinstance(v, int) for v in present):
        return "int" if all(-(2**63) <= v < 2**63 for v in present) else None
    # Mixed ints and floats: only exact if every int is a float without rounding.
    if all(isinstance(v, float) or abs(v) <= 2**53 for v in present):
        return "float"
    return None


def _write_parquet(dataset: Dataset, path: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    samples = list(dataset)
    message_type = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    arrays: dict[str, Any] = {"id": pa.array([s.id for s in samples], pa.string())}
    json_columns: list[str] = []

    inputs = [_input_json(s) for s in samples]
    text_inputs = sum(isinstance(v, str) for v in inputs)
    if text_inputs == len(inputs):
        arrays["input"] = pa.array(inputs, pa.string())
    elif text_inputs == 0:
        arrays["input"] = pa.array(inputs, message_type)
    else:
        arrays["input"] = pa.array([_dumps(v) for v in inputs], pa.string())
        json_columns.append("input")

    targets = [_target_json(s) for s in samples]
    present = [t for t in targets if t is not None]
    if present:
        if all(isinstance(t, str) for t in present):
            arrays["target"] = pa.array(targets, pa.string())
        elif all(isinstance(t, list) for t in present):
            arrays["target"] = pa.array(targets, pa.list_(pa.string()))
        else:
            arrays["target"] = pa.array(
                [None if t is None else _dumps(t) for t in targets], pa.string()
            )
            json_columns.append("target")

    if any(s.cluster is not None for s in samples):
        arrays["cluster"] = pa.array([s.cluster for s in samples], pa.string())

    arrow_types = {
        "bool": pa.bool_(),
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
    }
    leftovers: list[dict[str, Any]] = [{} for _ in samples]
    for key in _metadata_keys(dataset):
        values = [s.metadata.get(key) for s in samples]
        kind = None if key in _RESERVED else _arrow_kind(values)
        if kind is None:
            for i, value in enumerate(values):
                if value is not None:
                    leftovers[i][key] = value
            continue
        if kind == "float":
            values = [None if v is None else float(v) for v in values]
        arrays[key] = pa.array(values, arrow_types[kind])

    def json_cells(items: list[Any]) -> Any:
        cells = []
        for sample, item in zip(samples, items, strict=True):
            try:
                cells.append(_dumps(item) if item else None)
            except (ValueError, TypeError) as exc:
                raise _unwritable(
                    path, sample, f"cannot be written as JSON: {exc}", _JSON_FIX
                ) from None
        return pa.array(cells, pa.string())

    if any(leftovers):
        arrays[METADATA_COLUMN] = json_cells(leftovers)
    provenances = [_provenance_json(s) for s in samples]
    if any(provenances):
        arrays["provenance"] = json_cells(provenances)

    table = pa.table(arrays)
    table = table.replace_schema_metadata({JSON_COLUMNS_KEY: json.dumps(json_columns).encode()})
    pq.write_table(table, target)


_WRITERS: dict[str, Callable[[Dataset, Path, Path], None]] = {
    ".jsonl": _write_jsonl,
    ".ndjson": _write_jsonl,
    ".csv": _write_csv,
    ".parquet": _write_parquet,
}


def write_dataset(dataset: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``dataset`` to ``.jsonl``/``.ndjson``, ``.csv`` or ``.parquet`` (by extension),
    creating parent directories. Raises DatasetError for an unknown extension or a sample the
    format cannot hold faithfully."""
    file = Path(path)
    writer = _WRITERS.get(file.suffix.lower())
    if writer is None:
        raise DatasetError(
            f"cannot write datasets as {file.suffix or '(no extension)'!r}",
            where=os.fspath(path),
            fix="use one of " + ", ".join(sorted(_WRITERS)),
        )
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        writer(dataset, file, temporary)
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)
