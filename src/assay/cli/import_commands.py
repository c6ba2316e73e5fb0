"""``assay import``: other tools' results as assay runs; and the files-as-runs hook that lets
``compare``, ``gate`` and ``show`` take a result file where they take a run.

Exit codes follow ``main()``: 0 ok, 2 a file that is not what its kind expects (an
:class:`~assay.importers.ImportFileError` naming the file, line or field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.common import DbOption, JsonOption, _store, app, console, err_console
from assay.core import AssayError

_KINDS = "inspect, promptfoo, lm-eval, alpaca-eval, openai-evals"


def runs_or_files(db: str | None, *refs: str | None) -> list[str | None]:
    """``refs`` with every result file replaced by the id of the run imported from it (the
    earlier import of the same bytes when there is one). Run references pass through
    unchanged; the store is opened (and created) only when a file was given."""
    from assay.importers import import_file, looks_like_file

    if not any(ref is not None and looks_like_file(ref) for ref in refs):
        return list(refs)
    out: list[str | None] = []
    store = _store(db)
    try:
        for ref in refs:
            if ref is None or not looks_like_file(ref):
                out.append(ref)
                continue
            outcome = import_file(store, Path(ref))
            verb = "reusing run" if outcome.reused else "imported as run"
            err_console.print(
                f"{ref}: {outcome.kind} results, {verb} {outcome.run_id}",
                highlight=False,
                soft_wrap=True,
            )
            out.append(outcome.run_id)
    finally:
        store.close()
    return out


def _kind_and_path(first: str, second: Path | None) -> tuple[str | None, Path]:
    from assay.importers import KINDS

    if second is None:
        if first in KINDS:
            raise AssayError(
                f"`assay import {first}` needs the file to import",
                where="PATH",
                fix=f"assay import {first} PATH",
            )
        return None, Path(first)
    if first not in KINDS:
        raise AssayError(f"unknown import kind {first!r}", where="KIND", fix=f"use one of {_KINDS}")
    return first, second


@app.command("import")
def import_cmd(
    kind_or_path: Annotated[
        str,
        typer.Argument(
            metavar="KIND_OR_PATH",
            help=f"The kind of file ({_KINDS}), or the file itself (its kind recognised by "
            "extension and content).",
        ),
    ],
    path: Annotated[
        Path | None, typer.Argument(metavar="PATH", help="The file, after a KIND.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Name the run (default: the tool's task or eval name)."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import another tool's results as a stored run: Inspect AI logs, promptfoo results,
    lm-evaluation-harness --log_samples output (a samples file, or the output folder: one run
    per task), AlpacaEval annotations, openai/evals logs. Importing the same file again reuses
    the run it made."""
    from assay.importers import import_file

    kind, file = _kind_and_path(kind_or_path, path)
    files = _lm_eval_folder(file, kind, name) if file.is_dir() else [file]
    store = _store(db)
    rates = []
    try:
        outcomes = [
            import_file(store, f, kind=kind or _folder_kind(file), name=name) for f in files
        ]
        for outcome in outcomes:
            if outcome.kind == "alpaca-eval":
                from assay.importers.alpaca_eval import win_rates

                rates.append(win_rates(store, outcome.run_id))
    finally:
        store.close()
    if json_out:
        data = [o.as_dict() for o in outcomes]
        for item, rate in zip(data, rates, strict=False):
            item["win_rates"] = rate.as_dict()
        console.print_json(data=data if file.is_dir() else data[0])
        return
    for outcome in outcomes:
        _print_outcome(outcome)
    for rate in rates:
        _print_win_rates(rate)
    next_ref = outcomes[-1].run_id
    console.print(f"next: assay show {next_ref}", style="dim", highlight=False, soft_wrap=True)


def _folder_kind(file: Path) -> str | None:
    return "lm-eval" if file.is_dir() else None


def _lm_eval_folder(folder: Path, kind: str | None, name: str | None) -> list[Path]:
    """The ``samples_<task>_<date>.jsonl`` files under an lm-eval ``--output_path`` folder."""
    if kind not in (None, "lm-eval"):
        raise AssayError("is a folder", where=str(folder), fix=f"give the {kind} file itself")
    files = sorted(folder.rglob("samples_*.jsonl"))
    if not files:
        raise AssayError(
            "is a folder with no lm-eval samples_<task>_<date>.jsonl files",
            where=str(folder),
            fix="give a result file, or the folder lm_eval --log_samples wrote",
        )
    if name is not None and len(files) > 1:
        raise AssayError(
            f"--name names one run, and {folder} holds {len(files)} tasks",
            where="--name",
            fix="import each samples file with its own --name, or leave --name out",
        )
    return files


def _print_outcome(outcome: Any) -> None:
    if outcome.reused:
        text = (
            f"{outcome.path}: already imported as run {outcome.run_id} ({outcome.kind}, "
            f"{outcome.n_results} results)"
        )
    else:
        text = (
            f"imported {outcome.path} ({outcome.kind}) as run {outcome.run_id}: "
            f"{outcome.n_samples} samples, {outcome.n_results} results"
        )
    console.print(text, highlight=False, soft_wrap=True)


def _print_win_rates(rates: Any) -> None:
    raw = rates.raw
    console.print(
        f"{rates.b} over {rates.a}: raw win rate {100 * raw.win_rate:.2f}% "
        f"(SE {100 * raw.standard_error:.2f}; {raw.n_wins} wins, {raw.n_wins_base} losses, "
        f"{raw.n_draws} draws of {raw.n_total})",
        highlight=False,
        soft_wrap=True,
    )
    if rates.length_controlled is not None:
        console.print(
            f"length-controlled win rate {100 * rates.length_controlled.win_rate:.2f}% "
            "(assay's GLM: length term and intercept; no difficulty or gamed-baseline rows)",
            highlight=False,
            soft_wrap=True,
        )
