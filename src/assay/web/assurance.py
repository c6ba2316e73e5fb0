"""The assurance pages and their JSON API (issue 18): tool reliability, the escalation graph,
the dead-letter queue and corpus health.

Pages render the dicts of :mod:`assay.agents` and :mod:`assay.corpus` and the API returns them
unchanged (the same functions ``assay agents tools|escalations``, ``assay jobs dlq`` and
``assay corpus`` call). The only computing here is geometry: the escalation graph's circular
layout, its arrows, and which edges to draw red (the cycles the audit found).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from assay.core import AssayError
from assay.core.findings import finite
from assay.store import Store
from assay.web import views
from assay.web.render import render

TextParam = Annotated[str | None, Query(max_length=200)]
DlqStatus = Literal["open", "resolved", "replay_failed"]


def _window(since: str | None, until: str | None, route: str | None) -> Any:
    from assay.agents import TraceWindow
    from assay.trace.query import parse_time

    def given(value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    since, until, route = given(since), given(until), given(route)
    return TraceWindow(
        since=parse_time(since, where="since") if since else None,
        until=parse_time(until, where="until") if until else None,
        route=route,
    )


def tools_data(
    store: Store,
    since: str | None = None,
    until: str | None = None,
    route: str | None = None,
    max_failure_rate: float = 0.05,
) -> dict[str, Any]:
    """``assay agents tools --json``."""
    from assay.agents import tool_reliability

    report = tool_reliability(
        store, _window(since, until, route), max_failure_rate=max_failure_rate
    )
    data: dict[str, Any] = finite(report.as_dict())
    return data


def escalations_data(
    store: Store,
    since: str | None = None,
    until: str | None = None,
    route: str | None = None,
    sla: str | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``assay agents escalations --json``."""
    from assay.agents import escalation_audit
    from assay.run.declarations import parse_duration

    limit = parse_duration(sla.strip(), where="sla") if sla and sla.strip() else None
    report = escalation_audit(
        store, None, _window(since, until, route), sla=limit, sample=sample, seed=seed
    )
    data: dict[str, Any] = finite(report.as_dict())
    return data


def dlq_data(store: Store, status: str | None = None, limit: int = 200) -> dict[str, Any]:
    """``assay jobs dlq --json`` with the counts by status and reason."""
    from assay.agents.validators import dlq_summary, list_dead_letters

    return {
        "summary": dlq_summary(store),
        "letters": finite(list_dead_letters(store, status=status, limit=limit)),
    }


def corpus_data(store: Store, report: str | None = None) -> dict[str, Any]:
    """The stored corpus health reports (the newest, or ``report``) and ingestion batches."""
    from assay.corpus import get_report, list_batches, list_reports

    chosen = get_report(store, report)
    if report is not None and chosen is None:
        raise views.NotFound(
            f"no corpus report {report!r}", where="report", fix="pick one from /api/corpus"
        )
    return {
        "reports": list_reports(store),
        "report": chosen,
        "batches": list_batches(store),
    }


# -- the escalation graph --------------------------------------------------------------------

_NODE_R = 22.0
_COLOURS = {"human": "#1a7f37", "agent": "#0969da", "system": "#6e7781", "unknown": "#9a6700"}


def graph_geometry(data: dict[str, Any], size: float = 560.0) -> dict[str, Any]:
    """Positions of the actors on a circle, and each edge as an SVG path from border to border
    (curved when the reverse edge exists too), with its label point."""
    nodes = data["actors"]
    n = len(nodes)
    centre = size / 2
    radius = max(0.0, size / 2 - _NODE_R - 40) if n > 1 else 0.0
    where: dict[str, tuple[float, float]] = {}
    placed = []
    for k, node in enumerate(nodes):
        angle = -math.pi / 2 + 2 * math.pi * k / max(n, 1)
        x, y = centre + radius * math.cos(angle), centre + radius * math.sin(angle)
        where[node["actor"]] = (x, y)
        # The name goes outside the circle, away from the centre, where no edge runs.
        ox, oy = (math.cos(angle), math.sin(angle)) if n > 1 else (0.0, 1.0)
        anchor = "middle" if abs(ox) < 0.3 else ("start" if ox > 0 else "end")
        placed.append(
            {
                **node,
                "x": round(x, 1),
                "y": round(y, 1),
                "label_x": round(x + ox * (_NODE_R + 6), 1),
                "label_y": round(y + oy * (_NODE_R + 8) + 4 + (6 if oy > 0.3 else 0), 1),
                "anchor": anchor,
                "colour": _COLOURS.get(node["type"], _COLOURS["unknown"]),
            }
        )
    pairs = {(e["from"], e["to"]) for e in data["edges"]}
    edges = []
    for e in data["edges"]:
        (x1, y1), (x2, y2) = where[e["from"]], where[e["to"]]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        bend = 28.0 if (e["to"], e["from"]) in pairs else 0.0
        # The control point sits off the midpoint, to the right of the direction of travel, so
        # a→b and b→a curve apart.
        cx, cy = (x1 + x2) / 2 - uy * bend, (y1 + y2) / 2 + ux * bend
        sx, sy = x1 + ux * _NODE_R, y1 + uy * _NODE_R
        ex, ey = x2 - ux * (_NODE_R + 6), y2 - uy * (_NODE_R + 6)
        if e["from"] == e["to"]:
            path = (
                f"M {x1 - 10:.1f} {y1 - _NODE_R:.1f} C {x1 - 40:.1f} {y1 - 90:.1f} "
                f"{x1 + 40:.1f} {y1 - 90:.1f} {x1 + 10:.1f} {y1 - _NODE_R - 4:.1f}"
            )
            lx, ly = x1, y1 - 75
        else:
            path = f"M {sx:.1f} {sy:.1f} Q {cx:.1f} {cy:.1f} {ex:.1f} {ey:.1f}"
            # The label sits a third of the way along the curve, nearer the source, so the
            # labels of two edges crossing in the middle do not cover each other.
            t = 0.35
            lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * ex
            ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ey
        edges.append({**e, "path": path, "lx": round(lx, 1), "ly": round(ly, 1)})
    return {"size": size, "nodes": placed, "edges": edges, "radius": _NODE_R}


