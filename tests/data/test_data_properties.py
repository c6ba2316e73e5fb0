"""Property tests: the content hash does not depend on the file format the rows came in."""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.data import dataset_from_records, load_dataset, write_dataset
from assay.data.cells import infer_cell, parse_text_input, parse_text_target

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RESERVED = {"id", "input", "target", "cluster", "provenance", "metadata"}

# Text that is valid Unicode (no lone surrogates) and UTF-8 encodable.
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
nonblank = text.filter(lambda s: s.strip() != "")
# Inputs and targets a text cell can hold without being read as a chat or a list.
input_text = nonblank.filter(lambda s: parse_text_input(s) == s)
target_text = text.filter(lambda s: parse_text_target(s) == s)
key = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
column_key = text.filter(lambda k: k not in RESERVED)

scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_value = st.recursive(
    scalar,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": text}
)
provenance = st.fixed_dictionaries(
    {},
    optional={
        "origin": st.sampled_from(["authored", "incident", "sampled", "synthetic"]),
        "source_ref": text,
        "licence": nonblank,
        "collected_at": st.datetimes(
            min_value=dt.datetime(1970, 1, 1),
            max_value=dt.datetime(2100, 1, 1),
            timezones=st.none() | st.just(dt.UTC),
        ).map(lambda d: d.isoformat()),
        "parent_ids": st.lists(text, max_size=3),
        "ai_generated": st.booleans(),
    },
)


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rich rows: chat or text inputs, list targets, nested metadata, clusters, provenance."""
    ids = draw(st.lists(nonblank, min_size=1, max_size=6, unique=True))
    rows = []
    for sample_id in ids:
        row: dict[str, Any] = {
            "id": sample_id,
            "input": draw(input_text | st.lists(message, min_size=1, max_size=3)),
        }
        target = draw(st.none() | target_text | st.lists(text, max_size=3))
        if target is not None:
            row["target"] = target
        row.update(draw(st.dictionaries(column_key, scalar, max_size=3)))
        row["metadata"] = draw(st.dictionaries(key, json_value, max_size=3))
        cluster = draw(st.none() | nonblank)
        if cluster is not None:
            row["cluster"] = cluster
        row["provenance"] = draw(provenance)
        rows.append(row)
    return rows


@given(records())
@SETTINGS
def test_written_and_reloaded_in_any_format_gives_the_same_hash(rows: list[dict[str, Any]]) -> None:
    original = dataset_from_records(rows, name="p")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("jsonl", "csv", "parquet"):
            path = Path(tmp) / f"d.{fmt}"
            write_dataset(original, path)
            loaded = load_dataset(path)
            assert loaded.sample_ids == original.sample_ids, fmt
            for before, after in zip(original, loaded, strict=True):
                assert after.content() == before.content(), fmt
                assert after.provenance == before.provenance, fmt
            assert loaded.content_hash == original.content_hash, fmt


# -- hand-written files, as users make them ------------------------------------------------

# One scalar type per column, so that a Parquet column has one type.
csv_safe_text = nonblank.filter(lambda s: infer_cell(s) == s)
COLUMN_VALUES = {
    "n": st.integers(-(2**63), 2**63 - 1),
    "score": st.floats(allow_nan=False, allow_infinity=False),
    "flag": st.booleans(),
    "label": csv_safe_text,
}
ARROW_TYPES = {"n": pa.int64(), "score": pa.float64(), "flag": pa.bool_(), "label": pa.string()}


@st.composite
def flat_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Flat rows with scalar metadata, representable in every format."""
    ids = draw(st.lists(st.integers(0, 10**6) | nonblank, min_size=1, max_size=6, unique_by=str))
    rows = []
    for sample_id in ids:
        row: dict[str, Any] = {"id": sample_id, "input": draw(input_text)}
        target = draw(st.none() | target_text.filter(bool) | st.integers())
        if target is not None:
            row["target"] = target
        for column, values in COLUMN_VALUES.items():
            value = draw(st.none() | values)
            if value is not None:
                row[column] = value
        rows.append(row)
    return rows


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_by_hand(directory: Path, rows: list[dict[str, Any]], with_ids: bool) -> list[Path]:
    if not with_ids:
        # Ids come from the content then; keep the rows distinct.
        rows = [
            {**{k: v for k, v in r.items() if k != "id"}, "input": f"{r['input']} #{i}"}
            for i, r in enumerate(rows)
        ]
    columns = (["id"] if with_ids else []) + ["input", "target", *COLUMN_VALUES]
    jsonl = directory / "d.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    csv_path = directory / "d.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows([[cell(r.get(c)) for c in columns] for r in rows])
    yaml_path = directory / "d.yaml"
    # PyYAML writes characters such as NEL (\x85) raw when allow_unicode is on, and then reads
    # them back as line breaks; escaped output is exact.
    yaml_path.write_text(yaml.safe_dump({"samples": rows}), encoding="utf-8")
    parquet_path = directory / "d.parquet"
    arrays = {}
    for column in columns:
        values = [r.get(column) for r in rows]
        if column in ("id", "target"):
            arrays[column] = pa.array([None if v is None else str(v) for v in values], pa.string())
        else:
            arrays[column] = pa.array(values, ARROW_TYPES.get(column, pa.string()))
    pq.write_table(pa.table(arrays), parquet_path)
    return [jsonl, csv_path, yaml_path, parquet_path]


@given(flat_rows(), st.booleans())
@SETTINGS
def test_same_rows_by_hand_in_any_format_give_the_same_hash(
    rows: list[dict[str, Any]], with_ids: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        datasets = [load_dataset(p) for p in write_by_hand(Path(tmp), rows, with_ids)]
    first = datasets[0]
    for dataset in datasets[1:]:
        assert dataset.sample_ids == first.sample_ids, dataset.source
        for a, b in zip(first, dataset, strict=True):
            assert a.content() == b.content(), dataset.source
        assert dataset.content_hash == first.content_hash, dataset.source
