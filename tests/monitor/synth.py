"""Synthetic traces for the monitor tests (not a test module): a root span naming the route and
one LLM span per request, written through the real writer (:func:`store_spans`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.store import Store
from assay.trace.ingest import store_spans
from assay.trace.model import SpanRecord

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


@dataclass
class Request:
    """One request of a synthetic route."""

    at: datetime
    output: str = '{"ok": true}'
    tokens: int = 20
    model: str = "m-1"
    resolved: str = "m-1@2026-01"
    fingerprint: str = "fp_a"
    prompt: str = "p-v1"
    status: str = "ok"
    segment: str | None = None
    session: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def spans_of(route: str, i: int, r: Request, *, seed: str = "") -> list[SpanRecord]:
    trace_id = _hex(f"{seed}:{route}:{i}", 32)
    end = r.at + timedelta(milliseconds=800)
    root_attrs = {
        "app.route": route,
        **({"app.segment": r.segment} if r.segment else {}),
        **r.attributes,
    }
    common = {
        "trace_id": trace_id,
        "service": "synth",
        "session_id": r.session or f"s-{trace_id[:8]}",
    }
    resource = {"deployment.environment.name": "production", "service.version": "1.0"}
    return [
        SpanRecord(
            span_id=_hex(f"root{trace_id}", 16),
            name=f"POST /{route}",
            start_time=r.at,
            end_time=end,
            kind="chain",
            status="error" if r.status == "error" else "ok",
            attributes=root_attrs,
            resource=resource,
            input=[{"role": "user", "content": f"question {i}"}],
            output=r.output,
            **common,
        ),
        SpanRecord(
            span_id=_hex(f"llm{trace_id}", 16),
            parent_id=_hex(f"root{trace_id}", 16),
            name=f"chat {r.model}",
            start_time=r.at + timedelta(milliseconds=50),
            end_time=end - timedelta(milliseconds=50),
            kind="llm",
            status="error" if r.status == "error" else "ok",
            model_requested=r.model,
            model_resolved=r.resolved if r.status != "error" else None,
            system_fingerprint=r.fingerprint if r.status != "error" else None,
            output_tokens=r.tokens,
            input_tokens=30,
            finish_reasons=["stop"],
            attributes={"app.prompt.version": r.prompt},
            resource=resource,
            input=[{"role": "user", "content": f"question {i}"}],
            output=None if r.status == "error" else [{"role": "assistant", "content": r.output}],
            **common,
        ),
    ]


def write(store: Store, route: str, requests: list[Request], *, seed: str = "") -> list[str]:
    """Store the requests of ``route``; returns their trace ids in order."""
    spans = [s for i, r in enumerate(requests) for s in spans_of(route, i, r, seed=seed)]
    store_spans(store, spans, redact=False, note="synthetic test traffic")
    return [s.trace_id for s in spans[::2]]


def every(start: datetime, n: int, step: timedelta) -> list[datetime]:
    return [start + i * step for i in range(n)]
