"""Latency per route and per stage, its tail, and when it happens (H5, H6).

A trace's stages come from its span tree: ``llm`` (model calls), ``retrieval``, ``embedding``,
``tool`` (summed durations of those spans: parallel calls count in full), ``assembly`` (chain
or other spans named for prompt building: ``prompt``, ``assembl``, ``template``, ``format``),
and, from the model calls' attributes, ``queue`` (summed time in the server's queue) and
``ttft`` (the first model call's time to first token). ``total`` is the trace's end minus
start.

The tail is named two ways: the stage whose mean grows most from typical traces (the middle
half of ``total``) to tail traces (at or above the p99), and the rank correlation of total
latency with what could drive it (completion tokens, prompt tokens, model calls, tool calls).
Hour-of-week baselines show when latency is high; a load test (a trace in a load-test
environment) run only outside the slow hours is flagged ``non_representative``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analyse.trace_frame import (
    TrafficWindow,
    dialect_of,
    epoch_seconds,
    fetch_columns,
    param,
    window_sql,
)
from assay.stats.correlation import spearman_interval
from assay.stats.quantiles import adequacy_warnings, quantile_intervals
from assay.store import Store

LATENCY_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999)
STAGES: tuple[str, ...] = (
    "total",
    "llm",
    "ttft",
    "queue",
    "retrieval",
    "embedding",
    "assembly",
    "tool",
)
#: Environments whose traces are load tests (not part of the baseline).
LOAD_TEST_ENVIRONMENTS: tuple[str, ...] = ("load-test", "loadtest", "load_test", "perf")
#: The p99/p50 ratio above which a route's tail is an alert [I] (REQUIREMENTS.md H5's example
#: has 35; a well-behaved service sits well under 10).
RATIO_ALERT = 10.0
_DRIVERS = {
    "output_tokens": "output length (completion tokens)",
    "input_tokens": "prompt length (prompt tokens)",
    "llm_calls": "model calls per request",
    "tool_calls": "tool calls per request",
}
_ASSEMBLY = ("prompt", "assembl", "template", "format")


@dataclass
class TraceLatency:
    """Per-trace arrays: stages in ms (NaN where the trace has none of that stage), drivers,
    route codes, start times and environments."""

    route: NDArray[np.int32]
    environment: NDArray[np.int32]
    start: NDArray[np.float64]
    stages: dict[str, NDArray[np.float64]]
    drivers: dict[str, NDArray[np.float64]]
    routes: list[str | None]
    environments: list[str | None]

    def __len__(self) -> int:
        return int(self.route.size)


def load_trace_latency(store: Store, window: TrafficWindow) -> TraceLatency:
    """Two queries: the traces of ``window`` (route, environment, start, total) and their
    spans (kind, duration, first-token and queue times, tokens), folded per trace with numpy."""
    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    start = epoch_seconds("t.start_time", dialect)
    end = epoch_seconds("t.end_time", dialect)
    # SQLite's integer rowid joins spans to their trace without coding a string per span.
    key, key_kind = ("t.rowid", "i") if dialect == "sqlite" else ("t.id", "s")
    traces = fetch_columns(
        store,
        f"SELECT {key}, t.route, t.environment, {start}, ({end} - {start}) * 1000.0 "
        f"FROM traces t{where}",
        params,
        [("trace", key_kind), ("route", "s"), ("environment", "s"), ("start", "f"), ("total", "f")],
    )
    for k, word in enumerate(_ASSEMBLY):
        params[f"asm{k}"] = f"%{word}%"
    like = " OR ".join(
        f"lower(s.name) LIKE {param(dialect, f'asm{k}')}" for k in range(len(_ASSEMBLY))
    )
    spans = fetch_columns(
        store,
        f"SELECT {key}, CASE s.kind WHEN 'llm' THEN 0 WHEN 'retrieval' THEN 1 "
        "WHEN 'embedding' THEN 2 WHEN 'tool' THEN 3 ELSE "
        f"(CASE WHEN s.kind IN ('chain', 'other') AND ({like}) THEN 4 ELSE 5 END) END, "
        f"s.duration_ms, s.ttft_ms, s.queue_ms, s.output_tokens, s.input_tokens, "
        f"CASE WHEN s.ttft_ms IS NULL THEN NULL ELSE {epoch_seconds('s.start_time', dialect)} END "
        f"FROM spans s JOIN traces t ON t.id = s.trace_id{where}",
        params,
        [
            ("trace", key_kind),
            ("stage", "i"),
            ("duration", "f"),
            ("ttft", "f"),
            ("queue", "f"),
            ("output", "f"),
            ("input", "f"),
            ("start", "f"),
        ],
    )
    n = len(traces)
    if key_kind == "i":
        order = np.argsort(traces["trace"])
        sorted_keys = traces["trace"][order]
        at = np.searchsorted(sorted_keys, spans["trace"])
        at = np.minimum(at, max(n - 1, 0))
        found = (sorted_keys[at] == spans["trace"]) if n else np.zeros(len(spans), bool)
        row = np.where(found, order[at] if n else -1, -1)
    else:
        lookup = {tid: k for k, tid in enumerate(traces.vocab["trace"])}
        row_of_code = np.array([lookup.get(t, -1) for t in spans.vocab["trace"]], np.int64)
        row = row_of_code[spans["trace"]] if len(spans) else np.empty(0, np.int64)
    keep = row >= 0
    row, stage = row[keep], spans["stage"][keep]
    duration = np.nan_to_num(spans["duration"][keep])
    stages: dict[str, NDArray[np.float64]] = {"total": traces["total"]}
    for code, name in enumerate(("llm", "retrieval", "embedding", "tool", "assembly")):
        mask = stage == code
        total = np.bincount(row[mask], weights=duration[mask], minlength=n)
        present = np.bincount(row[mask], minlength=n) > 0
        stages[name] = np.where(present, total, np.nan)
    llm = stage == 0
    queue = spans["queue"][keep]
    has_queue = llm & ~np.isnan(queue)
    queue_sum = np.bincount(row[has_queue], weights=queue[has_queue], minlength=n)
    stages["queue"] = np.where(np.bincount(row[has_queue], minlength=n) > 0, queue_sum, np.nan)
    ttft = spans["ttft"][keep]
    has_ttft = llm & ~np.isnan(ttft)
    first = np.full(n, np.nan)
    if has_ttft.any():
        # The first model call of each trace: sort its calls by start, keep the first per trace.
        idx = np.flatnonzero(has_ttft)
        order = idx[np.lexsort((spans["start"][keep][idx], row[idx]))]
        rows_sorted = row[order]
        firsts = order[np.r_[True, rows_sorted[1:] != rows_sorted[:-1]]]
        first[row[firsts]] = ttft[firsts]
    stages["ttft"] = first
    drivers = {
        "output_tokens": np.bincount(
            row[llm], weights=np.nan_to_num(spans["output"][keep][llm]), minlength=n
        ),
        "input_tokens": np.bincount(
            row[llm], weights=np.nan_to_num(spans["input"][keep][llm]), minlength=n
        ),
        "llm_calls": np.bincount(row[llm], minlength=n).astype(float),
        "tool_calls": np.bincount(row[stage == 3], minlength=n).astype(float),
    }
    return TraceLatency(
        traces["route"],
        traces["environment"],
        traces["start"],
        stages,
        drivers,
        traces.vocab["route"],
        traces.vocab["environment"],
    )


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def tail_attribution(
    total: NDArray[np.float64],
    stages: dict[str, NDArray[np.float64]],
    drivers: dict[str, NDArray[np.float64]],
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Which stage and which driver the tail comes with.

    Stage: for each stage, the mean time (missing = 0) in tail traces (total ≥ its p99) minus
    the mean in typical ones (total between p25 and p75); the stage with the largest excess
    is ``tail_stage``, with its share of the tail's excess total. Driver: Spearman's ρ of total
    latency with each driver, with a Fisher-z interval (:func:`spearman_interval`); the driver
    with the largest ρ whose interval excludes 0 is ``tail_driver``.
    """
    x = np.asarray(total, dtype=float)
    ok = ~np.isnan(x)
    if ok.sum() < 10:
        return {"tail_stage": None, "tail_driver": None, "stages": [], "drivers": []}
    x_ok = x[ok]
    p25, p75, p99 = np.quantile(x_ok, [0.25, 0.75, 0.99])
    tail = ok & (x >= p99)
    typical = ok & (x >= p25) & (x <= p75)
    excess_total = float(x[tail].mean() - x[typical].mean())
    rows: list[dict[str, Any]] = []
    for name, values in stages.items():
        if name in ("total", "ttft"):
            continue
        v = np.nan_to_num(values)
        excess = float(v[tail].mean() - v[typical].mean())
        rows.append(
            {
                "stage": name,
                "tail_mean_ms": float(v[tail].mean()),
                "typical_mean_ms": float(v[typical].mean()),
                "excess_ms": excess,
                "share_of_tail_excess": excess / excess_total if excess_total > 0 else None,
            }
        )
    rows.sort(key=lambda r: -r["excess_ms"])
    correlations: list[dict[str, Any]] = []
    for name, values in drivers.items():
        rho = spearman_interval(x[ok], np.asarray(values, dtype=float)[ok], confidence)
        correlations.append(
            {
                "driver": name,
                "label": _DRIVERS.get(name, name),
                "rho": _num(rho.estimate),
                "low": _num(rho.low),
                "high": _num(rho.high),
                "n": rho.n,
            }
        )
    correlations.sort(key=lambda r: -(r["rho"] if r["rho"] is not None else -2))
    best = next((c for c in correlations if c["rho"] is not None and (c["low"] or 0) > 0), None)
    return {
        "tail_stage": rows[0]["stage"] if rows and rows[0]["excess_ms"] > 0 else None,
        "tail_driver": best["driver"] if best else None,
        "tail_driver_label": best["label"] if best else None,
        "tail_threshold_ms": float(p99),
        "tail_traces": int(tail.sum()),
        "stages": rows,
        "drivers": correlations,
    }


