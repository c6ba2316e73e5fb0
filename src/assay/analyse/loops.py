"""Runaway agent loops: spend far above a unit's own trailing baseline, with the loop's
signature in its tool calls (H7).

Each unit (a route, i.e. a job or agent; a user; or a service) has a daily spend series. A day
whose spend is at least ``ratio`` times the mean of the unit's previous seven days
(:func:`assay.stats.baselines.trailing_ratios`) is a spike. A spike whose traces repeat one
identical tool call (the same tool with the same arguments, at least ``min_repeats`` times in
one trace or session) is ``agent_loop_suspected``; a spike without that signature is
``spend_spike``. The signature alone never alerts: agents retry and poll legitimately.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from assay.analyse.costs import load_traces
from assay.analyse.trace_frame import TrafficWindow, dialect_of
from assay.stats.baselines import trailing_ratios
from assay.store import Store

UNITS = ("route", "user", "session", "customer")
AGENT_LOOP = "agent_loop_suspected"
SPEND_SPIKE = "spend_spike"


@dataclass
class LoopReport:
    unit: str
    ratio: float
    window_days: int
    min_repeats: int
    alerts: list[dict[str, Any]] = field(default_factory=list)
    units_checked: int = 0
    days: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "ratio_threshold": self.ratio,
            "window_days": self.window_days,
            "min_repeats": self.min_repeats,
            "units_checked": self.units_checked,
            "days": self.days,
            "alerts": self.alerts,
        }


def _canonical(arguments: Any) -> str:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    with contextlib.suppress(TypeError, ValueError):
        text = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    return text


def repeated_calls(
    calls: list[tuple[str, str | None, str | None]], min_repeats: int = 3
) -> list[dict[str, Any]]:
    """Identical tool calls repeated within one group (a trace or a session).

    ``calls`` are ``(group, tool, arguments_json)``; a call is identical to another when the
    tool and the canonical JSON of its arguments match. Returns the (group, tool, arguments)
    seen at least ``min_repeats`` times, most repeated first."""
    counts = Counter((g, t, _canonical(a)) for g, t, a in calls if t)
    out = [
        {
            "group": g,
            "tool": t,
            "arguments": a[:200],
            "arguments_hash": hashlib.blake2b(a.encode(), digest_size=6).hexdigest(),
            "repeats": k,
        }
        for (g, t, a), k in counts.most_common()
        if k >= min_repeats
    ]
    return out


def _tool_calls(
    store: Store, trace_ids: list[str]
) -> list[tuple[str, str, str | None, str | None]]:
    """(trace id, session id, tool, arguments) of the executed tool calls of ``trace_ids``, or
    the calls models requested when a trace executed none."""
    dialect = dialect_of(store)
    mark = "?" if dialect == "sqlite" else "%s"
    out: list[tuple[str, str, str | None, str | None]] = []
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, len(trace_ids), 400):
            chunk = trace_ids[start : start + 400]
            cursor.execute(
                "SELECT c.trace_id, COALESCE(t.session_id, c.trace_id), c.tool, "
                "c.arguments_json, c.source FROM tool_calls c JOIN traces t ON t.id = c.trace_id "
                f"WHERE c.trace_id IN ({', '.join([mark] * len(chunk))})",
                chunk,
            )
            rows = cursor.fetchall()
            executed = {r[0] for r in rows if r[4] == "execution"}
            out.extend(
                (r[0], r[1], r[2], r[3])
                for r in rows
                if r[4] == "execution" or r[0] not in executed
            )
        cursor.close()
    finally:
        raw.close()
    return out


def _daily_rows(store: Store, window: TrafficWindow, unit: str) -> Any:
    """Just what the daily series need: the unit, the start and the cost of each trace."""
    from assay.analyse.trace_frame import epoch_seconds, fetch_columns, window_sql

    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    column = {"route": "t.route", "user": "t.user_id", "session": "t.session_id"}[unit]
    return fetch_columns(
        store,
        f"SELECT {column}, {epoch_seconds('t.start_time', dialect)}, t.cost FROM traces t"
        + (" WHERE " + " AND ".join(clauses) if clauses else ""),
        params,
        [(unit, "s"), ("start", "f"), ("cost", "f")],
    )


def _day_traces(
    store: Store,
    window: TrafficWindow,
    unit: str,
    value: str | None,
    day: int,
) -> tuple[list[str], list[str | None], np.ndarray]:
    """Trace ids, session ids and costs of ``unit`` = ``value``'s traces on ``day`` (days
    since 1970)."""
    from assay.analyse.trace_frame import epoch_seconds, fetch_columns, param, window_sql

    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    column = {"route": "t.route", "user": "t.user_id", "session": "t.session_id"}[unit]
    start = epoch_seconds("t.start_time", dialect)
    clauses += [
        f"{column} = {param(dialect, 'unit_value')}",
        f"{start} >= {param(dialect, 'day_start')}",
        f"{start} < {param(dialect, 'day_end')}",
    ]
    params.update(unit_value=value, day_start=day * 86400.0, day_end=(day + 1) * 86400.0)
    cols = fetch_columns(
        store,
        "SELECT t.id, t.session_id, t.cost FROM traces t WHERE " + " AND ".join(clauses),
        params,
        [("trace", "s"), ("session", "s"), ("cost", "f")],
    )
    ids = [cols.vocab["trace"][int(c)] for c in cols["trace"]]
    sessions = [cols.text("session", int(c)) for c in cols["session"]]
    return ids, sessions, np.nan_to_num(cols["cost"])


def loop_report(
    store: Store,
    window: TrafficWindow = TrafficWindow(),
    *,
    unit: str = "route",
    ratio: float = 10.0,
    window_days: int = 7,
    min_history: int = 3,
    min_repeats: int = 3,
) -> LoopReport:
    """Spend spikes per ``unit`` and day against the unit's trailing ``window_days`` mean, each
    checked for the loop signature (see the module docstring)."""
    if unit not in UNITS:
        from assay.core import AssayError

        raise AssayError(
            f"unknown unit {unit!r}", where="--by", fix=f"use one of {', '.join(UNITS)}"
        )
    # Trace and session ids are read only for the spike days (a customer is a root span
    # attribute, not a column to filter on, so that unit reads them all).
    if unit == "customer":
        traces = load_traces(store, window, customers=True, ids=True)
    else:
        traces = _daily_rows(store, window, unit)
    report = LoopReport(unit, ratio, window_days, min_repeats)
    if not len(traces):
        return report
    codes = traces[unit]
    cost = np.nan_to_num(traces["cost"])
    day = np.floor(traces["start"] / 86400.0).astype(np.int64)
    first = int(day.min())
    n_days = int(day.max()) - first + 1
    keep = codes >= 0
    units = np.unique(codes[keep])
    index = {int(c): k for k, c in enumerate(units)}
    daily = np.zeros((units.size, n_days))
    np.add.at(
        daily, (np.array([index[int(c)] for c in codes[keep]]), day[keep] - first), cost[keep]
    )
    ratios, baselines = trailing_ratios(daily, window_days, min_history)
    report.units_checked, report.days = int(units.size), n_days
    spikes = np.argwhere(np.nan_to_num(ratios) >= ratio)
    for u, d in spikes:
        code = int(units[u])
        rows = np.flatnonzero(keep & (codes == code) & (day - first == d))
        if unit == "customer":
            trace_ids = [traces.vocab["trace"][int(traces["trace"][r])] for r in rows]
            sessions = [traces.text("session", int(traces["session"][r])) for r in rows]
            cost_rows = cost[rows]
        else:
            trace_ids, sessions, cost_rows = _day_traces(
                store, window, unit, traces.vocab[unit][code], first + int(d)
            )
        calls = _tool_calls(store, trace_ids)
        by_trace = repeated_calls([(c[0], c[2], c[3]) for c in calls], min_repeats)
        by_session = repeated_calls([(c[1], c[2], c[3]) for c in calls], min_repeats)
        signature = (by_trace or by_session)[:5]
        top = np.argsort(-cost_rows)[:5]
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=first + int(d))
        report.alerts.append(
            {
                "alert": AGENT_LOOP if signature else SPEND_SPIKE,
                "unit": unit,
                "value": traces.vocab[unit][code],
                "date": when.date().isoformat(),
                "spend": float(daily[u, d]),
                "baseline_per_day": float(baselines[u, d]),
                "baseline_per_week": float(baselines[u, d] * 7),
                "ratio": float(ratios[u, d]),
                "traces": int(rows.size),
                "repeated_calls": signature,
                "top_traces": [
                    {
                        "trace_id": trace_ids[int(k)],
                        "cost": float(cost_rows[int(k)]),
                        "session_id": sessions[int(k)],
                    }
                    for k in top
                ],
            }
        )
    report.alerts.sort(key=lambda a: (a["alert"] != AGENT_LOOP, -a["ratio"]))
    return report
