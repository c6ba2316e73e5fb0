"""The ``monitor`` chapter of ``assay demo``: watch the simulated traffic the demo received.

Called after the demo's traffic (the simulator's week with its planted incidents) is in the
store. Writes ``monitors.yaml`` into the demo project, runs the online JSON judge on a sample of
``json-extract`` spans, makes one monitoring pass as of the end of the traffic, and prints what
it caught with the "what changed" list (SIMULATED traffic: the incidents are planted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from assay.monitor.engine import PassReport, run_pass
from assay.monitor.judging import judge_traffic
from assay.monitor.spec import load_monitors
from assay.store import Store
from assay.store.tables import traces

DEMO_MONITORS = """\
# Quality monitors for the demo's simulated shop (assay demo). See README "Monitoring".
window: 1h
lookback: 8d
baseline: 100
false_alarms_per_1000: 0.05
routes:
  - name: json-extract
    segment_by: app.segment
    signals: [format_validity, error_rate, output_length, {judge_score: {name: valid-json}}]
    slos: [{signal: format_validity, objective: 0.99}]
  - name: support-qa
    signals: [error_rate, refusal_rate, output_length, latency, feedback, outcome_failure]
    slos: [{signal: error_rate, objective: 0.95}]
  - name: rag-search
    signals: [error_rate, output_length, latency]
  - name: agent-orders
    signals: [error_rate, output_length, latency]
sinks:
  - {file: {path: alerts.jsonl}, name: log}
judges:
  - name: valid-json
    routes: [json-extract]
    scope: span
    sample: {rate: 0.25, by: [app.segment], seed: 7}
    scorers: [json]
"""


def _longest_word(texts: list[str]) -> int:
    return max((len(word) for text in texts for word in text.split()), default=1)


def alerts_table(report: PassReport, now: datetime) -> Table:
    """The pass's findings: alert (kind over route), what, and the first candidate in "what
    changed". At 80 columns the candidate column keeps its longest word whole (a model
    snapshot such as ``sim:atlas-large@2026-03``, whose date is the finding), and the other
    columns wrap instead."""
    rows = []
    for f in report.findings:
        first: dict[str, Any] = (f.detail.get("what_changed") or [{}])[0]
        what = f.title.split(": ", 1)[1].split("; first candidate")[0]
        where = (f.route or "") + (f" [{f.segment}]" if f.segment else "")
        rows.append((f"{f.kind}\n{where}", what, str(first.get("description", "—"))))
    table = Table(title=f"alerts as of {now:%Y-%m-%d %H:%M} UTC (simulated incidents)")
    table.add_column("alert / route", overflow="fold")
    table.add_column("what", overflow="fold", ratio=1)
    table.add_column(
        "first candidate in 'what changed'",
        overflow="fold",
        ratio=1,
        min_width=min(_longest_word([r[2] for r in rows]), 40),
    )
    for alert, what, first in rows:
        table.add_row(Text(alert), Text(what), Text(first))
    return table


def run_production_demo_monitoring(
    store: Store,
    console: Console,
    *,
    project_dir: Path,
    now: datetime | None = None,
) -> PassReport:
    """The demo's monitoring chapter (see the module docstring). ``now`` defaults to an hour
    after the last stored trace ended. Returns the pass's report."""
    spec = project_dir / "monitors.yaml"
    spec.write_text(DEMO_MONITORS, encoding="utf-8")
    monitors = load_monitors(spec)
    if now is None:
        with store.engine.connect() as conn:
            last = conn.execute(select(func.max(traces.c.end_time))).scalar()
        if last is None:
            console.print("no traffic in the store: nothing to monitor")
            return PassReport(at=datetime.now().astimezone(), since=datetime.now().astimezone())
        if isinstance(last, str):
            last = datetime.fromisoformat(last)
        now = last + timedelta(hours=1)
    console.rule("monitoring the simulated traffic")
    judged = judge_traffic(store, monitors, now=now)
    for j in judged:
        console.print(
            Text(
                f"online judge {j.judge}: {j.chosen} of {j.candidates} {j.scope}s sampled "
                f"({', '.join(f'{k} {v}' for k, v in sorted(j.reasons.items()))}), run {j.run_id}"
            )
        )
    report = run_pass(store, monitors, now=now)
    table = alerts_table(report, now)
    console.print(table)
    console.print(
        Text(
            "Try: assay monitor status · assay monitor explain json-extract --at <time> "
            "--signal format_validity · assay alerts list · assay monitor timeline · "
            "assay serve → /monitor"
        )
    )
    return report
