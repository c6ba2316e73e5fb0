"""The :class:`~assay.store.Store`'s reads: runs (listed, by id, by reference, by spec),
judge certificates, and a run's contents (manifest, spec, samples, results, score rows).

Results and score rows are streamed a chunk at a time, never all loaded.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from assay.core import JudgeCertificate, RunManifest, Sample, SampleResult, Score, StoreError
from assay.store import codec
from assay.store.base import _LIST_HINT, _MAX_IN, StoreBase
from assay.store.run_info import RunInfo, run_columns, run_info_from_row
from assay.store.tables import judge_certificates, manifests, runs, scores
from assay.store.tables import results as results_t
from assay.store.tables import samples as samples_t

_LATEST = re.compile(r"(?:latest|last)(?:~(\d+))?")
_NEWEST_FIRST = (runs.c.started_at.desc(), runs.c.created_at.desc(), runs.c.id.desc())
_RUN_COLUMNS = run_columns()


class StoreReads(StoreBase):
    """Reading runs, judge certificates and the contents of a run (and storing a certificate)."""

    # -- runs ----------------------------------------------------------------------------------

    def _run_infos(self, conn: Connection, rows: Sequence[Any]) -> list[RunInfo]:
        ids = [row.id for row in rows]
        counts: dict[str, int] = {}
        errors: dict[str, int] = {}
        # Two counts, each read from an index alone: all results (any index on run_id), and the
        # failed ones (the partial index ``ix_results_failed``, whose condition the query
        # repeats). Counting both in one query read every result's row for ``error``: 0.2 s of
        # each `get_run` at 100,000 results (issue 20).
        for start in range(0, len(ids), _MAX_IN):
            chunk = results_t.c.run_id.in_(ids[start : start + _MAX_IN])
            query = select(results_t.c.run_id, func.count()).group_by(results_t.c.run_id)
            counts.update((rid, n) for rid, n in conn.execute(query.where(chunk)))
            failed = query.where(chunk, results_t.c.error.is_not(None))
            errors.update((rid, n) for rid, n in conn.execute(failed))
        return [
            run_info_from_row(row, counts.get(row.id, 0), errors.get(row.id, 0)) for row in rows
        ]

    def find_runs(self, *, spec_hash: str) -> list[RunInfo]:
        """Runs made from the same spec (same ``spec_hash``), newest first."""
        query = select(*_RUN_COLUMNS).where(runs.c.spec_hash == spec_hash).order_by(*_NEWEST_FIRST)
        with self._reading("find runs") as conn:
            return self._run_infos(conn, conn.execute(query).all())

    def list_runs(self, limit: int | None = None) -> list[RunInfo]:
        """Stored runs, newest first (at most ``limit``)."""
        query = select(*_RUN_COLUMNS).order_by(*_NEWEST_FIRST)
        if limit is not None:
            query = query.limit(limit)
        with self._reading("list runs") as conn:
            return self._run_infos(conn, conn.execute(query).all())

    def get_run(self, run_id: str) -> RunInfo:
        """The run with id ``run_id`` (exactly; see :meth:`resolve_run_id` for references)."""
        with self._reading(f"read run {run_id!r}") as conn:
            rows = conn.execute(select(*_RUN_COLUMNS).where(runs.c.id == run_id)).all()
            if not rows:
                raise self._unknown_run(run_id)
            return self._run_infos(conn, rows)[0]

    def resolve_run_id(self, ref: str) -> str:
        """The id of the run ``ref`` names: an exact id, a unique prefix of one, ``latest`` (or
        ``last``) for the newest run and ``latest~N`` for the N-th before it."""
        ref = ref.strip()
        if not ref:
            raise StoreError("empty run reference", fix=_LIST_HINT)
        with self._reading(f"resolve run {ref!r}") as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == ref)).first() is not None:
                return ref
            latest = _LATEST.fullmatch(ref)
            if latest is not None:
                return self._nth_newest(conn, ref, int(latest.group(1) or 0))
            matches = list(
                conn.execute(
                    select(runs.c.id)
                    .where(runs.c.id.startswith(ref, autoescape=True))
                    .order_by(*_NEWEST_FIRST)
                    .limit(11)
                ).scalars()
            )
            if len(matches) == 1:
                return str(matches[0])
            if matches:
                shown = ", ".join(matches[:10]) + (", …" if len(matches) > 10 else "")
                raise StoreError(
                    f"run reference {ref!r} is ambiguous: it is a prefix of "
                    f"{'more than 10' if len(matches) > 10 else len(matches)} run ids ({shown})",
                    fix="give more characters of the id; " + _LIST_HINT,
                )
            recent = list(
                conn.execute(select(runs.c.id).order_by(*_NEWEST_FIRST).limit(5)).scalars()
            )
        if not recent:
            raise StoreError(
                f"no run matches {ref!r}: the store at {self.url} has no runs yet",
                fix="start one with `assay run`, or point ASSAY_DB at the right database",
            )
        raise StoreError(
            f"no run matches {ref!r} in {self.url}; the newest are: {', '.join(recent)}",
            fix=_LIST_HINT,
        )

    def _nth_newest(self, conn: Connection, ref: str, offset: int) -> str:
        query = select(runs.c.id).order_by(*_NEWEST_FIRST).offset(offset).limit(1)
        found = conn.execute(query).scalar()
        if found is not None:
            return str(found)
        total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
        if total == 0:
            raise StoreError(
                f"no run matches {ref!r}: the store at {self.url} has no runs yet",
                fix="start one with `assay run`, or point ASSAY_DB at the right database",
            )
        raise StoreError(
            f"no run matches {ref!r}: only {total} run{'s' if total != 1 else ''} stored",
            fix=_LIST_HINT,
        )

    # -- judge certificates --------------------------------------------------------------------

    def put_certificate(self, certificate: JudgeCertificate) -> None:
        """Store a judge certificate (an id already stored is replaced)."""
        row = {
            "id": certificate.id,
            "judge_key": certificate.judge_key,
            "judge": certificate.judge,
            "model": certificate.model,
            "status": certificate.status,
            "created_at": certificate.created_at,
            "certificate_json": certificate.model_dump_json(),
        }
        with self._writing(f"store judge certificate {certificate.id!r}") as conn:
            conn.execute(delete(judge_certificates).where(judge_certificates.c.id == row["id"]))
            conn.execute(insert(judge_certificates), [row])

    def list_certificates(self, judge_key: str | None = None) -> list[JudgeCertificate]:
        """Stored judge certificates, newest first (of one judge config, if given)."""
        query = select(judge_certificates.c.certificate_json).order_by(
            judge_certificates.c.created_at.desc(), judge_certificates.c.id.desc()
        )
        if judge_key is not None:
            query = query.where(judge_certificates.c.judge_key == judge_key)
        with self._reading("read judge certificates") as conn:
            rows = conn.execute(query).scalars().all()
        return [JudgeCertificate.model_validate_json(text) for text in rows]

    def get_certificate(self, ref: str) -> JudgeCertificate:
        """A certificate by id, by unique id prefix, or the newest of a judge key / judge name /
        model (``latest`` for the newest of all)."""
        certificates = self.list_certificates()
        if ref in ("latest", "last") and certificates:
            return certificates[0]
        exact = [c for c in certificates if c.id == ref]
        if exact:
            return exact[0]
        prefixed = [c for c in certificates if c.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        named = [c for c in certificates if ref in (c.judge_key, c.judge, c.model)]
        if named:
            return named[0]
        raise StoreError(
            f"no judge certificate {ref!r} in {self.url}"
            + (" (the prefix is ambiguous)" if len(prefixed) > 1 else ""),
            fix="run `assay audit list` to see the certificates, or `assay audit judge` to "
            "make one",
        )

    # -- contents of a run ---------------------------------------------------------------------

    def resolved_models(self, run_id: str) -> dict[str, tuple[list[str], list[str]]]:
        """Per subject, the distinct resolved models and system fingerprints its stored results
        report, in order of first appearance."""
        query = (
            select(results_t.c.subject, results_t.c.resolved_model, results_t.c.system_fingerprint)
            .where(results_t.c.run_id == run_id, results_t.c.error_class.is_(None))
            .group_by(
                results_t.c.subject, results_t.c.resolved_model, results_t.c.system_fingerprint
            )
            .order_by(func.min(results_t.c.created_at), func.min(results_t.c.id))
        )
        out: dict[str, tuple[list[str], list[str]]] = {}
        with self._reading(f"read run {run_id!r}") as conn:
            for subject, model, fingerprint in conn.execute(query):
                models, fingerprints = out.setdefault(subject, ([], []))
                if model and model not in models:
                    models.append(model)
                if fingerprint and fingerprint not in fingerprints:
                    fingerprints.append(fingerprint)
        return out

    def get_manifest(self, run_id: str) -> RunManifest:
        """The run's manifest (as of its finish, once finished)."""
        query = select(manifests.c.manifest_json).where(manifests.c.run_id == run_id)
        with self._reading(f"read the manifest of run {run_id!r}") as conn:
            text = conn.execute(query).scalar()
        if text is None:
            raise self._unknown_run(run_id)
        return RunManifest.model_validate_json(text)

    def get_spec(self, run_id: str) -> dict[str, Any] | None:
        """The spec the run was created from, if one was given."""
        query = select(manifests.c.run_id, manifests.c.spec_json).where(
            manifests.c.run_id == run_id
        )
        with self._reading(f"read the spec of run {run_id!r}") as conn:
            row = conn.execute(query).first()
        if row is None:
            raise self._unknown_run(run_id)
        spec: dict[str, Any] | None = codec.loads(row.spec_json)
        return spec

    def get_samples(self, run_id: str) -> list[Sample]:
        """The run's samples, in dataset order."""
        query = select(samples_t).where(samples_t.c.run_id == run_id).order_by(samples_t.c.position)
        with self._reading(f"read the samples of run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            return [codec.sample_from_row(row) for row in conn.execute(query)]

    def iter_results(
        self, run_id: str, subject: str | None = None, *, chunk_size: int = _MAX_IN
    ) -> Iterator[SampleResult]:
        """The run's results (of one subject, if given) with their scores, ordered by subject,
        sample id and epoch. Rows are streamed ``chunk_size`` at a time (at most 500), never all
        loaded."""
        chunk_size = max(1, min(chunk_size, _MAX_IN))
        with self._reading(f"read run {run_id!r}") as conn:
            self._require_run(conn, run_id)
        return self._stream_results(run_id, subject, chunk_size)

    def _stream_results(
        self, run_id: str, subject: str | None, chunk_size: int
    ) -> Iterator[SampleResult]:
        query = select(results_t).where(results_t.c.run_id == run_id)
        if subject is not None:
            query = query.where(results_t.c.subject == subject)
        query = query.order_by(results_t.c.subject, results_t.c.sample_id, results_t.c.epoch)
        with self._reading(f"read the results of run {run_id!r}") as conn:
            stream = conn.execute(query, execution_options={"yield_per": chunk_size})
            for chunk in stream.partitions():
                by_result: dict[str, list[Score]] = defaultdict(list)
                score_query = (
                    select(scores)
                    .where(scores.c.result_id.in_([row.id for row in chunk]))
                    .order_by(scores.c.result_id, scores.c.position)
                )
                for score_row in conn.execute(score_query):
                    by_result[score_row.result_id].append(codec.score_from_row(score_row))
                for row in chunk:
                    yield codec.result_from_row(row, by_result.get(row.id, []))

    def sample_labels(self, run_id: str) -> dict[str, tuple[dict[str, Any], str | None]]:
        """Sample id → (metadata, cluster) for the run's samples, in dataset order.

        What slices and clusters need, without the inputs, targets and provenance that
        :meth:`get_samples` parses into models (at 100,000 samples, seconds and hundreds of MB).
        """
        query = (
            select(samples_t.c.id, samples_t.c.metadata_json, samples_t.c.cluster)
            .where(samples_t.c.run_id == run_id)
            .order_by(samples_t.c.position)
        )
        # Samples that share metadata text share one parsed dict (treat it as read-only), and
        # samples of one cluster one string.
        parsed: dict[str, dict[str, Any]] = {}
        labels: dict[str, tuple[dict[str, Any], str | None]] = {}
        with self._reading(f"read the samples of run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            for sid, meta, cluster in conn.execute(query):
                metadata = parsed.get(meta)
                if metadata is None:
                    metadata = parsed[meta] = codec.loads(meta) or {}
                name = None if cluster is None else sys.intern(cluster)
                labels[sid] = (metadata, name)
        return labels

    def iter_score_rows(
        self, run_id: str, *, with_metadata: bool = False
    ) -> Iterator[tuple[str, str, int, str | None, str | None, float | None, Any]]:
        """The run's scores as plain rows, ordered by subject, sample id, epoch and position:
        ``(subject, sample_id, epoch, error_class, scorer, value, metadata)``.

        An errored result with no scores gives one row whose ``scorer`` is ``None``; ``metadata``
        is the score's parsed metadata with ``with_metadata``, else ``None``. Unlike
        :meth:`iter_results`, outputs are never read nor parsed: this is what means, intervals
        and comparisons need. Rows are streamed, never all loaded.
        """
        columns = [
            results_t.c.subject,
            results_t.c.sample_id,
            results_t.c.epoch,
            results_t.c.error_class,
            scores.c.scorer,
            scores.c.value,
        ]
        if with_metadata:
            columns.append(scores.c.metadata_json)
        query = (
            select(*columns)
            .select_from(results_t.outerjoin(scores, scores.c.result_id == results_t.c.id))
            .where(results_t.c.run_id == run_id)
            .order_by(
                results_t.c.subject, results_t.c.sample_id, results_t.c.epoch, scores.c.position
            )
        )
        with self._reading(f"read run {run_id!r}") as conn:
            self._require_run(conn, run_id)
        return self._stream_score_rows(run_id, query, with_metadata)

    def _stream_score_rows(
        self, run_id: str, query: Any, with_metadata: bool
    ) -> Iterator[tuple[str, str, int, str | None, str | None, float | None, Any]]:
        with self._reading(f"read the scores of run {run_id!r}") as conn:
            stream = conn.execute(query, execution_options={"yield_per": 5000})
            for chunk in stream.partitions():  # fetchmany: far cheaper than a fetch per row
                for row in chunk:
                    meta = (codec.loads(row[6]) or {}) if with_metadata else None
                    value = None if row[5] is None else float(row[5])
                    yield row[0], row[1], int(row[2]), row[3], row[4], value, meta

    def completed_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """``(subject, sample_id, epoch)`` of every stored result of the run (errors included)."""
        query = select(results_t.c.subject, results_t.c.sample_id, results_t.c.epoch).where(
            results_t.c.run_id == run_id
        )
        with self._reading(f"read run {run_id!r}") as conn:
            self._require_run(conn, run_id)
            return {(s, sid, int(e)) for s, sid, e in conn.execute(query)}
