"""Provenance queries over datasets and stored runs: consent revocation, and the export filter
that keeps unlicensed rows and debug-surface feedback out of training data (D4, D5, D6).

Consent (D4). A subject's consent counts as revoked since a date when any row of theirs, in
any dataset given or any stored run, has ``provenance.consent_status == "revoked"`` with
``status_changed_at`` on or after that date (a revoked row with no date is counted too: it
cannot be shown to predate the query). Every row of such a subject is affected, in every
dataset version, whatever status that older copy recorded; a revoked row with no
``subject_id`` is affected on its own and traced by content hash.

Export (D5, D6). Feedback rows carry two metadata keys:

* ``surface``: where the feedback was given (``production``, ``staging``, ``debug``, …);
* ``rater_role``: who gave it (``user``, ``vendor``, ``internal``, …); ``rater`` is read as
  the same key when ``rater_role`` is absent.

By default a row is debug-surface feedback, and left out of an export, when its ``surface`` is
``staging`` or ``debug`` or its ``rater_role`` is ``internal`` (case-insensitive). A row whose
``provenance.licence`` is ``unspecified`` fails the export unless explicitly allowed. Every row
left out is recorded with its reason.

Credentials and PII (I3). Every row to export is scanned (input, target, metadata) with
:mod:`assay.data.pii`; any finding fails the export with the row ids (:class:`ExportPiiError`,
exit 1) unless the caller redacts those rows (``redact_pii``) or waives the check with a reason
(``pii_waiver``), which the export record keeps beside the rows and types it let through.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from assay.core.errors import AssayError
from assay.core.sample import Sample
from assay.data.dataset import Dataset
from assay.data.loader import load_dataset

if TYPE_CHECKING:
    from assay.scale import Executor
    from assay.store import Store

SURFACE_KEY = "surface"
RATER_ROLE_KEY = "rater_role"
RATER_ROLE_ALIAS = "rater"
DEBUG_SURFACES = frozenset({"staging", "debug"})
INTERNAL_ROLES = frozenset({"internal"})
UNSPECIFIED_LICENCE = "unspecified"


class ExportPiiError(AssayError):
    """Raised when rows to export contain credentials or other PII and neither redaction nor
    a waiver was asked for (I3). Exit code 1: a gate failed."""

    exit_code = 1
    code = "pii_found"


class UnspecifiedLicenceError(AssayError):
    """Raised when an export holds rows whose licence is ``unspecified`` and they were not
    explicitly allowed (D5). Exit code 1: a gate failed."""

    exit_code = 1
    code = "unspecified_licence"


def as_utc(moment: datetime | date) -> datetime:
    """A timezone-aware UTC datetime (a date is its midnight; naive times are UTC)."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time.min)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _label(dataset: Dataset) -> str:
    return dataset.source or dataset.name


def _load(datasets: Iterable[Dataset | str | os.PathLike[str]]) -> list[Dataset]:
    return [d if isinstance(d, Dataset) else load_dataset(d) for d in datasets]


def _revoked_since(sample: Sample, since: datetime) -> bool:
    prov = sample.provenance
    if prov.consent_status != "revoked":
        return False
    return prov.status_changed_at is None or as_utc(prov.status_changed_at) >= since


@dataclass(frozen=True)
class AffectedRow:
    """One row of a revoked subject in one dataset version."""

    dataset: str
    dataset_hash: str
    sample_id: str
    subject_id: str | None
    content_hash: str


@dataclass(frozen=True)
class DatasetVersion:
    """A dataset file (or in-memory dataset) by its content hash, with its affected rows."""

    dataset: str
    content_hash: str
    n_samples: int
    affected_ids: list[str]


@dataclass(frozen=True)
class AffectedRun:
    """A stored run that used affected rows, with its subjects (the models evaluated)."""

    run_id: str
    name: str
    started_at: datetime
    subjects: list[str]
    sample_ids: list[str]


