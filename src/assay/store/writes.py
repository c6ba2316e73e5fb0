"""The :class:`~assay.store.Store`'s writes: creating a run, storing its results and scores,
the response cache, clearing failed results, and finishing or resuming a run.

Writes are short transactions built client-side (see :mod:`assay.store.repository`); each
that changes what a run's summary depends on deletes the cached summary in the same
transaction (:func:`~assay.store.summaries.forget_summary`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from assay.core import Output, RunManifest, Sample, SampleResult, StoreError
from assay.core.sample import SampleValues
from assay.data.dataset import Dataset
from assay.store import codec, leases
from assay.store.base import _MAX_IN, StoreBase, _now, _reason
from assay.store.run_info import RUN_STATUSES
from assay.store.summaries import forget_summary
from assay.store.tables import manifests, response_cache, runs, scores
from assay.store.tables import results as results_t
from assay.store.tables import samples as samples_t

#: The response-cache lookup on SQLite (see Store.get_cached).
_CACHE_SQL = "SELECT output_json FROM response_cache WHERE key = ?"
# Samples inserted per statement when a run is created.
_SAMPLE_CHUNK = 2000

#: A response-cache entry: (key, provider, model, output).
CacheEntry = tuple[str, str, str, Output]
#: The columns of the response-cache rows put_cached builds, in their order.
_CACHE_COLUMNS = ("key", "provider", "model", "output_json", "created_at")


class _Repeated(Exception):
    """Raised inside a transaction that stored fewer results than it was given (one was
    stored already, or repeated in the batch): it is rolled back and the batch written again,
    carefully (see ``StoreWrites._write_results``)."""


#: Which of a list of result ids are stored; built once, its list bound when executed
#: (building ``in_(ids)`` each time coerced every id: a quarter of its cost).
_STORED_RESULTS = select(results_t.c.id).where(
    results_t.c.id.in_(bindparam("keys", expanding=True))
)


def _stored(conn: Connection, query: Select[str], keys: list[str]) -> set[str]:
    """Which of ``keys`` ``query`` (:data:`_STORED_RESULTS`) finds stored, asked ``_MAX_IN``
    at a time."""
    stored: set[str] = set()
    for start in range(0, len(keys), _MAX_IN):
        stored.update(conn.execute(query, {"keys": keys[start : start + _MAX_IN]}).scalars())
    return stored


def _sample_values(samples: Iterable[Sample]) -> Iterator[SampleValues]:
    """The fields of ``samples`` (what :func:`~assay.store.codec.sample_rows` takes): read from
    a dataset's columns without building its samples, else from each sample."""
    if isinstance(samples, Dataset):
        return samples.sample_values()
    return ((s.id, s.input, s.target, s.metadata, s.cluster, s.provenance) for s in samples)


