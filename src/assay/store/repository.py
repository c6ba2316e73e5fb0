"""The :class:`Store`: every read and write of runs goes through it.

Writes are short transactions built client-side (result ids are hashes of the natural key, so a
batch of results and scores is two ``executemany`` inserts with no per-row round trip). A result
whose key (run, subject, sample, epoch) is already stored is ignored, together with its scores:
the first write wins, so replaying a batch after a crash or a resume is harmless.

The class is assembled from three modules: :mod:`assay.store.base` (opening the database,
connections, transactions, leases), :mod:`assay.store.writes` (runs, results, scores and the
response cache written) and :mod:`assay.store.reads` (runs, certificates and run contents read).
"""

from __future__ import annotations

from assay.store.reads import StoreReads
from assay.store.writes import CacheEntry, StoreWrites

__all__ = ["CacheEntry", "Store"]


class Store(StoreWrites, StoreReads):
    """The persistent store of runs: a SQLite file by default, PostgreSQL by URL.

    ``url`` is a SQLAlchemy URL or a filesystem path (see :func:`normalise_db_url`); ``None``
    means :func:`default_db_url`. ``engine_kwargs`` go to :func:`sqlalchemy.create_engine`, and
    ``connect_args`` to the DBAPI ``connect()`` (for example
    ``{"options": "-csearch_path=myschema"}`` on PostgreSQL). Opening migrates the database to
    the current schema. A store is safe to share between threads. ``create=False`` (what
    read-only commands use) refuses a SQLite path with no store instead of creating one, and
    opens a store it may not write to (a read-only folder) read-only. ``lease_ttl`` is how
    long the lease of a run this Store creates or resumes lasts without renewal (default
    ``$ASSAY_RUN_LEASE_TTL`` or 30 s; :mod:`assay.store.leases`).
    """