def _stage_rows(
    data: TraceLatency, rows: NDArray[np.bool_], quantiles: tuple[float, ...], confidence: float
) -> list[dict[str, Any]]:
    out = []
    total_mean = float(np.nanmean(data.stages["total"][rows])) if rows.any() else math.nan
    for name in STAGES:
        values = data.stages[name][rows]
        values = values[~np.isnan(values)]
        if values.size == 0:
            continue
        estimates = quantile_intervals(values, quantiles, confidence)
        out.append(
            {
                "stage": name,
                "n": int(values.size),
                "mean_ms": float(values.mean()),
                "share_of_total": (
                    float(values.sum() / data.stages["total"][rows].size / total_mean)
                    if name != "total" and total_mean > 0
                    else None
                ),
                "quantiles": [e.as_dict() for e in estimates],
            }
        )
    return out


def _ratio(stage_rows: list[dict[str, Any]], alert: float) -> dict[str, Any]:
    total = next((s for s in stage_rows if s["stage"] == "total"), None)
    if total is None:
        return {"ratio": None, "alert": False}
    by_label = {q["label"]: q for q in total["quantiles"]}
    p50, p99 = by_label.get("p50"), by_label.get("p99")
    if not p50 or not p99 or not p50["estimate"]:
        return {"ratio": None, "alert": False}
    ratio = p99["estimate"] / p50["estimate"]
    low = p99["low"] / p50["high"] if p99["low"] and p50["high"] else None
    high = p99["high"] / p50["low"] if p99["high"] and p50["low"] else None
    return {
        "ratio": ratio,
        "low": low,
        "high": high,
        "threshold": alert,
        "alert": ratio >= alert,
    }


