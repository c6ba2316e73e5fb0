"""The web application behind ``assay serve``: server-rendered pages and a JSON API.

Every route reads the store through :mod:`assay.web.views`, which calls the same analysis
functions as the CLI; pages render the dicts the API returns. Bad input (an unknown run, a
sample the run does not hold) is a 404 naming what was not found; other mistakes a 400 with
the fix, as the CLI prints them.
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from assay import __version__
from assay.analyse import CompareSettings
from assay.core import AssayError, StoreError
from assay.store import Store
from assay.store.run_info import RUN_STATUSES
from assay.web import browse, page_cache, planner, sample_views, views
from assay.web.ab import ab_routers
from assay.web.api_docs import api_docs_router
from assay.web.assurance import assurance_routers
from assay.web.auth import SecurityHeaders, TokenGuard, check_token
from assay.web.costs import cost_routers
from assay.web.data_pages import data_router
from assay.web.feedback_api import feedback_router
from assay.web.history import history_routers
from assay.web.monitor import monitor_routers
from assay.web.probe import probe_routers
from assay.web.rank_page import rank_routers
from assay.web.registry import registry_routers
from assay.web.render import render, static_files
from assay.web.review import review_routers
from assay.web.timing import ServerTiming
from assay.web.traces import trace_routers

_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

Status = Literal["running", "completed", "failed", "interrupted"]
#: The longest migration note a compare page or ``/api/compare`` takes (characters).
MIGRATION_NOTE_MAX = 2_000
MigrationNote = Annotated[
    str | None,
    Query(
        max_length=MIGRATION_NOTE_MAX,
        description="A judge changed between or within the runs: how its scores compare "
        "(`assay compare --migration-note`). Restores the verdicts of the metrics it graded "
        "and is recorded in the warnings; empty means none.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many rows.")]


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class APIResponse(JSONResponse):
    """JSON with NaN and infinities written as null (strict JSON)."""

    def render(self, content: Any) -> bytes:
        return super().render(_finite(content))


def _status_of(error: AssayError) -> int:
    return 404 if isinstance(error, views.NotFound) else 400


def _error_response(request: Request, status: int, message: str, fix: str | None) -> Response:
    """A JSON error under ``/api/``, an HTML page elsewhere."""
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return APIResponse({"error": message, "fix": fix}, status_code=status)
    heading = {404: "not found", 401: "unauthorised", 422: "invalid input"}.get(status, "error")
    page = render(
        "error.html", title=heading, status=status, heading=heading, message=message, fix=fix
    )
    return HTMLResponse(page, status_code=status)


def compare_settings(
    correction: Annotated[
        Literal["holm", "bh", "none"], Query(description="Multiple-comparison correction.")
    ] = "holm",
    alpha: Annotated[float, Query(ge=1e-4, le=0.5, description="Significance level.")] = 0.05,
    power: Annotated[float, Query(ge=0.5, le=0.999, description="Power for the MDE.")] = 0.8,
    confidence: Annotated[float, Query(ge=0.5, le=0.9999, description="Interval level.")] = 0.95,
    min_effect: Annotated[
        float | None,
        Query(gt=0, le=1e9, description="Smallest difference worth detecting (metric units)."),
    ] = None,
    min_clusters: Annotated[int, Query(ge=2, le=1_000_000)] = 10,
    resamples: Annotated[
        int, Query(ge=0, le=20_000, description="Bootstrap and permutation resamples.")
    ] = 5_000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    migration_note: MigrationNote = None,
) -> CompareSettings:
    """The comparison's knobs, with ``assay compare``'s defaults. A blank ``migration_note``
    is none; a longer one than :data:`MIGRATION_NOTE_MAX` is a 422, as FastAPI's own check of
    the query parameter answers it."""
    if migration_note is not None and len(migration_note) > MIGRATION_NOTE_MAX:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("query", "migration_note"),
                    "msg": f"String should have at most {MIGRATION_NOTE_MAX} characters",
                }
            ]
        )
    return CompareSettings(
        alpha=alpha,
        power=power,
        confidence=confidence,
        correction=correction,
        min_effect=min_effect,
        min_clusters=min_clusters,
        n_resamples=resamples,
        seed=seed,
        migration_note=(migration_note or "").strip() or None,
    )


def _settings_from(request: Request) -> CompareSettings:
    """``compare_settings`` from a request's query (pages pass them through unchanged)."""
    q = request.query_params
    kwargs: dict[str, Any] = {}
    for name, cast in (
        ("alpha", float),
        ("power", float),
        ("confidence", float),
        ("min_effect", float),
        ("min_clusters", int),
        ("resamples", int),
        ("seed", int),
    ):
        if q.get(name):
            try:
                kwargs[name] = cast(q[name])
            except ValueError:
                raise AssayError(f"{name} must be a number, got {q[name]!r}", where=name) from None
    if q.get("correction"):
        kwargs["correction"] = q["correction"]
    if q.get("migration_note"):
        kwargs["migration_note"] = q["migration_note"]
    checks = {
        "alpha": (1e-4, 0.5),
        "power": (0.5, 0.999),
        "confidence": (0.5, 0.9999),
        "min_effect": (1e-12, 1e9),
        "min_clusters": (2, 1_000_000),
        "resamples": (0, 20_000),
        "seed": (0, 2**32 - 1),
    }
    for name, (low, high) in checks.items():
        if name in kwargs and not low <= kwargs[name] <= high:
            raise AssayError(f"{name} must be between {low} and {high}", where=name)
    if kwargs.get("correction", "holm") not in ("holm", "bh", "none"):
        raise AssayError("unknown correction", where="correction", fix="use holm, bh or none")
    return compare_settings(**kwargs)


