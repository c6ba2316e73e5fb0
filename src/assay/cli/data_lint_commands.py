"""``assay data lint``: eval smells in a dataset, with the rows concerned and a fix (A5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, console, err_console
from assay.cli.data_common import _UsageError, data_app
from assay.core import AssayError

if TYPE_CHECKING:
    from assay.data.lint import LintReport

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class LintFailedError(AssayError):
    """Raised by ``lint --strict`` when a smell at warning level or above was found."""

    exit_code = 1
    code = "lint_failed"


@data_app.command("lint")
def lint_command(
    dataset: Annotated[
        Path | None,
        typer.Argument(help="The eval dataset (any format `assay run` reads); default: --spec's."),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Eval spec: its scorers, slices and judges are checked too."),
    ] = None,
    db: DbOption = None,
    runs: Annotated[
        int, typer.Option("--runs", min=1, help="Recent stored runs of the dataset to read.")
    ] = 5,
    min_runs: Annotated[
        int,
        typer.Option(min=1, help="Runs that must have graded a sample to call it saturated."),
    ] = 3,
    kb: Annotated[
        Path | None,
        typer.Option("--kb", help="Current knowledge-base corpus (JSONL, CSV or Parquet)."),
    ] = None,
    id_field: Annotated[str, typer.Option(help="Corpus column of the document id.")] = "id",
    text_field: Annotated[str, typer.Option(help="Corpus column of the document text.")] = "text",
    near_threshold: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="Jaccard similarity for a near duplicate."),
    ] = 0.8,
    long_target_words: Annotated[
        int, typer.Option(min=1, help="Targets longer than this are free-form text.")
    ] = 10,
    useful_effect: Annotated[
        float,
        typer.Option(min=0.001, max=0.999, help="Smallest pass-rate change worth detecting."),
    ] = 0.05,
    slice_keys: Annotated[
        list[str] | None, typer.Option("--slice", help="Metadata key to treat as a slice.")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", metavar="CODE", help="Smell code to ignore.")
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="Rows to list per smell.")] = 5,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any smell is a warning or worse.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Report eval smells: duplicates, saturated and never-passed samples, exact-match targets
    on long answers, underpowered slices, no production samples (museum), same-family judges,
    no control set, stale RAG references.

    Stored runs are read from --db (or ASSAY_DB, or the default store when it exists). A
    sample is a control when its metadata has control: true or its slice is "control".
    """
    from assay.cli.data_provenance_commands import _open_store
    from assay.data import load_dataset
    from assay.data.kb_pinning import read_corpus
    from assay.data.lint import SMELL_CODES, LintSettings, lint_dataset, sample_locations

    if dataset is None and spec is None:
        raise _UsageError(
            "nothing to lint", where="assay data lint", fix="give a DATASET file or --spec"
        )
    unknown = sorted(set(skip or ()) - set(SMELL_CODES))
    if unknown:
        raise _UsageError(
            f"unknown smell code(s) {', '.join(unknown)}",
            where="--skip",
            fix=f"use one of {', '.join(SMELL_CODES)}",
        )
    settings = LintSettings(
        near_duplicate_threshold=near_threshold,
        runs=runs,
        min_runs=min_runs,
        long_target_words=long_target_words,
        useful_effect=useful_effect,
        slices=tuple(slice_keys or ()),
        skip=frozenset(skip or ()),
    )
    ev = None
    if spec is not None:
        from assay.run.spec import load_eval

        ev = load_eval(spec)
    if dataset is not None:
        data = load_dataset(dataset)
        locations = sample_locations(dataset, data)
    else:
        assert ev is not None and spec is not None
        data = ev.dataset
        # Inline `samples:` carry the spec's own name as source: no data file to locate rows in.
        source = Path(data.source) if data.source else None
        if source is not None and source.is_file() and source.resolve() != spec.resolve():
            locations = sample_locations(source, data)
        else:
            locations = {}
    corpus = None if kb is None else read_corpus(kb, id_field=id_field, text_field=text_field)
    store = _open_store(db)
    try:
        report = lint_dataset(
            data, settings=settings, store=store, spec=ev, kb=corpus, locations=locations
        )
    finally:
        if store is not None:
            store.close()
    if json_out:
        console.print_json(json.dumps(report.as_dict()))
    else:
        render_lint(report, show=show)
    if strict and report.fails("warning"):
        counts = report.counts()
        raise LintFailedError(
            f"{counts['error']} error(s) and {counts['warning']} warning(s) in "
            f"{report.source or report.dataset}",
            fix="fix the rows listed, or --skip CODE the smells you accept",
        )


def _shown_where(where: str) -> str:
    """``file:line`` relative to the working folder when the file is inside it (the spec's
    dataset path is absolute), as the user would type it."""
    cwd = str(Path.cwd())
    if where.startswith(cwd + "/"):
        return where[len(cwd) + 1 :]
    return where


def lint_view(report: LintReport, *, show: int = 5) -> Table | Text:
    """The human form of the smells: one table row per smell, or one line when clean.

    Run ids (the design a slice's MDE rests on names two runs) are the handle a user copies,
    so they must never be folded (issue 20, 4). A word is folded only when its column is
    narrower than the word, so the severity sits above the smell code in one column: at 80
    columns that leaves the two wrapping columns more than the 22 characters of a run id.
    """
    counts = report.counts()
    title = (
        f"{report.dataset}: {len(report.smells)} smell(s) in {report.n_samples} samples "
        f"({counts['error']} error, {counts['warning']} warning, {counts['info']} info)"
    )
    if not report.smells:
        return Text(f"{title}: clean")
    table = Table(title=title, show_lines=True)
    table.add_column("smell", no_wrap=True)
    # file:line is what a user opens: at 80 columns it wraps, never cut short.
    table.add_column("rows", overflow="fold")
    table.add_column("what and fix", overflow="fold")
    for smell in report.smells:
        listed = [
            f"{r.sample_id}" + (f" ({_shown_where(r.where)})" if r.where else "")
            for r in smell.rows[:show]
        ]
        if len(smell.rows) > show:
            listed.append(f"… {len(smell.rows) - show} more")
        what = Text(smell.message)
        what.append(f"\nfix: {smell.fix}", style="dim")
        table.add_row(
            Text.assemble((smell.severity, _STYLE[smell.severity]), "\n", smell.code),
            Text("\n".join(listed) or "(whole dataset)"),
            what,
        )
    return table


def render_lint(report: LintReport, *, show: int = 5) -> None:
    """Print :func:`lint_view`, then the checks that did not run."""
    console.print(lint_view(report, show=show))
    for check in report.checks:
        if not check.ran:
            err_console.print(f"not checked: {check.check} ({check.reason})", highlight=False)
