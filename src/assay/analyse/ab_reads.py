"""The store reads behind the compare page's A/B grid, kept narrow: per-sample scores of two
runs without their outputs (one query), the outputs and inputs of just the samples on screen,
and a run's usage totals. See :mod:`assay.analyse.ab` for what is done with them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assay.store import Store

if TYPE_CHECKING:
    from assay.analyse.ab import EpochScores


def load_epoch_scores(store: Store, sides: Sequence[tuple[str, str]]) -> list[EpochScores]:
    """Per ``(run id, subject)`` in ``sides``: its :class:`EpochScores`, read with one SQL
    query (sample id, epoch, error class, scorer, value; no outputs)."""
    from sqlalchemy import and_, or_, select

    from assay.store.tables import results, scores

    query = (
        select(
            results.c.run_id,
            results.c.subject,
            results.c.sample_id,
            results.c.epoch,
            results.c.error_class,
            scores.c.scorer,
            scores.c.value,
        )
        .select_from(results.outerjoin(scores, scores.c.result_id == results.c.id))
        .where(or_(*(and_(results.c.run_id == r, results.c.subject == s) for r, s in sides)))
        .order_by(results.c.run_id, results.c.subject, results.c.sample_id, results.c.epoch)
    )
    from assay.analyse.ab import EpochScores

    out = {side: EpochScores() for side in sides}
    seen_errors: set[tuple[str, str, str, int]] = set()
    with store.engine.connect() as conn:
        for run_id, subject, sample_id, epoch, error_class, scorer, value in conn.execute(query):
            side = out.get((run_id, subject))
            if side is None:
                continue
            side.sample_ids.add(sample_id)
            if error_class:
                key = (run_id, subject, sample_id, epoch)
                if key not in seen_errors:
                    seen_errors.add(key)
                    side.errors[sample_id] = side.errors.get(sample_id, 0) + 1
                continue
            if scorer is None or value is None:
                continue
            side.values.setdefault(scorer, {}).setdefault(sample_id, []).append(float(value))
    return [out[side] for side in sides]


# -- the outputs of a page of samples --------------------------------------------------------


def pair_outputs(
    store: Store, sides: Sequence[tuple[str, str]], sample_ids: Sequence[str]
) -> list[dict[str, list[dict[str, Any]]]]:
    """Per ``(run id, subject)`` in ``sides``: sample id → its results in epoch order (epoch,
    output text, error, latency, tokens, and every score with its answer and explanation).
    One query over the results of just ``sample_ids``."""
    from sqlalchemy import and_, or_, select

    from assay.store.tables import results, scores

    out: list[dict[str, list[dict[str, Any]]]] = [defaultdict(list) for _ in sides]
    if not sample_ids:
        return [dict(o) for o in out]
    index = {side: k for k, side in enumerate(sides)}
    query = (
        select(
            results.c.run_id,
            results.c.subject,
            results.c.sample_id,
            results.c.epoch,
            results.c.id,
            results.c.output_text,
            results.c.error,
            results.c.error_class,
            results.c.latency_ms,
            results.c.input_tokens,
            results.c.output_tokens,
            scores.c.scorer,
            scores.c.value,
            scores.c.answer,
            scores.c.explanation,
            scores.c.error.label("score_error"),
        )
        .select_from(results.outerjoin(scores, scores.c.result_id == results.c.id))
        .where(or_(*(and_(results.c.run_id == r, results.c.subject == s) for r, s in sides)))
        .where(results.c.sample_id.in_(list(sample_ids)))
        .order_by(results.c.sample_id, results.c.epoch, scores.c.position)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    current: dict[str, dict[str, Any]] = {}
    for row in rows:
        k = index.get((row.run_id, row.subject))
        if k is None:
            continue
        entry = current.get(row.id)
        if entry is None:
            entry = current[row.id] = {
                "epoch": row.epoch,
                "output": row.output_text,
                "error": row.error,
                "error_class": row.error_class,
                "latency_ms": row.latency_ms,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "scores": [],
            }
            out[k][row.sample_id].append(entry)
        if row.scorer is not None:
            entry["scores"].append(
                {
                    "scorer": row.scorer,
                    "value": row.value,
                    "answer": row.answer,
                    "explanation": row.explanation,
                    "error": row.score_error,
                }
            )
    return [dict(o) for o in out]


def pair_samples(
    store: Store, run_ids: Sequence[str], sample_ids: Sequence[str], *, full: bool = False
) -> dict[str, Any]:
    """Sample id → the :class:`~assay.core.Sample` as the first of ``run_ids`` that holds it
    stored it, for just ``sample_ids``: input and target only (a grid row needs no more), or
    with metadata, cluster and provenance when ``full``."""
    from sqlalchemy import select

    from assay.core import Sample
    from assay.store import codec
    from assay.store.tables import samples

    found: dict[str, Any] = {}
    if not sample_ids:
        return found
    columns = (
        [samples]
        if full
        else [samples.c.run_id, samples.c.id, samples.c.input_json, samples.c.target_json]
    )
    query = select(*columns).where(
        samples.c.run_id.in_(list(run_ids)), samples.c.id.in_(list(sample_ids))
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    for run_id in run_ids:
        for row in rows:
            if row.run_id != run_id or row.id in found:
                continue
            found[row.id] = (
                codec.sample_from_row(row)
                if full
                else Sample(
                    id=row.id,
                    input=codec.loads(row.input_json),
                    target=codec.loads(row.target_json),
                )
            )
    return found


# -- usage totals ----------------------------------------------------------------------------


def usage_totals(store: Store, run_id: str) -> dict[str, Any]:
    """A run's calls, errors, cache hits, token totals and latency (mean, median, p95 over
    its results' recorded latencies), from one query over its results (no outputs read)."""
    from sqlalchemy import select

    from assay.store.tables import results

    query = select(
        results.c.input_tokens,
        results.c.output_tokens,
        results.c.latency_ms,
        results.c.error_class,
        results.c.cached,
    ).where(results.c.run_id == run_id)
    calls = errors = cached = tokens_in = tokens_out = 0
    latencies: list[float] = []
    with store.engine.connect() as conn:
        for tin, tout, took, error_class, was_cached in conn.execute(query):
            calls += 1
            errors += bool(error_class)
            cached += bool(was_cached)
            tokens_in += int(tin or 0)
            tokens_out += int(tout or 0)
            if took is not None:
                latencies.append(float(took))
    latency: dict[str, float | None] = {"mean": None, "p50": None, "p95": None}
    if latencies:
        import numpy as np

        values = np.asarray(latencies)
        latency = {
            "mean": float(values.mean()),
            "p50": float(np.quantile(values, 0.5)),
            "p95": float(np.quantile(values, 0.95)),
        }
    return {
        "run_id": run_id,
        "calls": calls,
        "errors": errors,
        "cached": cached,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "latency_ms": latency,
    }
