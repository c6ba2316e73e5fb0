"""``assay traces feedback|outcomes|feedback-export|labels|promote|drafts|cases|replay``.

Feedback and outcomes in (D6, E3), which traces failed, and failed traces turned into tests
(A3, A4, E1, E2, G3). Each command calls one function of :mod:`assay.trace.feedback`,
:mod:`assay.trace.feedback_export`, :mod:`assay.trace.labels`, :mod:`assay.trace.promote` or
:mod:`assay.trace.replay`; ``--json`` prints what it returns. Stored text is user text: it
reaches Rich as :class:`Text`, never as markup.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, console, err_console
from assay.cli.trace_commands import traces_app

if TYPE_CHECKING:
    from rich.progress import Progress

WindowOption = Annotated[
    str,
    typer.Option(
        "--window", help="How long after a trace a bad outcome still fails it (7d, 48h, 2w)."
    ),
]
_DEFAULT_WINDOW = "14d"


def _window(text: str) -> timedelta:
    from assay.trace.labels import parse_duration

    return parse_duration(text, "--window")


def _age(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.1f} d" if days >= 1 else f"{delta.total_seconds() / 3600:.1f} h"


def _table(title: str, *names: str) -> Table:
    """A table whose id columns never wrap (ids are copied into the next command)."""
    table = Table(title=title)
    for name in names:
        table.add_column(name, no_wrap=name in ("case", "trace", "age", "fixed"))
    return table


def _short(text: Any, limit: int = 60) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):  # messages: the last user message says what was asked
        users = [m for m in text if m.get("role") == "user"] or list(text)
        text = str(users[-1]["content"]) if users else ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _FileProgress:
    """A progress bar for a long file (shown only once it has taken over a second)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.started = datetime.now(UTC)
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            if (datetime.now(UTC) - self.started).total_seconds() < 1 or done >= total:
                return
            # Imported here: registering the trace commands must not import the bar.
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _record(
    kind: Literal["feedback", "outcome"], file: Path, db: str | None, window: str, as_json: bool
) -> None:
    from assay.trace.feedback import record_file

    span = _window(window)
    store = _store(db)
    progress = _FileProgress(f"{kind} {file.name}", as_json)
    try:
        report = record_file(store, kind, file, window=span, on_progress=progress)
    finally:
        progress.close()
        store.close()
    data = report.as_dict()
    if as_json:
        console.print_json(data=data)
        return
    redacted = ", ".join(f"{k} {v}" for k, v in data["redacted"].items()) or "nothing"
    console.print(
        f"{data['stored']} {kind} events stored ({data['duplicates']} already there) from "
        f"{data['received']}; redacted: {redacted}; {data['new_drafts']} new draft cases",
        highlight=False,
    )


