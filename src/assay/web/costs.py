"""The cost and latency pages and their JSON API: ``/costs``, ``/latency``, ``/api/costs``,
``/api/latency``.

Pages render the dicts ``assay costs --json`` and ``assay latency --json`` print (the same
analysis functions); charts are inline SVG from :mod:`assay.web.cost_svg`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from assay.analyse.trace_frame import TrafficWindow
from assay.core import AssayError
from assay.store import Store
from assay.web import cost_svg
from assay.web.render import render

TimeParam = Annotated[
    str | None, Query(max_length=64, description="An age (30m, 24h, 7d) or ISO time.")
]
TextParam = Annotated[str | None, Query(max_length=500)]
Target = Annotated[
    float | None, Query(ge=1, le=1e12, description="Forecast the cost of this many requests.")
]


def _window(
    route: str | None, since: str | None, until: str | None, env: str | None
) -> TrafficWindow:
    from assay.trace.query import parse_time

    def given(value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    since_text, until_text = given(since), given(until)
    start = parse_time(since_text, where="since") if since_text else None
    end = parse_time(until_text, where="until") if until_text else None
    if start and end and end <= start:
        raise AssayError("until must be later than since", where="until")
    return TrafficWindow(given(route), start, end, given(env))


def _finite(value: Any) -> Any:
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def costs_data(
    store: Store, window: TrafficWindow, target: float | None, customers: bool = False
) -> dict[str, Any]:
    """What ``assay costs --json`` prints (without the staging projection)."""
    from assay.analyse.costs import cost_report
    from assay.analyse.lengths import length_report
    from assay.analyse.loops import loop_report

    data = cost_report(store, window, target_requests=target, customers=customers).as_dict()
    data["lengths"] = length_report(store, window).as_dict()
    data["loops"] = loop_report(store, window).as_dict()
    data["projection"] = None
    return _finite(data)  # type: ignore[no-any-return]


def latency_data(store: Store, window: TrafficWindow) -> dict[str, Any]:
    """What ``assay latency --json`` prints."""
    from assay.analyse.latency import latency_report

    return _finite(latency_report(store, window).as_dict())  # type: ignore[no-any-return]


def _total_marks(group: dict[str, Any]) -> dict[str, float | None]:
    total = next((s for s in group["stages"] if s["stage"] == "total"), None)
    if total is None:
        return {}
    return {q["label"]: q["estimate"] for q in total["quantiles"] if q["label"] in ("p50", "p99")}


def cost_routers(store: Store) -> list[APIRouter]:
    """The API and page routers of the cost and latency surface."""
    api = APIRouter(prefix="/api", tags=["costs"])
    pages = APIRouter(include_in_schema=False)

    @api.get("/costs", summary="assay costs --json: cost tails, concentration, forecast, caps")
    def costs_api(
        route: TextParam = None,
        since: TimeParam = None,
        until: TimeParam = None,
        env: TextParam = None,
        target: Target = None,
        customers: Annotated[bool, Query(description="Also concentration by customer.")] = False,
    ) -> dict[str, Any]:
        return costs_data(store, _window(route, since, until, env), target, customers)

    @api.get("/latency", summary="assay latency --json: per route and stage, tail, baselines")
    def latency_api(
        route: TextParam = None,
        since: TimeParam = None,
        until: TimeParam = None,
        env: TextParam = None,
    ) -> dict[str, Any]:
        return latency_data(store, _window(route, since, until, env))

    @pages.get("/costs", response_class=HTMLResponse)
    def costs_page(
        route: TextParam = None,
        since: TimeParam = None,
        until: TimeParam = None,
        env: TextParam = None,
        target: Target = None,
        customers: Annotated[bool, Query()] = False,
    ) -> HTMLResponse:
        data = costs_data(store, _window(route, since, until, env), target, customers)
        charts = {
            "lorenz": cost_svg.lorenz(data["concentration"]) if data["concentration"] else "",
            "fan": cost_svg.forecast_fan(data["forecast"]) if data["forecast"] else "",
            "lengths": [cost_svg.length_distribution(g) for g in data["lengths"]["groups"]],
        }
        form = {
            "route": route or "",
            "since": since or "",
            "until": until or "",
            "env": env or "",
            "target": "" if target is None else f"{target:g}",
        }
        return HTMLResponse(
            render("costs.html", title="costs", data=data, charts=charts, form=form)
        )

    @pages.get("/latency", response_class=HTMLResponse)
    def latency_page(
        route: TextParam = None,
        since: TimeParam = None,
        until: TimeParam = None,
        env: TextParam = None,
    ) -> HTMLResponse:
        data = latency_data(store, _window(route, since, until, env))
        groups = [{"route": "all", **data["overall"]}, *data["routes"]]
        charts = {
            "histogram": cost_svg.latency_histogram(
                data["histogram"], _total_marks(data["overall"])
            ),
            "stages": cost_svg.stage_breakdown(groups),
        }
        form = {"route": route or "", "since": since or "", "until": until or "", "env": env or ""}
        return HTMLResponse(
            render(
                "latency.html", title="latency", data=data, groups=groups, charts=charts, form=form
            )
        )

    return [api, pages]
