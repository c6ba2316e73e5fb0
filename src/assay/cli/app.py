"""The ``assay`` command line."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

# Shared with every command module (kept in assay.cli.common so that they need not import
# this module); re-exported here for the modules that still import them from app.
from assay.cli.common import (
    DbOption,
    JsonOption,
    _choose_run,
    _store,
    app,
    console,
    err_console,
)
from assay.core import AssayError

__all__ = ["DbOption", "JsonOption", "_choose_run", "_store", "app", "console", "err_console"]


def _parse_max_errors(value: str | None) -> int | float | None:
    if value is None:
        return None
    text = value.strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
            if not 0 < share < 1:
                raise ValueError
            return share
        count = int(text)
        if count < 0:
            raise ValueError
        return count
    except ValueError:
        raise AssayError(
            f"--max-errors {value!r} is neither a count nor a percentage",
            where="--max-errors",
            fix="write e.g. --max-errors 50 or --max-errors 10%",
        ) from None


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="The eval spec (YAML).")],
    db: DbOption = None,
    json_out: JsonOption = False,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="RUN", help="Resume this stored run.")
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new run even if this spec already has one.")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the model even when a response is cached.")
    ] = False,
    max_errors: Annotated[
        str | None,
        typer.Option("--max-errors", help="Abort after this many failed results (N or P%)."),
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", metavar="CASSETTE", help="Record responses.")
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", metavar="CASSETTE", help="Answer from a cassette, offline."),
    ] = None,
    pinned_snapshot: Annotated[
        str | None,
        typer.Option(help="With --replay: the model snapshot the cassette must be recorded on."),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Calls in flight at most.")] = None,
    rpm: Annotated[float | None, typer.Option(help="Requests per minute per provider.")] = None,
    tpm: Annotated[float | None, typer.Option(help="Tokens per minute per provider.")] = None,
    max_retries: Annotated[int | None, typer.Option(min=0, help="Retries per call.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per attempt.")] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse to run a judge of the same lineage as a subject."),
    ] = False,
    redact_pii: Annotated[
        bool,
        typer.Option("--redact-pii", help="Redact PII from everything the run stores."),
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="A tag naming the run on pages (repeatable), e.g. v2."),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A description of the run, shown with it.")
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            help="Where CPU-bound scorers (python, embedding) run: 'local' or 'ray' (a pool "
            "of Ray actors; needs the `ray` extra). Model calls always stay here."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="With --executor ray: the cluster's head (else a local runtime)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="With --executor ray: scorer actors (default: the cluster's CPUs)."),
    ] = None,
) -> None:
    """Run an eval spec and store every result as it finishes.

    Running a spec that already has an unfinished run resumes it: results already stored are
    kept and not requested again, failed ones are retried. A spec whose run is complete is not
    run again (pass --new for a separate run; --no-cache to resample the model).
    """
    import dataclasses

    from assay.analyse.summary_cache import show_summary
    from assay.cli.progress import LazyProgress
    from assay.cli.render import summary_tables
    from assay.run import CallPolicy, RunOptions, load_eval, record_to, replay_from
    from assay.run import run as run_eval

    if record is not None and replay is not None:
        raise AssayError("--record and --replay exclude each other", where="--record")
    if tag:  # a bad tag is refused before anything runs
        from assay.analyse.run_labels import clean_tags

        tag = clean_tags(tag)
    from assay.scale import check_executor_options

    check_executor_options(executor, ray_address, workers)
    if workers is not None and executor != "ray":
        raise AssayError("--workers only applies with --executor ray", where="--workers")
    if db:  # `registry:` prompt and dataset references in the spec resolve in this store
        os.environ["ASSAY_DB"] = db
    ev = load_eval(spec)
    from assay.cli.judge_commands import check_lineage

    check_lineage(ev, strict)
    if concurrency is not None:
        ev.concurrency = concurrency
    ev.redact_pii = ev.redact_pii or redact_pii
    overrides: dict[str, Any] = {
        k: v
        for k, v in {"rpm": rpm, "tpm": tpm, "max_retries": max_retries, "timeout": timeout}.items()
        if v is not None
    }
    policy = dataclasses.replace(ev.policy or CallPolicy(), **overrides)
    if record is not None:
        paths = record_to(ev, record)
        err_console.print(f"recording responses to {', '.join(map(str, paths))}")
    if replay is not None:
        replay_from(ev, replay, expected_snapshot=pinned_snapshot)
    options = RunOptions(
        cache=not (no_cache or record is not None),
        max_errors=_parse_max_errors(max_errors),
        policy=policy,
        redact_pii=ev.redact_pii,
        executor=executor,
        ray_address=ray_address,
        workers=workers,
    )
    store = _store(db)
    run_id, reason = _choose_run(store, ev, resume, new or record is not None or replay is not None)
    if reason == "complete":
        err_console.print(
            f"run {run_id} of this spec is already complete; nothing to do "
            "(pass --new to run it again)."
        )
        if tag or note:
            from assay.analyse.run_labels import set_run_tags

            set_run_tags(store, run_id, tag or [], note)
        summary = show_summary(store, run_id)
        console.print_json(data=_summary_json(summary)) if json_out else console.print(
            summary_tables(summary)
        )
        store.close()
        return
    if run_id is not None:
        err_console.print(f"{reason} {run_id}")
    progress = LazyProgress(err_console, ev.name)
    try:
        outcome = run_eval(
            ev,
            db=store,
            run_id=run_id,
            resume=run_id is not None,
            options=options,
            on_progress=progress,
        )
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (RunTerminated)
        progress.close()
        err_console.print(
            "[red]interrupted[/red]: results finished so far are saved; "
            "run the same command again to resume."
        )
        raise typer.Exit(128 + getattr(stop, "signum", 2)) from None
    finally:
        progress.close()
    if tag or note:
        from assay.analyse.run_labels import set_run_tags

        set_run_tags(store, outcome.run_id, tag or [], note)
    # The runner stored the finished run's summary: read it rather than compute it twice.
    summary = show_summary(store, outcome.run_id)
    data = _summary_json(summary) if json_out else None
    if data is None:
        console.print(summary_tables(summary))
    if ev.pairwise is not None and outcome.status == "completed" and not outcome.n_errors:
        from assay.cli.judge_commands import pairwise_view, run_pairwise

        pair_options = dict(ev.pairwise)
        side_a, side_b = pair_options.pop("a"), pair_options.pop("b")
        _judge_run, report = run_pairwise(
            store,
            f"{outcome.run_id}:{side_a}",
            f"{outcome.run_id}:{side_b}",
            context=ev.scorer_context,
            lineage=ev.lineage,
            cache=options.cache,
            **pair_options,
        )
        if data is not None:
            data["pairwise"] = report.as_dict()
        else:
            console.print(pairwise_view(report))
    if data is not None:
        console.print_json(data=data)
    if outcome.accounting is not None:
        line = _aborted_summary(outcome) if outcome.abort_reason else outcome.accounting.summary()
        err_console.print(f"run {outcome.run_id}: {line}", highlight=False)
    if outcome.abort_reason:
        err_console.print(
            f"[red]aborted[/red]: {outcome.abort_reason}; "
            "fix the cause and run the same command again to resume."
        )
    elif outcome.n_errors:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(outcome.error_classes.items()))
        err_console.print(
            f"[red]{outcome.n_errors} of {outcome.n_results} results failed ({classes})[/red]; "
            "they are stored with their error class; run the same command again to retry them."
        )
    store.close()
    if outcome.status != "completed" or outcome.n_errors:
        raise typer.Exit(1)


def _aborted_summary(outcome: Any) -> str:
    """The counts of a run ``--max-errors`` stopped, agreeing with its abort message: results
    that failed (stored with their error) or were abandoned failing behind an open circuit
    breaker (not stored), and how many results a resume asks for again."""
    acc = outcome.accounting
    abandoned = outcome.n_abandoned_failing
    failed = [f"{outcome.n_errors} stored with their error"]
    if abandoned:
        failed.append(f"{abandoned} failing behind an open circuit breaker, not stored")
    not_stored = outcome.n_planned - outcome.n_results
    parts = [
        f"aborted at {outcome.n_results}/{outcome.n_planned} results after {acc.elapsed:.1f} s",
        f"{outcome.n_errors + abandoned} failed or abandoned ({', '.join(failed)})",
        f"{not_stored} not stored: a resume asks for them again"
        if not outcome.n_errors
        else f"{not_stored} not stored and {outcome.n_errors} stored failures: a resume asks "
        f"for all {not_stored + outcome.n_errors} again",
        f"{acc.retries} retries, {acc.cache_hits} cache hits",
    ]
    if acc.skipped:
        parts.insert(1, f"{acc.skipped} already stored")
    return "; ".join(parts)


@app.command("replay")
def replay_cmd(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="The run to reproduce.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Re-run a stored run offline from the response cache and check every score matches."""
    from assay.analyse import compare_replay
    from assay.run import replay_eval
    from assay.run import run as run_eval

    store = _store(db)
    original = store.resolve_run_id(run_ref)
    ev = replay_eval(store, original)
    outcome = run_eval(ev, db=store)
    report = compare_replay(store, original, outcome.run_id)
    if json_out:
        console.print_json(
            data={
                "original": report.original,
                "replay": report.replay,
                "compared": report.compared,
                "identical": report.identical,
                "reproduced": report.reproduced,
                "differences": report.differences,
                "missing": report.missing,
                "errors": report.errors,
            }
        )
    elif report.reproduced:
        console.print(
            f"[green]reproduced[/green]: replay {report.replay} of {report.original} matches "
            f"{report.identical}/{report.compared} scores exactly, with no network access."
        )
    else:
        console.print(
            f"[red]not reproduced[/red]: {report.identical}/{report.compared} scores match; "
            f"{len(report.differences)} differ, {len(report.missing)} missing "
            f"(errors: {report.errors or 'none'})."
        )
        for subject, sample_id, epoch, scorer, a, b in report.differences[:20]:
            console.print(f"  {subject} {sample_id} epoch {epoch} {scorer}: {a} -> {b}")
    store.close()
    if not report.reproduced:
        raise typer.Exit(1)


