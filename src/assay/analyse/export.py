"""A run's results as flat rows, and writers for JSONL, CSV and Parquet."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core import AssayError
from assay.store import Store

FORMATS = ("jsonl", "csv", "parquet")


def result_rows(store: Store, run_id: str) -> Iterator[dict[str, Any]]:
    """One flat row per (subject, sample, epoch): output, resolved model, usage, error, and one
    ``score.<scorer>`` column per scorer. Sample metadata is joined by sample id."""
    samples = {s.id: s for s in store.get_samples(run_id)}
    for r in store.iter_results(run_id):
        sample = samples.get(r.sample_id)
        row: dict[str, Any] = {
            "run_id": run_id,
            "subject": r.subject,
            "sample_id": r.sample_id,
            "epoch": r.epoch,
            "input": sample.input_text if sample else None,
            "target": (
                json.dumps(list(sample.targets))
                if sample and len(sample.targets) > 1
                else (sample.targets[0] if sample and sample.targets else None)
            ),
            "output": r.output.text if r.output else None,
            "resolved_model": r.output.model if r.output else None,
            "system_fingerprint": r.output.system_fingerprint if r.output else None,
            "finish_reason": r.output.finish_reason if r.output else None,
            "input_tokens": r.output.usage.input_tokens if r.output else None,
            "output_tokens": r.output.usage.output_tokens if r.output else None,
            "latency_ms": r.output.latency_ms if r.output else None,
            "error": r.error,
            "error_class": r.error_class,
        }
        for score in r.scores:
            row[f"score.{score.scorer}"] = score.value
        if sample:
            for key, value in sample.metadata.items():
                row[f"meta.{key}"] = (
                    value
                    if isinstance(value, (str, int, float, bool)) or value is None
                    else json.dumps(value, sort_keys=True)
                )
        yield row


def export_run(store: Store, run_id: str, path: str | Path, fmt: str | None = None) -> int:
    """Write a run's rows to ``path``; the format comes from ``fmt`` or the file extension.
    Returns the number of rows written."""
    target = Path(path)
    fmt = (fmt or target.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise AssayError(
            f"unknown export format '{fmt}'",
            where=str(path),
            fix="use --format jsonl, csv or parquet",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = list(result_rows(store, run_id))
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    if fmt == "jsonl":
        with target.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
        pq.write_table(table, target)
    return len(rows)
