"""``assay data …``: checks on eval and training data.

One Typer sub-app, ``data_app``, holds every data command; each command is a thin surface over
a function in :mod:`assay.data` that does the work and returns a report to render. To add a
command, define it here with ``@data_app.command("name")`` (or in its own module importing
``data_app``), keep the computation in :mod:`assay.data`, and offer ``--json``.

Exit codes: 0 the check passed, 1 a gate failed (dirty training rows, PII in an export), 2 a
usage mistake (one ``error:`` line).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import DbOption, JsonOption, console, err_console
from assay.cli.data_common import _UsageError, data_app

if TYPE_CHECKING:
    from rich.progress import Progress

    from assay.data.contamination import ContaminationEffect, ContaminationReport
    from assay.data.pii import PiiReport


class _ByteProgress:
    """A bytes-scanned bar on stderr, shown once a scan has run for more than a second."""

    def __init__(self, description: str, delay: float = 1.0) -> None:
        self.description = description
        self.delay = delay
        self.began = time.perf_counter()
        self._bar: Progress | None = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if time.perf_counter() - self.began < self.delay or done >= total:
                return
            # Imported here: registering the data commands must not import the bar.
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err_console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=total)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# -- contamination --------------------------------------------------------------------------


@data_app.command("contamination")
def contamination(
    eval_path: Annotated[
        Path, typer.Option("--eval", help="The eval dataset (any format `assay run` reads).")
    ],
    train: Annotated[
        list[Path],
        typer.Option(
            "--train",
            help="Training files or folders (JSONL, Parquet, text; .gz). More files may follow "
            "--train without repeating it, so a shell glob works.",
        ),
    ],
    more_train: Annotated[
        list[Path] | None, typer.Argument(metavar="[FILES]...", help="More training files.")
    ] = None,
    text_field: Annotated[
        str, typer.Option(help="JSONL key / Parquet column of the training text.")
    ] = "text",
    id_field: Annotated[
        str, typer.Option(help="Key / column of the training row id ('' for file:line).")
    ] = "id",
    doc_per: Annotated[
        str, typer.Option(help="Plain text: one document per 'line' or per 'file'.")
    ] = "line",
    train_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="Read training files as jsonl, parquet or text (default: by suffix)."
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(min=0, help="Worker processes (0: one per CPU).")] = 1,
    executor: Annotated[
        str,
        typer.Option(
            help="Where shards are scanned: 'local' (this machine, --jobs processes) or 'ray' "
            "(Ray tasks; needs the `ray` extra). The report is the same row for row."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --executor ray: the cluster's head (host:port or ray://host:10001); "
            "without it a local Ray runtime of --workers CPUs starts."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Workers: Ray tasks in flight (default: the cluster's CPUs), or with the "
            "local executor the same as --jobs."
        ),
    ] = None,
    ngram: Annotated[int, typer.Option(min=1, help="GPT-3 n-gram length.")] = 13,
    min_length: Annotated[
        int, typer.Option(min=1, help="Llama 2: matched spans must be longer than this.")
    ] = 10,
    skip_budget: Annotated[
        int, typer.Option(min=0, help="Llama 2: mismatches allowed in a matched span.")
    ] = 4,
    no_target: Annotated[
        bool, typer.Option("--no-target", help="Check sample inputs only, not their targets.")
    ] = False,
    run_ref: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN", help="Score each band with this stored run."),
    ] = None,
    subject: Annotated[str | None, typer.Option(help="With --run: only this subject.")] = None,
    scorer: Annotated[str | None, typer.Option(help="With --run: only this scorer.")] = None,
    db: DbOption = None,
    gate_mode: Annotated[
        bool,
        typer.Option("--gate", help="Exit 1 if any eval sample is dirty (names both ids)."),
    ] = False,
    waive: Annotated[
        list[str] | None,
        typer.Option(help="With --gate: accept this eval sample or training row id (repeat)."),
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="Contaminated samples to list.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Find eval samples in training data: GPT-3 13-gram hits and Llama 2 token overlap, banded
    clean / not clean / not dirty / dirty, with the matching training row ids."""
    from assay.data import load_dataset
    from assay.data.contamination import (
        ContaminationSettings,
        CorpusOptions,
        EvalIndex,
        contamination_effect,
        gate,
        scan_corpus,
        scores_from_run,
    )

    if doc_per not in ("line", "file"):
        raise _UsageError(f"--doc-per must be 'line' or 'file', not {doc_per!r}", where="--doc-per")
    if train_format not in (None, "jsonl", "parquet", "text"):
        raise _UsageError(
            f"--format must be jsonl, parquet or text, not {train_format!r}", where="--format"
        )
    if (subject or scorer) and not run_ref:
        raise _UsageError("--subject and --scorer need --run", where="--run", fix="add --run RUN")
    if waive and not gate_mode:
        raise _UsageError("--waive only applies with --gate", where="--waive", fix="add --gate")
    from assay.scale import check_executor_options, make_executor

    check_executor_options(executor, ray_address, workers)
    if executor == "local" and workers is not None:
        if jobs not in (1, workers):
            raise _UsageError("give --workers or --jobs, not both", where="--workers")
        jobs = workers
    settings = ContaminationSettings(
        ngram=ngram, min_length=min_length, skip_budget=skip_budget, include_target=not no_target
    )
    dataset = load_dataset(eval_path)
    if len(dataset) == 0:
        raise _UsageError("the eval dataset has no samples", where=str(eval_path))
    # Fail on a bad run reference before a long scan, not after it.
    store = None
    run_id = None
    if run_ref:
        from assay.store import Store

        store = Store(db)
        run_id = store.resolve_run_id(run_ref)
    index = EvalIndex.from_samples(dataset, settings)
    options = CorpusOptions(
        text_field=text_field,
        id_field=id_field or None,
        doc_per=doc_per,  # type: ignore[arg-type]
        format=train_format,  # type: ignore[arg-type]
    )
    progress = _ByteProgress("scanning training data")
    runner = make_executor(
        executor, ray_address=ray_address, workers=jobs if executor == "local" else workers
    )
    try:
        report = scan_corpus(
            index,
            [*train, *(more_train or [])],
            options=options,
            progress=progress,
            executor=runner,
        )
    finally:
        progress.close()
        runner.close()

    effects: list[ContaminationEffect] = []
    if store is not None and run_id is not None:
        try:
            per_run = scores_from_run(store, run_id, subject=subject, scorer=scorer)
        finally:
            store.close()
        overlaps = report.overlaps()
        effects = [
            contamination_effect(overlaps, scores, settings, subject=subj, scorer=name)
            for (subj, name), scores in per_run.items()
        ]

    if json_out:
        data = report.to_json()
        data["effects"] = [_effect_json(e) for e in effects]
        if run_id:
            data["run"] = run_id
        console.print_json(json.dumps(data))
    else:
        _render_contamination(report, effects, show)
    if gate_mode:
        gate(report, waive=waive or ())


