"""Helpers for the assay.data tests: write small files in each format.

(Imported by name: tests/data/conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    # Table.from_pylist takes its columns from the first row only; use every row's keys.
    columns = list(dict.fromkeys(k for r in rows for k in r))
    pq.write_table(pa.table({c: [r.get(c) for r in rows] for c in columns}), path)
    return path


def write_yaml(path: Path, rows: list[Any]) -> Path:
    path.write_text(yaml.safe_dump(rows, sort_keys=False), encoding="utf-8")
    return path


def qa_rows() -> list[dict[str, Any]]:
    """Flat rows with typed metadata, as a user would write them in JSONL."""
    return [
        {"id": 7, "input": "2+2?", "target": 4, "slice": "math", "difficulty": 0.5, "n": 3},
        {
            "id": "q2",
            "input": "Capital of France?",
            "target": "Paris",
            "slice": "geo",
            "hard": True,
            "difficulty": 1.0,
        },
        {"id": "q3", "input": "Say hi", "slice": "chat", "hard": False, "n": -12},
    ]
