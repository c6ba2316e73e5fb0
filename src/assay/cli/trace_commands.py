"""``assay traces …``: production traces in the store (issue 11).

The group is defined here; its commands live in small modules that add themselves to
:data:`traces_app` when imported (see the imports at the top of :mod:`assay.cli.app`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.app import DbOption, JsonOption, _store, app, console, err_console
from assay.core import AssayError

traces_app = typer.Typer(
    name="traces",
    help="Production traces: import, list, show, search, feedback, promote to cases, replay.",
    no_args_is_help=True,
)
app.add_typer(traces_app, name="traces")


FORMATS = ("otlp-jsonl", "langfuse", "phoenix")


@traces_app.command("import")
def import_traces(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Export files to import.")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="otlp-jsonl (ResourceSpans per line), langfuse (observations) or phoenix "
            "(spans dataframe / JSONL); detected from the content when omitted.",
        ),
    ] = None,
    no_redact: Annotated[
        bool, typer.Option("--no-redact", help="Store text as it is (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why redaction is off.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import traces exported elsewhere into the store, redacting PII as the receiver does.

    Spans map exactly as received spans do, so importing the same calls as OTLP-JSON gives
    the same stored trace as receiving them; re-importing a file stores nothing twice.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from assay.cli.serve_commands import redaction_note
    from assay.trace.importers import import_file
    from assay.trace.ingest import IngestReport, store_spans

    if fmt is not None and fmt not in FORMATS:
        raise AssayError(
            f"unknown format {fmt!r}", where="--format", fix=f"use one of {', '.join(FORMATS)}"
        )
    note = redaction_note(no_redact, reason)
    store = _store(db)
    total = IngestReport(redacted=not no_redact)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} spans"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as progress:
            for path in files:
                task = progress.add_task(f"import {path.name}", total=None)
                for batch in import_file(path, fmt):
                    report = store_spans(
                        store, batch, redact=not no_redact, source="import", note=note
                    )
                    total.merge(report)
                    progress.advance(task, len(batch))
    finally:
        store.close()
    summary = {
        "files": [str(p) for p in files],
        "received": total.received,
        "stored": total.stored,
        "duplicates": total.duplicates,
        "traces": total.traces,
        "redacted": total.redacted,
        "findings": dict(sorted(total.findings.items())),
    }
    if as_json:
        console.print_json(data=summary)
        return
    found = ", ".join(f"{k} {v}" for k, v in summary["findings"].items()) or "none"
    console.print(
        f"imported {total.stored:,} spans ({total.duplicates:,} already stored) into "
        f"{total.traces:,} traces; PII redacted: {found}"
        + ("" if total.redacted else " [red](redaction OFF)[/red]"),
        highlight=False,
    )
