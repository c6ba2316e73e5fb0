"""RAG corpus assurance: ingestion contracts checked per batch (F4) and corpus health (F5)."""

from assay.corpus.contracts import (
    BatchReport,
    Contracts,
    check_batch,
    ingest_batch,
    list_batches,
    load_contracts,
)
from assay.corpus.health import (
    HealthReport,
    corpus_health,
    get_report,
    list_reports,
    read_documents,
    save_report,
)

__all__ = [
    "BatchReport",
    "Contracts",
    "HealthReport",
    "check_batch",
    "corpus_health",
    "get_report",
    "ingest_batch",
    "list_batches",
    "list_reports",
    "load_contracts",
    "read_documents",
    "save_report",
]