def hour_of_week_baseline(
    start: NDArray[np.float64], total: NDArray[np.float64], min_n: int = 2
) -> list[dict[str, Any]]:
    """Median and p95 of total latency per UTC hour of the week (0 = Monday 00:00), for hours
    with at least ``min_n`` traces."""
    when = np.asarray(start, dtype=float)
    ok = ~np.isnan(when) & ~np.isnan(total)
    # 1970-01-01 was a Thursday: shift by three days so that 0 is Monday 00:00.
    hours = ((np.floor(when[ok] / 3600.0).astype(np.int64) + 72) % 168).astype(np.int64)
    values = np.asarray(total, dtype=float)[ok]
    out = []
    for hour in np.unique(hours):
        v = values[hours == hour]
        if v.size < min_n:
            continue
        p50, p95 = np.quantile(v, [0.5, 0.95])
        out.append(
            {
                "hour_of_week": int(hour),
                "day": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[int(hour) // 24],
                "hour": int(hour) % 24,
                "n": int(v.size),
                "p50_ms": float(p50),
                "p95_ms": float(p95),
            }
        )
    return out


def hour_of_day_profile(
    start: NDArray[np.float64], total: NDArray[np.float64]
) -> list[dict[str, Any]]:
    """Traces and median total latency per UTC hour of the day (24 rows, n = 0 allowed)."""
    when = np.asarray(start, dtype=float)
    ok = ~np.isnan(when) & ~np.isnan(total)
    hours = (np.floor(when[ok] / 3600.0).astype(np.int64) % 24).astype(np.int64)
    values = np.asarray(total, dtype=float)[ok]
    out = []
    for hour in range(24):
        v = values[hours == hour]
        out.append(
            {
                "hour": hour,
                "n": int(v.size),
                "p50_ms": float(np.median(v)) if v.size else None,
                "p95_ms": float(np.quantile(v, 0.95)) if v.size else None,
            }
        )
    return out


def peak_hours(profile: list[dict[str, Any]], share: float = 0.5) -> list[int]:
    """Hours of the day whose median latency is at least ``share`` of the slowest hour's: when
    the system is under the load a test must reproduce. With flat latency every hour is a
    peak hour (then the time of a test does not matter)."""
    medians = [h["p50_ms"] for h in profile if h["p50_ms"] is not None]
    if not medians:
        return []
    top = max(medians)
    return [h["hour"] for h in profile if h["p50_ms"] is not None and h["p50_ms"] >= share * top]


def load_test_flags(
    data: TraceLatency,
    baseline: NDArray[np.bool_],
    profile: list[dict[str, Any]],
    load_environments: tuple[str, ...],
) -> list[dict[str, Any]]:
    """One entry per load-test run (its environment and UTC date): the hours it ran, its
    median, and ``non_representative`` when none of those hours is a peak hour of the
    baseline (:func:`peak_hours`)."""
    peaks = set(peak_hours(profile))
    codes = [k for k, env in enumerate(data.environments) if env in load_environments]
    out = []
    by_hour = {h["hour"]: h for h in profile}
    for code in codes:
        rows = data.environment == code
        days = np.floor(data.start[rows] / 86400.0).astype(np.int64)
        for day in np.unique(days):
            sel = np.flatnonzero(rows)[days == day]
            hours = sorted({int(h) for h in (np.floor(data.start[sel] / 3600.0) % 24)})
            total = data.stages["total"][sel]
            slow = [h for h in peaks]
            representative = bool(peaks & set(hours)) if peaks else True
            peak_p50 = max((by_hour[h]["p50_ms"] or 0.0 for h in slow), default=None)
            out.append(
                {
                    "environment": data.environments[code],
                    "date": datetime.fromtimestamp(float(day) * 86400.0, UTC).date().isoformat(),
                    "traces": int(sel.size),
                    "hours_utc": hours,
                    "p50_ms": float(np.nanmedian(total)) if sel.size else None,
                    "baseline_p50_ms_at_those_hours": [by_hour[h]["p50_ms"] for h in hours],
                    "peak_hours_utc": sorted(peaks),
                    "peak_p50_ms": peak_p50,
                    "flag": None if representative else "non_representative",
                }
            )
    return out


@dataclass
class LatencyReport:
    window: TrafficWindow
    routes: list[dict[str, Any]]
    overall: dict[str, Any]
    baseline: list[dict[str, Any]]
    hour_of_day: list[dict[str, Any]]
    peak_hours: list[int]
    load_tests: list[dict[str, Any]]
    histogram: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_dict(),
            "overall": self.overall,
            "routes": self.routes,
            "baseline_hour_of_week": self.baseline,
            "hour_of_day": self.hour_of_day,
            "peak_hours_utc": self.peak_hours,
            "load_tests": self.load_tests,
            "histogram": self.histogram,
        }