@traces_app.command("feedback")
def feedback_command(
    file: Annotated[Path, typer.Argument(help="Feedback events: JSONL, JSON or CSV.")],
    window: WindowOption = _DEFAULT_WINDOW,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record feedback on traces: thumbs, scores, corrections and labels, each with rater role
    (end_user, internal, labeler), surface (prod, staging, debug) and intent.

    Every row is checked before anything is stored (a bad one is named file:line and field);
    free text is redacted; traces that become failed get a draft case.
    """
    _record("feedback", file, db, window, as_json)


@traces_app.command("outcomes")
def outcomes_command(
    file: Annotated[Path, typer.Argument(help="Outcome events: JSONL, JSON or CSV.")],
    window: WindowOption = _DEFAULT_WINDOW,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record delayed outcomes (ticket_reopened, refund_issued, conversion …) of conversations.

    A bad outcome within the window after a trace of the same session makes that trace
    failed_delayed, and it gets a draft case.
    """
    _record("outcome", file, db, window, as_json)


@traces_app.command("feedback-export")
def feedback_export_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="The JSONL file to write.")],
    surface: Annotated[
        list[str] | None,
        typer.Option("--surface", help="Only this surface (repeatable) [default: prod]."),
    ] = None,
    rater_role: Annotated[
        list[str] | None,
        typer.Option(
            "--rater-role", help="Only this rater role (repeatable) [default: end_user, labeler]."
        ),
    ] = None,
    intent: Annotated[
        list[str] | None, typer.Option("--intent", help="Only this intent (repeatable).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")
    ] = None,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Every surface and rater role (not only the training signal)."),
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export feedback with each trace's input and output, for training (D6).

    By default only the training signal: surface prod, raters end_user and labeler (a team's
    clicks on staging or in a debug tool are left out). Counts by kind, surface and role are
    printed.
    """
    from assay.trace.feedback import FEEDBACK_KINDS, RATER_ROLES, SURFACES
    from assay.trace.feedback_export import (
        FeedbackView,
        check_view_values,
        export_feedback,
        feedback_counts,
    )

    check_view_values("surface", surface, SURFACES)
    check_view_values("rater_role", rater_role, RATER_ROLES)
    check_view_values("kind", kind, FEEDBACK_KINDS)
    base = FeedbackView.everything() if everything else FeedbackView()
    view = FeedbackView(
        surfaces=tuple(surface) if surface else base.surfaces,
        rater_roles=tuple(rater_role) if rater_role else base.rater_roles,
        intents=tuple(intent) if intent else None,
        kinds=tuple(kind) if kind else None,
    )
    store = _store(db)
    try:
        n = export_feedback(store, output, view)
        counts = feedback_counts(store, view)
    finally:
        store.close()
    if as_json:
        console.print_json(data={"path": str(output), "rows": n, **counts})
        return
    console.print(f"{n} feedback rows written to {output} ({counts['view']})", highlight=False)
    for key in ("kind", "surface", "rater_role"):
        items = ", ".join(f"{k} {v}" for k, v in sorted(counts[key].items())) or "none"
        console.print(f"  by {key}: {items}", highlight=False)


@traces_app.command("labels")
def labels_command(
    traces: Annotated[
        list[str] | None, typer.Argument(metavar="[TRACE...]", help="Trace ids [default: all].")
    ] = None,
    window: WindowOption = _DEFAULT_WINDOW,
    failed_only: Annotated[
        bool, typer.Option("--failed", help="Only traces labelled failed or failed_delayed.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each trace's label (failed, failed_delayed, ok, unlabelled) and why, from its feedback,
    scores and delayed outcomes. Without ids: every trace that has any of them."""
    from assay.trace.labels import trace_verdicts

    store = _store(db)
    try:
        ids = [t.strip().lower() for t in traces] if traces else None
        verdicts = trace_verdicts(store, ids, window=_window(window))
    finally:
        store.close()
    chosen = [v for v in verdicts.values() if v.failed or not failed_only]
    if as_json:
        console.print_json(
            data=[
                {"trace_id": v.trace_id, "label": v.label, "reasons": list(v.reasons)}
                for v in chosen
            ]
        )
        return
    table = _table(f"{len(chosen)} traces", "trace", "label", "why")
    for v in chosen:
        style = "red" if v.label == "failed" else "yellow" if v.label == "failed_delayed" else ""
        table.add_row(v.trace_id, Text(v.label, style=style), Text("; ".join(v.reasons)))
    console.print(table)


