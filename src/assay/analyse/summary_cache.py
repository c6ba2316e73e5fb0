"""Run summaries read from the store's cache, computed once per run instead of on every page.

:func:`~assay.analyse.summary.summarise_run` reads all of a run's results. Its result, with the
manifest facts the runs list shows, is kept in the store (:mod:`assay.store.summaries`
explains when a stored summary is current): the runner stores it when a run finishes, and
:func:`cached_summary` computes and stores it on first read otherwise. A cached summary is the
same numbers as a fresh one (``tests/store/test_summaries.py`` compares them); only the
default summary (the manifest's slices, 95% intervals) is cached.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

from assay.analyse.judges import is_pairwise_run, judge_flags
from assay.analyse.summary import (
    MetricSummary,
    RunSummary,
    SubjectCounts,
    has_panels,
    summarise,
    summarise_run,
)
from assay.core import RunManifest
from assay.stats import Interval
from assay.store import RunInfo, Store
from assay.store.summaries import CachedSummary, read_summaries, write_summary


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def _float(x: float | None) -> float:
    return math.nan if x is None else float(x)


def overview_of(manifest: RunManifest) -> dict[str, Any]:
    """The manifest facts a runs list shows: dataset, subjects, epochs, pairwise or not."""
    return {
        "dataset": {
            "name": manifest.dataset.name,
            "source": manifest.dataset.source,
            "n_samples": manifest.dataset.n_samples,
            "content_hash": manifest.dataset.content_hash,
        },
        "subjects": [
            {"name": s.name, "kind": s.kind, "model": s.requested_model} for s in manifest.subjects
        ],
        "epochs": manifest.epochs,
        "pairwise": is_pairwise_run(manifest),
    }


def summary_data(summary: RunSummary) -> dict[str, Any]:
    """A summary as the cache stores it (NaN as ``null``; the run and manifest are not kept:
    they are read fresh)."""
    return {
        "overview": overview_of(summary.manifest),
        "slices": list(summary.slices),
        "metrics": [
            {
                "subject": m.subject,
                "scorer": m.scorer,
                "slice_key": m.slice_key,
                "slice_value": m.slice_value,
                "n_ungraded": m.n_ungraded,
                "estimate": _num(m.interval.estimate),
                "low": _num(m.interval.low),
                "high": _num(m.interval.high),
                "n": m.interval.n,
                "method": m.interval.method,
                "confidence": m.interval.confidence,
                "standard_error": _num(m.interval.standard_error),
                "rate": m.rate,
            }
            for m in summary.metrics
        ],
        "subjects": [
            {
                "subject": s.subject,
                "n_results": s.n_results,
                "n_errors": s.n_errors,
                "error_classes": dict(s.error_classes),
                "resolved_models": list(s.resolved_models),
            }
            for s in summary.subjects
        ],
    }


def summary_from_data(info: RunInfo, manifest: RunManifest, data: dict[str, Any]) -> RunSummary:
    """The :class:`RunSummary` a cached entry stands for."""
    metrics = [
        MetricSummary(
            m["subject"],
            m["scorer"],
            m["slice_key"],
            m["slice_value"],
            Interval(
                _float(m["estimate"]),
                _float(m["low"]),
                _float(m["high"]),
                int(m["n"]),
                m["method"],
                float(m["confidence"]),
                _float(m.get("standard_error")),
            ),
            int(m["n_ungraded"]),
            rate=bool(m["rate"]),
        )
        for m in data["metrics"]
    ]
    subjects = [SubjectCounts(**s) for s in data["subjects"]]
    return RunSummary(
        run=info,
        manifest=manifest,
        slices=list(data["slices"]),
        metrics=metrics,
        subjects=subjects,
        flags=judge_flags(manifest),
    )


def refresh_summary(store: Store, run_id: str) -> dict[str, Any]:
    """Compute the run's summary and store it (when the run is not running); its cache entry."""
    info = store.get_run(run_id)  # counts read before the results: a later write invalidates
    summary = summarise_run(store, run_id)
    data = summary_data(summary)
    write_summary(store, info, data)
    return data


