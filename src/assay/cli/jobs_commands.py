"""``assay jobs …``: saga completeness, semantic validators, the dead-letter queue and replay.

``audit`` (J3) and ``validate`` (J4) read jobs from the trace store by the declaration's
``jobs:``; ``validate`` queues failures in the DLQ, ``dlq`` lists it, and ``replay ID`` re-runs
a dead letter's model step through the runner with a fix and checks it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console
from assay.cli.assurance_render import (
    RouteOption,
    SinceOption,
    UntilOption,
    finish,
    rate_text,
    window,
)

jobs_app = typer.Typer(
    name="jobs",
    help="Async jobs from traces: saga completeness, semantic validators, the dead-letter "
    "queue and replay.",
    no_args_is_help=True,
)
app.add_typer(jobs_app, name="jobs")

SpecRequired = Annotated[
    str, typer.Option("--spec", help="The agents declaration (jobs, steps, validators).")
]


@jobs_app.command("audit")
def audit(
    spec: SpecRequired,
    since: SinceOption = None,
    until: UntilOption = None,
    route: RouteOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Saga completeness (J3): a job whose completion fired without every step's
    acknowledgement is partial_completion, never succeeded."""
    from assay.agents import load_agents_spec, saga_audit

    declarations = load_agents_spec(spec)
    with _store(db) as store:
        report = saga_audit(store, declarations, window(since, until, route))

    def render(d: dict[str, Any]) -> None:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in ("job", "jobs", "statuses", "partial among completed (95% CI)"):
            table.add_column(name)
        for k in d["kinds"]:
            table.add_row(
                Text(k["job"]),
                str(k["jobs"]),
                Text(", ".join(f"{s} {n}" for s, n in k["statuses"].items())),
                rate_text(k["partial_among_completed"]),
            )
        console.print(table)

    finish(report.as_dict(), as_json, render)


@jobs_app.command("validate")
def validate(
    spec: SpecRequired,
    since: SinceOption = None,
    until: UntilOption = None,
    route: RouteOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report failures without queueing them.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the declared semantic validators over job outputs (J4); failures land in the
    dead-letter queue with their reason (semantic:<validator>)."""
    from assay.agents import load_agents_spec, validate_jobs

    declarations = load_agents_spec(spec)
    with _store(db) as store:
        report = validate_jobs(store, declarations, window(since, until, route), write=not dry_run)

    def render(d: dict[str, Any]) -> None:
        checked = ", ".join(f"{k} {n}" for k, n in d["jobs_checked"].items()) or "none"
        console.print(
            Text(f"jobs checked: {checked}; newly queued dead letters: {d['newly_queued']}")
        )
        for v in d["validators"]:
            console.print(
                Text(f"  {v['job']} / {v['validator']}: fails {rate_text(v['failure_rate'])}")
            )

    finish(report.as_dict(), as_json, render)


@jobs_app.command("dlq")
def dlq(
    status: Annotated[
        str | None, typer.Option("--status", help="open, resolved or replay_failed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The dead-letter queue, newest first, with each letter's replays."""
    from assay.agents import list_dead_letters

    with _store(db) as store:
        letters = list_dead_letters(store, status=status, limit=limit)
    if as_json:
        console.print_json(json.dumps(letters, default=str))
        return
    if not letters:
        console.print(Text("the dead-letter queue is empty"))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("id", "job", "job id", "reason", "status", "replays", "detail"):
        table.add_column(name, overflow="fold")
    for d in letters:
        table.add_row(
            d["id"][:12],
            Text(d["job"]),
            Text(d["job_id"]),
            Text(d["reason"]),
            d["status"],
            str(len(d["replays"])),
            Text(d["detail"] or ""),
        )
    console.print(table)


@jobs_app.command("replay")
def replay(
    dead_letter: Annotated[str, typer.Argument(metavar="ID", help="A dead letter (or a prefix).")],
    spec: SpecRequired,
    model: Annotated[
        str | None, typer.Option("--model", help="The fix: another <provider>/<model>.")
    ] = None,
    system: Annotated[
        str | None,
        typer.Option("--system", help="The fix: a new system prompt (text or a file)."),
    ] = None,
    eval_spec: Annotated[
        Path | None,
        typer.Option(
            "--eval-spec", help="The fix as an eval spec: its subjects answer the job's input."
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run a dead letter's model step through the runner with a fix (a new model or system
    prompt, or an eval spec's subjects), with the job's idempotency key, and validate it again.
    Exit 1 when the replayed output still fails."""
    from assay.agents import load_agents_spec, replay_dead_letter

    declarations = load_agents_spec(spec)
    with _store(db) as store:
        outcome = replay_dead_letter(
            store, dead_letter, declarations, spec=eval_spec, model=model, system=system
        )
    data = outcome.as_dict()
    if as_json:
        console.print_json(json.dumps(data, default=str))
    else:
        verdict = "passes every validator" if data["passed"] else "still fails"
        console.print(
            Text(
                f"replayed {data['dead_letter'][:12]} ({data['job']} {data['job_id']}, was "
                f"{data['original_reason']}) in run {data['run_id']} with idempotency key "
                f"{data['idempotency_key']}: {verdict}",
                style="green" if data["passed"] else "bold red",
            )
        )
        for f in data["failures"]:
            console.print(Text(f"  {f['reason']}: {f['detail']}"))
    if not data["passed"]:
        raise typer.Exit(1)
