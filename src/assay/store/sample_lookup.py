"""Single samples of a run, looked up by key: the sample (``samples`` is keyed by ``(run_id, id)``),
its results (the unique ``(run_id, subject, sample_id, epoch)`` index) with their scores, and
the runs of the same eval that hold it. Never a scan of the run (the sample page used to read
all 6,000 results of a run to show one sample: 0.5 s)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assay.core import Sample, SampleResult
from assay.store import Store, codec
from assay.store.run_info import effective_status
from assay.store.tables import results, runs, samples, scores


def get_sample(store: Store, run_id: str, sample_id: str) -> Sample | None:
    """One sample of a run by its key, or ``None``."""
    query = select(samples).where(samples.c.run_id == run_id, samples.c.id == sample_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else codec.sample_from_row(row)


def sample_results(
    store: Store, run_id: str, sample_id: str, subjects: Sequence[str] = ()
) -> list[tuple[SampleResult, datetime]]:
    """Every result of one sample (by subject and epoch) with its scores and the time it was
    stored (for pricing at the run's date)."""
    query = select(results).where(results.c.run_id == run_id, results.c.sample_id == sample_id)
    if subjects:
        query = query.where(results.c.subject.in_(list(subjects)))
    query = query.order_by(results.c.subject, results.c.epoch)
    with store.engine.connect() as conn:
        rows = list(conn.execute(query))
        by_result: dict[str, list[Any]] = {}
        if rows:
            score_rows = conn.execute(
                select(scores)
                .where(scores.c.result_id.in_([r.id for r in rows]))
                .order_by(scores.c.result_id, scores.c.position)
            )
            for s in score_rows:
                by_result.setdefault(s.result_id, []).append(codec.score_from_row(s))
    return [(codec.result_from_row(r, by_result.get(r.id, [])), r.created_at) for r in rows]


def runs_with_sample(
    store: Store, name: str, sample_id: str, *, limit: int = 50
) -> list[dict[str, Any]]:
    """Runs of the eval ``name`` that hold sample ``sample_id``, newest first (id, status,
    start). The status is the one the runs list shows: a ``running`` run whose lease expired
    (its process died) is ``interrupted`` (:func:`assay.store.run_info.effective_status`)."""
    from assay.store.leases import lease_column

    query = (
        select(runs.c.id, runs.c.status, runs.c.started_at, lease_column())
        .select_from(runs.join(samples, samples.c.run_id == runs.c.id))
        .where(runs.c.name == name, samples.c.id == sample_id)
        .order_by(runs.c.started_at.desc(), runs.c.id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [
            {
                "id": r.id,
                "status": effective_status(r.status, r.lease),
                "started_at": r.started_at.isoformat(),
            }
            for r in conn.execute(query)
        ]