@dataclass(frozen=True)
class RevocationReport:
    """What :func:`rows_with_revoked_consent` found; runs oldest first, ``runs_searched`` is
    ``None`` when no store was given."""

    since: datetime
    subjects: list[str]
    rows: list[AffectedRow]
    dataset_versions: list[DatasetVersion]
    runs: list[AffectedRun]
    runs_searched: int | None

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for ``--json``."""
        return {
            "since": self.since.isoformat(),
            "subjects": self.subjects,
            "rows": [r.__dict__ for r in self.rows],
            "dataset_versions": [v.__dict__ for v in self.dataset_versions],
            "runs": [{**r.__dict__, "started_at": r.started_at.isoformat()} for r in self.runs],
            "runs_searched": self.runs_searched,
        }


def rows_with_revoked_consent(
    datasets: Sequence[Dataset | str | os.PathLike[str]],
    since: datetime | date,
    *,
    store: Store | None = None,
) -> RevocationReport:
    """Every row, dataset version and stored run touching a subject whose consent was revoked
    on or after ``since`` (rules in the module docstring).

    ``datasets`` are dataset files (any format :func:`load_dataset` reads) or datasets; each is
    one version, named by its content hash. With ``store``, every stored run's samples are
    searched too: a run is affected when it holds a row of a revoked subject or a row whose
    content hash matches an affected row.
    """
    cutoff = as_utc(since)
    loaded = _load(datasets)
    run_samples: list[tuple[str, list[Sample]]] = []
    runs = store.list_runs() if store is not None else []
    for run in runs:
        run_samples.append((run.id, store.get_samples(run.id)))  # type: ignore[union-attr]

    everything = [s for d in loaded for s in d] + [s for _, ss in run_samples for s in ss]
    subjects = {
        s.provenance.subject_id
        for s in everything
        if s.provenance.subject_id and _revoked_since(s, cutoff)
    }
    anonymous = {
        s.content_hash()
        for s in everything
        if not s.provenance.subject_id and _revoked_since(s, cutoff)
    }

    def affected(sample: Sample) -> bool:
        subject = sample.provenance.subject_id
        if subject:
            return subject in subjects
        return bool(anonymous) and sample.content_hash() in anonymous

    rows: list[AffectedRow] = []
    versions: list[DatasetVersion] = []
    hashes: set[str] = set(anonymous)
    for dataset in loaded:
        version = dataset.content_hash
        hits = [s for s in dataset if affected(s)]
        for s in hits:
            digest = s.content_hash()
            hashes.add(digest)
            rows.append(
                AffectedRow(_label(dataset), version, s.id, s.provenance.subject_id, digest)
            )
        if hits:
            versions.append(
                DatasetVersion(_label(dataset), version, len(dataset), [s.id for s in hits])
            )

    affected_runs: list[AffectedRun] = []
    by_id = {run.id: run for run in runs}
    for run_id, samples in run_samples:
        used = [
            s.id
            for s in samples
            if (s.provenance.subject_id in subjects) or s.content_hash() in hashes
        ]
        if used:
            run = by_id[run_id]
            manifest = store.get_manifest(run_id)  # type: ignore[union-attr]
            affected_runs.append(
                AffectedRun(
                    run_id, run.name, run.started_at, [s.name for s in manifest.subjects], used
                )
            )
    affected_runs.sort(key=lambda r: (r.started_at, r.run_id))
    return RevocationReport(
        cutoff,
        sorted(subjects),
        rows,
        versions,
        affected_runs,
        None if store is None else len(runs),
    )


@dataclass(frozen=True)
class Exclusion:
    """A row left out of an export and why (``debug_feedback: surface=staging, …``)."""

    sample_id: str
    reason: str


@dataclass(frozen=True)
class PiiRow:
    """A row to export in which the scan found PII: its id and the types found, by field."""

    sample_id: str
    types: list[str]
    fields: list[str]


@dataclass(frozen=True)
class ExportSelection:
    """The rows an export keeps, those it left out, and unspecified-licence rows let through.

    ``pii_rows``: rows in which the credential and PII scan found something; they were
    redacted (``pii_action == "redacted"``), let through under ``pii_waiver``
    (``"waived"``), or the scan was off (``"not scanned"``, then the list is empty).
    """

    kept: Dataset
    excluded: list[Exclusion]
    allowed_unspecified_licence: list[str] = field(default_factory=list)
    pii_rows: list[PiiRow] = field(default_factory=list)
    pii_action: str = "scanned"
    pii_waiver: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON record of the export's decisions."""
        return {
            "dataset": _label(self.kept),
            "kept": len(self.kept),
            "excluded": [e.__dict__ for e in self.excluded],
            "allowed_unspecified_licence": self.allowed_unspecified_licence,
            "pii_scan": {
                "action": self.pii_action,
                "waiver": self.pii_waiver,
                "rows": [r.__dict__ for r in self.pii_rows],
            },
        }


def scan_rows_for_pii(
    samples: Iterable[Sample], *, executor: Executor | None = None, chunk: int = 2000
) -> list[PiiRow]:
    """Rows whose input, target or metadata hold credentials or other PII
    (:func:`assay.data.pii.redact_record`: every detector, secrets included).

    With an ``executor`` (:mod:`assay.scale`, e.g. Ray tasks) the rows are scanned in chunks
    of ``chunk`` rows on its workers; the chunks' findings are joined in row order, so the
    result is the same list as a scan here."""
    if executor is None:
        return _scan_chunk(None, samples)
    rows = list(samples)
    chunks = [rows[start : start + chunk] for start in range(0, len(rows), max(1, chunk))]
    return [row for part in executor.map(_scan_chunk, None, chunks) for row in part]


