"""The summary of a stored run that listings show, and how its status is judged."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

RunStatus = Literal["running", "completed", "failed", "interrupted"]
RUN_STATUSES: tuple[str, ...] = ("running", "completed", "failed", "interrupted")


class RunInfo(BaseModel):
    """One run as the store sees it: identity, state and counts.

    ``status`` is ``interrupted`` for a run recorded as ``running`` whose lease is no longer
    live (its process stopped renewing it, see :mod:`assay.store.leases`). ``n_results``
    counts stored results (errors included), ``n_errors`` those without an output,
    ``n_planned`` how many the run meant to produce.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    fingerprint: str
    spec_hash: str
    subjects: list[str]
    n_results: int
    n_errors: int
    n_planned: int


def effective_status(status: str, lease: str | None) -> str:
    """The stored status, except that a ``running`` run whose lease is missing, expired or
    held by a process of this host that no longer exists is ``interrupted`` (see
    :mod:`assay.store.leases`; ``lease`` is the stored lease value)."""
    if status != "running":
        return status
    from assay.store.leases import RunLease

    held = RunLease.parse(lease)
    return "running" if held is not None and held.live() else "interrupted"


def run_info_from_row(row: Any, n_results: int, n_errors: int) -> RunInfo:
    """A :class:`RunInfo` from a ``runs`` row that also carries its ``lease`` (the stored
    lease value), with the result counts read beside it."""
    from assay.store import codec

    return RunInfo(
        id=row.id,
        name=row.name,
        status=effective_status(row.status, row.lease),
        started_at=row.started_at,
        finished_at=row.finished_at,
        fingerprint=row.fingerprint,
        spec_hash=row.spec_hash,
        subjects=codec.loads(row.subjects_json),
        n_results=n_results,
        n_errors=n_errors,
        n_planned=row.n_planned,
    )


def run_columns() -> tuple[Any, ...]:
    """The ``runs`` columns :func:`run_info_from_row` reads, with the stored lease."""
    from assay.store.leases import lease_column
    from assay.store.tables import runs

    return (
        runs.c.id,
        runs.c.name,
        runs.c.status,
        runs.c.started_at,
        runs.c.finished_at,
        runs.c.fingerprint,
        runs.c.spec_hash,
        runs.c.subjects_json,
        runs.c.n_planned,
        lease_column(),
    )