@app.command("runs")
def runs_cmd(
    db: DbOption = None,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option(help="Show at most this many runs.")] = 50,
) -> None:
    """List stored runs, newest first."""
    from assay.cli.render import runs_table

    store = _store(db, create=False)
    runs = store.list_runs(limit=limit)
    if json_out:
        console.print_json(data=[r.model_dump(mode="json") for r in runs])
    elif not runs:
        err_console.print(
            f"no runs in {store.url}; start one with `assay run SPEC` or `assay demo`"
        )
    else:
        from sqlalchemy.exc import DBAPIError

        from assay.analyse.run_tags import run_tags

        try:
            found = run_tags(store, [r.id for r in runs])
        except DBAPIError:  # a read-only store from before tags (migration 0009)
            found = {}
        console.print(runs_table(runs, {run_id: t for run_id, (t, _) in found.items()}))
    store.close()


def _summary_json(summary) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return summary.as_dict()  # type: ignore[no-any-return]


@app.command()
def show(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, unique prefix, or 'latest'.")
    ] = "latest",
    db: DbOption = None,
    slice_key: Annotated[
        list[str] | None, typer.Option("--slice", help="Break down by this metadata key.")
    ] = None,
    json_out: JsonOption = False,
    intervals: Annotated[
        bool,
        typer.Option(
            "--intervals",
            help="Also show clustered and bootstrap intervals, epoch variance and flaky samples.",
        ),
    ] = False,
    cost: Annotated[
        bool,
        typer.Option("--cost", help="Also show cost and latency percentiles of the run's calls."),
    ] = False,
    human: Annotated[
        list[str] | None,
        typer.Option(
            "--human",
            metavar="LABELS",
            help="Human labels (sample, label) for some samples: adds judge-only, human-only "
            "and prediction-powered (PPI) intervals side by side.",
        ),
    ] = None,
    human_queue: Annotated[
        list[str] | None,
        typer.Option("--human-queue", metavar="QUEUE", help="Human labels from a review queue."),
    ] = None,
    manifest: Annotated[
        bool,
        typer.Option(
            "--manifest", help="Print the run's manifest (everything its numbers depend on), JSON."
        ),
    ] = False,
) -> None:
    """Per-metric means with 95% intervals (Wilson for pass/fail, t otherwise), per slice."""
    from assay.analyse.summary_cache import show_summary
    from assay.cli.import_commands import runs_or_files
    from assay.cli.render import summary_tables

    run_ref = runs_or_files(db, run_ref)[0] or run_ref  # a result file is imported on the fly
    store = _store(db, create=False)
    run_id = store.resolve_run_id(run_ref)
    if manifest:
        console.print_json(store.get_manifest(run_id).model_dump_json())
        store.close()
        return
    summary = show_summary(store, run_id, slices=slice_key or None)
    precision = None
    if intervals:
        from assay.analyse import run_precision

        precision = run_precision(store, run_id, slices=slice_key or None)
    from assay.analyse import is_pairwise_run, pairwise_report

    pairwise = pairwise_report(store, run_id) if is_pairwise_run(summary.manifest) else None
    costs = None
    if cost:
        from assay.analyse.run_costs import run_cost_report

        costs = run_cost_report(store, run_id)
    corrected = None
    if human or human_queue:
        from assay.analyse import load_scores
        from assay.analyse.human_corrected import human_corrected_run
        from assay.cli.human_labels import labels_for_run, require_labels

        labels = require_labels(labels_for_run(store, run_id, human, human_queue, None), "--human")
        corrected = human_corrected_run(load_scores(store, run_id), labels)
    if json_out:
        data = _summary_json(summary)
        if corrected is not None:
            data["human_corrected"] = [h.as_dict() for h in corrected]
        if precision is not None:
            from assay.cli.render_stats import precision_json

            data["intervals"] = precision_json(precision)
        if pairwise is not None:
            data["pairwise"] = pairwise.as_dict()
        if costs is not None:
            data["costs"] = costs
        console.print_json(data=data)
    else:
        console.print(summary_tables(summary))
        if corrected is not None:
            from assay.cli.human_labels import human_note, human_view

            console.print(human_view(corrected, "human-corrected (95% CI)"))
            console.print(human_note(corrected), style="dim", highlight=False)
        if pairwise is not None:
            from assay.cli.judge_commands import pairwise_view

            console.print(pairwise_view(pairwise))
        if precision is not None:
            from assay.cli.render_stats import precision_tables

            console.print(precision_tables(precision))
        if costs is not None:
            from assay.cli.cost_commands import run_cost_view

            console.print(run_cost_view(costs))
    store.close()


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """What changed between two runs' manifests, most explanatory change first."""
    from assay.analyse import diff_manifests
    from assay.cli.render import diff_view

    store = _store(db, create=False)
    a = store.get_manifest(store.resolve_run_id(run_a))
    b = store.get_manifest(store.resolve_run_id(run_b))
    changes = diff_manifests(a, b)
    from assay.analyse import judge_flags

    # Judges that changed between the runs, or within either of them (C5).
    flags = [f for f in judge_flags(a) if f.flag == "judge_changed"] + [
        f for f in judge_flags(b, a) if f.flag == "judge_changed"
    ]
    if json_out:
        console.print_json(
            data={
                "run_a": a.run_id,
                "run_b": b.run_id,
                "flags": [f.as_dict() for f in flags],
                "changes": [c.model_dump(mode="json") for c in changes],
            }
        )
    else:
        console.print(diff_view(a, b, changes, flags))
    store.close()


