"""``assay prompts|models|claims``: the change-management registries (issue 17, K1–K3, K5).

Each command calls one function of :mod:`assay.registry`; ``--json`` prints what it returns.
Prompt text and rationales are user text: they reach Rich as :class:`Text`, never as markup.
"""

from __future__ import annotations

import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console, err_console
from assay.core import AssayError

prompts_app = typer.Typer(
    name="prompts",
    help="The prompt registry: versions with a rationale per change, labels, promote, blame, "
    "diff and bisect (K1, K2).",
    no_args_is_help=True,
)
models_app = typer.Typer(
    name="models",
    help="The model inventory: consumers, snapshots seen and user-entered EOL dates (K3).",
    no_args_is_help=True,
)
eol_app = typer.Typer(name="eol", help="Enter, import and export EOL facts.", no_args_is_help=True)
claims_app = typer.Typer(
    name="claims",
    help="Claims linked to the eval runs, models and prompts that support them (K5).",
    no_args_is_help=True,
)
app.add_typer(prompts_app, name="prompts")
app.add_typer(models_app, name="models")
models_app.add_typer(eol_app, name="eol")
app.add_typer(claims_app, name="claims")


def _user() -> str:
    try:
        return os.environ.get("ASSAY_USER") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _short(text: str | None, limit: int = 70) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- prompts -----------------------------------------------------------------------------------


