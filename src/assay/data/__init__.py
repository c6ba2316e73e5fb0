"""Datasets in and out: JSONL, JSON, CSV, Parquet and YAML files to checked samples, and back.

>>> from assay.data import load_dataset, write_dataset
>>> dataset = load_dataset("qa.csv", fields={"input": "question", "target": "answer"})
>>> write_dataset(dataset, "qa.parquet")  # same content_hash when loaded back
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay._lazy import export_lazily

# Imported on first use: `assay run` reads a dataset; it needs neither lint, sampling,
# provenance queries nor the writers.
_EXPORTS: dict[str, str] = {
    "Dataset": "assay.data.dataset",
    "FieldMap": "assay.data.fields",
    "kb_check": "assay.data.kb_pinning",
    "pin_gold_documents": "assay.data.kb_pinning",
    "read_corpus": "assay.data.kb_pinning",
    "LintReport": "assay.data.lint",
    "LintSettings": "assay.data.lint",
    "Smell": "assay.data.lint",
    "lint_dataset": "assay.data.lint",
    "dataset_from_records": "assay.data.loader",
    "load_dataset": "assay.data.loader",
    "rows_with_revoked_consent": "assay.data.provenance",
    "select_for_export": "assay.data.provenance",
    "StrataSpec": "assay.data.sampling",
    "composition": "assay.data.sampling",
    "draw_stratified": "assay.data.sampling",
    "read_records": "assay.data.sampling",
    "sample_record": "assay.data.writers",
    "write_dataset": "assay.data.writers",
}

__all__ = [
    "Dataset",
    "FieldMap",
    "LintReport",
    "LintSettings",
    "Smell",
    "StrataSpec",
    "composition",
    "dataset_from_records",
    "draw_stratified",
    "kb_check",
    "lint_dataset",
    "load_dataset",
    "pin_gold_documents",
    "read_corpus",
    "read_records",
    "rows_with_revoked_consent",
    "sample_record",
    "select_for_export",
    "write_dataset",
]

export_lazily(__name__, _EXPORTS, __all__)

if TYPE_CHECKING:
    from assay.data.dataset import Dataset
    from assay.data.fields import FieldMap
    from assay.data.kb_pinning import kb_check, pin_gold_documents, read_corpus
    from assay.data.lint import LintReport, LintSettings, Smell, lint_dataset
    from assay.data.loader import dataset_from_records, load_dataset
    from assay.data.provenance import rows_with_revoked_consent, select_for_export
    from assay.data.sampling import StrataSpec, composition, draw_stratified, read_records
    from assay.data.writers import sample_record, write_dataset
