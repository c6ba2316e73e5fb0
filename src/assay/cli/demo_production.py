"""The production chapter of ``assay demo``: simulated traffic through the real receiver.

A simulated app (:mod:`assay.testing.traffic`, instrumented with the real OpenTelemetry SDK)
sends a week of traces over OTLP/HTTP to the same app ``assay serve`` runs, started here on a
free loopback port; its users' feedback and delayed outcomes go to ``/api/feedback`` and
``/api/outcomes``. Then the promotion policy turns every failed trace into a draft case, and the
chapter prints what arrived, what redaction did at the door, and one draft.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from assay.core import AssayError
from assay.store import Store


@dataclass
class ProductionDemo:
    """What the chapter stored: counts and the ids a reader may want to look at."""

    n_traces: int
    n_spans: int
    failed: int
    failed_delayed: int
    drafts: list[str]
    example_trace: str | None
    truth: Any


def _post(url: str, records: list[dict[str, Any]]) -> None:
    import httpx

    for start in range(0, len(records), 1000):
        response = httpx.post(url, json=records[start : start + 1000], timeout=60)
        if response.status_code != 200:
            raise AssayError(
                f"{url} refused the demo's records: HTTP {response.status_code} "
                f"{response.text[:200]}",
                where="assay demo",
            )


def run_production_demo(
    store: Store,
    console: Console,
    err_console: Console,
    *,
    requests: int = 1000,
    seed: int = 7,
    project_dir: Path | None = None,
) -> ProductionDemo:
    """Send a simulated week of production traffic through the receiver and report it; with
    ``project_dir``, then watch it: the monitoring chapter catches the planted incidents."""
    from assay.store.tables import redaction_reports, spans, traces
    from assay.testing.traffic import TrafficConfig, simulate
    from assay.trace.labels import trace_verdicts
    from assay.trace.promote import list_drafts, sync_drafts

    config = TrafficConfig(seed=seed, days=7, requests=requests)
    err_console.print(
        f"\n[bold]Production[/bold] (simulated): a week of traffic, {requests} requests, "
        "through the OTLP receiver",
        highlight=False,
    )
    from assay.web import create_app
    from assay.web.live import serve_in_thread

    with serve_in_thread(create_app(store)) as url:
        err_console.print(
            f"$ python -m assay.testing traffic --endpoint {url} --requests {requests}",
            highlight=False,
        )
        result = simulate(config, endpoint=url)
        _post(f"{url}/api/feedback", result.feedback)
        _post(f"{url}/api/outcomes", result.outcomes)
    sync_drafts(store)  # feedback and outcomes already drafted most; this catches the rest
    drafts = [case.id for case in list_drafts(store)]
    verdicts = trace_verdicts(store)
    failed = sum(1 for v in verdicts.values() if getattr(v, "label", v) == "failed")
    delayed = sum(1 for v in verdicts.values() if getattr(v, "label", v) == "failed_delayed")
    with store.engine.connect() as conn:
        n_traces = conn.execute(select(func.count()).select_from(traces)).scalar_one()
        n_spans = conn.execute(select(func.count()).select_from(spans)).scalar_one()
        reports = conn.execute(select(redaction_reports.c.counts_json)).scalars().all()
    found: dict[str, int] = {}
    for text in reports:
        for kind, count in json.loads(text).items():
            found[kind] = found.get(kind, 0) + count
    table = Table(title="production traffic received", show_header=False, title_justify="left")
    table.add_row("traces / spans", f"{n_traces:,} / {n_spans:,} (all {result.n_spans:,} sent)")
    table.add_row(
        "PII redacted at the door",
        ", ".join(f"{k} {v}" for k, v in sorted(found.items())) or "none",
    )
    table.add_row("feedback / outcomes", f"{len(result.feedback)} / {len(result.outcomes)}")
    table.add_row("failed / failed_delayed", f"{failed} / {delayed}")
    table.add_row("draft cases (failed → test)", str(len(drafts)))
    console.print(table)
    example = None
    if drafts:
        case = next(c for c in list_drafts(store) if c.id == drafts[0])
        example = case.created_from
        console.print(
            f"draft {case.id} from trace {case.created_from} (origin {case.origin}):",
            highlight=False,
        )
        console.print(f"  input: {_short(case.input)}", highlight=False, markup=False)
        if case.negative_example:
            console.print(
                f"  observed (negative example): {_short(case.negative_example)}",
                highlight=False,
                markup=False,
            )
    if project_dir is not None:
        from assay.monitor.demo import run_production_demo_monitoring

        err_console.print(
            f"\n$ assay monitor check --spec {project_dir / 'monitors.yaml'}", highlight=False
        )
        run_production_demo_monitoring(store, console, project_dir=project_dir)
    return ProductionDemo(
        n_traces=n_traces,
        n_spans=n_spans,
        failed=failed,
        failed_delayed=delayed,
        drafts=drafts,
        example_trace=example,
        truth=result.truth,
    )


def _short(value: Any, width: int = 100) -> str:
    """One line of a case's text; for messages, the last user message (what was asked)."""
    if isinstance(value, list):
        asked = [m.get("content") for m in value if isinstance(m, dict) and m.get("role") == "user"]
        value = asked[-1] if asked and isinstance(asked[-1], str) else value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
