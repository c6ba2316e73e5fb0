"""Where queue items come from: draft cases, flagged or failed traces, and a run's samples.

Each function reads the store and returns :class:`~assay.review.queue.NewItem` s whose payload
is what a reviewer sees: for a draft case its input and negative example, for a trace its input
and answer as promotion reads them (as stored: redacted), for a sample its input, the subject's
output and the target.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from assay.core import AssayError, SampleResult, StoreError
from assay.review._db import reading
from assay.review.queue import NewItem
from assay.store import Store
from assay.store.tables import cases, traces


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def draft_items(store: Store, *, dataset: str | None = None) -> list[NewItem]:
    """Every draft case not yet triaged or deleted (of ``dataset``, if given), oldest first."""
    query = select(cases).where(cases.c.status == "draft", cases.c.deleted_at.is_(None))
    if dataset is not None:
        query = query.where(cases.c.dataset == dataset)
    with reading(store, "read draft cases") as conn:
        rows = conn.execute(query.order_by(cases.c.created_at, cases.c.id)).all()
    return [
        NewItem(
            "draft",
            row.id,
            {
                "case_id": row.id,
                "dataset": row.dataset,
                "origin": row.origin,
                "created_from": row.created_from,
                "reason": row.reason,
                "input": _json(row.input_json),
                "negative_example": row.negative_example,
                "target": _json(row.target_json),
            },
        )
        for row in rows
    ]


def trace_items(store: Store, trace_ids: Sequence[str]) -> list[NewItem]:
    """One item per trace, showing what promotion would make a case of
    (:func:`assay.trace.promote.trace_material`): the first LLM span's input and the last LLM
    span's answer (else the root span's), as stored, so redacted. An unknown id is an error."""
    from assay.trace.promote import trace_material

    wanted = [t.strip().lower() for t in trace_ids if t.strip()]
    if not wanted:
        raise AssayError("name at least one trace", where="--traces", fix="--traces ID,ID")
    items = []
    for trace_id in dict.fromkeys(wanted):
        material = trace_material(store, trace_id, missing_ok=True)
        if material is None:
            raise StoreError(
                f"no trace {trace_id!r} in the store",
                where="--traces",
                fix="list trace ids with `assay traces list`",
            )
        with reading(store, f"read trace {trace_id}") as conn:
            trace = conn.execute(
                select(traces.c.status, traces.c.root_name).where(traces.c.id == trace_id)
            ).one()
        items.append(
            NewItem(
                "trace",
                trace_id,
                {
                    "trace_id": trace_id,
                    "root_name": trace.root_name,
                    "status": trace.status,
                    "session_id": material.session_id,
                    "start_time": material.start_time.isoformat(),
                    "input": _content(material.input),
                    "output": material.output,
                    "correction": material.target,
                },
            )
        )
    return items


def failed_trace_ids(store: Store) -> list[str]:
    """Traces labelled ``failed`` or ``failed_delayed`` by feedback, a judge or a delayed
    outcome (:func:`assay.trace.labels.failed_traces`)."""
    from assay.trace.labels import failed_traces

    return sorted(failed_traces(store))


def _content(value: Any) -> Any:
    """A sample's input or target as JSON: text, or a list of {role, content} messages."""
    if isinstance(value, tuple):
        return [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
    return value


def sample_items(
    store: Store,
    run: str,
    *,
    subject: str | None = None,
    sample_ids: Sequence[str] = (),
    sample_n: int | None = None,
    seed: int = 0,
) -> list[NewItem]:
    """Items for a run's samples as one subject answered them (epoch 0): the ones named in
    ``sample_ids``, or ``sample_n`` drawn at random with ``seed``, or all of them. A run with
    several subjects needs ``subject``."""
    run_id = store.resolve_run_id(run)
    names = [s.name for s in store.get_manifest(run_id).subjects]
    if subject is None:
        if len(names) != 1:
            raise AssayError(
                f"run {run_id} has {len(names)} subjects ({', '.join(names)})",
                where="--subject",
                fix="choose the subject whose outputs are reviewed with --subject",
            )
        subject = names[0]
    elif subject not in names:
        raise AssayError(
            f"run {run_id} has no subject {subject!r}",
            where="--subject",
            fix=f"use one of {', '.join(names)}",
        )
    samples = {s.id: s for s in store.get_samples(run_id)}
    if sample_ids and sample_n is not None:
        raise AssayError(
            "give sample ids or --sample-n, not both", where="--sample", fix="drop one of them"
        )
    if sample_ids:
        unknown = [s for s in sample_ids if s not in samples]
        if unknown:
            raise AssayError(
                f"run {run_id} has no sample {unknown[0]!r}",
                where="--sample",
                fix="use sample ids of the run (`assay show RUN` lists them)",
            )
        chosen = list(dict.fromkeys(sample_ids))
    elif sample_n is not None:
        if sample_n < 1:
            raise AssayError("--sample-n must be at least 1", where="--sample-n")
        ordered = sorted(samples)
        chosen = sorted(random.Random(seed).sample(ordered, min(sample_n, len(ordered))))
    else:
        chosen = list(samples)
    outputs: dict[str, SampleResult] = {}
    for result in store.iter_results(run_id, subject):
        if result.epoch == 0:
            outputs[result.sample_id] = result
    items = []
    for sample_id in chosen:
        sample = samples[sample_id]
        found = outputs.get(sample_id)
        payload = {
            "run": run_id,
            "subject": subject,
            "sample_id": sample_id,
            "input": _content(sample.input),
            "target": _content(sample.target),
            "output": found.output.text if found is not None and found.output else None,
            "error": found.error if found is not None else "no result stored",
        }
        items.append(NewItem("sample", f"{run_id}:{subject}:{sample_id}", payload))
    return items
