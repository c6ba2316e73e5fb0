"""``assay data kb-check``: which RAG samples a knowledge-base update invalidates (F1, F2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assay.cli.app import JsonOption, console
from assay.cli.data_commands import data_app
from assay.core import AssayError


class KbGateError(AssayError):
    """Raised by ``kb-check --gate`` when a sample's gold documents changed or disappeared."""

    exit_code = 1
    code = "kb_invalidated"


@data_app.command("kb-check")
def kb_check_command(
    samples: Annotated[Path, typer.Argument(help="Eval samples with gold_docs pins.")],
    corpus: Annotated[
        Path, typer.Option("--corpus", help="The new corpus: JSONL, CSV or Parquet documents.")
    ],
    id_field: Annotated[str, typer.Option(help="Corpus column of the document id.")] = "id",
    text_field: Annotated[str, typer.Option(help="Corpus column of the document text.")] = "text",
    gate_mode: Annotated[
        bool, typer.Option("--gate", help="Exit 1 if any sample is gold_changed or gold_missing.")
    ] = False,
    show: Annotated[int, typer.Option(min=0, help="Invalidated samples to list.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Mark each sample still_valid, gold_changed or gold_missing against a new corpus.

    Samples pin gold documents in metadata gold_docs ({doc id: sha256 of text}).
    """
    from assay.data import load_dataset
    from assay.data.kb_pinning import kb_check, read_corpus

    report = kb_check(
        load_dataset(samples), read_corpus(corpus, id_field=id_field, text_field=text_field)
    )
    counts = report.counts()
    if json_out:
        console.print_json(json.dumps(report.to_json()))
    else:
        table = Table(title=f"Samples against {corpus}")
        table.add_column("status")
        table.add_column("samples", justify="right")
        for status, count in counts.items():
            table.add_row(status, str(count))
        console.print(table)
        invalid = [s for s in report if s.status in ("gold_changed", "gold_missing")]
        for s in invalid[:show]:
            docs = ", ".join(s.missing or s.changed)
            console.print(f"{s.sample_id}: {s.status} ({docs})")
    bad = counts["gold_changed"] + counts["gold_missing"]
    if gate_mode and bad:
        raise KbGateError(
            f"{bad} sample(s) were written against gold documents that changed or disappeared",
            where=str(samples),
            fix="re-author or re-pin those samples against the new corpus",
        )