def _log_histogram(values: NDArray[np.float64], bins: int = 40) -> dict[str, list[float]]:
    v = values[~np.isnan(values) & (values > 0)]
    if v.size == 0:
        return {"edges": [], "counts": []}
    edges = np.geomspace(max(float(v.min()), 0.1), float(v.max()) * 1.0001, bins + 1)
    counts, _ = np.histogram(v, edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _group(
    data: TraceLatency,
    rows: NDArray[np.bool_],
    quantiles: tuple[float, ...],
    confidence: float,
    alert: float,
) -> dict[str, Any]:
    stage_rows = _stage_rows(data, rows, quantiles, confidence)
    return {
        "traces": int(rows.sum()),
        "stages": stage_rows,
        "p99_over_p50": _ratio(stage_rows, alert),
        "tail": tail_attribution(
            data.stages["total"][rows],
            {k: v[rows] for k, v in data.stages.items()},
            {k: v[rows] for k, v in data.drivers.items()},
            confidence,
        ),
        "warnings": adequacy_warnings(int(rows.sum()), quantiles),
    }


def latency_report(
    store: Store,
    window: TrafficWindow = TrafficWindow(),
    *,
    quantiles: tuple[float, ...] = LATENCY_QUANTILES,
    confidence: float = 0.95,
    ratio_alert: float = RATIO_ALERT,
    load_environments: tuple[str, ...] = LOAD_TEST_ENVIRONMENTS,
) -> LatencyReport:
    """Latency of the traces in ``window``: overall and per route, per stage, the p99/p50
    ratio against ``ratio_alert``, the tail's stage and driver; hour-of-week baselines and
    load-test flags (baselines exclude traces in ``load_environments``)."""
    data = load_trace_latency(store, window)
    load_codes = [k for k, env in enumerate(data.environments) if env in load_environments]
    baseline = ~np.isin(data.environment, load_codes) if len(data) else np.zeros(0, bool)
    overall = _group(data, baseline, quantiles, confidence, ratio_alert)
    routes = []
    for code in np.unique(data.route[baseline]) if len(data) else []:
        rows = baseline & (data.route == code)
        routes.append(
            {
                "route": data.routes[int(code)] if code >= 0 else None,
                **_group(data, rows, quantiles, confidence, ratio_alert),
            }
        )
    routes.sort(key=lambda r: -r["traces"])
    total = data.stages["total"]
    profile = hour_of_day_profile(data.start[baseline], total[baseline])
    return LatencyReport(
        window=window,
        routes=routes,
        overall=overall,
        baseline=hour_of_week_baseline(data.start[baseline], total[baseline]),
        hour_of_day=profile,
        peak_hours=peak_hours(profile),
        load_tests=load_test_flags(data, baseline, profile, load_environments),
        histogram=_log_histogram(total[baseline]),
    )
