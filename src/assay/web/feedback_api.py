"""``POST /api/feedback``, ``POST /api/outcomes`` and ``GET /api/drafts``.

A body is one event or a list of them, in the shapes of
:class:`~assay.trace.feedback.FeedbackEvent` and :class:`~assay.trace.feedback.OutcomeEvent`
(the OpenAPI schema says so), checked by :func:`~assay.trace.feedback.parse_event` — the
function ``assay traces feedback FILE`` checks file rows with — so a mistake is a 400 naming
the event and the field (``body[1] (kind): Input should be 'thumbs', …``), never a 500. The
body is read here rather than by FastAPI so that the message names the field, not pydantic's
union branches. Free text is redacted before it is written, and traces that become failed get
their draft case, as from the CLI. ``GET /api/drafts`` lists the drafts as the last feedback,
outcome or ``assay traces drafts`` left them (a GET writes nothing).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from assay.core import AssayError
from assay.store import Store
from assay.trace.feedback import (
    BAD_EVENTS,
    GOOD_EVENTS,
    FeedbackEvent,
    OutcomeEvent,
    parse_event,
    record_feedback,
    record_outcomes,
)
from assay.trace.labels import parse_duration

_DURATION = r"^\s*\d+(\.\d+)?\s*[smhdw]\s*$"
#: Events per request at most (a larger batch is split by the client).
MAX_EVENTS = 5000
#: Bytes per request body at most.
MAX_BODY = 16 * 1024 * 1024
WindowQuery = Annotated[
    str,
    Query(
        max_length=16,
        pattern=_DURATION,
        description="How long after a trace a bad outcome still fails it (7d, 48h, 2w).",
    ),
]


_TEXT = {"type": "string", "pattern": "\\S", "minLength": 1}
#: What each kind of feedback needs beyond the model's field types (the model's validators).
_FEEDBACK_KINDS = [
    {"properties": {"kind": {"const": "thumbs"}, "value": {"enum": [0, 1]}}, "required": ["value"]},
    {
        "properties": {
            "kind": {"const": "score"},
            "value": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["value"],
    },
    {
        "properties": {"kind": {"const": "correction"}, "correction": _TEXT},
        "required": ["correction"],
    },
    {
        "properties": {"kind": {"const": "label"}, "label": {**_TEXT, "maxLength": 512}},
        "required": ["label"],
    },
]
_OUTCOME_RULES = [
    {
        "anyOf": [
            {"properties": {"session_id": {"type": "string"}}, "required": ["session_id"]},
            {"properties": {"trace_id": {"type": "string"}}, "required": ["trace_id"]},
        ]
    },
    {
        "anyOf": [
            {"properties": {"event": {"enum": sorted(BAD_EVENTS | GOOD_EVENTS)}}},
            {"properties": {"bad": {"type": "boolean"}}, "required": ["bad"]},
        ]
    },
]


def _body_schema(model: Any) -> dict[str, Any]:
    """The request body's OpenAPI entry: one event, or a non-empty list of events, with the
    rules the model's validators add to its field types (what each feedback kind needs; an
    outcome's session or trace, and ``bad`` for an event name assay does not know)."""
    rules = [{"oneOf": _FEEDBACK_KINDS}] if model is FeedbackEvent else _OUTCOME_RULES
    base = json.loads(
        json.dumps(model.model_json_schema())
        .replace('"^[0-9a-fA-F]{32}$"', '"^(?!0+$)[0-9a-fA-F]{32}$"')
        .replace('"^[0-9a-fA-F]{16}$"', '"^(?!0+$)[0-9a-fA-F]{16}$"')
    )  # ids are never all zeros (the model's validator says so too)
    item = {"allOf": [base, *rules]}
    schema = {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _events(request: Request, kind: Literal["feedback", "outcome"]) -> list[Any]:
    """The request's events, checked: an :class:`AssayError` (400) naming the event and field."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise AssayError(
            f"the body is {len(raw):,} bytes; at most {MAX_BODY:,}",
            where="body",
            fix="send the events in smaller batches",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise AssayError(
            f"the body is not JSON: {error}", where="body", fix=f"send a {kind} object or a list"
        ) from None
    if isinstance(body, list):
        if not body:
            raise AssayError(f"the body holds no {kind} events", where="body", fix="send one")
        if len(body) > MAX_EVENTS:
            raise AssayError(
                f"{len(body)} {kind} events in one request; at most {MAX_EVENTS}",
                where="body",
                fix=f"send them in batches of {MAX_EVENTS} or fewer",
            )
        return [parse_event(kind, row, f"body[{i}]") for i, row in enumerate(body)]
    return [parse_event(kind, body, "body")]


def feedback_router(store: Store) -> APIRouter:
    """The feedback, outcome and draft routes over ``store``."""
    api = APIRouter(prefix="/api", tags=["feedback"])

    @api.post(
        "/feedback",
        summary="Record feedback on traces (assay traces feedback)",
        openapi_extra=_body_schema(FeedbackEvent),
    )
    async def post_feedback(request: Request, window: WindowQuery = "14d") -> dict[str, Any]:
        span = parse_duration(window, "window")
        events = await _events(request, "feedback")
        report = await run_in_threadpool(record_feedback, store, events, window=span)
        return report.as_dict()

    @api.post(
        "/outcomes",
        summary="Record delayed outcomes of conversations (assay traces outcomes)",
        openapi_extra=_body_schema(OutcomeEvent),
    )
    async def post_outcomes(request: Request, window: WindowQuery = "14d") -> dict[str, Any]:
        span = parse_duration(window, "window")
        events = await _events(request, "outcome")
        report = await run_in_threadpool(record_outcomes, store, events, window=span)
        return report.as_dict()

    @api.get(
        "/drafts", summary="Draft cases waiting for triage, oldest first (assay traces drafts)"
    )
    def drafts(
        older_than: Annotated[
            str | None,
            Query(max_length=16, pattern=_DURATION, description="Only drafts older than this."),
        ] = None,
    ) -> dict[str, Any]:
        from assay.trace.promote import TRIAGE_DEADLINE, list_drafts

        age = None if older_than is None else parse_duration(older_than, "older_than")
        now = datetime.now(UTC)
        found = list_drafts(store, older_than=age, now=now)
        overdue = [d.id for d in found if d.age(now) > TRIAGE_DEADLINE]
        return {
            "n": len(found),
            "overdue": len(overdue),
            "deadline_days": TRIAGE_DEADLINE.days,
            "drafts": [{**d.as_dict(now), "overdue": d.id in overdue} for d in found],
        }

    return api