@prompts_app.command("commit")
def prompts_commit(
    name: Annotated[str, typer.Argument(help="The prompt's name, e.g. support.")],
    file: Annotated[Path, typer.Argument(help="The new text (a file; '-' reads stdin).")],
    why: Annotated[
        list[str] | None,
        typer.Option("--why", help="The rationale of each change, in order (or one for all)."),
    ] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="A summary.")] = None,
    case: Annotated[
        list[str] | None, typer.Option("--case", help="An eval case id that motivated it.")
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Default: $ASSAY_USER/$USER.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the changes only.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Store FILE as the next version of NAME, with one --why per change."""
    from assay.registry.prompts import check_name, commit, pending_edits

    check_name(name)
    if str(file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AssayError(f"cannot read {file}: {exc}", where="FILE") from None
    store = _store(db)
    if dry_run:
        edits = pending_edits(store, name, text)
        if json_out:
            console.print_json(data=[e.to_dict() for e in edits])
            return
        for e in edits:
            console.print(Text(e.describe()))
        console.print(f"{len(edits)} change(s): give one --why for each, in this order")
        return
    version = commit(
        store,
        name,
        text,
        author=author or _user(),
        rationales=list(why or []),
        message=message,
        cases=list(case or []),
    )
    if json_out:
        console.print_json(data=version.to_dict(content=False))
        return
    console.print(
        Text(f"committed {version.ref} ({version.content_hash[:12]}) by {version.author}")
    )


@prompts_app.command("list")
def prompts_list(
    name: Annotated[str | None, typer.Argument(help="One prompt (default: all).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every version, with labels, author and the approving run."""
    from assay.registry.prompts import list_versions

    versions = list_versions(_store(db), name)
    if json_out:
        console.print_json(data=[v.to_dict(content=False) for v in versions])
        return
    table = Table(title="prompt versions")
    for col in ("version", "hash", "labels", "author", "created", "approved by run", "message"):
        table.add_column(col, no_wrap=col in ("version", "hash"))
    for v in versions:
        table.add_row(
            v.ref,
            v.content_hash[:12],
            ", ".join(v.labels),
            Text(v.author),
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.approved_run or "",
            Text(_short(v.message)),
        )
    console.print(table)


@prompts_app.command("show")
def prompts_show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION, NAME@LABEL or NAME (latest).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """One version's text, its changes with their rationale, and the promotions."""
    from assay.registry.prompts import get_changes, get_version, promotions

    store = _store(db)
    v = get_version(store, ref)
    changes = get_changes(store, v.name, v.version)
    history = promotions(store, v.name)
    if json_out:
        console.print_json(
            data=v.to_dict() | {"changes": [c.to_dict() for c in changes], "promotions": history}
        )
        return
    console.print(
        Text(f"{v.ref}  {v.content_hash[:12]}  by {v.author}  labels: {', '.join(v.labels) or '-'}")
    )
    console.print(Text(v.content))
    for c in changes:
        what = c.after if c.kind != "removed" else c.before
        console.print(Text(f"  change {c.position} ({c.kind}) {_short(what)} — why: {c.rationale}"))
    for p in history:
        console.print(
            Text(
                f"  {p['created_at'][:16]} {p['actor']} moved {p['label']} to @{p['version']} "
                f"({p['verdict']}; run {p['run_id'] or '-'}): {p['reason']}"
            )
        )


@prompts_app.command("diff")
def prompts_diff(
    old: Annotated[str, typer.Argument(help="NAME@VERSION (or @LABEL).")],
    new: Annotated[str, typer.Argument(help="NAME@VERSION (or @LABEL).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The numbered clause edits from OLD to NEW (what bisect searches)."""
    from assay.registry.edits import diff_edits
    from assay.registry.prompts import get_version

    store = _store(db)
    a, b = get_version(store, old, where="OLD"), get_version(store, new, where="NEW")
    edits = diff_edits(a.content, b.content)
    if json_out:
        console.print_json(data={"old": a.ref, "new": b.ref, "edits": [e.to_dict() for e in edits]})
        return
    console.print(f"{a.ref} → {b.ref}: {len(edits)} edit(s)")
    for e in edits:
        console.print(Text(e.describe(limit=90)))


@prompts_app.command("blame")
def prompts_blame(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION, NAME@LABEL or NAME (latest).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """For each clause, the version, author and rationale that introduced it."""
    from assay.registry.prompts import blame

    lines = blame(_store(db), ref)
    if json_out:
        console.print_json(data=[line.to_dict() for line in lines])
        return
    table = Table(title=f"blame {ref}")
    for col in ("clause", "version", "author", "why"):
        table.add_column(col)
    for line in lines:
        table.add_row(
            Text(line.clause.strip()), f"@{line.version}", Text(line.author), Text(line.rationale)
        )
    console.print(table)


@prompts_app.command("promote")
def prompts_promote(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to promote.")],
    to: Annotated[str, typer.Option("--to", help="The label: production, staging …")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the promotion).")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote without passing evidence (recorded).")
    ] = False,
    actor: Annotated[str | None, typer.Option("--by", help="Default: $ASSAY_USER/$USER.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Point a label at a version: refused (exit 1, unevaluated_change or regressed) unless a
    stored run compared the exact text with the label's current version without regressing."""
    from assay.registry.prompts import promote

    record = promote(_store(db), ref, label=to, actor=actor or _user(), reason=reason, force=force)
    if json_out:
        console.print_json(data=record)
        return
    evidence = (
        f"run {record['run_id']} vs {record['baseline_run_id']}: {record['verdict']}"
        if record["run_id"]
        else record["verdict"]
    )
    console.print(
        Text(
            f"{record['name']}@{to} → version {record['version']} ({evidence}) by {record['actor']}"
        )
    )


@prompts_app.command("bisect")
def prompts_bisect(
    good: Annotated[str, typer.Argument(help="NAME@VERSION that scored well.")],
    bad: Annotated[str, typer.Argument(help="NAME@VERSION that scored worse.")],
    spec: Annotated[Path, typer.Option("--spec", help="The eval spec to run each probe with.")],
    subject: Annotated[str | None, typer.Option("--subject", help="The subject to vary.")] = None,
    scorer: Annotated[str | None, typer.Option("--scorer", help="Default: the first.")] = None,
    isolate: Annotated[
        bool,
        typer.Option("--isolate/--no-isolate", help="One more run: single edit or interaction?"),
    ] = True,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find the edit between GOOD and BAD that drops the score, in ⌈log2 n⌉ search runs."""
    from assay.registry.bisect import bisect_prompt
    from assay.registry.prompts import get_version

    if not spec.is_file():
        raise AssayError(f"spec file not found: {spec}", where="--spec")
    store = _store(db)
    g, b = get_version(store, good, where="GOOD"), get_version(store, bad, where="BAD")
    result = bisect_prompt(
        store,
        g,
        b,
        spec=spec,
        subject=subject,
        scorer=scorer,
        isolate=isolate,
        on_run=None if json_out else lambda label: err_console.print(f"running {label} …"),
    )
    if json_out:
        console.print_json(data=result.to_dict())
    else:
        for p in result.probes:
            diff = "" if p.difference is None else f" {p.difference:+.3f}"
            state = "regressed" if p.regressed else "ok"
            console.print(
                f"  {p.label:<18} run {p.run_id}{' (reused)' if p.reused else ''}{diff} {state}"
            )
        console.print(Text(result.message))
        console.print(
            f"{len(result.edits)} edits; search runs {result.search_runs} "
            f"(bound ⌈log2 {len(result.edits)}⌉ = {result.max_search_runs}); "
            f"endpoint and isolation runs {result.extra_runs}"
        )
    if result.culprit is None:
        raise typer.Exit(1)


@prompts_app.command("export")
def prompts_export(
    name: Annotated[str | None, typer.Argument(help="One prompt (default: all).")] = None,
    db: DbOption = None,
) -> None:
    """The registry as YAML (versions, changes with rationales, labels), for review in git."""
    import yaml

    from assay.registry.yaml_io import export_prompts

    data = export_prompts(_store(db), name)
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@prompts_app.command("import")
def prompts_import(
    file: Annotated[Path, typer.Argument(help="A file `assay prompts export` wrote.")],
    db: DbOption = None,
    move_labels: Annotated[
        bool,
        typer.Option(
            "--promote",
            help="Also promote each label the file names (refused without stored evidence, "
            "as by hand).",
        ),
    ] = False,
    actor: Annotated[str | None, typer.Option("--by", help="Default: $ASSAY_USER/$USER.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Replay exported versions (with their rationales); labels are listed, or promoted with
    --promote."""
    from assay.registry.yaml_io import apply_labels, import_prompts
    from assay.run.yamlfile import load_yaml

    store = _store(db)
    result = import_prompts(store, load_yaml(file))
    if move_labels:
        result["labels"] = apply_labels(
            store, result["labels_to_promote"], actor=actor or _user(), reason=f"from {file}"
        )
    if json_out:
        console.print_json(data=result)
        return
    console.print(
        f"{len(result['added'])} version(s) added, {len(result['skipped'])} already there"
    )
    for label, version in result["labels_to_promote"].items():
        if move_labels:
            console.print(Text(f"  {label} → @{version}: {result['labels'][label]}"))
        else:
            console.print(Text(f"  {label} was @{version}: promote it with --promote"))


# -- models ------------------------------------------------------------------------------------

SpecsOption = Annotated[
    list[str] | None, typer.Option("--spec", help="Spec files or globs to read models from.")
]


def _models(
    db: str | None, specs: list[str] | None, warning: int, critical: int, today: str | None
) -> list[Any]:
    from assay.registry.models import inventory, parse_date

    if critical > warning:
        raise AssayError(
            "the critical window is wider than the warning window",
            where="--critical-days",
            fix="e.g. --warning-days 60 --critical-days 14",
        )
    day = parse_date(today, "--today") if today else None
    return inventory(
        _store(db), specs=specs, today=day, warning_days=warning, critical_days=critical
    )


WarningOption = Annotated[int, typer.Option("--warning-days", min=0, help="Warning window.")]
CriticalOption = Annotated[int, typer.Option("--critical-days", min=0, help="Critical window.")]
TodayOption = Annotated[str | None, typer.Option("--today", help="Pretend today is YYYY-MM-DD.")]


def _models_table(models: list[Any]) -> Table:
    table = Table(title="model inventory")
    for col in ("model", "status", "eol", "days", "replacement", "snapshots", "consumers"):
        table.add_column(col, no_wrap=col in ("status", "eol", "days"))
    style = {"expired": "red", "critical": "red", "warning": "yellow", "ok": "green"}
    for m in models:
        d = m.to_dict()
        table.add_row(
            Text(m.model),
            Text(m.status, style=style.get(m.status, "")),
            d["eol_date"] or "",
            "" if m.days_left is None else str(m.days_left),
            Text(d["replacement"] or ""),
            Text(", ".join(m.snapshots)),
            Text("\n".join(m.consumers)),
        )
    return table


@models_app.command("list")
def models_list(
    spec: SpecsOption = None,
    warning_days: WarningOption = 60,
    critical_days: CriticalOption = 14,
    today: TodayOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every model from specs, stored runs and traces: consumers, snapshots, EOL countdown."""
    models = _models(db, spec, warning_days, critical_days, today)
    if json_out:
        console.print_json(data=[m.to_dict() for m in models])
        return
    console.print(_models_table(models))


@models_app.command("check")
def models_check(
    spec: SpecsOption = None,
    warning_days: WarningOption = 60,
    critical_days: CriticalOption = 14,
    today: TodayOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """For CI: exit 1 when a used model's EOL is inside the warning window, 3 inside the
    critical window or past it (2 stays "bad input"); names every consumer."""
    from assay.registry.models import check_exit_code

    models = _models(db, spec, warning_days, critical_days, today)
    flagged = [m for m in models if m.status in ("expired", "critical", "warning")]
    code = check_exit_code(models)
    if json_out:
        console.print_json(data={"exit_code": code, "models": [m.to_dict() for m in flagged]})
    else:
        for m in flagged:
            line = (
                f"{m.status}: {m.model} reaches end of life on {m.eol.eol_date} "
                f"({m.days_left} days)"
                + (f", replacement {m.eol.replacement}" if m.eol.replacement else "")
                + "; consumers: "
                + ("; ".join(m.consumers) or "none found")
            )
            console.print(Text(line, style="red" if m.status != "warning" else "yellow"))
        if not flagged:
            console.print(f"no model within {warning_days} days of its EOL date")
    raise typer.Exit(code)


@eol_app.command("set")
def eol_set(
    model: Annotated[str, typer.Argument(help="provider/model, a model name or a snapshot.")],
    date_: Annotated[str, typer.Option("--date", help="Announced EOL date, YYYY-MM-DD.")],
    replacement: Annotated[str | None, typer.Option("--replacement")] = None,
    notice: Annotated[str | None, typer.Option("--notice", help="Where it was announced.")] = None,
    db: DbOption = None,
) -> None:
    """Enter a model's announced EOL date (entered by you; never fetched)."""
    from assay.registry.models import EolEntry, parse_date, set_eol

    provider = model.split("/", 1)[0] if "/" in model else None
    set_eol(_store(db), EolEntry(model, parse_date(date_, "--date"), replacement, provider, notice))
    console.print(Text(f"{model}: end of life {date_}"))


@eol_app.command("import")
def eol_import(
    file: Annotated[Path, typer.Argument(help="YAML: models: [{model, eol, replacement, …}]")],
    db: DbOption = None,
) -> None:
    """Enter EOL facts from a YAML file kept in git (errors name file:line)."""
    from assay.registry.models import eol_from_yaml, set_eol
    from assay.run.yamlfile import load_yaml

    entries = eol_from_yaml(load_yaml(file))
    store = _store(db)
    for entry in entries:
        set_eol(store, entry)
    console.print(f"{len(entries)} EOL entr{'y' if len(entries) == 1 else 'ies'} stored")


@eol_app.command("export")
def eol_export(db: DbOption = None) -> None:
    """The stored EOL facts as YAML (the format ``eol import`` reads)."""
    import yaml

    from assay.registry.models import eol_entries

    rows = []
    for e in eol_entries(_store(db)):
        d = e.to_dict()
        rows.append(
            {"model": d["model"], "eol": d["eol_date"]}
            | {k: d[k] for k in ("replacement", "provider", "notice") if d[k]}
        )
    sys.stdout.write(yaml.safe_dump({"models": rows}, sort_keys=False, allow_unicode=True))


# -- claims ------------------------------------------------------------------------------------


@claims_app.command("add")
def claims_add(
    text: Annotated[str, typer.Argument(help='The claim, e.g. "94% accurate on billing".')],
    run: Annotated[str, typer.Option("--run", help="The evidence run (id, prefix, latest).")],
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    scorer: Annotated[str | None, typer.Option("--scorer")] = None,
    claimed: Annotated[
        float | None, typer.Option("--value", help="The claimed value, e.g. 0.94.")
    ] = None,
    valid_days: Annotated[
        int | None, typer.Option("--valid-days", help="How long the evidence stays valid.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a claim and the run, model snapshot and prompt it was measured on."""
    from assay.registry.claims import add_claim

    claim = add_claim(
        _store(db),
        text,
        run=run,
        subject=subject,
        scorer=scorer,
        claimed=claimed,
        valid_days=valid_days,
    )
    if json_out:
        console.print_json(data=claim.to_dict())
        return
    measured = "n/a" if claim.measured is None else f"{claim.measured:.3f}"
    console.print(
        Text(
            f"claim {claim.id}: measured {measured} ({claim.subject}/{claim.scorer}) in run "
            f"{claim.run_id} on {', '.join(claim.models.get('resolved') or []) or '?'}"
            + (f" with prompt {claim.prompt_ref}" if claim.prompt_ref else "")
        )
    )


def _claims_table(statuses: list[Any]) -> Table:
    table = Table(title="claims")
    for col in ("id", "claim", "status", "measured", "evidence", "why"):
        table.add_column(col, no_wrap=col in ("id", "status"))
    style = {"supported": "green", "stale_evidence": "yellow", "unsupported": "red"}
    for s in statuses:
        c = s.claim
        table.add_row(
            c.id,
            Text(c.text),
            Text(s.status, style=style.get(s.status, "")),
            "" if c.measured is None else f"{c.measured:.3f}",
            Text(
                f"run {c.run_id}\n{', '.join(c.models.get('resolved') or [])}"
                + (f"\n{c.prompt_ref}" if c.prompt_ref else "")
            ),
            Text("\n".join(s.reasons)),
        )
    return table


@claims_app.command("list")
def claims_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every claim with its evidence and status now."""
    from assay.registry.claims import check_claims

    statuses = check_claims(_store(db))
    if json_out:
        console.print_json(data=[s.to_dict() for s in statuses])
        return
    console.print(_claims_table(statuses))


@claims_app.command("export")
def claims_export(db: DbOption = None) -> None:
    """Every claim, its evidence and its status now, as YAML."""
    import yaml

    from assay.registry.yaml_io import export_claims

    data = export_claims(_store(db))
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@claims_app.command("import")
def claims_import(
    file: Annotated[Path, typer.Argument(help="A file `assay claims export` wrote.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Re-record exported claims against their evidence runs (which must be in this store);
    measured values are read from the runs again."""
    from assay.registry.yaml_io import import_claims
    from assay.run.yamlfile import load_yaml

    result = import_claims(_store(db), load_yaml(file))
    if json_out:
        console.print_json(data=result)
        return
    console.print(f"{len(result['added'])} claim(s) added, {len(result['skipped'])} already there")


@claims_app.command("check")
def claims_check(db: DbOption = None, json_out: JsonOption = False) -> None:
    """For CI: exit 1 when any claim is stale_evidence or unsupported."""
    from assay.registry.claims import check_claims

    statuses = check_claims(_store(db), now=datetime.now(UTC))
    flagged = [s for s in statuses if s.status != "supported"]
    if json_out:
        console.print_json(data=[s.to_dict() for s in statuses])
    else:
        for s in flagged:
            console.print(
                Text(f"{s.status}: {s.claim.id} {s.claim.text!r}: " + "; ".join(s.reasons))
            )
        console.print(f"{len(statuses) - len(flagged)} of {len(statuses)} claims supported")
    raise typer.Exit(1 if flagged else 0)


# -- datasets ----------------------------------------------------------------------------------

datasets_app = typer.Typer(
    name="datasets",
    help="Named dataset versions: content-hashed, diffed by origin, incident cases protected.",
    no_args_is_help=True,
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("commit")
def datasets_commit(
    name: Annotated[str, typer.Argument(help="The dataset's name, e.g. support-qa.")],
    file: Annotated[Path, typer.Argument(help="A JSONL file whose rows have ids.")],
    message: Annotated[str | None, typer.Option("--message", "-m")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow removing or editing incident-born cases.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept; with --force).")
    ] = None,
    author: Annotated[str | None, typer.Option("--author")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Store FILE as the next version of NAME (refused when it drops an incident case,
    unless --force --reason)."""
    from assay.registry.datasets import commit_dataset

    version, diff = commit_dataset(
        _store(db),
        name,
        file,
        author=author or _user(),
        message=message,
        force=force,
        reason=reason,
    )
    if json_out:
        console.print_json(data=version.to_dict() | {"diff": diff.to_dict() if diff else None})
        return
    counts = ", ".join(f"{k} {v}" for k, v in version.origins.items() if v)
    console.print(Text(f"committed {version.ref} ({version.content_hash[:12]}): {counts}"))
    if diff is not None:
        console.print(
            f"  +{len(diff.added)} added, -{len(diff.removed)} removed, "
            f"~{len(diff.changed)} changed since {diff.old}"
        )


@datasets_app.command("list")
def datasets_list(
    name: Annotated[str | None, typer.Argument()] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every dataset version with its counts per origin (A3)."""
    from assay.registry.datasets import list_dataset_versions

    versions = list_dataset_versions(_store(db), name)
    if json_out:
        console.print_json(data=[v.to_dict() for v in versions])
        return
    table = Table(title="dataset versions")
    for col in ("version", "hash", "rows", "origins", "author", "forced because"):
        table.add_column(col, no_wrap=col in ("version", "hash"))
    for v in versions:
        table.add_row(
            v.ref,
            v.content_hash[:12],
            str(len(v.rows)),
            ", ".join(f"{k} {n}" for k, n in v.origins.items() if n),
            Text(v.author),
            Text(v.force_reason or ""),
        )
    console.print(table)


@datasets_app.command("diff")
def datasets_diff(
    old: Annotated[str, typer.Argument(help="NAME@N")],
    new: Annotated[str, typer.Argument(help="NAME@N")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cases added, removed and changed between two versions, by origin."""
    from assay.registry.datasets import diff_rows, get_dataset_version

    store = _store(db)
    a = get_dataset_version(store, old, where="OLD")
    b = get_dataset_version(store, new, where="NEW")
    diff = diff_rows(store, a.rows, b.rows, (a.ref, b.ref))
    data = diff.to_dict()
    if json_out:
        console.print_json(data=data)
        return
    console.print(f"{a.ref} → {b.ref}")
    for kind in ("added", "removed", "changed"):
        for origin, ids in data[kind].items():
            console.print(Text(f"  {kind} ({origin}): {len(ids)}  {', '.join(ids[:8])}"))


@datasets_app.command("export")
def datasets_export(
    name: Annotated[str | None, typer.Argument(help="One dataset (default: all).")] = None,
    db: DbOption = None,
) -> None:
    """Every version with its rows, author, message and forced-removal reasons, as YAML."""
    import yaml

    from assay.registry.yaml_io import export_datasets

    data = export_datasets(_store(db), name)
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@datasets_app.command("import")
def datasets_import(
    file: Annotated[Path, typer.Argument(help="A file `assay datasets export` wrote.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replay exported versions in order (incident-case removals need their recorded reason)."""
    from assay.registry.yaml_io import import_datasets
    from assay.run.yamlfile import load_yaml

    result = import_datasets(_store(db), load_yaml(file))
    if json_out:
        console.print_json(data=result)
        return
    console.print(
        f"{len(result['added'])} version(s) added, {len(result['skipped'])} already there"
    )


# -- migrate -----------------------------------------------------------------------------------


@app.command("migrate")
def migrate_command(
    from_model: Annotated[str, typer.Option("--from", help="The model in the spec now.")],
    to_model: Annotated[str, typer.Option("--to", help="The replacement, provider/model.")],
    spec: Annotated[Path, typer.Option("--spec", help="The suite to run on both.")],
    max_drop: Annotated[
        float, typer.Option("--max-drop", min=0, help="Largest quality drop allowed.")
    ] = 0.02,
    max_cost_increase: Annotated[
        float, typer.Option("--max-cost-increase", min=0, help="e.g. 0.25 for +25%.")
    ] = 0.25,
    max_latency_increase: Annotated[
        float, typer.Option("--max-latency-increase", min=0, help="Median latency, e.g. 0.5.")
    ] = 0.5,
    max_format_breaks: Annotated[
        float, typer.Option("--max-format-breaks", min=0, max=1, help="Share of outputs.")
    ] = 0.02,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Migration eval (K4): the suite on the replacement with judges pinned; a report with
    per-slice deltas, cost, latency and format differences, and go (exit 0) / no-go (exit 1)."""
    from assay.registry.migration import Thresholds, migration_eval

    if not spec.is_file():
        raise AssayError(f"spec file not found: {spec}", where="--spec")
    report = migration_eval(
        _store(db),
        spec,
        from_model=from_model,
        to_model=to_model,
        thresholds=Thresholds(max_drop, max_cost_increase, max_latency_increase, max_format_breaks),
    )
    if json_out:
        console.print_json(data=report.to_dict())
    else:
        console.print(
            f"{report.from_model} → {report.to_model}: runs {report.baseline_run} → "
            f"{report.candidate_run}; judges pinned: {'yes' if report.judges_pinned else 'no'}"
        )
        table = Table(title="paired quality deltas (B − A)")
        for col in ("subject", "scorer", "group", "n", "A", "B", "Δ", "interval", "verdict"):
            table.add_column(col)
        for q in report.quality:
            for g in q["groups"]:
                table.add_row(
                    q["subject"], q["scorer"], g["group"], str(g["n"]), f"{g['mean_a']:.3f}",
                    f"{g['mean_b']:.3f}", f"{g['difference']:+.3f}",
                    f"[{g['low']:+.3f}, {g['high']:+.3f}]", g["verdict"],
                )  # fmt: skip
        console.print(table)
        for s, lat in report.latency.items():
            f = report.format[s]
            ratio = "n/a" if lat["ratio"] is None else f"×{lat['ratio']:.2f}"
            console.print(
                f"{s}: median latency {ratio}; format changed in {f['changed_format']} of "
                f"{f['n']} outputs {f['kinds'] or ''}"
            )
        for row in report.cost:
            if row.get("ratio") is not None:
                console.print(f"{row['subject']}: cost per sample ×{row['ratio']:.2f}")
        console.print(
            Text(
                f"{report.decision.upper()}"
                + (": " + "; ".join(report.reasons) if report.reasons else ""),
                style="green" if report.decision == "go" else "red",
            )
        )
    raise typer.Exit(0 if report.decision == "go" else 1)
