"""The trace pages and their JSON API: ``/traces``, ``/traces/{id}``, ``/api/traces…``.

Pages render the dicts of :mod:`assay.trace.query` and the API returns them unchanged (the
same functions ``assay traces list|show`` call). ``POST /api/traces/{id}/promote`` turns a
trace into a case through :func:`assay.trace.promote.promote`, appending it to a JSONL dataset
file inside the folder the server runs in. It takes a JSON body only, so a cross-site form
cannot send it (a JSON request from another origin needs a CORS preflight this server never
grants), and the token guard covers it like every route when the server listens beyond
loopback.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from assay.core import AssayError
from assay.store import Store
from assay.trace import query
from assay.web import views
from assay.web.render import render

Status = Literal["unset", "ok", "error"]
Label = Literal["failed", "failed_delayed", "ok", "unlabelled"]
TextParam = Annotated[str | None, Query(max_length=500)]


class PromoteRequest(BaseModel):
    """The body of ``POST /api/traces/{trace_id}/promote``."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        min_length=1,
        max_length=300,
        description="The JSONL dataset file the case is appended to, relative to the folder "
        "the server runs in (created when missing).",
    )
    origin: Literal["incident", "sampled-production"] = "incident"
    reason: str | None = Field(default=None, max_length=2000)


def duration(ms: float | None) -> str:
    """A span or trace duration: ``640 ms``, ``1.25 s``, ``12.5 s``, ``3.2 min``."""
    if ms is None:
        return "—"
    if ms >= 120_000:
        return f"{ms / 60_000:.1f} min"
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10 or ms == 0:
        return f"{ms:.0f} ms"
    return f"{ms:.2g} ms"


def money(cost: float | None) -> str:
    """A cost in dollars (four decimals: one call often costs a fraction of a cent)."""
    return "—" if cost is None else f"${cost:.4f}"


