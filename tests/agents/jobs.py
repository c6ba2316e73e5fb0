"""Job traces for the saga and validator tests: a six-step fulfilment job with a model step."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.agents.build import T0, TraceBuilder

STEPS = ["reserve", "charge", "pick", "pack", "ship", "notify"]


def job_trace(
    job_id: str,
    *,
    acked: list[str] = STEPS,
    failed: list[str] = (),  # type: ignore[assignment]
    completion: bool = True,
    output: dict[str, Any] | None = None,
    ack_by_event: bool = False,
    start: datetime = T0,
    key: str | None = None,
) -> TraceBuilder:
    b = TraceBuilder(start, route="fulfil_order")
    b.root.name = "fulfil_order"
    b.root.attributes.update({"job.id": job_id, "job.name": "fulfil_order"})
    if key:
        b.root.attributes["job.idempotency_key"] = key
    order = output or {"sku": "SKU-100", "quantity": 1}
    b.span(
        "chat plan_order",
        kind="llm",
        offset_ms=10,
        model="sim/planner",
        input=[
            {"role": "system", "content": "Turn the request into an order."},
            {"role": "user", "content": "Two kettles please"},
        ],
        output=[{"role": "assistant", "content": json.dumps(order)}],
    )
    for k, step in enumerate(STEPS):
        if step in failed:
            b.span(
                step,
                offset_ms=100 + 100 * k,
                status="error",
                message="step failed",
                attributes={"job.step": step},
            )
        elif step in acked:
            if ack_by_event:
                b.root.events.append(_event(b, "job.step.ack", 100 + 100 * k, {"job.step": step}))
            else:
                b.span(step, offset_ms=100 + 100 * k, attributes={"job.step": step})
    if completion:
        b.root.events.append(_event(b, "job.completed", 900, {}))
    return b


def _event(b: TraceBuilder, name: str, at_ms: float, attributes: dict[str, Any]):  # type: ignore[no-untyped-def]
    from assay.trace.model import SpanEvent

    return SpanEvent(
        trace_id=b.trace_id,
        span_id=b.root.span_id,
        name=name,
        time=b.start + timedelta(milliseconds=at_ms),
        source="event",
        attributes=attributes,
    )
