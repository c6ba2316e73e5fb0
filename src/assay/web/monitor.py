"""The monitor pages and their JSON API: ``/monitor``, ``/monitor/{route}``, ``/api/monitor…``,
``/api/alerts…``.

Pages render what the last monitoring pass stored (:mod:`assay.monitor.status`): per route,
each signal as a time series with its interval band, the detected change points (red when the
change is for the worse) and the substrate events marked on the time axis, the error budget
remaining, and the alert list. ``POST /api/alerts/{id}/ack`` acknowledges an alert; it takes a
JSON body only (a cross-site form cannot send it).
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from assay.core import AssayError
from assay.monitor.alerts import ack_alert, list_alerts
from assay.monitor.status import monitor_status, route_series, stored_routes
from assay.monitor.substrate import load_events
from assay.store import Store
from assay.web.render import render
from assay.web.views import NotFound

AlertStatus = Literal["firing", "acknowledged", "resolved", "open"]


class AckRequest(BaseModel):
    """The body of ``POST /api/alerts/{alert_id}/ack``."""

    model_config = ConfigDict(extra="forbid")

    by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def series_svg(
    series: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    t0: float,
    t1: float,
    width: int = 760,
    height: int = 150,
) -> str:
    """One series as an SVG chart: the interval band, the value line, change points as
    vertical lines (red: worse), substrate events as triangles on the time axis. Every text is
    escaped; tooltips are ``<title>`` elements."""
    left, right, top, bottom = 56, 10, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for p in series["points"] if p["value"] is not None]
    binary = series["binary"]
    lows = [p["low"] if p["low"] is not None else p["value"] for p in points]
    highs = [p["high"] if p["high"] is not None else p["value"] for p in points]
    values = [p["value"] for p in points]
    lo = min([*lows, *values], default=0.0)
    hi = max([*highs, *values], default=1.0)
    if binary:
        lo = 0.0
        hi = max(hi, 0.05)
    if hi - lo < 1e-9:
        hi = lo + 1.0
    span = max(t1 - t0, 1.0)

    def x(t: float) -> float:
        return left + plot_w * (t - t0) / span

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    def label(v: float) -> str:
        if binary:
            return f"{100 * v:.0f}%"
        return f"{v:.3g}"

    name = series["signal"] + (f" [{series['segment']}]" if series["segment"] else "")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="series" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'data-signal="{escape(series["signal"])}" '
        f'data-segment="{escape(series["segment"])}" data-points="{len(points)}" '
        f'data-changes="{len(series["changes"])}" data-events="{len(events)}">',
        f"<title>{escape(name)}: value per window with its 95% interval</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#d0d7de"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" class="axis">'
        f"{escape(label(hi))}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">'
        f"{escape(label(lo))}</text>",
        f'<text x="{left}" y="{height - 6}" class="axis">'
        f"{datetime.fromtimestamp(t0):%m-%d %H:%M}</text>",
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" class="axis">'
        f"{datetime.fromtimestamp(t1):%m-%d %H:%M}</text>",
    ]
    if points:
        ts = [_ts(p["window_start"]) for p in points]
        band = [f"{x(t):.1f},{y(h):.1f}" for t, h in zip(ts, highs, strict=True)]
        band += [f"{x(t):.1f},{y(lw):.1f}" for t, lw in reversed(list(zip(ts, lows, strict=True)))]
        parts.append(
            f'<polygon class="band" points="{" ".join(band)}" fill="#ddf4ff" stroke="none"/>'
        )
        line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(ts, values, strict=True))
        parts.append(
            f'<polyline class="value" points="{line}" fill="none" stroke="#0969da" '
            'stroke-width="1.5"/>'
        )
        for t, p in zip(ts, points, strict=True):
            tip = f"{p['window_start'][:16]}: {label(p['value'])} (n={p['n']})"
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(p["value"]):.1f}" r="1.8" fill="#0969da">'
                f"<title>{escape(tip)}</title></circle>"
            )
    for c in series["changes"]:
        t = _ts(c["start_time"])
        if not t0 <= t <= t1:
            continue
        colour = "#cf222e" if c["worse"] else "#1a7f37"
        shift = c.get("shift") or {}
        est = shift.get("estimate")
        tip = (
            f"change {c['direction']} from {c['start_time'][:16]} "
            f"(detected {c['detected_time'][:16]}): "
            f"{c.get('before')} → {c.get('after')}"
            + (
                f"; {shift.get('method')} {est:.3g} "
                f"[{shift.get('low'):.3g}, {shift.get('high'):.3g}]"
                if isinstance(est, float)
                and isinstance(shift.get("low"), float)
                and isinstance(shift.get("high"), float)
                else ""
            )
        )
        parts.append(
            f'<line class="change{" worse" if c["worse"] else ""}" x1="{x(t):.1f}" y1="{top}" '
            f'x2="{x(t):.1f}" y2="{top + plot_h}" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="4 3"><title>{escape(tip)}</title></line>'
        )
    for e in events:
        t = _ts(e["time"])
        if not t0 <= t <= t1:
            continue
        cx, base = x(t), top + plot_h
        parts.append(
            f'<polygon class="substrate" points="{cx - 5:.1f},{base + 9} {cx + 5:.1f},{base + 9} '
            f'{cx:.1f},{base + 1}" fill="#8250df">'
            f"<title>{escape(e['time'][:16] + ' ' + e['description'])}"
            "</title></polygon>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _route_view(store: Store, route: str) -> dict[str, Any]:
    series = route_series(store, route)
    if not series:
        raise NotFound(
            f"no monitor data for route {route!r}",
            where="route",
            fix="run `assay monitor run --spec monitors.yaml` first; routes: "
            + (", ".join(stored_routes(store)) or "none yet"),
        )
    times = [_ts(p["window_start"]) for s in series for p in s["points"]]
    t0, t1 = min(times), max(times)
    since = datetime.fromtimestamp(t0).astimezone()
    events = [e.as_dict() for e in load_events(store, route=route, since=since)]
    budgets = [s for s in series if s["signal"].startswith("budget:")]
    signals = [s for s in series if not s["signal"].startswith("budget:")]
    signals.sort(key=lambda s: (s["signal"], s["segment"]))
    for s in signals:
        s["svg"] = series_svg(s, events if not s["segment"] else [], t0=t0, t1=t1)
        s["latest"] = s["points"][-1] if s["points"] else None
    budget_rows = []
    for b in budgets:
        last = b["points"][-1]["value"] if b["points"] else None
        b["binary"] = False
        budget_rows.append(
            {
                "signal": b["signal"].removeprefix("budget:"),
                "remaining": last,
                "svg": series_svg(b, [], t0=t0, t1=t1, height=110),
            }
        )
    return {
        "route": route,
        "series": signals,
        "budgets": budget_rows,
        "events": events,
        "alerts": list_alerts(store, route=route, limit=50),
    }


def scheduler_of(request: Request) -> dict[str, Any] | None:
    """The status of the scheduler ``assay serve --monitor`` runs beside this app
    (:meth:`assay.monitor.scheduler.Scheduler.status`), or ``None`` when there is none."""
    scheduler = getattr(request.app.state, "scheduler", None)
    return None if scheduler is None else dict(scheduler.status())


def monitor_api(store: Store) -> APIRouter:
    """``GET /api/monitor``, ``GET /api/monitor/scheduler``, ``GET /api/monitor/routes/{route}``,
    ``GET /api/alerts``,
    ``POST /api/alerts/{alert_id}/ack``."""
    api = APIRouter(prefix="/api", tags=["monitor"])

    @api.get("/monitor", summary="Each route's latest points and change points, open alerts")
    def status() -> dict[str, Any]:
        return monitor_status(store)

    @api.get(
        "/monitor/scheduler",
        summary="The schedule of `assay serve --monitor`: passes, failures, last runs",
    )
    def scheduler_status(request: Request) -> dict[str, Any]:
        status = scheduler_of(request)
        if status is None:
            raise NotFound(
                "this server runs no monitoring schedule",
                where="scheduler",
                fix="start it with `assay serve --monitor --spec monitors.yaml`, or run "
                "`assay monitor run` from cron",
            )
        return status

    @api.get("/monitor/routes/{route}", summary="A route's series, budgets, substrate events")
    def route_detail(route: str) -> dict[str, Any]:
        view = _route_view(store, route)
        for s in view["series"]:
            s.pop("svg", None)
        for b in view["budgets"]:
            b.pop("svg", None)
        return view

    @api.get("/alerts", summary="Alerts, newest first (assay alerts list)")
    def alerts(
        status: AlertStatus | None = None,
        route: Annotated[str | None, Query(max_length=300)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        return list_alerts(store, status=status, route=route, limit=limit)

    @api.post("/alerts/{alert_id}/ack", summary="Acknowledge an open alert (assay alerts ack)")
    def ack(alert_id: str, body: AckRequest) -> dict[str, Any]:
        if len(alert_id) > 64:
            raise AssayError("an alert id is at most 32 hex digits", where="alert_id")
        return ack_alert(store, alert_id, by=body.by, note=body.note)

    return api


def monitor_pages(store: Store) -> APIRouter:
    """``/monitor`` (routes and alerts) and ``/monitor/{route}`` (its series)."""
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/monitor")
    def monitor_page(request: Request) -> HTMLResponse:
        status = monitor_status(store)
        return HTMLResponse(
            render(
                "monitor.html",
                title="monitor",
                status=status,
                alerts=list_alerts(store, limit=100),
                scheduler=scheduler_of(request),
            )
        )

    @pages.get("/monitor/{route}")
    def route_page(route: str) -> HTMLResponse:
        view = _route_view(store, route)
        return HTMLResponse(
            render(
                "monitor_route.html", title=f"monitor · {route}", view=view, pct=_pct, fmt=_value
            )
        )

    return pages


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.0f}%"


def _value(value: float | None, binary: bool) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if binary else f"{value:.4g}"


def monitor_routers(store: Store) -> list[APIRouter]:
    """Every router of the monitor surface, for :func:`assay.web.app.create_app`."""
    return [monitor_api(store), monitor_pages(store)]