def when(iso: str | None, *, millis: bool = False) -> str:
    """An ISO 8601 UTC time as ``2025-03-04 10:00:00`` (``.123`` with ``millis``)."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return text + f".{moment.microsecond // 1000:03d}" if millis else text


def _page(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, duration=duration, money=money, when=when, **context))


def _get_trace(store: Store, ref: str) -> dict[str, Any]:
    try:
        return query.get_trace(store, ref)
    except query.TraceNotFound as error:
        raise views.NotFound(error.message, where=error.where, fix=error.fix) from error


def _resolve(store: Store, ref: str) -> str:
    try:
        return query.resolve_trace_id(store, ref)
    except query.TraceNotFound as error:
        raise views.NotFound(error.message, where=error.where, fix=error.fix) from error


def _filter_from(
    *,
    since: str | None,
    until: str | None,
    model: str | None,
    status: str | None,
    session: str | None,
    user: str | None,
    service: str | None,
    route: str | None,
    environment: str | None,
    attr: list[str],
    q: str | None,
    label: str | None = None,
) -> query.TraceFilter:
    """A :class:`~assay.trace.query.TraceFilter` from request parameters (an empty form field
    is absent); bad values raise :class:`AssayError` naming the field (a 400)."""

    def given(value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    since_text, until_text = given(since), given(until)
    return query.TraceFilter(
        since=query.parse_time(since_text, where="since") if since_text else None,
        until=query.parse_time(until_text, where="until") if until_text else None,
        model=given(model),
        status=given(status),
        session=given(session),
        user=given(user),
        service=given(service),
        route=given(route),
        environment=given(environment),
        attributes=tuple(query.parse_attribute(a, where="attr") for a in attr if a.strip()),
        text=given(q),
        label=given(label),
    )


def dataset_path(dataset: str, root: Path) -> Path:
    """The dataset file a promotion from the web appends to: ``dataset`` relative to ``root``
    (the folder the server runs in). A web client never names a file outside it: no absolute
    paths, no ``..``, no symbolic link leading out."""
    text = dataset.strip()
    candidate = Path(text)
    fix = "name a .jsonl file inside the folder assay serve runs in, e.g. datasets/incidents.jsonl"
    if not text or candidate.is_absolute() or ".." in candidate.parts or "\x00" in text:
        raise AssayError(
            f"dataset {dataset!r} must be a path relative to the served folder",
            where="dataset",
            fix=fix,
        )
    base = root.resolve()
    target = (base / candidate).resolve()
    if not target.is_relative_to(base):
        raise AssayError(f"dataset {dataset!r} leads outside the served folder", where="dataset")
    if target.suffix.lower() not in (".jsonl", ".ndjson"):
        raise AssayError(f"dataset {dataset!r} is not a JSONL file", where="dataset", fix=fix)
    return target


def _promote(store: Store, trace_id: str, body: PromoteRequest) -> dict[str, Any]:
    trace_id = _resolve(store, trace_id)
    try:
        from assay.trace.promote import promote
    except ImportError as error:  # 501: this server lacks the feature; the request was fine
        raise HTTPException(
            501, "promotion is not available: this build of assay has no assay.trace.promote"
        ) from error
    root = Path.cwd()
    path = dataset_path(body.dataset, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AssayError(
            f"cannot create the dataset's folder: {error.strerror or error}",
            where="dataset",
            fix="name a file in a folder the server can write to",
        ) from None
    done = promote(store, trace_id, path, origin=body.origin, reason=body.reason)
    case = done.case.as_dict()
    case["dataset"] = str(path.relative_to(root.resolve()))
    return {
        "trace_id": trace_id,
        "dataset": case["dataset"],
        "created": done.created,
        "appended": done.appended,
        "case": case,
    }


def trace_api(store: Store) -> APIRouter:
    """``GET /api/traces``, ``GET /api/traces/{trace_id}``, ``POST …/promote``."""
    api = APIRouter(prefix="/api", tags=["traces"])

    @api.get("/traces", summary="Stored traces, newest first, filtered (assay traces list)")
    def traces(
        since: Annotated[
            str | None, Query(max_length=64, description="An age (30m, 24h, 7d) or ISO time.")
        ] = None,
        until: Annotated[str | None, Query(max_length=64)] = None,
        model: TextParam = None,
        status: Status | None = None,
        session: TextParam = None,
        user: TextParam = None,
        service: TextParam = None,
        route: TextParam = None,
        environment: TextParam = None,
        attr: Annotated[
            list[str] | None, Query(max_length=20, description="KEY=VALUE (repeatable).")
        ] = None,
        q: Annotated[
            str | None, Query(max_length=500, description="Full text (assay traces search).")
        ] = None,
        label: Label | None = None,
        limit: Annotated[int, Query(ge=1, le=query.MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
    ) -> dict[str, Any]:
        flt = _filter_from(
            since=since,
            until=until,
            model=model,
            status=status,
            session=session,
            user=user,
            service=service,
            route=route,
            environment=environment,
            attr=attr or [],
            q=q,
            label=label,
        )
        return query.list_traces(store, flt, limit=limit, offset=offset)

    @api.get("/traces/{trace_id}", summary="One trace: span tree, messages, tools, documents")
    def trace(trace_id: str) -> dict[str, Any]:
        return _get_trace(store, trace_id)

    @api.post(
        "/traces/{trace_id}/promote",
        summary="Promote a trace to a case of a dataset (assay traces promote)",
    )
    def promote(trace_id: str, body: PromoteRequest) -> dict[str, Any]:
        return _promote(store, trace_id, body)

    return api


def trace_pages(store: Store) -> APIRouter:
    """``/traces`` (the list with its filter form) and ``/traces/{trace_id}``."""
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/traces")
    def traces_page(request: Request) -> HTMLResponse:
        q = request.query_params
        form = {
            name: q.get(name, "")
            for name in (
                "since",
                "until",
                "model",
                "status",
                "session",
                "user",
                "service",
                "route",
                "q",
                "label",
            )
        }
        form["attr"] = q.get("attr", "")
        status = form["status"].strip() or None
        if status is not None and status not in query.STATUSES:
            raise AssayError(
                f"unknown trace status {status!r}",
                where="status",
                fix=f"use one of {', '.join(query.STATUSES)}",
            )
        flt = _filter_from(
            since=form["since"],
            until=form["until"],
            model=form["model"],
            status=status,
            session=form["session"],
            user=form["user"],
            service=form["service"],
            route=form["route"],
            environment=q.get("environment"),
            attr=q.getlist("attr"),
            q=form["q"],
            label=form["label"],
        )
        limit = _int_param(request, "limit", 50, 1, query.MAX_LIMIT)
        offset = _int_param(request, "offset", 0, 0, 10**7)
        page = query.list_traces(store, flt, limit=limit, offset=offset)

        def page_query(new_offset: int) -> str:
            params = [(k, v) for k, v in q.multi_items() if k != "offset"]
            params.append(("offset", str(max(0, new_offset))))
            return urllib.parse.urlencode(params)

        return _page(
            "traces.html",
            title="traces",
            page=page,
            form=form,
            statuses=query.STATUSES,
            labels=query.LABELS,
            page_query=page_query,
        )

    @pages.get("/traces/{trace_id}")
    def trace_page(trace_id: str) -> HTMLResponse:
        data = _get_trace(store, trace_id)
        root = Path.cwd().resolve()
        for case in data["cases"]:
            shown = Path(case["dataset"]) if case["dataset"] else None
            if shown is not None and shown.is_relative_to(root):
                case["dataset"] = str(shown.relative_to(root))
        return _page("trace.html", title=f"trace {data['trace']['id'][:16]}", data=data)

    @pages.get("/drafts")
    def drafts_page(request: Request) -> HTMLResponse:
        """Draft cases from failed traces waiting for triage, oldest first (E2's backlog).

        A GET writes nothing. Traces labelled failed by a path that does not draft as it
        writes (an online judge's scores, a review label) are counted, and a button POSTs to
        ``/drafts/sync`` to apply the promotion policy to them (``assay traces drafts`` does
        the same from the CLI)."""
        from datetime import timedelta

        from assay.trace.labels import parse_duration
        from assay.trace.promote import list_drafts, undrafted_failures

        text = request.query_params.get("older_than", "").strip()
        older = parse_duration(text, "older_than") if text else None
        backlog_after = timedelta(days=7)
        drafts = [case.as_dict() for case in list_drafts(store, older_than=older)]
        for draft in drafts:
            draft["input_text"] = _excerpt(draft["input"])
            draft["stale"] = draft["age_days"] >= backlog_after.days
        return _page(
            "drafts.html",
            title="draft cases",
            drafts=drafts[:500],
            total=len(drafts),
            stale=sum(1 for d in drafts if d["stale"]),
            older_than=text,
            undrafted=len(undrafted_failures(store)),
        )

    @pages.post("/drafts/sync")
    def sync_drafts_page(request: Request) -> RedirectResponse:
        """Apply the promotion policy (a draft for every failed trace that has none; it is
        idempotent), then back to ``/drafts`` with its filter (303, so a reload does not
        POST again). A bad ``older_than`` is refused (400) before anything is written."""
        from assay.trace.labels import parse_duration
        from assay.trace.promote import sync_drafts

        text = request.query_params.get("older_than", "").strip()
        if text:
            parse_duration(text, "older_than")
        sync_drafts(store)
        query = "?" + urllib.parse.urlencode({"older_than": text}) if text else ""
        return RedirectResponse(f"/drafts{query}", status_code=303)

    return pages


def _excerpt(value: Any, width: int = 160) -> str:
    """A one-line excerpt of a case's input (a string or a list of messages)."""
    if isinstance(value, list):
        parts = [str(m.get("content", "")) for m in value if isinstance(m, dict)]
        value = " / ".join(p for p in parts if p)
    text = " ".join(str(value or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise AssayError(f"{name} must be a whole number, got {text!r}", where=name) from None
    if not low <= value <= high:
        raise AssayError(f"{name} must be between {low} and {high}, got {value}", where=name)
    return value


def trace_routers(store: Store) -> list[APIRouter]:
    """Every router of the trace surface, for :func:`assay.web.app.create_app`."""
    return [trace_api(store), trace_pages(store)]
