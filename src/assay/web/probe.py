"""The probe surface: ``/api/runs/{run}/probe`` (the JSON of ``assay probe KIND --run RUN
--json``) and ``/runs/{run}/probe`` (each subject's curve with interval bands and verdict)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from assay.store import Store


def probe_data(store: Store, run: str) -> dict[str, Any]:
    """A stored probe run's analysis, as ``assay probe … --json`` prints it."""
    from assay.probe import analyse_probe_run

    run_id = store.resolve_run_id(run)
    results = analyse_probe_run(store, run_id)
    return {
        "run_id": run_id,
        "status": store.get_run(run_id).status,
        "flagged": any(r.flagged for r in results),
        "results": [r.as_dict() for r in results],
    }


def probe_page_html(store: Store, run: str, *, standalone: bool = False) -> str:
    """The probe page (also usable standalone, with the stylesheet inlined)."""
    from assay.web.probe_svg import probe_curve_svg
    from assay.web.render import render

    data = probe_data(store, run)
    results = data["results"]

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.1f}"

    return render(
        "probe.html",
        standalone=standalone,
        title=f"probe {data['run_id']}",
        run_id=data["run_id"],
        kind=results[0]["kind"] if results else "",
        variant_key=results[0]["variant_key"] if results else "",
        results=results,
        svgs=[probe_curve_svg(r) for r in results],
        pct=pct,
    )


def probe_routers(store: Store) -> list[APIRouter]:
    """The API and page routers of the probe surface."""
    api = APIRouter(prefix="/api", tags=["probes"])
    pages = APIRouter(include_in_schema=False)

    @api.get("/runs/{run}/probe", summary="assay probe KIND --run RUN --json")
    def probe_api(run: str) -> dict[str, Any]:
        return probe_data(store, run)

    @pages.get("/runs/{run}/probe", response_class=HTMLResponse)
    def probe_page(run: str) -> HTMLResponse:
        return HTMLResponse(probe_page_html(store, run))

    return [api, pages]
