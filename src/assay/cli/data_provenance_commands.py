"""``assay data provenance`` and ``assay data export``: consent-revocation queries over datasets
and stored runs, and the training export that refuses unlicensed rows and debug feedback
(D4, D5, D6)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from assay.cli.app import DbOption, JsonOption, console, err_console
from assay.cli.data_common import _UsageError, data_app

if TYPE_CHECKING:
    from assay.data.provenance import RevocationReport
    from assay.store import Store


def _parse_since(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise _UsageError(
            f"cannot read date {text!r}",
            where="--revoked-since",
            fix="use ISO 8601, e.g. 2024-07-01 or 2024-07-01T12:00:00Z",
        ) from error


def _open_store(db: str | None) -> Store | None:
    """The store named by --db / ASSAY_DB, or the default one when its file exists."""
    from assay.store import Store
    from assay.store.engine import default_db_url, sqlite_file

    if db is None:
        default = sqlite_file(default_db_url())
        if default is None or not default.exists():
            return None
    return Store(db)


@data_app.command("provenance")
def provenance(
    datasets: Annotated[
        list[Path], typer.Argument(metavar="DATASET...", help="Dataset files (each a version).")
    ],
    revoked_since: Annotated[
        str,
        typer.Option("--revoked-since", metavar="DATE", help="Consent revoked on or after this."),
    ],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rows, dataset versions and stored runs of subjects whose consent was revoked since DATE.

    Stored runs are searched in --db (or ASSAY_DB, or the default store when it exists).
    """
    from assay.data.provenance import rows_with_revoked_consent

    since = _parse_since(revoked_since)
    store = _open_store(db)
    try:
        report = rows_with_revoked_consent(datasets, since, store=store)
    finally:
        if store is not None:
            store.close()
    if json_out:
        console.print_json(json.dumps(report.to_json()))
    else:
        _render_revocation(report)


def _render_revocation(report: RevocationReport) -> None:
    subjects = ", ".join(report.subjects) or "none"
    console.print(f"subjects with consent revoked since {report.since:%Y-%m-%d}: {subjects}")
    if report.dataset_versions:
        table = Table(title=f"Affected rows ({len(report.rows)})")
        for column in ("dataset", "version", "rows"):
            table.add_column(column)
        for v in report.dataset_versions:
            table.add_row(v.dataset, v.content_hash[:12], ", ".join(v.affected_ids))
        console.print(table)
    if report.runs_searched is None:
        err_console.print("no store searched (give --db to find runs that used these rows)")
        return
    table = Table(title=f"Runs that used them ({len(report.runs)} of {report.runs_searched})")
    for column in ("run", "name", "started", "subjects", "rows"):
        table.add_column(column)
    for run in report.runs:
        table.add_row(
            run.run_id,
            run.name,
            f"{run.started_at:%Y-%m-%d %H:%M}",
            ", ".join(run.subjects),
            ", ".join(run.sample_ids),
        )
    console.print(table)


@data_app.command("export")
def export(
    dataset: Annotated[Path, typer.Argument(help="The dataset to export.")],
    out: Annotated[Path, typer.Option("--out", help="The export (format by suffix).")],
    allow_unspecified_licence: Annotated[
        bool,
        typer.Option(
            "--allow-unspecified-licence", help="Export rows whose licence is 'unspecified'."
        ),
    ] = False,
    include_debug_feedback: Annotated[
        bool,
        typer.Option(
            "--include-debug-feedback",
            help="Keep feedback with metadata surface=staging/debug or rater_role=internal.",
        ),
    ] = False,
    redact_pii: Annotated[
        bool,
        typer.Option(
            "--redact-pii",
            help="Export rows with credentials or PII redacted (<EMAIL_1>-style placeholders).",
        ),
    ] = False,
    pii_waiver: Annotated[
        str | None,
        typer.Option(
            "--pii-waiver",
            metavar="REASON",
            help="Export rows with credentials or PII as they are; the reason and the rows "
            "are recorded in OUT.excluded.json.",
        ),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(help="Where the PII scan runs: 'local' or 'ray' (Ray tasks over chunks)."),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="With --executor ray: the cluster's head (else a local runtime)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="With --executor ray: tasks in flight (default: the cluster's CPUs)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Export a dataset for training: debug-surface feedback left out, unspecified licences
    refused, rows with credentials or PII refused with their ids (exit 1) unless redacted or
    waived; what was excluded and why goes to OUT.excluded.json."""
    from assay.data import load_dataset, write_dataset
    from assay.data.provenance import select_for_export
    from assay.scale import check_executor_options, make_executor

    check_executor_options(executor, ray_address, workers)
    if workers is not None and executor != "ray":
        raise _UsageError("--workers only applies with --executor ray", where="--workers")
    rows = load_dataset(dataset)
    runner = make_executor(executor, ray_address=ray_address, workers=workers)
    try:
        selection = select_for_export(
            rows,
            allow_unspecified_licence=allow_unspecified_licence,
            include_debug_feedback=include_debug_feedback,
            redact_pii=redact_pii,
            pii_waiver=pii_waiver,
            executor=runner if executor == "ray" else None,
        )
    finally:
        runner.close()
    write_dataset(selection.kept, out)
    record = out.with_name(out.name + ".excluded.json")
    data = selection.to_json()
    record.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if json_out:
        console.print_json(json.dumps({**data, "out": str(out), "record": str(record)}))
        return
    console.print(
        f"exported {len(selection.kept)} row(s) to {out}; excluded {len(selection.excluded)} "
        f"(reasons in {record})"
    )
    if selection.pii_rows:
        err_console.print(
            f"{len(selection.pii_rows)} row(s) with credentials or PII exported "
            + (
                "redacted (--redact-pii)"
                if selection.pii_action == "redacted"
                else f"as they are (waiver: {selection.pii_waiver})"
            )
            + f"; listed in {record}"
        )
    if selection.allowed_unspecified_licence:
        err_console.print(
            f"{len(selection.allowed_unspecified_licence)} row(s) with licence 'unspecified' "
            "exported (--allow-unspecified-licence)"
        )
