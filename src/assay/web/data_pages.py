"""Pages (and their JSON) for the data tools, the judge bridge (C7) and human agreement (C8).

Each page is a form over the same function its command calls; the page renders the dict that
``/api/...`` returns, which is the command's ``--json``. Nothing here calls a model: the judge
bridge is read from the re-scoring runs ``assay audit bridge`` stored. Files are read only
through :func:`assay.web.data_views.readable_path` (a 403 names the rule otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import QueryParams

from assay.core import AssayError
from assay.store import Store
from assay.web import data_views, views
from assay.web.render import render

TOOLS = (
    ("sample", "Stratified sample", "assay data sample",
     "Draw N traces (or records) by stratified allocation and compare the draw with its "
     "population."),
    ("composition", "Composition", "assay data composition",
     "Production shares per stratum, with Wilson intervals."),
    ("contamination", "Contamination", "assay data contamination",
     "Eval samples found in training data: 13-gram hits and Llama 2 token overlap."),
    ("provenance", "Provenance", "assay data provenance",
     "Rows, dataset versions and stored runs of subjects whose consent was revoked."),
    ("export", "Export a run", "assay export",
     "A run's results as flat rows: JSONL, CSV or Parquet."),
)  # fmt: skip


def _status(error: AssayError) -> int:
    if isinstance(error, data_views.ForbiddenPath):
        return 403
    return 404 if isinstance(error, views.NotFound) else 400


def _number(q: QueryParams, name: str, cast: Callable[[str], Any], default: Any) -> Any:
    text = (q.get(name) or "").strip()
    if not text:
        return default
    try:
        value = cast(text)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise AssayError(f"{text!r} is not {kind}", where=name) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise AssayError(f"{text!r} is not a finite number", where=name)
    return value


def _text(q: QueryParams, name: str) -> str | None:
    return (q.get(name) or "").strip() or None


def _clean(value: Any) -> Any:
    """NaN and infinities as ``None`` (strict JSON, and blank cells on a page)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def data_router(store: Store) -> APIRouter:
    """The ``/data``, ``/judges/...`` pages and their ``/api`` twins."""
    router = APIRouter(include_in_schema=False)

    def sample(q: QueryParams) -> dict[str, Any] | None:
        if not _text(q, "strata"):
            return None
        path = _text(q, "path")
        return data_views.sample_plan(
            store,
            n=_number(q, "n", int, 100),
            strata=q["strata"],
            path=data_views.readable_path(store, path, where="path") if path else None,
            weight=_text(q, "weight"),
            tz=_text(q, "timezone") or "UTC",
            seed=_number(q, "seed", int, 0),
            since=_text(q, "since"),
            until=_text(q, "until"),
        )

    def composition(q: QueryParams) -> dict[str, Any] | None:
        if not _text(q, "by"):
            return None
        sample, population = _text(q, "sample"), _text(q, "population")
        if sample or population:
            if not (sample and population):
                where = "population" if sample else "sample"
                raise AssayError("a sample is compared with the population it was drawn from: "
                                 "give both files", where=where)  # fmt: skip
            return data_views.sample_composition(
                data_views.readable_path(store, sample, where="sample"),
                data_views.readable_path(store, population, where="population"),
                strata=q["by"],
                weight=_text(q, "weight"),
                tz=_text(q, "timezone") or "UTC",
            )
        return data_views.trace_shares(
            store,
            by=q["by"],
            tz=_text(q, "timezone") or "UTC",
            since=_text(q, "since"),
            until=_text(q, "until"),
        )

    def contamination(q: QueryParams) -> dict[str, Any] | None:
        eval_run, eval_path = _text(q, "eval_run"), q.get("eval") or ""
        if not eval_path.strip() and not _text(q, "train") and eval_run is None:
            return None
        return data_views.contamination(
            store,
            eval_path=None
            if eval_run
            else data_views.readable_path(store, eval_path, where="eval"),
            eval_run=views.resolve_run(store, eval_run) if eval_run else None,
            train=data_views.paths_of(store, q.get("train") or "", where="train"),
            run=_text(q, "run"),
            ngram=_number(q, "ngram", int, 13),
            min_length=_number(q, "min_length", int, 10),
            skip_budget=_number(q, "skip_budget", int, 4),
            include_target=(q.get("no_target") or "") not in ("1", "on", "true"),
            text_field=_text(q, "text_field") or "text",
            id_field=q.get("id_field", "id").strip(),
        )

    def provenance(q: QueryParams) -> dict[str, Any] | None:
        if not _text(q, "revoked_since"):
            return None
        names = q.get("datasets") or ""
        datasets = (
            data_views.paths_of(store, names, where="datasets")
            if names.strip()
            else data_views.dataset_files(store)
        )
        return data_views.provenance(store, datasets=datasets, since=q["revoked_since"])

    def bridge(q: QueryParams) -> dict[str, Any] | None:
        from assay.audit.stored_reports import bridge_from_store

        ref = _text(q, "run")
        return None if ref is None else bridge_from_store(store, views.resolve_run(store, ref))

    def humans(q: QueryParams) -> dict[str, Any] | None:
        from assay.audit.stored_reports import human_agreement, run_period
        from assay.review import load_queue_labels

        queue, refs = _text(q, "queue"), [r for r in q.getlist("run") if r.strip()]
        if queue is None and not refs:
            return None
        if queue is None:
            raise AssayError("pick the review queue that holds the human labels", where="queue")
        period = _text(q, "period") or "month"
        if period not in ("day", "week", "month", "quarter", "label"):
            raise AssayError(f"unknown period {period!r}", where="period",
                             fix="day, week, month, quarter or label")  # fmt: skip
        runs = [run_period(store, ref, period) for ref in refs]
        labels = load_queue_labels(store, queue)
        return human_agreement(store, labels, runs, scorer=_text(q, "scorer"), period=period)

    computed: dict[str, Callable[[QueryParams], dict[str, Any] | None]] = {
        "sample": sample,
        "composition": composition,
        "contamination": contamination,
        "provenance": provenance,
        "judges/bridge": bridge,
        "judges/humans": humans,
    }

    def page(name: str, template: str, title: str) -> Callable[[Request], HTMLResponse]:
        def show(request: Request) -> HTMLResponse:
            q = request.query_params
            result = error = None
            status = 200
            try:
                result = computed[name](q)
            except AssayError as problem:
                error, status = str(problem), _status(problem)
            html = render(
                template,
                title=title,
                q=q,
                result=_clean(result),
                error=error,
                runs=store.list_runs(limit=200),
                **extras(name),
            )
            return HTMLResponse(html, status_code=status)

        return show

    def extras(name: str) -> dict[str, Any]:
        if name in ("contamination", "provenance", "sample"):
            return {"datasets": [str(p) for p in data_views.dataset_files(store)],
                    "project": str(Path.cwd())}  # fmt: skip
        if name == "judges/bridge":
            from assay.audit.stored_reports import stored_bridges

            return {"bridges": stored_bridges(store)}
        if name == "judges/humans":
            from assay.review import list_queues

            return {"queues": [qu.name for qu in list_queues(store)]}
        return {}

    def api(name: str) -> Callable[[Request], Response]:
        def answer(request: Request) -> Response:
            try:
                result = computed[name](request.query_params)
            except AssayError as problem:
                body = {"error": str(problem), "fix": problem.fix}
                return JSONResponse(body, status_code=_status(problem))
            if result is None:
                return JSONResponse({"error": "nothing asked", "fix": None}, status_code=400)
            return JSONResponse(_clean(result))

        return answer

    pages = {
        "sample": ("data_sample.html", "stratified sample"),
        "composition": ("data_composition.html", "composition"),
        "contamination": ("data_contamination.html", "contamination"),
        "provenance": ("data_provenance.html", "provenance"),
        "judges/bridge": ("judge_bridge.html", "judge bridge"),
        "judges/humans": ("human_agreement.html", "human agreement"),
    }
    for name, (template, title) in pages.items():
        prefix = "" if name.startswith("judges/") else "data/"
        router.add_api_route(f"/{prefix}{name}", page(name, template, title), methods=["GET"],
                             response_class=HTMLResponse)  # fmt: skip
        router.add_api_route(f"/api/{prefix}{name}", api(name), methods=["GET"])

    @router.get("/data", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(render("data_index.html", title="data tools", tools=TOOLS))

    @router.get("/data/export", response_class=HTMLResponse)
    def export_page() -> HTMLResponse:
        from assay.analyse import FORMATS

        html = render("data_export.html", title="export", runs=store.list_runs(limit=200),
                      formats=FORMATS)  # fmt: skip
        return HTMLResponse(html)

    @router.get("/api/runs/{run}/export")
    def export(run: str, format: str = "jsonl") -> Response:
        run_id = views.resolve_run(store, run)
        body = data_views.export_file(store, run_id, format)
        media = data_views.EXPORT_TYPES[format]
        headers = {"content-disposition": f'attachment; filename="{run_id}.{format}"'}
        return Response(body, media_type=media, headers=headers)

    return router