@app.command()
def export(
    run_ref: Annotated[str, typer.Argument(metavar="RUN")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl, csv or parquet.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [default: RUN.FORMAT].")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a run's results (one row per subject, sample and epoch)."""
    from assay.analyse import FORMATS, export_run

    if fmt not in FORMATS:
        raise AssayError(
            f"unknown format '{fmt}'", where="--format", fix="use jsonl, csv or parquet"
        )
    store = _store(db, create=False)
    run_id = store.resolve_run_id(run_ref)
    path = output or Path(f"{run_id}.{fmt}")
    n = export_run(store, run_id, path, fmt)
    err_console.print(f"wrote {n} rows to {path}")
    store.close()


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write the example project into.")
    ] = Path("assay-demo"),
    samples: Annotated[int, typer.Option(help="Number of samples in the example dataset.")] = 400,
    db: DbOption = None,
    production: Annotated[
        bool,
        typer.Option(
            "--production/--no-production",
            help="Start with production: a simulated week of traces through the OTLP receiver "
            "and the monitors that catch its planted incidents (about 4 s of CPU more).",
        ),
    ] = False,
) -> None:
    """Write a small example project and run it on the simulated world, end to end."""
    from assay.cli.demo import write_demo_project
    from assay.cli.demo_offline import AuditHelper, run_offline_demo

    specs = write_demo_project(directory, n_samples=samples)
    url = db or str(directory / ".assay" / "assay.db")
    # The judge audit may run in a helper process beside the rest (assay.cli.demo_offline),
    # forked before the store is opened: no database connection is carried across a fork.
    helper = AuditHelper.start(url, directory, console, err_console)
    try:
        store = _store(url)
    except BaseException:
        if helper is not None:
            helper.abandon()
        raise
    err_console.print(
        f"[bold]assay demo[/bold]: example project written to {directory}/ "
        "(dataset, two prompt versions, two specs). "
        "[yellow]Models are SIMULATED[/yellow] (the `sim` provider); "
        "point a spec at a real endpoint to evaluate a real model.\n"
    )
    # Production (with --production) first: what users hit becomes what the eval tests. Its
    # online-judge run is stored before the offline runs, so `latest~N` names the same runs
    # with or without it, and the demo still ends on the offline verdict. It is opt-in: the
    # offline story alone fits issue 20's 5 s (benchmarks/demo_time.py); production adds ~4 s.
    traces_hint = (
        " For production (traces through the OTLP receiver, drafts, monitoring): "
        "`assay demo --production`."
    )
    try:
        if production:
            from assay.cli.demo_production import run_production_demo

            shown = run_production_demo(store, console, err_console, project_dir=directory)
            traces_hint = ""
            if shown.example_trace:
                traces_hint = (
                    f" Production: `assay traces list --label failed`, "
                    f"`assay traces show {shown.example_trace[:12]}`, `assay traces drafts`, "
                    "`assay monitor status`, and `assay serve` for /traces, /drafts and /monitor."
                )
            err_console.print("\n[bold]Offline[/bold]: did prompt v2 beat prompt v1?\n")
        offline = run_offline_demo(store, directory, specs, console, err_console, helper)
    finally:
        if helper is not None:
            helper.abandon()  # after an error the helper must not wait for ever
    b = offline.run_b
    err_console.print(
        f"\nNext: `cd {directory}` and try `assay runs`, `assay show {b}`, "
        f"`assay show {offline.judge_run}`, `assay audit show {offline.certificate}`, "
        f"`assay export {b} --format csv`.{traces_hint} The store is {store.url}."
    )
    store.close()


