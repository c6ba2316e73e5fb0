"""``assay audit``: audit a judge as a measuring instrument and read its certificates.

``assay audit judge`` runs the battery of :mod:`assay.audit.battery` and stores a
:class:`~assay.core.JudgeCertificate`; ``assay audit show`` and ``assay audit list`` read them.
``assay gate`` consults the newest certificate of every judge of the runs it gates.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from assay.cli.common import DbOption, JsonOption, app, console, err_console
from assay.core import AssayError

audit_app = typer.Typer(
    help="Audit LLM judges (canaries, position and length bias, self-preference, drift) and "
    "read their calibration certificates.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

_VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}


def _num(x: float | None, percent: bool) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.1f}%" if percent else f"{x:+.3g}" if x < 0 else f"{x:.3g}"


#: Checks whose figure is a difference in the judge's own score units (a 1-5 rubric, say), not
#: a rate: +0.835 on a 1-5 scale is not "83.5%".
_SCORE_DIFFERENCES = frozenset({"self_preference"})


def _is_rate(check: Any) -> bool:
    if check.check in _SCORE_DIFFERENCES or str(check.details.get("method", "")).startswith(
        "difference"
    ):
        return False
    return all(v is None or 0.0 <= v <= 1.0 for v in (check.figure, check.low, check.high))


def _signed(x: float | None, percent: bool) -> str:
    if x is None or percent or (isinstance(x, float) and math.isnan(x)):
        return _num(x, percent)
    return f"{x:+.3g}"


def certificate_view(certificate: Any) -> Group:
    """The terminal rendering of a :class:`~assay.core.JudgeCertificate`."""
    status = certificate.status
    head = Text.assemble(
        (f"judge certificate {certificate.id}\n", "bold"),
        f"  judge {certificate.judge} ({certificate.model}"
        + (f" → {', '.join(certificate.resolved_models)}" if certificate.resolved_models else "")
        + ")\n",
        f"  audited {certificate.created_at:%Y-%m-%d %H:%M} UTC with assay "
        f"{certificate.assay_version}; "
        f"{certificate.source.get('n_samples', '?')} samples from "
        f"{', '.join(certificate.source.get('runs', []))}\n",
        ("  status: ", "bold"),
        (status, "bold green" if status == "clean" else "bold red"),
    )
    table = Table(show_edge=False, header_style="bold")
    for column in ("check", "figure", "interval", "n", "verdict"):
        table.add_column(column, justify="right" if column in ("figure", "n") else "left")
    findings: list[Text] = []
    for check in certificate.checks:
        rate = _is_rate(check)
        interval = (
            f"[{_num(check.low, rate)}, {_num(check.high, rate)}]"
            if check.low is not None and check.high is not None
            else ""
        )
        verdict = check.verdict + (f" ({check.flag})" if check.verdict == "fail" else "")
        difference = check.check in _SCORE_DIFFERENCES
        table.add_row(
            check.check,
            _signed(check.figure, rate) if difference else _num(check.figure, rate),
            interval,
            str(check.n) if check.n else "",
            Text(verdict, style=_VERDICT_STYLE.get(check.verdict, "")),
        )
        if check.verdict in ("fail", "warn", "skipped"):
            findings.append(
                Text(
                    f"  {check.check}: {check.message}",
                    style=_VERDICT_STYLE.get(check.verdict, ""),
                )
            )
    parts: list[Any] = [head, table, *findings]
    if certificate.fingerprint:
        parts.append(
            Text(
                f"  fingerprint {certificate.fingerprint[:16]} over "
                f"{len(certificate.anchor_scores)} anchors",
                style="dim",
            )
        )
    return Group(*parts)


@audit_app.command("judge")
def audit_judge_cmd(
    judge: Annotated[
        list[str], typer.Option("--judge", help="<provider>/<model>; repeat for a panel.")
    ],
    runs: Annotated[
        list[str],
        typer.Option(
            "--runs",
            help="Stored runs (RUN or RUN:SUBJECT) whose outputs the probes are built from; "
            "the first is the baseline. Repeat; two or more measure position and length bias "
            "on a real comparison.",
        ),
    ],
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Take providers (e.g. sim judges) and lineage from a spec."),
    ] = None,
    reference_judge: Annotated[
        list[str] | None,
        typer.Option(
            "--reference-judge",
            help="A judge of another family to compare scores with (self-preference); repeat.",
        ),
    ] = None,
    humans: Annotated[
        Path | None,
        typer.Option(
            "--humans", help="Human labels (CSV/JSONL: sample, rater, label, time) to agree with."
        ),
    ] = None,
    canary: Annotated[
        list[str] | None, typer.Option("--canary", help="Run only these canaries; repeat.")
    ] = None,
    bound: Annotated[
        float,
        typer.Option(
            min=0, max=1, help="Canary win rate above which the judge is gameable (C1: 0.10)."
        ),
    ] = 0.10,
    max_samples: Annotated[
        int, typer.Option(min=1, help="Samples drawn from the runs (a seeded subset).")
    ] = 200,
    anchors: Annotated[
        int, typer.Option(min=0, help="Baseline outputs frozen as the anchor set.")
    ] = 50,
    scale: Annotated[int, typer.Option(min=2, help="Pointwise scale 1..N for anchors.")] = 10,
    name: Annotated[str | None, typer.Option(help="Name of the judge config.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample subset.")] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore cached verdicts.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight at most.")] = 16,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Audit a judge: canaries, position and length bias, self-preference, drift against the
    anchor set, human agreement, panel correlation. Stores and prints the certificate; exits 1
    when the judge is gameable or drifted."""
    from assay.audit.battery import AuditConfig, audit_judge
    from assay.cli.common import _store
    from assay.cli.judge_commands import context_from_spec
    from assay.cli.progress import LazyProgress

    if not judge:
        raise AssayError("name a judge", where="--judge", fix="e.g. --judge sim/judge-fair")
    context, lineage = context_from_spec(spec)
    config = AuditConfig(
        judge=judge[0] if len(judge) == 1 else list(judge),
        runs=list(runs),
        context=context,
        lineage=lineage,
        name=name,
        max_samples=max_samples,
        canaries=canary or None,
        bound=bound,
        reference_judges=list(reference_judge or []),
        scale=scale,
        n_anchors=anchors,
        humans=humans,
        seed=seed,
        concurrency=concurrency,
        cache=not no_cache,
    )
    store = _store(db)
    progress = LazyProgress(err_console, f"audit {config.label}")
    try:
        result = audit_judge(store, config, progress=progress)
    finally:
        progress.close()
        store.close()
    for warning in result.warnings:
        err_console.print(f"warning: {warning}", style="yellow", highlight=False)
    certificate = result.certificate
    if json_out:
        console.print_json(data=certificate.model_dump(mode="json"))
    else:
        console.print(certificate_view(certificate))
        err_console.print(
            f"probes judged in run {result.pairwise_run_id}"
            + (
                f", pointwise grades in run {result.pointwise_run_id}"
                if result.pointwise_run_id
                else ""
            ),
            style="dim",
        )
    if certificate.blocking_flags:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show_cmd(
    certificate: Annotated[
        str,
        typer.Argument(help="Certificate id or prefix, a judge name or model, or latest."),
    ] = "latest",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show a judge certificate: every check's figure, interval and verdict."""
    from assay.cli.common import _store

    store = _store(db, create=False)
    try:
        found = store.get_certificate(certificate)
    finally:
        store.close()
    if json_out:
        console.print_json(data=found.model_dump(mode="json"))
    else:
        console.print(certificate_view(found))


@audit_app.command("list")
def audit_list_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List the stored judge certificates, newest first."""
    from assay.cli.common import _store

    store = _store(db, create=False)
    try:
        certificates = store.list_certificates()
    finally:
        store.close()
    if json_out:
        console.print_json(
            data=[
                {
                    "id": c.id,
                    "judge": c.judge,
                    "model": c.model,
                    "created_at": c.created_at.isoformat(),
                    "status": c.status,
                    "flags": c.flags,
                }
                for c in certificates
            ]
        )
        return
    if not certificates:
        err_console.print("no judge certificates yet: run `assay audit judge`")
        return
    console.print(certificates_table(certificates))


def certificates_table(certificates: list[Any]) -> Table:
    """``assay audit list``: one row per :class:`~assay.core.JudgeCertificate`. The id is the
    handle ``assay audit show`` takes, so it is never cut; the judge's model follows its name
    only when the name does not already say it (``sim/judge-atlas`` is model ``judge-atlas``),
    and at 80 columns that model, the date and the status wrap."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("id", no_wrap=True, min_width=max(len(c.id) for c in certificates))
    # The judge's name stays on one line; a model in brackets after it may wrap below it.
    table.add_column("judge", min_width=max(len(c.judge) for c in certificates), overflow="fold")
    table.add_column("audited", overflow="fold")
    table.add_column("status", overflow="fold")
    for c in certificates:
        table.add_row(
            c.id,
            _judge_label(c),
            f"{c.created_at:%Y-%m-%d %H:%M}",
            Text(c.status, style="green" if c.status == "clean" else "red"),
        )
    return table


def _judge_label(certificate: Any) -> str:
    judge, model = certificate.judge, certificate.model
    return judge if not model or model in judge else f"{judge} ({model})"


@audit_app.command("bridge")
def audit_bridge_cmd(
    run: Annotated[
        str, typer.Argument(help="The run (RUN or RUN:SUBJECT) whose outputs to re-score.")
    ],
    old_judge: Annotated[str, typer.Option("--old-judge", help="The judge the history used.")],
    new_judge: Annotated[str, typer.Option("--new-judge", help="Its replacement.")],
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Take providers (e.g. sim judges) and lineage from a spec."),
    ] = None,
    slice_key: Annotated[
        str | None, typer.Option("--slice", help="Slice key [default: the run's first].")
    ] = None,
    scale: Annotated[int, typer.Option(min=2, help="Pointwise scale 1..N.")] = 10,
    max_samples: Annotated[int, typer.Option(min=2, help="Size of the overlap set.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the overlap subset.")] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore cached verdicts.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The re-scoring bridge (C7): grade an overlap set with the old and the new judge and
    report the exchange rate per slice, so history in the old judge's currency can be
    converted instead of compared as is."""
    from assay.audit.rescoring import judge_bridge
    from assay.cli.common import _store
    from assay.cli.judge_commands import context_from_spec
    from assay.cli.progress import LazyProgress

    context, _ = context_from_spec(spec)
    store = _store(db)
    progress = LazyProgress(err_console, "re-scoring bridge")
    try:
        rate, rescored = judge_bridge(
            store,
            run,
            old_judge,
            new_judge,
            context=context,
            scale=scale,
            max_samples=max_samples,
            seed=seed,
            slice_key=slice_key,
            cache=not no_cache,
            progress=progress,
        )
    finally:
        progress.close()
        store.close()
    if json_out:
        console.print_json(
            data={
                "run": rescored.run_id,
                "rescoring_run": rescored.rescoring_run,
                "old_judge": old_judge,
                "new_judge": new_judge,
                "slice_key": rescored.slice_key,
                **rate.as_dict(),
            }
        )
        return
    table = Table(
        title=f"exchange rate {old_judge} → {new_judge} on {rescored.run_id} "
        f"({rescored.slice_key or 'no slices'})",
        show_edge=False,
        header_style="bold",
    )
    for column in ("slice", "n", "old", "new", "Δ new − old", "interval", "new ≈", "changed"):
        table.add_column(column, justify="left" if column in ("slice", "changed") else "right")
    for row in (rate.overall, *rate.slices):
        line = (
            f"{row.slope:.2f}·old {row.intercept:+.2f}"
            if not math.isnan(row.slope)
            else f"old {row.delta:+.2f}"
        )
        table.add_row(
            row.slice,
            str(row.n),
            f"{row.mean_old:.3g}",
            f"{row.mean_new:.3g}",
            f"{row.delta:+.3g}",
            f"[{row.low:+.3g}, {row.high:+.3g}]",
            line,
            Text("yes", style="bold yellow") if row.changed else Text("no"),
        )
    console.print(table)
    changed = rate.changed_slices
    console.print(
        f"the new judge scores differently on: {', '.join(changed)} — convert old scores of "
        "these slices before comparing across the change"
        if changed
        else "no slice moved: old and new scores compare as they are",
        highlight=False,
    )


@audit_app.command("humans")
def audit_humans_cmd(
    runs: Annotated[
        list[str],
        typer.Option(
            "--run",
            help="A run whose judge scores the labels are compared with (RUN, or RUN=PERIOD); "
            "repeat, one per period, to attribute drift.",
        ),
    ],
    labels: Annotated[
        Path | None,
        typer.Argument(help="Human labels: CSV or JSONL (sample, rater, label, time)."),
    ] = None,
    scorer: Annotated[
        str | None, typer.Option(help="The judge scorer [default: the runs' first judge scorer].")
    ] = None,
    period: Annotated[
        str, typer.Option(help="Group labels by day, week, month, quarter or label.")
    ] = "month",
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="Read the human labels from this review queue, not a file."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Human agreement over time (C8): judge-human kappa and human-human alpha per period and
    per rater; with runs in two periods, whether a composite change came from the human cohort,
    the judge or the system (on the anchor samples both scored)."""
    from assay.audit.humans import load_human_labels
    from assay.audit.stored_reports import agreement_report, run_period
    from assay.cli.common import _store

    if (labels is None) == (queue is None):
        raise AssayError(
            "give the human labels as a file or as --queue NAME, one of the two",
            where="labels",
            fix="e.g. `assay audit humans labels.csv --run RUN` or `--queue triage --run RUN`",
        )
    store = _store(db)
    try:
        if queue is not None:
            from assay.review import load_queue_labels

            human = load_queue_labels(store, queue)
        else:
            assert labels is not None
            human = load_human_labels(labels)
        periods = [run_period(store, ref, period) for ref in runs]
        by_period, by_rater, attribution = agreement_report(
            store, human, periods, scorer=scorer, period=period, where="--scorer"
        )
    finally:
        store.close()
    if json_out:
        console.print_json(
            data={
                "periods": [p.as_dict() for p in by_period],
                "raters": [r.as_dict() for r in by_rater],
                "attribution": attribution.as_dict() if attribution else None,
            }
        )
        return
    table = Table(title="agreement per period", show_edge=False, header_style="bold")
    for column in ("period", "labels", "raters", "κ judge-human", "interval", "α human-human",
                   "human mean", "judge mean"):  # fmt: skip
        table.add_column(column, justify="left" if column == "period" else "right")
    for p in by_period:
        table.add_row(
            p.period,
            str(p.n_labels),
            str(p.n_raters),
            _num(p.kappa, False),
            f"[{_num(p.kappa_low, False)}, {_num(p.kappa_high, False)}]",
            _num(p.human_alpha, False),
            _num(p.human_mean, False),
            _num(p.judge_mean, False),
        )
    console.print(table)
    raters = Table(title="per rater", show_edge=False, header_style="bold")
    for column in ("rater", "n", "κ vs judge", "mean label", "offset vs judge", "offset shift"):
        raters.add_column(column, justify="left" if column == "rater" else "right")
    for r in by_rater:
        shift = (
            f"{_num(r.offset_shift, False)} [{_num(r.offset_shift_low, False)}, "
            f"{_num(r.offset_shift_high, False)}]"
            if r.offset_shift is not None
            else "—"
        )
        raters.add_row(
            r.rater,
            str(r.n),
            _num(r.kappa, False),
            _num(r.mean_label, False),
            _num(r.mean_offset, False),
            shift,
        )
    console.print(raters)
    if attribution is not None:
        console.print(f"attribution: {attribution.message}", highlight=False)
    else:
        console.print(
            "attribution needs judge scores and human labels in two periods (repeat --run)",
            style="dim",
        )


@audit_app.command("outputs")
def audit_outputs_cmd(
    run: Annotated[str, typer.Argument(help="A run (id, prefix or latest~N).")],
    subject: Annotated[
        str | None, typer.Option(help="One subject [default: every subject of the run].")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any output is flagged.")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The cheap, judge-free defences on a run's outputs: outputs constant across samples,
    independent of their input, copying the input, containing judge-template delimiters, or
    addressed to the grader (what canaries and null models look like)."""
    from assay.audit.canaries import structural_flags
    from assay.cli.common import _store

    store = _store(db)
    try:
        run_id = store.resolve_run_id(run)
        inputs = {s.id: s.input_text for s in store.get_samples(run_id)}
        subjects = [subject] if subject else list(store.get_run(run_id).subjects)
        found: dict[str, dict[str, list[str]]] = {}
        counts: dict[str, int] = {}
        for name in subjects:
            outputs = {
                r.sample_id: r.output.text
                for r in store.iter_results(run_id, name)
                if r.output is not None and r.epoch == 0
            }
            if not outputs:
                raise AssayError(
                    f"run {run_id} has no outputs for subject {name!r}",
                    where="--subject",
                    fix="name one of: " + ", ".join(store.get_run(run_id).subjects),
                )
            found[name] = structural_flags(outputs, inputs)
            counts[name] = len(outputs)
    finally:
        store.close()
    flagged = {n: sorted({i for ids in f.values() for i in ids}) for n, f in found.items()}
    if json_out:
        console.print_json(
            data={
                "run": run_id,
                "subjects": {
                    n: {"outputs": counts[n], "flagged": flagged[n], "flags": found[n]}
                    for n in found
                },
            }
        )
    else:
        table = Table(title=f"structural flags on run {run_id}", show_edge=False)
        table.add_column("subject")
        table.add_column("flag")
        table.add_column("outputs", justify="right")
        table.add_column("examples")
        for name, flags in found.items():
            for flag, ids in flags.items():
                share = f"{len(ids)}/{counts[name]}"
                table.add_row(
                    name, flag, share, ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")
                )
        console.print(table)
    if strict and any(flagged.values()):
        raise typer.Exit(1)