# -- routers ---------------------------------------------------------------------------------


def _pretty(value: Any) -> str:
    """A stored output as readable JSON text (the template escapes it)."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)


def _page(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **context))


def assurance_routers(store: Store) -> list[APIRouter]:
    """The API router and the pages router."""
    api = APIRouter(prefix="/api", tags=["assurance"])

    @api.get("/agents/tools", summary="assay agents tools --json: tool-call reliability (J1)")
    def tools_api(
        since: TextParam = None,
        until: TextParam = None,
        route: TextParam = None,
        max_failure_rate: Annotated[float, Query(ge=0, le=1)] = 0.05,
    ) -> dict[str, Any]:
        return tools_data(store, since, until, route, max_failure_rate)

    @api.get(
        "/agents/escalations", summary="assay agents escalations --json: escalation audit (J6)"
    )
    def escalations_api(
        since: TextParam = None,
        until: TextParam = None,
        route: TextParam = None,
        sla: Annotated[str | None, Query(max_length=40)] = None,
        sample: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
        seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    ) -> dict[str, Any]:
        return escalations_data(store, since, until, route, sla, sample, seed)

    @api.get("/jobs/dlq", summary="assay jobs dlq --json: the dead-letter queue (J4)")
    def dlq_api(
        status: DlqStatus | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> dict[str, Any]:
        return dlq_data(store, status, limit)

    @api.get("/corpus", summary="Corpus health reports (F5) and ingestion batches (F4)")
    def corpus_api(report: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
        return corpus_data(store, report)

    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    def form(request: Request, *names: str) -> dict[str, str]:
        return {n: request.query_params.get(n, "") for n in names}

    @pages.get("/agents/tools")
    def tools_page(request: Request) -> HTMLResponse:
        f = form(request, "since", "until", "route", "max_failure_rate")
        rate = 0.05
        if f["max_failure_rate"].strip():
            try:
                rate = float(f["max_failure_rate"])
            except ValueError:
                raise AssayError(
                    "max_failure_rate must be a number", where="max_failure_rate"
                ) from None
            if not 0 <= rate <= 1:
                raise AssayError(
                    "max_failure_rate must be between 0 and 1", where="max_failure_rate"
                )
        data = tools_data(store, f["since"], f["until"], f["route"], rate)
        return _page("agents_tools.html", title="tool reliability", data=data, form=f)

    @pages.get("/agents/escalations")
    def escalations_page(request: Request) -> HTMLResponse:
        f = form(request, "since", "until", "route", "sla")
        data = escalations_data(store, f["since"], f["until"], f["route"], f["sla"])
        return _page(
            "agents_escalations.html",
            title="escalations",
            data=data,
            graph=graph_geometry(data),
            form=f,
        )

    @pages.get("/jobs/dlq")
    def dlq_page(request: Request) -> HTMLResponse:
        status = request.query_params.get("status") or None
        if status is not None and status not in ("open", "resolved", "replay_failed"):
            raise AssayError(
                f"unknown status {status!r}", where="status", fix="open, resolved or replay_failed"
            )
        data = dlq_data(store, status)
        return _page(
            "jobs_dlq.html", title="dead-letter queue", data=data, status=status, pretty=_pretty
        )

    @pages.get("/corpus")
    def corpus_page(request: Request) -> HTMLResponse:
        data = corpus_data(store, request.query_params.get("report") or None)
        return _page("corpus.html", title="corpus health", data=data)

    return [api, pages]
