"""Scheduled canaries (G4): a small pinned eval against the live endpoint, fed into the monitors.

A canary (``canaries:`` in ``monitors.yaml``) names an eval — a spec file or an inline mapping
with the fixed probe inputs, the subject (the endpoint or provider to watch) and its scorers.
:func:`run_canary` runs it through the ordinary runner with the response cache **off** (a cached
answer would hide exactly the change a canary is for), so the run is stored like any other
(``assay show RUN``), and then writes each result as a **synthetic trace**: route
``canary:<name>``, environment ``canary``, attributes ``assay.synthetic=true``,
``assay.canary`` and ``assay.run_id``; the LLM span carries the requested model, the resolved
snapshot and ``system_fingerprint`` the endpoint reported, the output and tokens. Each score is
a ``trace_scores`` row with ``source='canary'``.

Because the canary is a route of the monitors (:attr:`~assay.monitor.spec.Monitors.canaries`),
every pass watches its ``canary_failure`` (the share of probes whose mean score is below 0.5,
a pass/fail stream) and ``error_rate`` with the same
calibrated CUSUM charts as production traffic, against the canary's own history: a model
swapped behind an unchanged name shows as a dated ``canary_regression`` (the change point's
start is the first canary pass after the swap), and the snapshot or fingerprint behind the
name, when the endpoint reports one, is a substrate event on the canary's route.

The probes of one pass are written in an order hashed from the pass time, so a pass's probes
(deterministic at temperature 0) do not sit in the same order every pass: a fixed order would
line up a pass's hard probes into a run the chart reads as a burst.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.core import SpecError, content_hash
from assay.monitor.spec import CANARY_ENVIRONMENT, Canary, Monitors
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import trace_scores

#: Spacing of a pass's probes on the time axis (they are one batch; the order is what matters).
PROBE_SPACING = timedelta(milliseconds=10)


@dataclass
class CanaryReport:
    """What one canary pass did."""

    canary: str
    at: datetime
    run_id: str
    probes: int
    errors: int
    mean_score: float | None
    resolved_models: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "canary": self.canary,
            "at": self.at.isoformat(),
            "run_id": self.run_id,
            "probes": self.probes,
            "errors": self.errors,
            "mean_score": self.mean_score,
            "resolved_models": self.resolved_models,
        }


def canary_eval(monitors: Monitors, canary: Canary) -> Any:
    """The canary's :class:`~assay.run.Eval` (errors name ``monitors.yaml`` and the canary)."""
    from pathlib import Path

    from assay.run import eval_from_spec, load_eval

    try:
        if isinstance(canary.eval, dict):
            return eval_from_spec(dict(canary.eval), base_dir=monitors.base_dir)
        path = Path(canary.eval)
        return load_eval(path if path.is_absolute() else monitors.base_dir / path)
    except SpecError as exc:
        raise SpecError(
            exc.message,
            where=f"{monitors.source} (canaries.{canary.name}): {exc.where}",
            fix=exc.fix,
        ) from None


def _order(at: datetime, key: str) -> str:
    return hashlib.blake2b(f"{at.isoformat()}|{key}".encode(), digest_size=8).hexdigest()


def run_canary(
    store: Store,
    monitors: Monitors,
    canary: Canary,
    *,
    now: datetime | None = None,
    options: Any = None,
) -> CanaryReport:
    """Run one canary pass at ``now`` and store its results as synthetic traces (see the
    module docstring)."""
    from assay.run import RunOptions
    from assay.run import run as run_eval
    from assay.trace.ingest import insert_ignore, store_spans

    at = (now or datetime.now(UTC)).astimezone(UTC)
    ev = canary_eval(monitors, canary)
    opts = options or RunOptions(cache=False)
    outcome = run_eval(ev, db=store, options=opts)
    samples = {s.id: s for s in ev.dataset.samples}
    models = {s.name: getattr(s, "model", None) for s in ev.subjects}
    results = sorted(
        store.iter_results(outcome.run_id),
        key=lambda r: _order(at, f"{r.subject}|{r.sample_id}|{r.epoch}"),
    )
    spans = []
    score_rows: list[dict[str, Any]] = []
    resolved: list[str] = []
    totals: list[float] = []
    errors = 0
    for i, result in enumerate(results):
        start = at + i * PROBE_SPACING
        trace_id = content_hash([canary.name, outcome.run_id, result.subject, result.sample_id])[
            :32
        ]
        spans.extend(_spans(canary, outcome.run_id, trace_id, start, result, samples, models))
        out = result.output
        if out is not None and out.model and out.model not in resolved:
            resolved.append(out.model)
        if result.error is not None:
            errors += 1
        for score in result.scores:
            if score.value is None:
                continue
            totals.append(float(score.value))
            score_rows.append(
                {
                    "id": content_hash([trace_id, score.scorer])[:32],
                    "trace_id": trace_id,
                    "span_id": None,
                    "name": score.scorer,
                    "value": float(score.value),
                    "label": score.answer,
                    "explanation": score.explanation,
                    "response_id": None,
                    "source": "canary",
                    "created_at": at,
                }
            )
    store_spans(store, spans, note=f"canary {canary.name} (synthetic probes)", source="canary")
    if score_rows:
        writer = store.engine.execution_options(**{WRITE_OPTION: True})
        with writer.begin() as conn:
            insert_ignore(conn, trace_scores, score_rows)
    return CanaryReport(
        canary=canary.name,
        at=at,
        run_id=outcome.run_id,
        probes=len(results),
        errors=errors,
        mean_score=sum(totals) / len(totals) if totals else None,
        resolved_models=resolved,
    )