def create_app(
    store: Store | str | None = None,
    *,
    token: str | None = None,
    redact: bool = True,
    redact_note: str | None = None,
    allowed_hosts: list[str] | None = None,
    page_cache_bytes: int | None = None,
) -> FastAPI:
    """The web app over ``store`` (a :class:`Store`, a URL or path, or ``None`` for the default
    store). With ``token``, every request must carry it (see :class:`TokenGuard`). The app also
    receives OTLP/HTTP traces and logs at ``/v1/traces`` and ``/v1/logs``, redacting PII before
    the first write unless ``redact=False`` (recorded with ``redact_note`` in every batch's
    redaction report). With ``allowed_hosts`` and no token, a request whose ``Host`` is not
    one of them gets a 400 (DNS rebinding: see :mod:`assay.web.auth`). Every response carries
    :data:`assay.web.auth.SECURITY_HEADERS`. The runs list, run, compare and sample pages are
    kept in memory while the store is unchanged (:mod:`assay.web.page_cache`; at most
    ``page_cache_bytes``, default ``$ASSAY_PAGE_CACHE_MB`` or 64 MB; 0 turns it off)."""
    if token:
        check_token(token)  # here, not at the first request
    store = store if isinstance(store, Store) else Store(store)
    app = FastAPI(
        title="assay",
        version=__version__,
        description="Runs, samples, comparisons and plans from the assay store. Every number "
        "comes from the same analysis functions as the `assay` CLI.",
        default_response_class=APIResponse,
        docs_url=None,  # /docs is assay.web.api_docs: Swagger UI needs a CDN
        redoc_url=None,
    )
    app.state.store = store
    cache = page_cache.PageCache(store, page_cache_bytes)
    app.state.page_cache = cache
    app.router.on_shutdown.append(cache.close)
    app.add_middleware(page_cache.PageCacheMiddleware, cache=cache)  # innermost: behind the token
    if token:
        app.add_middleware(TokenGuard, token=token)
    app.add_middleware(GZipMiddleware, minimum_size=1000)  # pages of runs and samples: ~5-10x
    app.add_middleware(SecurityHeaders)
    if allowed_hosts is not None and not token:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(ServerTiming)  # outermost: times every layer inside it

    @app.exception_handler(AssayError)
    async def _assay_error(request: Request, error: AssayError) -> Response:
        text = f"{error.where}: {error.message}" if error.where else error.message
        return _error_response(request, _status_of(error), text, error.fix)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = str(error.detail) if error.status_code != 404 else "no such page or route"
        if error.status_code == 404 and error.detail and error.detail != "Not Found":
            message = str(error.detail)
        return _error_response(request, error.status_code, message, None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in error.errors()
        )
        return _error_response(request, 422, problems or "invalid input", None)

    from assay.trace.receiver import TraceWriter, otlp_router

    writer = TraceWriter(store, redact=redact, note=redact_note)
    app.state.trace_writer = writer
    app.router.on_shutdown.append(writer.close)
    routers = [
        _api(store),
        _pages(store),
        otlp_router(writer),
        *trace_routers(store),
        *review_routers(store),
        feedback_router(store),
        *assurance_routers(store),
        *cost_routers(store),
        *monitor_routers(store),
        *registry_routers(store),
        *probe_routers(store),
        *ab_routers(store),
        *history_routers(store),
        *rank_routers(store),
        data_router(store),
        api_docs_router(),
    ]
    for router in routers:
        app.include_router(router)
    app.state.routers = routers  # every route the app serves, for tests that walk them all
    return app