class StoreWrites(StoreBase):
    """Writing runs, results, scores and cached responses."""

    # -- writing -------------------------------------------------------------------------------

    def create_run(
        self,
        manifest: RunManifest,
        samples: Iterable[Sample],
        *,
        n_planned: int,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Record a new run (status ``running``, its lease held by this process for
        :func:`~assay.store.leases.lease_ttl`), its manifest, the spec it came from and its
        samples, in one transaction.

        ``samples`` may be any iterable (a generator too): they are read once and inserted
        ``_SAMPLE_CHUNK`` at a time, so only one chunk's rows are ever in memory. A
        :class:`~assay.data.Dataset`'s samples are read from its columns, without being built.
        """
        run_id = manifest.run_id
        run_row = {
            "id": run_id,
            "name": manifest.name,
            "status": "running",
            "started_at": manifest.started_at,
            "finished_at": manifest.finished_at,
            "fingerprint": manifest.fingerprint,
            "spec_hash": manifest.spec_hash,
            "subjects_json": codec.dumps([s.name for s in manifest.subjects]),
            "n_planned": n_planned,
            "pid": os.getpid(),
            "hostname": self._host,
            "created_at": _now(),
        }
        manifest_row = {
            "run_id": run_id,
            "manifest_json": manifest.model_dump_json(),
            "spec_json": None if spec is None else codec.dumps(spec),
        }
        seen: set[str] = set()
        with self._database_errors(f"create run {run_id!r}"):
            try:
                with self._writer.begin() as conn:
                    conn.execute(insert(runs), run_row)
                    leases.claim(conn, run_id, self.lease_ttl)
                    conn.execute(insert(manifests), manifest_row)
                    stream = _sample_values(samples)
                    position = 0
                    while chunk := list(islice(stream, _SAMPLE_CHUNK)):
                        for values in chunk:
                            if values[0] in seen:
                                # Raised inside the transaction: nothing of the run is stored.
                                raise StoreError(
                                    f"cannot create run {run_id!r}: sample id {values[0]!r} "
                                    "appears twice",
                                    fix="give every sample of a dataset a distinct id",
                                )
                            seen.add(values[0])
                        # The run is new and its sample ids distinct, so no row can conflict
                        # (the conflicts _bulk_insert would ignore).
                        self._bulk_insert(
                            conn, samples_t, codec.sample_rows(run_id, position, chunk)
                        )
                        position += len(chunk)
                self._leased.add(run_id)
            except IntegrityError as error:
                raise StoreError(
                    f"cannot create run {run_id!r} in {self.url}: {_reason(error)}",
                    fix="run ids must be unique; start a new run instead of reusing an id",
                ) from error

    def add_results(
        self,
        run_id: str,
        results: Sequence[SampleResult],
        *,
        cache_entries: Sequence[CacheEntry] = (),
    ) -> None:
        """Store a batch of results with their scores, in one transaction.

        A result whose (subject, sample_id, epoch) is already stored for the run, or appears
        earlier in the same batch, is ignored with its scores: the first write wins.
        ``cache_entries`` (key, provider, model, output) are added to the response cache in the
        same transaction, so a cached response and the result that used it land together.
        """
        if cache_entries:
            self.put_cached(cache_entries, _results=(run_id, results))
            return
        if not results:
            return
        created_at = self._stamp(_now())
        with self._database_errors(f"store results of run {run_id!r}"):
            try:
                self._retrying_repeats(
                    lambda conn, careful: self._write_results(
                        conn, run_id, results, created_at, careful=careful
                    )
                )
            except IntegrityError:
                with self._engine.connect() as conn:
                    self._require_run(conn, run_id)
                raise

    def _retrying_repeats(self, write: Callable[[Connection, bool], None]) -> None:
        """``write(conn, careful=False)`` in a write transaction; if it raised
        :class:`_Repeated`, rolled back and done again as ``write(conn, careful=True)``."""
        try:
            with self._writer.begin() as conn:
                write(conn, False)
        except _Repeated:
            with self._writer.begin() as conn:
                write(conn, True)

    def _write_results(
        self,
        conn: Connection,
        run_id: str,
        results: Sequence[SampleResult],
        created_at: Any,
        careful: bool,
        outputs_json: dict[int, str] | None = None,
    ) -> None:
        """Insert ``results`` and their scores (see :meth:`add_results`) and forget the run's
        summary; ``created_at`` as :meth:`_stamp` made it, ``outputs_json`` as
        :func:`~assay.store.codec.result_rows` takes it.

        Not ``careful``: every result is sent in one executemany (``ON CONFLICT DO NOTHING``),
        and :class:`_Repeated` is raised when fewer were inserted than sent (a result stored
        already, or repeated in the batch: its scores must not be stored). That is the usual
        case at no extra cost: asking first which ids are stored cost a SELECT a batch, and
        SQLAlchemy's expansion of its ``IN`` list about 4,000 instructions a result.

        ``careful``: the first result of each key is kept, one SELECT of their ids finds those
        stored, and only the others are inserted with their scores. (``INSERT … RETURNING``
        would save the SELECT, but SQLAlchemy sends it as one long multi-row statement that
        psycopg re-parses on every call, which made PostgreSQL writes ~60% slower.)
        """
        if careful:
            first: dict[str, SampleResult] = {}
            for result in results:
                key = codec.result_id(run_id, result.subject, result.sample_id, result.epoch)
                first.setdefault(key, result)
            stored = _stored(conn, _STORED_RESULTS, list(first))
            results = [result for key, result in first.items() if key not in stored]
            if not results:
                return
        rows, score_rows = codec.result_rows(run_id, results, created_at, outputs_json)
        inserted = self._insert_rows(conn, results_t, codec.RESULT_COLUMNS, rows)
        if inserted < len(rows) and not careful:
            raise _Repeated
        if score_rows:
            self._insert_rows(conn, scores, codec.SCORE_COLUMNS, score_rows)
        forget_summary(conn, run_id)

    def put_cached(
        self,
        entries: Sequence[CacheEntry],
        *,
        _results: tuple[str, Sequence[SampleResult]] | None = None,
    ) -> None:
        """Add responses to the cache (an existing key keeps its first response).

        Inserted with ``ON CONFLICT DO NOTHING``, which keeps a stored key's row as asking
        first which keys are stored did, without that SELECT; a key repeated in ``entries``
        keeps its first response too."""
        created_at = self._stamp(_now())

        def write(conn: Connection, careful: bool) -> None:
            # The results first: a cached response is usually the very output of one of them,
            # whose JSON is then written once (a tenth of a result's cost).
            known: dict[int, str] = {}
            if _results is not None and _results[1]:
                run_id, results = _results
                self._write_results(conn, run_id, results, created_at, careful, known)
            rows: dict[str, tuple[Any, ...]] = {}
            for key, provider, model, output in entries:
                if key not in rows:
                    text = known.get(id(output))
                    if text is None:
                        text = codec.output_json(output)
                    rows[key] = (key, provider, model, text, created_at)
            if rows:
                self._insert_rows(conn, response_cache, _CACHE_COLUMNS, list(rows.values()))

        with self._database_errors("write the response cache"):
            self._retrying_repeats(write)

    def get_cached(self, key: str) -> Output | None:
        """The cached response for a request key, or ``None``.

        Called once per model call, so on SQLite it skips SQLAlchemy's per-statement work (a
        pooled connection checked out, a transaction begun and rolled back, the statement
        compiled): one DBAPI connection kept for it, in autocommit (the engine's connections
        have ``isolation_level=None``), guarded by a lock. Measured on the harness benchmark:
        the lookup was about 40% of assay's CPU per call.
        """
        if self._engine.dialect.name == "sqlite":
            try:
                with self._cache_lock:
                    if self._cache_reader is None:
                        self._cache_reader = self._engine.raw_connection()
                    cursor = self._cache_reader.cursor()
                    try:
                        row = cursor.execute(_CACHE_SQL, (key,)).fetchone()
                    finally:
                        cursor.close()
            except sqlite3.Error as error:
                raise StoreError(
                    f"cannot read the response cache in {self.url}: {error}",
                    fix="check that the database file is readable and not corrupt",
                ) from error
            return None if row is None else Output.model_validate_json(row[0])
        query = select(response_cache.c.output_json).where(response_cache.c.key == key)
        with self._reading("read the response cache") as conn:
            text = conn.execute(query).scalar()
        return None if text is None else Output.model_validate_json(text)

    def delete_errors(self, run_id: str) -> int:
        """Delete the run's failed results (so a resume retries them); how many were deleted."""
        failed = select(results_t.c.id).where(
            results_t.c.run_id == run_id, results_t.c.error_class.is_not(None)
        )
        with self._writing(f"clear failed results of run {run_id!r}") as conn:
            ids = list(conn.execute(failed).scalars())
            for start in range(0, len(ids), _MAX_IN):
                chunk = ids[start : start + _MAX_IN]
                conn.execute(delete(scores).where(scores.c.result_id.in_(chunk)))
                conn.execute(delete(results_t).where(results_t.c.id.in_(chunk)))
            forget_summary(conn, run_id)
        return len(ids)

    def finish_run(self, run_id: str, manifest: RunManifest, status: str) -> None:
        """Replace the run's manifest (now with resolved models and ``finished_at``) and set its
        final status and finish time (the manifest's, else now), and drop its lease.

        Refused (:class:`~assay.store.leases.RunLeasedError`) when another process holds the
        run's lease: it took the run over after this one's lease expired."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {RUN_STATUSES}")
        if manifest.run_id != run_id:
            raise ValueError(f"manifest is of run {manifest.run_id!r}, not {run_id!r}")
        values = {
            "status": status,
            "finished_at": manifest.finished_at or _now(),
            "name": manifest.name,
            "fingerprint": manifest.fingerprint,
            "spec_hash": manifest.spec_hash,
            "subjects_json": codec.dumps([s.name for s in manifest.subjects]),
        }
        with self._writing(f"finish run {run_id!r}") as conn:
            leases.release(conn, run_id)
            updated = conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if updated.rowcount == 0:
                raise self._unknown_run(run_id)
            forget_summary(conn, run_id)
            conn.execute(
                update(manifests)
                .where(manifests.c.run_id == run_id)
                .values(manifest_json=manifest.model_dump_json())
            )
        self._leased.discard(run_id)

    def resume_run(self, run_id: str) -> None:
        """Mark a stored run as ``running`` again, owned by this process (to resume it).

        Claims the run's lease atomically first: a run whose lease another live process holds
        is refused with :class:`~assay.store.leases.RunLeasedError`, naming that process and
        when its lease expires; an expired lease (a killed process, on any host) is taken."""
        values = {
            "status": "running",
            "finished_at": None,
            "pid": os.getpid(),
            "hostname": self._host,
        }
        with self._writing(f"resume run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            leases.claim(conn, run_id, self.lease_ttl)
            updated = conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if updated.rowcount == 0:
                raise self._unknown_run(run_id)
            forget_summary(conn, run_id)
        self._leased.add(run_id)