def _version(value: bool) -> None:
    if value:
        from assay import __version__

        console.print(f"assay {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print assay's version and exit."
        ),
    ] = False,
) -> None:
    """assay: run LLM evals whose numbers you can trust."""


def _app_for(argv: list[str]) -> typer.Typer:
    """The app to run for ``argv``: when it names a top-level command or group, an app with
    only that one, else the whole app (``--help``, a typo that needs suggestions).

    Typer turns every registered command's signature into Click parameters on each
    invocation; with some eighty commands that was a sixth of a second of every start-up,
    spent on commands the invocation never reaches.
    """
    name = next((a for a in argv if not a.startswith("-")), None)
    if name is None:
        return _listing()
    commands = [
        c
        for c in app.registered_commands
        if (c.name or (c.callback.__name__ if c.callback else "").replace("_", "-")) == name
    ]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    trimmed = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain Click help: wraps at any width, prints [..] verbatim
    )
    trimmed.registered_callback = app.registered_callback
    trimmed.registered_commands = commands
    trimmed.registered_groups = groups
    return trimmed


def _listing() -> typer.Typer:
    """The app as ``assay --help`` shows it: every command and group with its help text, none
    of their parameters (which only their own ``--help`` shows, and which cost Typer a
    signature analysis each)."""
    import inspect

    from typer.main import get_command_name, solve_typer_info_help
    from typer.models import CommandInfo

    def stub() -> None:  # never called: listing only
        """"""

    listing = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain Click help: wraps at any width, prints [..] verbatim
    )
    listing.registered_callback = app.registered_callback
    for command in app.registered_commands:
        callback = command.callback
        listing.registered_commands.append(
            CommandInfo(
                name=command.name or get_command_name(callback.__name__ if callback else ""),
                callback=stub,
                help=command.help or (inspect.getdoc(callback) if callback else None) or "",
                short_help=command.short_help,
                hidden=command.hidden,
                deprecated=command.deprecated,
                rich_help_panel=command.rich_help_panel,
            )
        )
    for group in app.registered_groups:
        listing.add_typer(
            typer.Typer(),
            name=group.name,
            help=solve_typer_info_help(group),
            hidden=group.hidden,
        )
    return listing


