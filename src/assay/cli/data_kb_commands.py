"""``assay data kb-check``: which RAG samples a knowledge-base update invalidates (F1, F2)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from assay.cli.app import DbOption, JsonOption, console
from assay.cli.data_common import data_app
from assay.core import AssayError

if TYPE_CHECKING:
    from assay.analyse.rag import RagSplitReport


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
    run_ref: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="RUN",
            help="Also split this stored run's metrics into valid and invalidated samples.",
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Mark each sample still_valid, gold_changed or gold_missing against a new corpus.

    Samples pin gold documents in metadata gold_docs ({doc id: sha256 of text}). With --run,
    the run's metrics are reported on still-valid and on invalidated samples separately.
    """
    from assay.data import load_dataset
    from assay.data.kb_pinning import kb_check, read_corpus

    report = kb_check(
        load_dataset(samples), read_corpus(corpus, id_field=id_field, text_field=text_field)
    )
    split = None
    if run_ref is not None:
        from assay.analyse.rag import split_by_kb_validity
        from assay.store import Store

        store = Store(db)
        try:
            split = split_by_kb_validity(store, store.resolve_run_id(run_ref), report)
        finally:
            store.close()
    counts = report.counts()
    if json_out:
        payload = report.to_json()
        if split is not None:
            payload["run_split"] = split.as_dict()
        console.print_json(json.dumps(payload))
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
        if split is not None:
            _render_split(split)
    bad = counts["gold_changed"] + counts["gold_missing"]
    if gate_mode and bad:
        raise KbGateError(
            f"{bad} sample(s) were written against gold documents that changed or disappeared",
            where=str(samples),
            fix="re-author or re-pin those samples against the new corpus",
        )


def _cell(estimate: float, low: float, high: float) -> str:
    if math.isnan(estimate):
        return "-"
    if math.isnan(low):
        return f"{estimate:.3f}"
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def _render_split(split: RagSplitReport) -> None:
    counts = split.counts()
    table = Table(
        title=f"Run {split.run_id}: valid vs invalidated by the KB change "
        f"({counts['valid']} valid, {counts['invalidated']} invalidated)"
    )
    groups = [g for g in ("all", "valid", "invalidated", "unpinned", "unchecked") if counts[g]]
    table.add_column("subject")
    table.add_column("scorer")
    for g in groups:
        table.add_column(f"{g} (n)" if g != "invalidated" else "invalidated by KB change (n)")
    for m in split.metrics:
        cells = []
        for g in groups:
            found = m.group(g)
            cells.append(
                "-"
                if found is None
                else f"{_cell(found.interval.estimate, found.interval.low, found.interval.high)}"
                f" ({found.interval.n})"
            )
        table.add_row(m.subject, m.scorer, *cells)
    console.print(table)
