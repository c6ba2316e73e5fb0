"""``assay corpus …``: ingestion contracts per batch (F4) and corpus health (F5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console, err_console
from assay.cli.assurance_render import finish, rate_text

corpus_app = typer.Typer(
    name="corpus",
    help="RAG corpus checks: ingestion contracts per batch, corpus health.",
    no_args_is_help=True,
)
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("ingest")
def ingest(
    batch: Annotated[Path, typer.Argument(help="The batch file (JSONL, JSON, CSV, Parquet).")],
    contracts: Annotated[Path, typer.Option("--contracts", help="The contracts file (YAML).")],
    source: Annotated[str, typer.Option("--source", help="Which source sent the batch.")],
    quarantine_dir: Annotated[
        Path | None,
        typer.Option("--quarantine-dir", help="Move a quarantined batch file here."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a batch against its source's contract (F4): required fields, types, freshness,
    volume against the trailing mean; a failing batch is quarantined and alerted on (exit 1)."""
    from assay.corpus import ingest_batch, load_contracts

    loaded = load_contracts(contracts)
    with _store(db) as store:
        report = ingest_batch(store, batch, loaded, source, quarantine_dir=quarantine_dir)
    data = report.as_dict()
    if data["alert"]:
        err_console.print(Text(f"ALERT {data['alert']}", style="bold red"))

    def render(d: dict[str, Any]) -> None:
        style = "bold red" if d["status"] == "quarantined" else "green"
        console.print(
            Text(f"batch {d['batch_id'][:12]} from {d['source']}: {d['records']} records, ")
            + Text(d["status"], style=style)
        )
        volume = d["checks"].get("volume") or {}
        if volume.get("run"):
            console.print(
                Text(
                    f"volume: {volume['records']} vs trailing mean {volume['trailing_mean']:.0f} "
                    f"({volume['change']:+.0%})"
                )
            )
        elif volume:
            console.print(Text(f"volume: not run ({volume['reason']})"))
        for name, rate in (d["checks"].get("required") or {}).items():
            console.print(Text(f"missing {name}: {rate_text(rate)}"))

    finish(data, as_json, render)


@corpus_app.command("batches")
def batches(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recorded ingestion batches, newest first."""
    from assay.corpus import list_batches

    with _store(db) as store:
        rows = list_batches(store, source=source, limit=limit)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("batch", "source", "received (UTC)", "records", "status", "alert"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            r["id"][:12],
            Text(r["source"]),
            r["received_at"][:19].replace("T", " "),
            str(r["records"]),
            Text(r["status"], style="bold red" if r["status"] == "quarantined" else "green"),
            Text(r["alert"] or ""),
        )
    console.print(table)


@corpus_app.command("health")
def health(
    documents: Annotated[Path, typer.Argument(help="The corpus: one document a row.")],
    stale_after: Annotated[
        str, typer.Option("--stale-after", help="Freshness SLO: older is stale (180d).")
    ] = "180d",
    near_duplicate: Annotated[
        float, typer.Option("--near-duplicate", min=0.0, max=1.0, help="Jaccard threshold.")
    ] = 0.8,
    conflict: Annotated[
        float,
        typer.Option(
            "--conflict-threshold",
            min=0.0,
            max=1.0,
            help="Pairs this similar that disagree on a number or date conflict.",
        ),
    ] = 0.7,
    id_field: Annotated[str, typer.Option("--id-field")] = "id",
    text_field: Annotated[str | None, typer.Option("--text-field")] = None,
    updated_field: Annotated[str | None, typer.Option("--updated-field")] = None,
    owner_field: Annotated[str, typer.Option("--owner-field")] = "owner",
    name: Annotated[str | None, typer.Option("--name", help="The corpus's name.")] = None,
    store_report: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep the report for the web page.")
    ] = True,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Corpus health (F5): stale, exact and near duplicates, conflicting versions (both ids),
    ownerless documents."""
    from assay.corpus import corpus_health, read_documents, save_report
    from assay.run.declarations import parse_duration

    docs = read_documents(
        documents,
        id_field=id_field,
        text_field=text_field,
        updated_field=updated_field,
        owner_field=owner_field,
    )
    report = corpus_health(
        docs,
        corpus=name or documents.stem,
        stale_after=parse_duration(stale_after, where="--stale-after"),
        near_duplicate_threshold=near_duplicate,
        conflict_threshold=conflict,
    )
    if store_report:
        with _store(db) as store:
            save_report(store, report)

    def render(d: dict[str, Any]) -> None:
        console.print(
            Text(
                f"{d['documents']} documents in {d['corpus']}: stale {rate_text(d['stale'])}, "
                f"ownerless {rate_text(d['ownerless'])}, {len(d['conflicts'])} conflicts, "
                f"{len(d['near_duplicates'])} near-duplicate pairs, "
                f"{len(d['exact_duplicate_groups'])} exact-duplicate groups"
            )
        )
        for c in d["conflicts"]:
            console.print(
                Text(
                    f"conflict {c['a']} ↔ {c['b']}: {', '.join(c['a_values'])} vs "
                    f"{', '.join(c['b_values'])}",
                    style="bold red",
                )
            )

    finish(report.as_dict(), as_json, render)
