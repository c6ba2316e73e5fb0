"""The review queue in the browser: ``/review`` lists queues with progress and agreement,
``/review/{queue}`` is a labelling page driven by the keyboard (``static/review.js``), which
POSTs each label to ``/api/review/{queue}/items/{id}/labels``.

The routes naming one queue are left out of the OpenAPI schema: the schema fuzz test runs on a
store without queues, where they can only answer 404. Their 4xx answers are tested in
tests/review/test_review_web.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from assay.core import AssayError
from assay.review import (
    REVIEWER_ROLES,
    UnknownReviewRef,
    get_queue,
    items_for,
    label_item,
    list_queues,
    queue_items,
    summarise,
)
from assay.review.content import item_facts, item_sections
from assay.review.labels import MAX_CORRECTION, MAX_NOTE
from assay.review.queue import ReviewItem, check_reviewer, check_role
from assay.store import Store
from assay.web import views
from assay.web.render import render

T = TypeVar("T")
#: Items a labelling page carries at most: the reviewer's open ones first, then their done ones.
PAGE_OPEN, PAGE_DONE = 200, 50


@contextmanager
def _not_found() -> Iterator[None]:
    """An unknown queue or item is a 404 (``views.NotFound``), as an unknown run is."""
    try:
        yield
    except UnknownReviewRef as error:
        raise views.NotFound(error.message, where=error.where, fix=error.fix) from None


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with _not_found():
        return fn(*args, **kwargs)


class LabelIn(BaseModel):
    """A label from the labelling page: who (name and role) and what (a verdict or a score,
    a note, a corrected answer)."""

    model_config = ConfigDict(extra="forbid")

    rater: str = Field(min_length=1, max_length=64, description="The reviewer's name.")
    role: Literal["labeler", "expert", "internal", "end_user"] = "labeler"
    verdict: Literal["pass", "fail"] | None = Field(None, description="pass_fail queues.")
    score: float | None = Field(None, ge=-1e9, le=1e9, description="score queues.")
    note: str | None = Field(None, max_length=MAX_NOTE)
    correction: str | None = Field(None, max_length=MAX_CORRECTION)


def _statuses(store: Store) -> list[dict[str, Any]]:
    return [summarise(q, queue_items(store, q.name)) for q in list_queues(store)]


def review_routers(store: Store) -> list[APIRouter]:
    """The review queue's API and pages over ``store``."""
    return [_api(store), _pages(store)]


def _api(store: Store) -> APIRouter:
    api = APIRouter(prefix="/api/review", tags=["review"])

    @api.get("", summary="Review queues with progress and inter-rater agreement")
    def queues() -> list[dict[str, Any]]:
        return _statuses(store)

    @api.get("/{name}", include_in_schema=False)
    def queue(name: str) -> dict[str, Any]:
        return _call(lambda: summarise(get_queue(store, name), queue_items(store, name)))

    @api.get("/{name}/items", include_in_schema=False)
    def items(
        name: str,
        rater: Annotated[
            str | None, Query(max_length=64, description="Only this reviewer's open items.")
        ] = None,
    ) -> list[dict[str, Any]]:
        info = _call(get_queue, store, name)
        found = _call(queue_items, store, name)
        if rater is not None:
            found = items_for(found, check_reviewer(rater, "rater"), info.reviews_per_item)
        return [item.as_dict() for item in found]

    @api.post("/{name}/items/{item_id}/labels", include_in_schema=False)
    def label(
        request: Request, name: str, item_id: str, body: Annotated[LabelIn, Body()]
    ) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise AssayError(
                f"a label is sent as application/json, not {content_type or 'nothing'}",
                where="content-type",
                fix="send the label as JSON with Content-Type: application/json",
            )
        info = _call(get_queue, store, name)
        outcome = _call(
            label_item,
            store,
            item_id,
            rater=body.rater,
            role=body.role,
            verdict=body.verdict,
            score=body.score,
            note=body.note,
            correction=body.correction,
            queue=name,
        )
        return {**outcome.as_dict(), "progress": summarise(info, queue_items(store, name))}

    return api


def _page_item(item: ReviewItem, rater: str | None) -> dict[str, Any]:
    mine = item.label_of(rater) if rater else None
    return {
        "id": item.id,
        "kind": item.kind,
        "ref": item.ref,
        "facts": item_facts(item),
        "sections": item_sections(item),
        "n_labels": len(item.labels),
        "mine": mine.as_dict() if mine else None,
    }


def _pages(store: Store) -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/review")
    def review_page() -> HTMLResponse:
        return HTMLResponse(render("review_list.html", title="review", queues=_statuses(store)))

    @pages.get("/review/{name}")
    def queue_page(request: Request, name: str) -> HTMLResponse:
        info = _call(get_queue, store, name)
        items = _call(queue_items, store, name)
        rater = (request.query_params.get("as") or "").strip() or None
        role = request.query_params.get("role") or "labeler"
        shown: list[dict[str, Any]] = []
        if rater is not None:
            rater, role = check_reviewer(rater, "as"), check_role(role, "role")
            todo = items_for(items, rater, info.reviews_per_item)[:PAGE_OPEN]
            done = [i for i in items if rater in i.raters][-PAGE_DONE:]
            shown = [_page_item(i, rater) for i in [*todo, *done]]
        status = summarise(info, items)
        page = render(
            "review_queue.html",
            title=f"review {name}",
            queue=info,
            status=status,
            rater=rater,
            role=role,
            roles=REVIEWER_ROLES,
            items=shown,
        )
        return HTMLResponse(page)

    return pages