# -- JSON API --------------------------------------------------------------------------------


def _api(store: Store) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["api"])

    @api.get("/runs", summary="Stored runs, newest first, with their overall metrics")
    def runs(
        name: Annotated[str | None, Query(description="Eval name contains.")] = None,
        status: Status | None = None,
        subject: Annotated[str | None, Query(description="A subject name contains.")] = None,
        limit: Limit = 50,
        offset: Annotated[int, Query(ge=0, le=10**9, description="Skip this many runs.")] = 0,
        sort: Annotated[
            Literal["started", "name", "n", "status"], Query(description="Sort key.")
        ] = "started",
        order: Annotated[Literal["desc", "asc"], Query(description="Sort order.")] = "desc",
    ) -> list[dict[str, Any]]:
        return views.list_runs(
            store,
            name=name,
            status=status,
            subject=subject,
            limit=limit,
            offset=offset,
            sort=sort,
            descending=order == "desc",
        )

    @api.get("/runs/{run}", summary="A run: summary per subject, scorer and slice")
    def run(run: str) -> dict[str, Any]:
        return views.run_page(store, views.resolve_run(store, run))

    @api.get("/runs/{run}/samples", summary="The run's samples: searched, filtered, sorted")
    def samples(
        run: str,
        q: Annotated[
            str | None, Query(max_length=500, description="Text in the id, input, target, output.")
        ] = None,
        slice: Annotated[str | None, Query(description="KEY=VALUE")] = None,
        f: Annotated[
            list[str] | None, Query(description="SCORER:pass or SCORER:fail; all must hold.")
        ] = None,
        sort: Annotated[
            str | None, Query(description=f"{sample_views.SORTS_HELP}; a leading - for descending")
        ] = None,
        scorer: str | None = None,
        score_min: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
        score_max: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
        error: bool | None = None,
        flaky: bool | None = None,
        limit: Limit = 200,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> dict[str, Any]:
        filters = browse.build_query(
            search=q,
            slice=slice,
            verdicts=f or (),
            error=error,
            flaky=flaky,
            sort=sort,
            scorer=scorer,
            score_min=score_min,
            score_max=score_max,
        )
        run_id = views.resolve_run(store, run)
        return sample_views.sample_rows(store, run_id, filters, limit=limit, offset=offset)

    @api.get("/runs/{run}/samples/{sample_id}", summary="One sample with every result")
    def sample(
        run: str,
        sample_id: str,
        q: Annotated[str | None, Query(max_length=500)] = None,
        slice: Annotated[str | None, Query(description="KEY=VALUE")] = None,
        f: Annotated[list[str] | None, Query(description="SCORER:pass or SCORER:fail")] = None,
        sort: Annotated[str | None, Query(description="as for the samples list")] = None,
        error: bool | None = None,
        flaky: bool | None = None,
    ) -> dict[str, Any]:
        """The browser's filters and sort place the sample among its neighbours."""
        filters = browse.build_query(
            search=q, slice=slice, verdicts=f or (), error=error, flaky=flaky, sort=sort
        )
        return sample_views.sample_page(store, views.resolve_run(store, run), sample_id, filters)

    @api.get(
        "/compare/{run_a}/{run_b}",
        summary="assay compare RUN_A RUN_B --json, plus the samples that flipped",
    )
    def compare(
        request: Request,
        run_a: str,
        run_b: str,
        scorer: Annotated[list[str] | None, Query(description="Only these scorers.")] = None,
        slice: Annotated[list[str] | None, Query(description="Slice keys.")] = None,
        correction: Literal["holm", "bh", "none"] = "holm",
        alpha: Annotated[float, Query(ge=1e-4, le=0.5)] = 0.05,
        power: Annotated[float, Query(ge=0.5, le=0.999)] = 0.8,
        confidence: Annotated[float, Query(ge=0.5, le=0.9999)] = 0.95,
        min_effect: Annotated[float | None, Query(gt=0, le=1e9)] = None,
        min_clusters: Annotated[int, Query(ge=2, le=1_000_000)] = 10,
        resamples: Annotated[int, Query(ge=0, le=20_000)] = 5_000,
        seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
        migration_note: MigrationNote = None,
    ) -> dict[str, Any]:
        settings = compare_settings(
            correction,
            alpha,
            power,
            confidence,
            min_effect,
            min_clusters,
            resamples,
            seed,
            migration_note,
        )
        a, b = views.resolve_run(store, run_a), views.resolve_run(store, run_b)
        _, data = views.compare_page(store, a, b, scorers=scorer, slices=slice, settings=settings)
        return data

    @api.get("/plan", summary="assay plan --json: sample size and minimum detectable effect")
    def plan(
        baseline: Annotated[float | None, Query(gt=0, lt=1)] = None,
        target: Annotated[float | None, Query(gt=0, lt=1)] = None,
        delta: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None,
        n: Annotated[int | None, Query(ge=2, le=10**9)] = None,
        alpha: Annotated[float, Query(ge=1e-4, le=0.5)] = 0.05,
        power: Annotated[float, Query(ge=0.5, le=0.999)] = 0.8,
        run_a: str | None = None,
        run_b: str | None = None,
        scorer: str | None = None,
        epochs: Annotated[int | None, Query(ge=1, le=1000)] = None,
        budget: Annotated[float | None, Query(gt=0, le=1e12)] = None,
    ) -> dict[str, Any]:
        form = planner.PlanForm(
            baseline, target, delta, n, alpha, power, run_a, run_b, scorer, epochs, budget
        )
        return planner.plan_result(store, form)

    @api.get("/certificates", summary="Judge certificates, newest first (assay audit list)")
    def certificates() -> list[dict[str, Any]]:
        return views.list_certificates(store)

    @api.get("/certificates/{cert_id}", summary="One judge certificate (assay audit show)")
    def certificate(cert_id: str) -> dict[str, Any]:
        return views.get_certificate(store, cert_id)

    @api.get("/runs/{run}/lint", summary="assay data lint --json of the run's dataset")
    def lint(run: str) -> dict[str, Any]:
        return views.lint_run_dataset(store, views.resolve_run(store, run))

    return api


# -- pages -----------------------------------------------------------------------------------


def _html(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **context))