_CLICK_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "Path": "PATH"}
# Requirement ids ("(C7)", "(K1, K2)", "(C1: 0.10)") belong to the code and the issues; the
# help a user reads is the same without them.
_REQUIREMENT_IDS = re.compile(r"\s*\((?:[A-K]\d{1,2}(?:,\s*)?)+\)")
_REQUIREMENT_PREFIX = re.compile(r"\((?:[A-K]\d{1,2}):\s*")


def _public_help(text: str | None) -> str | None:
    if not text:
        return text
    return _REQUIREMENT_PREFIX.sub("(", _REQUIREMENT_IDS.sub("", text))


def _plain_metavars(command: Any) -> None:
    """Tidy ``--help`` for people. Typer prints a Python type after every option
    (``--json <bool>``, ``--db <str>``): a flag takes no value, so it gets none, a value option
    gets Click's conventional name for its type (``TEXT``, ``INTEGER``, ``PATH``) unless it
    declared a metavar of its own (``RUN``), and an argument, already named, gets none.
    Requirement ids are dropped from help texts."""
    command.help = _public_help(command.help)
    command.short_help = _public_help(command.short_help)
    for param in getattr(command, "params", []):
        if hasattr(param, "help"):
            param.help = _public_help(param.help)
        if getattr(param, "param_type_name", None) == "argument":
            # The argument's name is shown already (RUN_A); "<str>" after it says nothing.
            param.display_type_rich = lambda ctx: None
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
            continue
        if getattr(param, "param_type_name", None) != "option" or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            try:
                bare = param.bare_type()
            except Exception:  # an annotation Typer cannot name: keep its display
                continue
            element = bare[5:-1] if bare.startswith("list[") else bare
            param.metavar = _CLICK_TYPE_NAMES.get(element, element.upper())
    for child in getattr(command, "commands", {}).values():
        _plain_metavars(child)


def main() -> None:
    """Entry point: user mistakes print one clear line and exit 2, never a traceback."""
    from typer.main import get_command

    try:
        command = get_command(_app_for(sys.argv[1:]))
        _plain_metavars(command)
        rc = command.main(args=sys.argv[1:], prog_name="assay", standalone_mode=False)
    except AssayError as exc:
        err_console.print(
            f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        # Usage errors from Typer's (possibly vendored) Click: they know how to show themselves.
        exit_code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)