def _current_entry(store: Store, info: RunInfo) -> dict[str, Any] | None:
    """The run's cached entry when it is current and says of each metric whether it is a pass
    rate (entries written before ``rate`` was kept are computed again)."""
    hit = read_summaries(store, [info]).get(info.id)
    if hit is None or not all("rate" in m for m in hit.data["metrics"]):
        return None
    return hit.data


def cached_summary(store: Store, run_id: str) -> RunSummary:
    """``summarise_run(store, run_id)``, from the cache when it is current."""
    info = store.get_run(run_id)
    data = _current_entry(store, info)
    if data is None:
        summary = summarise_run(store, run_id)
        write_summary(store, info, summary_data(summary))
        return summary
    return summary_from_data(info, store.get_manifest(run_id), data)


def show_summary(store: Store, run_id: str, *, slices: Sequence[str] | None = None) -> RunSummary:
    """What ``assay show`` prints: ``summarise_run(store, run_id, slices=slices)``, read from
    the cache when it is current and the default summary is asked for (no ``slices``, no
    judge panels, which the cache does not keep), else computed, and stored when it is the
    default summary. A store that cannot be written (read-only) is only read."""
    from sqlalchemy.exc import SQLAlchemyError

    from assay.core import AssayError

    info = store.get_run(run_id)  # counts read before the results: a later write invalidates
    manifest = store.get_manifest(run_id)
    if slices is not None or has_panels(manifest):
        return summarise(store, info, manifest, slices=slices)
    data = _current_entry(store, info)
    if data is not None:
        return summary_from_data(info, manifest, data)
    summary = summarise(store, info, manifest)
    # A read-only store: the summary is still right, only not kept.
    with contextlib.suppress(AssayError, SQLAlchemyError):
        write_summary(store, info, summary_data(summary))
    return summary


def cached_entries(store: Store, infos: Sequence[RunInfo]) -> dict[str, dict[str, Any]]:
    """Cache entries (``overview``, ``metrics``, ...) of ``infos``, computing and storing the
    missing ones (a running run is computed every time and never stored)."""
    found: dict[str, CachedSummary] = read_summaries(store, list(infos))
    out = {run_id: hit.data for run_id, hit in found.items()}
    for info in infos:
        if info.id not in out:
            data = summary_data(summarise_run(store, info.id))
            write_summary(store, info, data)
            out[info.id] = data
    return out


def cost_totals(report: dict[str, Any]) -> dict[str, Any]:
    """A run's cost report (:func:`assay.analyse.run_costs.run_cost_report`) as totals: calls,
    cache hits, errors, tokens and cost over subjects and judges, and the subjects' median and
    p90 call latency (the first subject's, as the report estimates them)."""
    groups = report["groups"]
    subjects = [g for g in groups if g["role"] == "subject"]
    latency = {q["label"]: q["estimate"] for q in (subjects[0]["latency_ms"] if subjects else [])}
    return {
        "calls": sum(g["calls"] for g in groups),
        "cached": sum(g["cached"] for g in groups),
        "errors": sum(g["errors"] for g in groups),
        "unpriced": sum(g["unpriced"] for g in groups),
        "input_tokens": sum(g["input_tokens"] for g in groups),
        "output_tokens": sum(g["output_tokens"] for g in groups),
        "cost": report["total_cost"],
        "judge_cost": sum(g["cost"] for g in groups if g["role"] == "judge"),
        "latency_p50_ms": latency.get("p50"),
        "latency_p90_ms": latency.get("p90"),
    }


def cached_costs(
    store: Store, infos: Sequence[RunInfo], entries: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Cost totals (:func:`cost_totals`) of each run, kept in its cache entry once computed
    (the run's cost report reads every response body, so it is not recomputed per page)."""
    from assay.analyse.run_costs import run_cost_report

    out = {}
    for info in infos:
        entry = entries[info.id]
        if "costs" not in entry:
            entry["costs"] = cost_totals(run_cost_report(store, info.id))
            write_summary(store, info, entry)
        out[info.id] = entry["costs"]
    return out