@traces_app.command("promote")
def promote_command(
    trace: Annotated[str, typer.Argument(metavar="TRACE", help="The trace id.")],
    to: Annotated[Path, typer.Option("--to", metavar="DATASET", help="The JSONL dataset file.")],
    sampled: Annotated[
        bool,
        typer.Option(
            "--sampled", help="Origin sampled-production (a sample of traffic), not incident."
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (default: why it failed).")
    ] = None,
    window: WindowOption = _DEFAULT_WINDOW,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an eval case of a trace and append it to DATASET (E1): its redacted input, the
    observed output as negative_example when it failed, origin incident, created_from the
    trace id. The trace's draft case, if any, becomes this case."""
    from assay.trace.promote import promote

    store = _store(db)
    try:
        done = promote(
            store,
            trace,
            to,
            origin="sampled-production" if sampled else "incident",
            reason=reason,
            window=_window(window),
        )
    finally:
        store.close()
    if as_json:
        console.print_json(
            data={**done.case.as_dict(), "created": done.created, "appended": done.appended}
        )
        return
    case = done.case
    if not done.created and not done.appended:
        console.print(
            f"trace {case.created_from} is already case {case.id} in {to}", highlight=False
        )
        return
    negative = "with" if case.negative_example is not None else "without"
    console.print(
        f"case {case.id} ({case.origin}) from trace {case.created_from} appended to {to}, "
        f"{negative} a negative example",
        highlight=False,
    )


drafts_app = typer.Typer(
    help="Draft cases from failed traces, waiting for triage (accept or reject).",
    invoke_without_command=True,
)
traces_app.add_typer(drafts_app, name="drafts")


@drafts_app.callback()
def drafts_command(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only drafts untriaged for longer than this (7d)."),
    ] = None,
    window: WindowOption = _DEFAULT_WINDOW,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List draft cases waiting for triage, oldest first, with their age (the triage backlog).

    The promotion policy runs first: every trace labelled failed (feedback, judge, delayed
    outcome) that has no case gets one draft. Drafts waiting more than 7 days are overdue.
    """
    if ctx.invoked_subcommand is not None:
        return
    from assay.trace.labels import parse_duration
    from assay.trace.promote import TRIAGE_DEADLINE, list_drafts, sync_drafts

    age = parse_duration(older_than, "--older-than") if older_than is not None else None
    store = _store(db)
    try:
        made = sync_drafts(store, window=_window(window))
        drafts = list_drafts(store, older_than=age)
    finally:
        store.close()
    now = datetime.now(UTC)
    overdue = [d for d in drafts if d.age(now) > TRIAGE_DEADLINE]
    if as_json:
        console.print_json(
            data={
                "new_drafts": made,
                "n": len(drafts),
                "overdue": len(overdue),
                "drafts": [{**d.as_dict(now), "overdue": d in overdue} for d in drafts],
            }
        )
        return
    if made:
        err_console.print(f"{len(made)} new draft cases from failed traces", highlight=False)
    table = _table(f"{len(drafts)} drafts", "case", "trace", "age", "why", "input")
    for d in drafts:
        late = d in overdue
        table.add_row(
            d.id,
            (d.created_from or "")[:12],  # a unique prefix works with `assay traces show`
            Text(_age(d.age(now)), style="red" if late else ""),
            Text(_short(d.reason, 50)),
            Text(_short(d.input)),
        )
    console.print(table)
    oldest = f", oldest {_age(drafts[0].age(now))}" if drafts else ""
    console.print(
        f"triage backlog: {len(overdue)} of {len(drafts)} drafts untriaged for more than "
        f"{TRIAGE_DEADLINE.days} days{oldest}",
        highlight=False,
    )


@drafts_app.command("accept")
def accept_command(
    case: Annotated[str, typer.Argument(metavar="CASE", help="The draft's case id.")],
    to: Annotated[
        Path | None, typer.Option("--to", metavar="DATASET", help="Append it to this JSONL file.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accept a draft as a case (into DATASET when given)."""
    from assay.trace.promote import accept_draft

    store = _store(db)
    try:
        done = accept_draft(store, case, to)
    finally:
        store.close()
    if as_json:
        console.print_json(data=done.as_dict())
        return
    where = f" and appended to {to}" if to is not None else ""
    console.print(f"case {done.id} accepted{where}", highlight=False)


@drafts_app.command("reject")
def reject_command(
    case: Annotated[str, typer.Argument(metavar="CASE", help="The draft's case id.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why it is not worth a case.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a draft: it stays in the store as rejected, so the policy never remakes it."""
    from assay.trace.promote import reject_draft

    store = _store(db)
    try:
        done = reject_draft(store, case, reason)
    finally:
        store.close()
    if as_json:
        console.print_json(data=done.as_dict())
        return
    console.print(f"draft {done.id} rejected", highlight=False)


cases_app = typer.Typer(help="Cases made from traces: list them, delete one.", no_args_is_help=True)
traces_app.add_typer(cases_app, name="cases")


@cases_app.command("list")
def cases_list_command(
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="Only cases of this dataset file.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="draft, accepted, rejected or deleted [default: not deleted]."
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cases made from traces, with counts per origin (A3)."""
    from assay.trace.promote import list_cases, origin_counts

    store = _store(db)
    try:
        found = list_cases(store, dataset=dataset, status=status)
    finally:
        store.close()
    counts = origin_counts(found)
    if as_json:
        console.print_json(
            data={"n": len(found), "origins": counts, "cases": [c.as_dict() for c in found]}
        )
        return
    table = _table(f"{len(found)} cases", "case", "status", "origin", "trace", "dataset", "input")
    for c in found:
        table.add_row(
            c.id,
            c.status,
            c.origin,
            c.created_from or "",
            Text(Path(c.dataset).name if c.dataset else ""),
            Text(_short(c.input, 40)),
        )
    console.print(table)
    console.print("by origin: " + ", ".join(f"{k} {v}" for k, v in counts.items()), highlight=False)


@cases_app.command("delete")
def cases_delete_command(
    case: Annotated[str, typer.Argument(metavar="CASE", help="The case id.")],
    force: Annotated[
        bool, typer.Option("--force", help="Needed to delete an incident-born case.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (needed for an incident-born case).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a case: its row leaves its dataset file; the store keeps it, marked deleted with
    the reason. An incident-born case needs --force and --reason (A3)."""
    from assay.trace.promote import delete_case

    store = _store(db)
    try:
        done, removed = delete_case(store, case, force=force, reason=reason)
    finally:
        store.close()
    if as_json:
        console.print_json(data={**done.as_dict(), "removed_from_file": removed})
        return
    where = f" and removed from {done.dataset}" if removed else ""
    console.print(f"case {done.id} deleted{where}", highlight=False)


@traces_app.command("replay")
def replay_command(
    spec: Annotated[Path, typer.Option("--spec", help="The eval spec whose subjects to run.")],
    traces: Annotated[
        str,
        typer.Option(
            "--traces",
            metavar="QUERY",
            help="Trace ids separated by commas, `failed`, or a file of ids (one per line).",
        ),
    ],
    window: WindowOption = _DEFAULT_WINDOW,
    pass_threshold: Annotated[
        float, typer.Option("--pass-threshold", help="A score at least this passes.")
    ] = 0.5,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the model even when a response is cached.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run the inputs of chosen traces through the spec's subjects (G3) and report the
    fraction of failed traces fixed, with a 95% Wilson interval. The run is stored like any
    run (`assay show RUN`)."""
    from assay.cli.progress import LazyProgress
    from assay.run import RunOptions
    from assay.trace.replay import replay, select_traces

    if not math.isfinite(pass_threshold):
        from assay.core import AssayError

        raise AssayError("--pass-threshold must be a number", where="--pass-threshold")
    span = _window(window)
    store = _store(db)
    progress = LazyProgress(err_console, "replay")
    try:
        ids = select_traces(store, traces, window=span)
        report = replay(
            store,
            spec,
            ids,
            window=span,
            pass_threshold=pass_threshold,
            options=RunOptions(cache=not no_cache),
            on_progress=None if as_json else progress,
        )
    finally:
        progress.close()
        store.close()
    if as_json:
        console.print_json(data=report.as_dict())
        return
    table = _table(f"replay run {report.run_id}", "trace", "subject", "label", "fixed", "why")
    for row in report.rows:
        mark = Text("yes", style="green") if row.fixed else Text("no", style="red")
        table.add_row(row.trace_id, row.subject, row.label, mark, Text(row.why))
    console.print(table)
    for s in report.subjects:
        if s.n == 0:
            console.print(f"{s.subject}: no chosen trace is labelled failed", highlight=False)
            continue
        i = s.interval
        console.print(
            f"{s.subject}: fixed {s.fixed} of {s.n} failed traces = {i.estimate:.1%} "
            f"({i.confidence:.0%} Wilson interval {i.low:.1%}–{i.high:.1%})",
            highlight=False,
        )
    console.print(f"rule: {report.rule}", highlight=False)
    if report.skipped:
        console.print(f"skipped (no input): {', '.join(report.skipped)}", highlight=False)
    console.print(f"stored as run {report.run_id} (assay show {report.run_id})", highlight=False)