def _scan_chunk(_shared: None, samples: Iterable[Sample]) -> list[PiiRow]:
    """The PII rows among ``samples`` (one chunk; the work every executor runs)."""
    from assay.data.pii import redact_record

    found: list[PiiRow] = []
    for sample in samples:
        content = {
            "input": sample.input
            if isinstance(sample.input, str)
            else [m.content for m in sample.input],
            "target": sample.target,
            "metadata": sample.metadata,
        }
        _, findings = redact_record(content)
        if findings:
            found.append(
                PiiRow(
                    sample.id,
                    sorted({f.type for _, f in findings}),
                    list(dict.fromkeys(path for path, _ in findings)),
                )
            )
    return found


def debug_feedback_reason(sample: Sample) -> str | None:
    """Why ``sample`` is debug-surface feedback (``None`` when it is not); see the module
    docstring for the metadata keys read."""
    surface = sample.metadata.get(SURFACE_KEY)
    role = sample.metadata.get(RATER_ROLE_KEY, sample.metadata.get(RATER_ROLE_ALIAS))
    found = []
    if surface is not None and str(surface).lower() in DEBUG_SURFACES:
        found.append(f"{SURFACE_KEY}={surface}")
    if role is not None and str(role).lower() in INTERNAL_ROLES:
        found.append(f"{RATER_ROLE_KEY}={role}")
    return "debug_feedback: " + ", ".join(found) if found else None


def select_for_export(
    dataset: Dataset,
    *,
    allow_unspecified_licence: bool = False,
    include_debug_feedback: bool = False,
    scan_pii: bool = True,
    redact_pii: bool = False,
    pii_waiver: str | None = None,
    executor: Executor | None = None,
) -> ExportSelection:
    """The rows of ``dataset`` fit for a training export (D5, D6, I3).

    Debug-surface feedback is excluded (unless ``include_debug_feedback``) first; then any
    remaining row with an ``unspecified`` licence raises :class:`UnspecifiedLicenceError`
    unless ``allow_unspecified_licence``, in which case those rows are kept and listed. Then
    the rows are scanned for credentials and PII (``scan_pii``, on by default): any finding
    raises :class:`ExportPiiError` naming the rows, unless ``redact_pii`` (those rows are
    exported with ``<EMAIL_1>``-style placeholders) or ``pii_waiver`` (a non-empty reason,
    recorded with the rows let through). ``executor`` scans the rows for PII on its workers
    (:func:`scan_rows_for_pii`); the selection is the same on every executor.
    """
    if pii_waiver is not None and not pii_waiver.strip():
        raise AssayError(
            "a PII waiver needs a reason",
            where="--pii-waiver",
            fix='say why, e.g. --pii-waiver "synthetic credentials, checked by hand"',
        )
    if redact_pii and pii_waiver is not None:
        raise AssayError(
            "redact the PII or waive the check, not both",
            where="--pii-waiver",
            fix="drop --pii-waiver to export redacted rows",
        )
    excluded: list[Exclusion] = []
    kept: list[Sample] = []
    for sample in dataset:
        reason = None if include_debug_feedback else debug_feedback_reason(sample)
        if reason:
            excluded.append(Exclusion(sample.id, reason))
        else:
            kept.append(sample)
    unlicensed = [s.id for s in kept if s.provenance.licence == UNSPECIFIED_LICENCE]
    if unlicensed and not allow_unspecified_licence:
        shown = ", ".join(unlicensed[:5]) + (" …" if len(unlicensed) > 5 else "")
        raise UnspecifiedLicenceError(
            f"{len(unlicensed)} row(s) to export have licence 'unspecified' ({shown})",
            where=f"{_label(dataset)} (sample {unlicensed[0]})",
            fix="set provenance.licence to an SPDX id, or pass --allow-unspecified-licence",
        )
    if not scan_pii:
        return ExportSelection(
            Dataset(dataset.name, kept, source=dataset.source),
            excluded,
            unlicensed,
            pii_action="not scanned",
        )
    pii_rows = scan_rows_for_pii(kept, executor=executor)
    action = "scanned"
    if pii_rows and redact_pii:
        from assay.data.pii import redact_sample

        flagged = {r.sample_id for r in pii_rows}
        kept = [redact_sample(s) if s.id in flagged else s for s in kept]
        action = "redacted"
    elif pii_rows and pii_waiver is not None:
        action = "waived"
    elif pii_rows:
        ids = [r.sample_id for r in pii_rows]
        kinds = sorted({t for r in pii_rows for t in r.types})
        shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
        raise ExportPiiError(
            f"{len(ids)} of {len(kept)} row(s) to export contain {', '.join(kinds)}: {shown}",
            where=f"{_label(dataset)} (sample {ids[0]})",
            fix="export redacted rows with --redact-pii, or pass --pii-waiver REASON to "
            "export them as they are (the reason is recorded)",
        )
    return ExportSelection(
        Dataset(dataset.name, kept, source=dataset.source),
        excluded,
        unlicensed,
        pii_rows=pii_rows,
        pii_action=action,
        pii_waiver=pii_waiver if action == "waived" else None,
    )