def _spans(
    canary: Canary,
    run_id: str,
    trace_id: str,
    start: datetime,
    result: Any,
    samples: dict[str, Any],
    models: dict[str, str | None],
) -> list[Any]:
    from assay.trace.model import SpanRecord

    sample = samples.get(result.sample_id)
    messages: list[dict[str, Any]] = []
    if sample is not None:
        if isinstance(sample.input, str):
            messages = [{"role": "user", "content": sample.input}]
        else:
            messages = [m.model_dump(exclude_none=True) for m in sample.input]
    out = result.output
    latency = out.latency_ms if out is not None and out.latency_ms else 1.0
    end = start + timedelta(milliseconds=max(latency, 1.0))
    root_id = content_hash(["root", trace_id])[:16]
    status = "error" if result.error is not None else "ok"
    common = {"trace_id": trace_id, "service": "assay-canary", "session_id": None}
    resource = {"deployment.environment.name": CANARY_ENVIRONMENT}
    attributes = {
        "app.route": canary.route.name,
        "assay.synthetic": True,
        "assay.canary": canary.name,
        "assay.run_id": run_id,
        "assay.sample_id": result.sample_id,
    }
    usage = out.usage if out is not None else None
    return [
        SpanRecord(
            span_id=root_id,
            name=f"canary {canary.name}",
            start_time=start,
            end_time=end,
            kind="chain",
            status=status,
            status_message=result.error,
            attributes=attributes,
            resource=resource,
            input=messages or None,
            output=out.text if out is not None else None,
            **common,
        ),
        SpanRecord(
            span_id=content_hash(["llm", trace_id])[:16],
            parent_id=root_id,
            name=f"canary {result.subject}",
            start_time=start,
            end_time=end,
            kind="llm",
            status=status,
            status_message=result.error,
            model_requested=models.get(result.subject) or result.subject,
            model_resolved=out.model if out is not None else None,
            system_fingerprint=out.system_fingerprint if out is not None else None,
            input_tokens=getattr(usage, "input_tokens", None),
            output_tokens=getattr(usage, "output_tokens", None),
            finish_reasons=[out.finish_reason] if out is not None and out.finish_reason else [],
            attributes={"assay.synthetic": True, "assay.canary": canary.name},
            resource=resource,
            input=messages or None,
            output=None if out is None else [{"role": "assistant", "content": out.text}],
            **common,
        ),
    ]


def due(last: datetime | None, every: timedelta, now: datetime) -> bool:
    """Whether a scheduled job last run at ``last`` is due at ``now``."""
    return last is None or now - last >= every


def last_canary_pass(store: Store, canary: Canary) -> datetime | None:
    """When the canary's latest synthetic trace started (its last pass), from the store."""
    from sqlalchemy import func, select

    from assay.store.tables import traces

    with store.engine.connect() as conn:
        value = conn.execute(
            select(func.max(traces.c.start_time)).where(traces.c.route == canary.route.name)
        ).scalar()
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def snap_to_passes(series: Any, obs: Any) -> None:
    """Move each change's start to the nearest canary pass boundary, in place.

    A pass's probes are one instant of the endpoint (they are spaced by :data:`PROBE_SPACING`
    only to keep an order), so a change cannot begin in the middle of one; Page's estimate (the
    CUSUM's last zero) can land a few probes into the pass before or after the change. The
    nearest boundary is the first pass that ran on the new endpoint (the shift is recomputed on
    the segments either side of it)."""
    from dataclasses import replace

    import numpy as np

    from assay.monitor.analysis import _summary, shift_between

    times = obs.times
    if not series.changes or len(times) < 2:
        return
    gap = timedelta(seconds=1)
    boundaries = [0] + [i for i in range(1, len(times)) if times[i] - times[i - 1] > gap]
    values = obs.array()
    starts = [c.start_index for c in series.changes]
    for k, change in enumerate(series.changes):
        start = min(boundaries, key=lambda b: (abs(b - change.start_index), b))
        if start == change.start_index or start == 0:
            continue
        lo = starts[k - 1] if k else 0
        hi = starts[k + 1] if k + 1 < len(starts) else len(values)
        before, after = values[lo:start], values[start:hi]
        if before.size == 0 or after.size == 0:
            continue
        series.changes[k] = replace(
            change,
            start_time=times[start],
            previous_time=times[start - 1],
            start_index=start,
            shift=shift_between(series.signal, np.asarray(before), np.asarray(after), seed=k),
            before=_summary(series.signal, before),
            after=_summary(series.signal, after),
        )