def _effect_json(effect: ContaminationEffect) -> dict[str, Any]:
    return {
        "subject": effect.subject,
        "scorer": effect.scorer,
        "n": effect.n,
        "mu": effect.mu,
        "affected": effect.affected,
        "n_unscored": effect.n_unscored,
        "rows": [row.__dict__ for row in effect.rows],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _render_contamination(
    report: ContaminationReport, effects: list[ContaminationEffect], show: int
) -> None:
    corpus = report.corpus
    err_console.print(
        f"scanned {corpus.files} file(s), {corpus.documents:,} documents, "
        f"{corpus.bytes / 1e6:,.1f} MB in {corpus.seconds:.1f} s "
        f"({corpus.mb_per_second:.1f} MB/s, {corpus.jobs} job(s))"
    )
    settings = report.settings
    counts = report.band_counts()
    total = len(report.samples)
    bands = Table(title="Contamination bands (Llama 2, Touvron et al. 2023, App. A.6)")
    bands.add_column("subset")
    bands.add_column("rule")
    bands.add_column("samples", justify="right")
    bands.add_column("share", justify="right")
    rules = {
        "clean": f"< {settings.clean_below:.0%} of tokens matched",
        "not_clean": f"≥ {settings.clean_below:.0%}",
        "not_dirty": f"< {settings.dirty_from:.0%}",
        "dirty": f"≥ {settings.dirty_from:.0%}",
        "ngram_hit": f"any {settings.ngram}-gram in training (GPT-3)",
        "too_short": f"< {settings.seed_length} tokens: not checked (in no subset above)",
    }
    for name, rule in rules.items():
        bands.add_row(name.replace("_", " "), rule, str(counts[name]), _pct(counts[name] / total))
    console.print(bands)

    hit = sorted(
        (s for s in report.samples if s.overlap > 0 or s.ngram_matches),
        key=lambda s: (-s.overlap, -s.ngram_matches),
    )
    if hit and show:
        table = Table(title=f"Contaminated eval samples ({len(hit)}; top {min(show, len(hit))})")
        table.add_column("sample")
        table.add_column("tokens", justify="right")
        table.add_column("overlap", justify="right")
        table.add_column("band")
        table.add_column(f"{settings.ngram}-grams", justify="right")
        table.add_column("training rows")
        for sample in hit[:show]:
            names = ", ".join(f"{d.doc_id} ({d.overlap:.0%})" for d in sample.docs[:3])
            if sample.n_docs > 3:
                names += f" +{sample.n_docs - 3}"
            table.add_row(
                sample.sample_id,
                str(sample.n_tokens),
                _pct(sample.overlap),
                sample.band.replace("_", " "),
                f"{sample.ngram_matches}/{sample.ngram_total}",
                names,
            )
        console.print(table)
    if report.n_dirty_rows:
        err_console.print(
            f"{report.n_dirty_rows} training row(s) each hold ≥ {settings.dirty_from:.0%} of an "
            "eval sample (`--json` lists them; `--gate` fails on them)."
        )
    for effect in effects:
        table = Table(
            title=f"Score by subset: {effect.subject} / {effect.scorer} "
            f"(n={effect.n}, benchmark mean μ={effect.mu:.3f})"
        )
        for column in ("subset", "n", "avg contamination", "x̄", "Z"):
            table.add_column(column, justify="left" if column == "subset" else "right")
        for row in effect.rows:
            table.add_row(
                row.subset.replace("_", " "),
                str(row.n),
                _pct(row.avg_overlap),
                "-" if row.mean is None else f"{row.mean:.3f}",
                "-" if row.z is None else f"{row.z:+.2f}",
            )
        console.print(table)
        verdict = {
            True: "contamination affected the score (every subset |Z| > 2, Llama 2's criterion)",
            False: "no evidence that contamination moved the score (some subset |Z| ≤ 2)",
            None: "Z undefined (empty subsets or constant scores)",
        }[effect.affected]
        console.print(verdict)


# -- PII --------------------------------------------------------------------------------------


@data_app.command("pii")
def pii(
    file: Annotated[Path, typer.Argument(help="JSONL, CSV, Parquet or text file (.gz ok).")],
    redact: Annotated[
        Path | None,
        typer.Option("--redact", metavar="OUT", help="Write a redacted copy to OUT."),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only these types (EMAIL, PHONE, CARD, IBAN, …; repeat)."),
    ] = None,
    id_field: Annotated[str, typer.Option(help="Field naming each record ('' for file:line).")] = (
        "id"
    ),
    gate_mode: Annotated[
        bool, typer.Option("--gate", help="Exit 1 if any PII is found (an export gate).")
    ] = False,
    show: Annotated[int, typer.Option(min=0, help="Findings to list.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Find PII (emails, phones, cards, IBANs, national ids, IPs, API keys and other secrets);
    optionally write a redacted copy with stable placeholders such as <EMAIL_1>."""
    from assay.data.pii import PII_TYPES, pii_gate, redact_file, scan_file

    wanted = None
    if types:
        wanted = {t.upper() for t in types}
        unknown = wanted - set(PII_TYPES)
        if unknown:
            raise _UsageError(
                f"unknown PII type(s): {', '.join(sorted(unknown))}",
                where="--type",
                fix=f"use {', '.join(PII_TYPES)}",
            )
    if redact is not None:
        report = redact_file(file, redact, id_field=id_field or None, types=wanted)
    else:
        report = scan_file(file, id_field=id_field or None, types=wanted)
    if json_out:
        data = report.to_json()
        if redact is not None:
            data["redacted_to"] = str(redact)
        console.print_json(json.dumps(data))
    else:
        _render_pii(report, show)
        if redact is not None:
            err_console.print(f"wrote the redacted copy to {redact}")
    if gate_mode:
        pii_gate(report, types=wanted)


def _render_pii(report: PiiReport, show: int) -> None:
    from assay.data.pii import PII_TYPES

    err_console.print(
        f"{report.records:,} records, {report.records_with_pii:,} with PII ({report.path})"
    )
    counts = Table(title="PII found")
    counts.add_column("type")
    counts.add_column("findings", justify="right")
    for kind in PII_TYPES:
        counts.add_row(kind, str(report.counts[kind]))
    console.print(counts)
    if report.findings and show:
        table = Table(title=f"First findings (values masked; {min(show, len(report.findings))})")
        for column in ("record", "field", "type", "detector", "preview"):
            table.add_column(column)
        for f in report.findings[:show]:
            table.add_row(f.record, f.field, f.type, f.detector, f.preview)
        console.print(table)


# Commands kept in their own modules register on data_app when imported (after it exists).
from assay.cli import (  # noqa: E402, F401
    data_kb_commands,
    data_provenance_commands,
    data_sampling_commands,
)
