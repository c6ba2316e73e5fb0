"""Rich renderings of analysis results. Rendering only: every number comes from assay.analyse."""

from __future__ import annotations

import difflib
import math
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from assay.analyse import ManifestChange, RunSummary
from assay.core import RunManifest
from assay.store import RunInfo


def _pct(x: float, binary: bool) -> str:
    if math.isnan(x):
        return "—"
    return f"{100 * x:.1f}%" if binary else f"{x:.3f}"


def _interval_text(est: float, low: float, high: float, binary: bool) -> str:
    if math.isnan(low):
        return _pct(est, binary)
    return f"{_pct(est, binary)}  [{_pct(low, binary)}, {_pct(high, binary)}]"


def run_header(info: RunInfo) -> Text:
    status_style = {
        "completed": "green",
        "running": "yellow",
        "interrupted": "red",
        "failed": "red",
    }
    text = Text()
    text.append(f"run {info.id}", style="bold")
    text.append(f"  {info.name}  ")
    text.append(info.status, style=status_style.get(info.status, ""))
    text.append(f"  {info.n_results}/{info.n_planned} results")
    if info.n_errors:
        text.append(f", {info.n_errors} errors", style="red")
    return text


def summary_tables(summary: RunSummary) -> Group:
    parts: list[Any] = [run_header(summary.run)]
    for flag in summary.flags:
        parts.append(Text(f"warning: {flag.message}", style="yellow"))
    for panel in summary.panels:  # B5: n_eff of every panel; correlated ones warned above
        if not panel.correlated:
            parts.append(Text(f"{panel.subject}: {panel.describe()}", style="dim"))
    if summary.run.status in ("running", "interrupted"):
        parts.append(
            Text(
                "This run did not finish: numbers cover the results stored so far.", style="yellow"
            )
        )
    for counts in summary.subjects:
        models = ", ".join(counts.resolved_models) or "—"
        line = Text(f"\n{counts.subject}", style="bold cyan")
        line.append(f"  (resolved model: {models})", style="dim")
        if counts.n_errors:
            classes = ", ".join(f"{k}: {v}" for k, v in sorted(counts.error_classes.items()))
            line.append(f"  errors: {classes}", style="red")
        parts.append(line)
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("scorer")
        table.add_column("group")
        table.add_column("n", justify="right")
        table.add_column("mean [95% CI]", justify="right")
        table.add_column("method", style="dim")
        for m in summary.metrics:
            if m.subject != counts.subject:
                continue
            # A pass rate is a percentage with epochs too (a t interval on per-sample rates),
            # as `assay show --intervals` prints it.
            binary = m.rate or m.interval.method == "wilson"
            table.add_row(
                m.scorer if m.slice_key is None else "",
                Text(m.group, style="bold" if m.slice_key is None else ""),
                str(m.interval.n) + (f" (+{m.n_ungraded} ungraded)" if m.n_ungraded else ""),
                _interval_text(m.interval.estimate, m.interval.low, m.interval.high, binary),
                m.interval.method,
            )
        parts.append(table)
    return Group(*parts)


def runs_table(runs: list[RunInfo], tags: dict[str, list[str]] | None = None) -> Any:
    """``assay runs``, laid out for the terminal's width. The run id is the handle a user
    copies, so it is never cut; below 100 columns the start time (the id begins with it)
    goes and errors join the results column, and names wrap instead of being cut. A run's
    tags (``assay run --tag``) follow its name."""
    tags = tags or {}

    def build(width: int) -> Table:
        wide = width >= 100
        table = Table(header_style="bold", box=None, pad_edge=False)
        table.add_column("run", no_wrap=True, min_width=max((len(r.id) for r in runs), default=3))
        table.add_column("name", overflow="fold")
        table.add_column("status", no_wrap=True)
        if wide:
            table.add_column("started", no_wrap=True)
        table.add_column("results", justify="right", no_wrap=True)
        if wide:
            table.add_column("errors", justify="right")
        table.add_column("subjects", overflow="fold")
        for r in runs:
            results = f"{r.n_results}/{r.n_planned}"
            name = Text(r.name)
            if tags.get(r.id):
                name.append(" " + " ".join(f"#{t}" for t in tags[r.id]), style="cyan")
            cells: list[Any] = [r.id, name, r.status]
            if wide:
                cells.append(r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "—")
                cells += [results, str(r.n_errors)]
            else:
                cells.append(
                    Text(results).append(f" {r.n_errors} err", style="red")
                    if r.n_errors
                    else results
                )
            cells.append(", ".join(r.subjects))
            table.add_row(*cells)
        return table

    from assay.cli.render_stats import Responsive

    return Responsive(build)


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diff_view(
    a: RunManifest,
    b: RunManifest,
    changes: list[ManifestChange],
    flags: list[Any] | None = None,
) -> Group:
    parts: list[Any] = [Text(f"diff {a.run_id} → {b.run_id}", style="bold")]
    for flag in flags or []:
        parts.append(Text(f"warning: {flag.message}", style="yellow"))
    if not changes:
        parts.append(
            Text(
                "The manifests match: same data, subjects, prompts, models, scorers and code.",
                style="green",
            )
        )
        return Group(*parts)
    first = changes[0]
    parts.append(Text(f"What changed first: {first.category} ({first.path})", style="bold yellow"))
    table = Table(header_style="bold", box=None)
    table.add_column("#", justify="right")
    table.add_column("what")
    table.add_column("field", no_wrap=True)
    table.add_column("before", overflow="fold")
    table.add_column("after", overflow="fold")
    for i, c in enumerate(changes, start=1):
        if c.path.endswith(("prompt_template", "config.user", "config.system", "sample_ids")):
            before = after = "(list)" if c.path.endswith("sample_ids") else "(text, see below)"
        elif c.path.endswith("hash"):
            before, after = _short(c.before, 13), _short(c.after, 13)
        else:
            before, after = _short(c.before), _short(c.after)
        table.add_row(str(i), c.category, c.path, before, after)
    parts.append(table)
    for c in changes:
        if c.path.endswith("prompt_template"):
            lines = difflib.unified_diff(
                str(c.before or "").splitlines(),
                str(c.after or "").splitlines(),
                fromfile=f"{a.run_id}:{c.path}",
                tofile=f"{b.run_id}:{c.path}",
                lineterm="",
            )
            text = Text()
            for line in lines:
                style = (
                    "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                )
                text.append(line + "\n", style=style)
            parts.append(text)
    return Group(*parts)


def stderr_console() -> Console:
    return Console(stderr=True)
