"""The history of one eval: each metric across its runs over time, with interval bands, the
runs where the manifest (or the judge) changed, and each run's cost, tokens and latency.

Every figure is read, not computed here: the metrics are the runs' cached summaries
(:mod:`assay.analyse.summary_cache`, the numbers of ``assay show``), the changes the labels'
manifest diff (:mod:`assay.analyse.run_labels`, what ``assay diff`` lists) and the costs the run
cost report (:func:`assay.analyse.run_costs.run_cost_report`, what ``assay show --cost``
prints), reduced to totals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from assay.store import Store
from assay.web import fmt
from assay.web.render import render
from assay.web.views import NotFound

#: How many of an eval's newest runs the history shows by default.
DEFAULT_RUNS = 100
Runs = Annotated[int, Query(ge=1, le=1000, description="The newest this many runs.")]


def history_data(store: Store, eval_name: str, *, limit: int = DEFAULT_RUNS) -> dict[str, Any]:
    """The eval's newest ``limit`` runs, oldest first, each with its label, overall metrics and
    cost totals; one series per (subject, scorer); and the runs whose manifest changed."""
    from assay.analyse.run_labels import label_runs
    from assay.analyse.summary_cache import cached_costs, cached_entries
    from assay.store.summaries import page_runs

    infos, total = page_runs(store, eval_name=eval_name, limit=limit)
    if not infos:
        raise NotFound(
            f"no runs of eval {eval_name!r}",
            where="eval",
            fix="pick an eval from the runs list (its rows link to their history)",
        )
    infos = infos[::-1]  # oldest first
    entries = cached_entries(store, infos)
    costs = cached_costs(store, infos, entries)
    labels = label_runs(store, [i.id for i in infos])
    rows = []
    series: dict[tuple[str, str], dict[str, Any]] = {}
    marks: dict[str, dict[str, Any]] = {}
    for info in infos:
        label = labels.get(info.id)
        short = label.short if label else info.id
        metrics = [m for m in entries[info.id]["metrics"] if m["slice_key"] is None]
        started = info.started_at.isoformat()
        for m in metrics:
            key = (m["subject"], m["scorer"])
            line = series.setdefault(
                key, {"subject": m["subject"], "scorer": m["scorer"], "points": []}
            )
            line["points"].append(
                {
                    "run_id": info.id,
                    "label": short,
                    "started_at": started,
                    **{k: m[k] for k in ("estimate", "low", "high", "n", "method", "confidence")},
                }
            )
        changes = list(label.changes) if label else []
        if label is not None and label.previous is not None and changes:
            marks[info.id] = {
                "run_id": info.id,
                "label": short,
                "started_at": started,
                "changes": changes,
                "judge": any(c.startswith("judge") for c in changes),
            }
        rows.append(
            {
                "run": info.model_dump(mode="json"),
                "label": None if label is None else label.as_dict(),
                "metrics": metrics,
                "costs": costs[info.id],
            }
        )
    for line in series.values():
        line["rate"] = fmt.is_rate(
            *(v for p in line["points"] for v in (p["estimate"], p["low"], p["high"]))
        )
    return {
        "eval": eval_name,
        "total_runs": total,
        "shown_runs": len(rows),
        "runs": rows,
        "series": list(series.values()),
        "marks": list(marks.values()),
    }


def eval_index(store: Store) -> list[dict[str, Any]]:
    """Every eval in the store: its name, number of runs and newest start, newest first
    (derived runs, such as audits and judge runs, last)."""
    from sqlalchemy import func, select

    from assay.analyse.run_labels import is_derived
    from assay.store.tables import runs

    query = select(runs.c.name, func.count(), func.max(runs.c.started_at)).group_by(runs.c.name)
    with store.engine.connect() as conn:
        rows = [
            {"eval": name, "runs": n, "newest": newest, "derived": is_derived(name)}
            for name, n, newest in conn.execute(query)
        ]
    rows.sort(key=lambda r: str(r["newest"]), reverse=True)
    rows.sort(key=lambda r: r["derived"])
    for row in rows:
        row["newest"] = str(row["newest"])[:16]
    return rows


def history_routers(store: Store) -> list[APIRouter]:
    """``/history/{eval}`` (the page) and ``/api/history/{eval}`` (the same data as JSON)."""
    api = APIRouter(prefix="/api", tags=["api"])
    pages = APIRouter(include_in_schema=False)

    @api.get("/history/{eval_name:path}", summary="One eval's metrics, changes and costs per run")
    def history_api(eval_name: str, limit: Runs = DEFAULT_RUNS) -> dict[str, Any]:
        return history_data(store, eval_name, limit=limit)

    @pages.get("/history", response_class=HTMLResponse)
    def history_index() -> HTMLResponse:
        return HTMLResponse(
            render("history.html", title="history", data=None, evals=eval_index(store))
        )

    @pages.get("/history/{eval_name:path}", response_class=HTMLResponse)
    def history_page(eval_name: str, limit: Runs = DEFAULT_RUNS) -> HTMLResponse:
        from assay.web.history_svg import history_chart

        data = history_data(store, eval_name, limit=limit)
        marks = {m["run_id"]: m for m in data["marks"]}
        charts = [history_chart(line, marks) for line in data["series"]]
        return HTMLResponse(
            render("history.html", title=f"history of {eval_name}", data=data, charts=charts)
        )

    return [api, pages]