def _optional(request: Request, name: str, cast: Any) -> Any:
    """A query parameter from an HTML form: an empty field is absent."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return cast(text)
    except ValueError:
        raise AssayError(f"{name} must be a number, got {text!r}", where=name) from None


def _pages(store: Store) -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/")
    def runs_page(request: Request) -> HTMLResponse:
        from assay.web.runs_list import home_page

        q = request.query_params
        status = q.get("status") or None
        if status is not None and status not in RUN_STATUSES:
            raise AssayError(f"unknown status {status!r}", where="status")
        order = q.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise AssayError(f"unknown order {order!r}", where="order", fix="use asc or desc")
        filters = {"name": q.get("name") or None, "subject": q.get("subject") or None}
        data = home_page(
            store,
            status=status,
            page=_optional(request, "page", int) or 1,
            size=_optional(request, "size", int) or 50,
            sort=q.get("sort") or "started",
            descending=order == "desc",
            **filters,
        )

        def page_query(**changes: Any) -> str:
            params = {k: v for k, v in q.items() if v}
            params.update({k: str(v) for k, v in changes.items()})
            return "/?" + urllib.parse.urlencode(params)

        page_cache.cacheable(request)
        return _html(
            "runs.html",
            title="runs",
            runs=data["runs"],
            listing=data,
            request_args=dict(q),
            page_query=page_query,
            statuses=RUN_STATUSES,
            filters={**filters, "status": status},
        )

    @pages.get("/runs/{run}")
    def run_page(request: Request, run: str) -> HTMLResponse:
        run_id = views.resolve_run(store, run)
        params = request.query_params
        filters = browse.query_from(params)
        limit, offset = browse.paging_from(params)
        samples = sample_views.sample_rows(store, run_id, filters, limit=limit, offset=offset)
        data = views.run_page(store, run_id)
        state = browse.state_pairs(params)
        page_cache.cacheable(request)
        return _html(
            "run.html",
            title=f"run {run_id}",
            run=data,
            samples=samples,
            state=urllib.parse.urlencode(state),
            state_items=state,
            link=lambda **changes: browse.encode([*state, ("limit", str(limit))], **changes),
            next_sort=browse.next_sort,
            verdict_of=browse.verdict_of,
            page_sizes=browse.PAGE_SIZES,
        )

    @pages.get("/runs/{run}/samples/{sample_id:path}")
    def sample_page(request: Request, run: str, sample_id: str) -> HTMLResponse:
        run_id = views.resolve_run(store, run)
        params = request.query_params
        data = sample_views.sample_page(store, run_id, sample_id, browse.query_from(params))
        page_cache.cacheable(request)
        return _html(
            "sample.html",
            title=f"sample {sample_id}",
            sample=data,
            state=urllib.parse.urlencode(browse.state_pairs(params)),
        )

    @pages.get("/compare")
    def compare_form(request: Request) -> Response:
        a, b = request.query_params.get("a"), request.query_params.get("b")
        picked = request.query_params.getlist("run")  # the runs list's checkboxes
        picked += request.query_params.getlist("runs")  # the ranking form's name for them
        if picked:
            from assay.analyse.run_labels import oldest_first

            if len(set(picked)) > 2:  # more than two runs: the ranking page
                ranked = urllib.parse.urlencode([("runs", r) for r in dict.fromkeys(picked)])
                return Response(status_code=303, headers={"location": f"/rank?{ranked}"})
            if len(set(picked)) != 2:
                raise AssayError(
                    f"pick exactly two runs to compare, not {len(set(picked))}",
                    where="run",
                    fix="tick two runs on the runs list, then press Compare selected",
                )
            try:
                a, b = oldest_first(store, sorted(set(picked)))
            except StoreError as error:
                raise views.NotFound(error.message, where="run", fix=error.fix) from error
        if a and b:
            query = {
                k: v for k, v in request.query_params.items() if k not in ("a", "b", "run", "runs")
            }
            suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
            target = f"/compare/{urllib.parse.quote(a, safe='')}/{urllib.parse.quote(b, safe='')}"
            return Response(status_code=303, headers={"location": target + suffix})
        from assay.analyse.run_labels import default_pair
        from assay.store.summaries import run_choices

        default_a, default_b = default_pair(store)
        return _html(
            "compare.html",
            title="compare",
            runs=run_choices(store, 200),
            cmp=None,
            default_a=a or default_a,
            default_b=b or default_b,
        )

    @pages.get("/compare/{run_a}/{run_b}")
    def compare_page(request: Request, run_a: str, run_b: str) -> HTMLResponse:
        from assay.store.summaries import run_choices
        from assay.web import ab
        from assay.web.compare_view import compare_extras
        from assay.web.run_memo import MEMO

        a, b = views.resolve_run(store, run_a), views.resolve_run(store, run_b)
        settings = _settings_from(request)
        with MEMO.snapshot():  # each run's state read once for this page
            _, data = views.compare_page(
                store,
                a,
                b,
                scorers=request.query_params.getlist("scorer") or None,
                slices=request.query_params.getlist("slice") or None,
                settings=settings,
            )
            cmp = _finite(data)
            base = f"/compare/{urllib.parse.quote(a, safe='')}/{urllib.parse.quote(b, safe='')}"
            extra = compare_extras(store, cmp, base)
            options = ab.grid_options(cmp, request.query_params)
            grid = ab.grid_view(store, cmp, options, request.query_params, base)
        page_cache.cacheable(request)
        return _html(
            "compare.html",
            title=extra["headline"],
            runs=run_choices(store, 200),
            cmp=cmp,
            extra=extra,
            grid=grid,
            note_form={  # the migration note's form, shown across a changed judge (C5)
                "note": settings.migration_note,
                "keep": [
                    (k, v) for k, v in request.query_params.multi_items() if k != "migration_note"
                ],
                "max": MIGRATION_NOTE_MAX,
            },
        )

    @pages.get("/plan")
    def plan_page(request: Request) -> HTMLResponse:
        result: dict[str, Any] = {}
        error = field = None
        status = 200
        form = planner.PlanForm()
        try:
            form = planner.plan_form(request.query_params)
            if not form.empty:
                result = planner.plan_result(store, form)
        except AssayError as problem:
            error, status = str(problem), _status_of(problem)
            field = getattr(problem, "field", None)
        page = render(
            "plan.html",
            title="sample-size planner",
            form=form,
            typed=request.query_params,
            fields=planner.PLAN_FIELDS,
            invalid=field,
            runs=store.list_runs(limit=200),
            result=_finite(result),
            error=error,
        )
        return HTMLResponse(page, status_code=status)

    @pages.get("/certificates")
    def certificates_page() -> HTMLResponse:
        return _html(
            "certificates.html",
            title="judge certificates",
            certificates=views.list_certificates(store),
        )

    @pages.get("/certificates/{cert_id}")
    def certificate_page(cert_id: str) -> HTMLResponse:
        data = views.get_certificate(store, cert_id)
        return _html("certificate.html", title=f"certificate {data['id']}", cert=data)

    @pages.get("/lint")
    def lint_page(request: Request) -> HTMLResponse:
        ref = request.query_params.get("run") or None
        report = None
        if ref is not None:
            report = views.lint_run_dataset(store, views.resolve_run(store, ref))
        return _html(
            "lint.html",
            title="data lint",
            runs=store.list_runs(limit=200),
            report=_finite(report),
            groups=views.lint_groups(report) if report else [],
        )

    @pages.get("/static/{name}")
    def static(name: str) -> Response:
        files = static_files()
        if name not in files:  # an allow-list: no path ever reaches the filesystem
            raise views.NotFound(f"no static file {name!r}", where="static")
        suffix = name[name.rfind(".") :] if "." in name else ""
        return Response(
            files[name], media_type=_STATIC_TYPES.get(suffix, "application/octet-stream")
        )

    return pages
