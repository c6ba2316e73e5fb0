"""Scanning and redacting files of records, streamed: JSONL, CSV, Parquet and plain text
(one record per line), gzipped or not for the line formats.

A record is a JSONL object, a CSV row, a Parquet row or a line of text. Its id is the value of
``id_field`` when it has one, else ``file:line`` (``file:row N`` for Parquet). Memory holds one
record (one Parquet batch) at a time, so files of any size work.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from assay.core.errors import AssayError, DatasetError
from assay.data.pii.base import Finding
from assay.data.pii.detectors import PII_TYPES
from assay.data.pii.redact import Placeholders, redact_record

_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".md": "text",
}


def _format(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "", "text")
    if fmt == "parquet" and compressed:
        raise DatasetError(
            "a gzipped Parquet file cannot be streamed",
            where=os.fspath(path),
            fix="decompress it (Parquet compresses its own pages)",
        )
    return fmt, compressed


def _open_text(path: Path, mode: str, compressed: bool) -> IO[str]:
    if compressed:
        return cast(
            IO[str],
            gzip.open(path, mode + "t", encoding="utf-8", errors="surrogateescape", newline=""),
        )
    # surrogateescape: bytes that are not UTF-8 pass through a redaction unchanged.
    return open(path, mode, encoding="utf-8", errors="surrogateescape", newline="")


@dataclass(frozen=True)
class PiiFinding:
    """A finding located in a file: record id, field path (``messages[0].content``), type,
    detector, and a masked preview of the value (the value itself is never kept)."""

    record: str
    field: str
    type: str
    detector: str
    preview: str
    seam: str | None = None


def mask(value: str) -> str:
    """A preview that identifies nothing: the first two and last two characters at most."""
    if len(value) <= 6:
        return "*" * len(value)
    return f"{value[:2]}…{value[-2:]} ({len(value)} chars)"


@dataclass
class PiiReport:
    """PII found in a file: counts per type, records with findings, and the first findings."""

    path: str
    records: int = 0
    records_with_pii: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[PiiFinding] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    max_findings: int = 1000

    def add(self, record: str, found: list[tuple[str, Finding]], seam: str | None) -> None:
        self.records += 1
        if not found:
            return
        self.records_with_pii += 1
        if len(self.flagged) < self.max_findings:
            self.flagged.append(record)
        for path, finding in found:
            self.counts[finding.type] += 1
            if len(self.findings) < self.max_findings:
                self.findings.append(
                    PiiFinding(
                        record, path, finding.type, finding.detector, mask(finding.value), seam
                    )
                )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "records": self.records,
            "records_with_pii": self.records_with_pii,
            "counts": {t: self.counts[t] for t in PII_TYPES if self.counts[t]},
            "flagged_records": self.flagged,
            "findings": [f.__dict__ for f in self.findings],
        }


class PiiGateError(AssayError):
    """Raised by :func:`pii_gate` when an export contains PII (exit code 1: a failed check)."""

    exit_code = 1
    code = "pii_found"


def pii_gate(report: PiiReport, *, types: set[str] | None = None) -> None:
    """Fail when the scanned file holds PII (of ``types``, default any), naming the records."""
    counted = {t: n for t, n in report.counts.items() if types is None or t in types}
    if not counted:
        return
    records = list(
        dict.fromkeys(f.record for f in report.findings if types is None or f.type in types)
    )
    shown = ", ".join(records[:10]) + (
        f" and {len(records) - 10} more" if len(records) > 10 else ""
    )
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(counted.items()))
    raise PiiGateError(
        f"{report.records_with_pii} of {report.records} records contain PII ({kinds}): {shown}",
        where=report.path,
        fix="redact the file (`assay data pii FILE --redact OUT`) and export the redacted copy",
    )


# -- reading records ---------------------------------------------------------------------------


def _parquet(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(
            f"cannot read the Parquet file: {exc}",
            where=os.fspath(path),
            fix="check that it is a complete Parquet file",
        ) from None


def _records(path: Path, id_field: str | None) -> Iterator[tuple[str, Any]]:
    fmt, compressed = _format(path)
    label = os.fspath(path)
    if fmt == "parquet":
        number = 0
        for batch in _parquet(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                number += 1
                yield _record_id(row, id_field, f"{label}:row {number}"), row
        return
    with _open_text(path, "r", compressed) as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for row in reader:
                if None in row:
                    raise DatasetError(
                        "row has more cells than the header",
                        where=f"{label}:{reader.line_num}",
                        fix="give every row as many cells as the header has columns",
                    )
                yield _record_id(row, id_field, f"{label}:{reader.line_num}"), row
            return
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if fmt == "text":
                yield f"{label}:{number}", text
                continue
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                raise DatasetError(
                    f"malformed JSON: {exc}",
                    where=f"{label}:{number}",
                    fix="write one JSON value per line",
                ) from None
            yield _record_id(row, id_field, f"{label}:{number}"), row


def _record_id(row: Any, id_field: str | None, fallback: str) -> str:
    if id_field and isinstance(row, dict) and row.get(id_field) not in (None, ""):
        return str(row[id_field])
    return fallback


def scan_file(
    path: str | os.PathLike[str],
    *,
    id_field: str | None = "id",
    types: set[str] | None = None,
    seam: str | None = None,
    max_findings: int = 1000,
) -> PiiReport:
    """Scan every record of a file for PII; findings name the record and field (and ``seam``,
    the place in a pipeline the data came from, when given)."""
    source = Path(path)
    if not source.is_file():
        raise DatasetError("file not found", where=os.fspath(source), fix="check the path")
    report = PiiReport(os.fspath(source), max_findings=max_findings)
    for record_id, row in _records(source, id_field):
        _, found = redact_record(row, types=types)
        report.add(record_id, found, seam)
    return report


def redact_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    id_field: str | None = "id",
    types: set[str] | None = None,
    max_findings: int = 1000,
) -> PiiReport:
    """Write a redacted copy of a file (same format; each record has its own placeholder
    numbering) and return what was found. The destination's format follows its suffix only
    for compression: JSONL stays JSONL, CSV stays CSV, and so on."""
    src, dst = Path(source), Path(destination)
    if not src.is_file():
        raise DatasetError("file not found", where=os.fspath(src), fix="check the path")
    if src.resolve() == dst.resolve():
        raise DatasetError(
            "the redacted copy would overwrite its source",
            where=os.fspath(dst),
            fix="write the redacted copy to another path",
        )
    fmt, _ = _format(src)
    dst_compressed = dst.suffix.lower() == ".gz"
    report = PiiReport(os.fspath(src), max_findings=max_findings)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        _redact_parquet(src, dst, id_field, types, report)
        return report
    with ExitStack() as stack:
        out = stack.enter_context(_open_text(dst, "w", dst_compressed))
        writer: csv.DictWriter[str] | None = None
        for record_id, row in _records(src, id_field):
            redacted, found = redact_record(row, Placeholders(), types=types)
            report.add(record_id, found, None)
            if fmt == "csv":
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(redacted)
            elif fmt == "text":
                out.write(redacted + "\n")
            else:
                out.write(json.dumps(redacted, ensure_ascii=False) + "\n")
    return report


def _redact_parquet(
    src: Path, dst: Path, id_field: str | None, types: set[str] | None, report: PiiReport
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    handle = _parquet(src)
    schema = handle.schema_arrow
    number = 0
    with pq.ParquetWriter(dst, schema) as writer:
        for batch in handle.iter_batches(batch_size=4096):
            rows = []
            for row in batch.to_pylist():
                number += 1
                redacted, found = redact_record(row, Placeholders(), types=types)
                record = _record_id(row, id_field, f"{src}:row {number}")
                report.add(record, found, None)
                rows.append(redacted)
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
