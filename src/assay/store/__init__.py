"""The persistent store of runs: manifests, samples, results and scores in SQL.

A SQLite file (``.assay/assay.db``) by default, PostgreSQL by URL; the schema is managed by
Alembic migrations that run when a :class:`Store` is opened.
"""

from assay.store.engine import default_db_url, normalise_db_url
from assay.store.repository import Store
from assay.store.run_info import RunInfo, RunStatus

__all__ = ["RunInfo", "RunStatus", "Store", "default_db_url", "normalise_db_url"]
