"""Datasets in and out: JSONL, JSON, CSV, Parquet and YAML files to checked samples, and back.

>>> from assay.data import load_dataset, write_dataset
>>> dataset = load_dataset("qa.csv", fields={"input": "question", "target": "answer"})
>>> write_dataset(dataset, "qa.parquet")  # same content_hash when loaded back
"""

from assay.data.dataset import Dataset
from assay.data.fields import FieldMap
from assay.data.kb_pinning import kb_check, pin_gold_documents, read_corpus
from assay.data.lint import LintReport, LintSettings, Smell, lint_dataset
from assay.data.loader import dataset_from_records, load_dataset
from assay.data.provenance import rows_with_revoked_consent, select_for_export
from assay.data.sampling import StrataSpec, composition, draw_stratified, read_records
from assay.data.writers import sample_record, write_dataset

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
