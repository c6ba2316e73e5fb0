"""What the last monitoring pass stored, for ``assay monitor status`` and the monitor pages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assay.monitor.alerts import list_alerts
from assay.monitor.spec import SIGNALS
from assay.store import Store
from assay.store.tables import monitor_changes, monitor_points, monitor_state


def _binary(signal: str) -> bool:
    return SIGNALS.get(signal.split(":")[0], ("numeric",))[0] == "binary"


def stored_routes(store: Store) -> list[str]:
    """Routes with stored points, by name."""
    with store.engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                select(monitor_points.c.route).distinct().order_by(monitor_points.c.route)
            )
        ]


def route_series(store: Store, route: str) -> list[dict[str, Any]]:
    """Every stored series of a route: its points (oldest first) and change points."""
    with store.engine.connect() as conn:
        points = conn.execute(
            select(monitor_points)
            .where(monitor_points.c.route == route)
            .order_by(
                monitor_points.c.signal, monitor_points.c.segment, monitor_points.c.window_start
            )
        ).all()
        changes = conn.execute(
            select(monitor_changes)
            .where(monitor_changes.c.route == route)
            .order_by(monitor_changes.c.start_time)
        ).all()
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for p in points:
        item = series.setdefault(
            (p.signal, p.segment),
            {
                "signal": p.signal,
                "segment": p.segment,
                "binary": _binary(p.signal),
                "points": [],
                "changes": [],
            },
        )
        item["points"].append(
            {
                "window_start": p.window_start.isoformat(),
                "value": p.value,
                "low": p.low,
                "high": p.high,
                "n": p.n,
                "bad": p.bad,
                "level": p.level,
            }
        )
        item["updated_at"] = p.updated_at.isoformat()
    for c in changes:
        item = series.get((c.signal, c.segment))
        if item is not None:
            item["changes"].append({**json.loads(c.shift_json), "id": c.id})
    return list(series.values())


def monitor_status(store: Store, *, route: str | None = None) -> dict[str, Any]:
    """Per route: each series' latest point and change points; and the open alerts."""
    routes = [route] if route else stored_routes(store)
    out = []
    for name in routes:
        series = route_series(store, name)
        if not series:
            continue
        out.append(
            {
                "route": name,
                "updated_at": max(s.get("updated_at", "") for s in series),
                "n_series": sum(not s["signal"].startswith("budget:") for s in series),
                "n_changes": sum(len(s["changes"]) for s in series),
                "series": [
                    {
                        "signal": s["signal"],
                        "segment": s["segment"],
                        "binary": s["binary"],
                        "latest": s["points"][-1],
                        "changes": s["changes"],
                    }
                    for s in series
                ],
            }
        )
    return {
        "routes": out,
        "alerts": list_alerts(store, status="open", route=route),
        "last_pass": last_pass(store),
    }


def last_pass(store: Store) -> dict[str, Any] | None:
    """When the last pass ran, whether it was incremental and the windows it read and reused
    (:func:`assay.monitor.engine.rollups_summary`)."""
    with store.engine.connect() as conn:
        value = conn.execute(
            select(monitor_state.c.value).where(monitor_state.c.key == "last_pass")
        ).scalar()
    summary: dict[str, Any] | None = json.loads(value) if value else None
    return summary


def nearest_change(store: Store, route: str, at: datetime, signal: str) -> dict[str, Any] | None:
    """The stored change point of ``signal`` on ``route`` whose start is nearest ``at``."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(monitor_changes).where(
                monitor_changes.c.route == route,
                monitor_changes.c.signal == signal,
                monitor_changes.c.segment == "",
            )
        ).all()
    if not rows:
        return None
    row = min(rows, key=lambda r: abs((r.start_time - at).total_seconds()))
    return json.loads(row.shift_json)
