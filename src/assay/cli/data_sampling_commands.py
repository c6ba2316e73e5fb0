"""``assay data sample`` and ``assay data composition``: stratified eval sets from production
records or from the trace store, how a sample compares with its population (D1, D2), and how a
curated fine-tuning set compares with production (D7)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import DbOption, JsonOption, _store, console, err_console
from assay.cli.data_common import data_app
from assay.core import AssayError

if TYPE_CHECKING:
    from datetime import datetime

    from assay.data.curriculum import CategoryShare, CurriculumReport
    from assay.data.sampling import CompositionReport, Record, StrataSpec
    from assay.store import Store

StrataOption = Annotated[
    str | None,
    typer.Option(
        "--strata",
        help="Comma-separated strata: hour_of_week (from the timestamp) and column names, "
        "e.g. hour_of_week,segment,geo,intent,actor.",
    ),
]
WeightOption = Annotated[
    str | None,
    typer.Option("--weight", help="Allocate by the sum of this column (e.g. revenue)."),
]
TimeColumnOption = Annotated[str, typer.Option("--time-column", help="The timestamp column.")]
TimezoneOption = Annotated[
    str, typer.Option("--timezone", help="IANA zone hours of week are counted in.")
]
TracesOption = Annotated[
    bool,
    typer.Option("--traces", help="The population is the trace store (--db), not a file."),
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="With --traces: traces started since (7d, 24h, or ISO time)."),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="With --traces: traces started before (7d, 24h, or ISO time)."),
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        metavar="NAME=SOURCE",
        help="With --traces: read stratum NAME from a span attribute or trace/span column "
        "(e.g. segment=app.segment; a|b tries a, then b). Repeatable.",
    ),
]


class _UsageError(AssayError):
    """Raised for an impossible combination of sampling options."""

    code = "usage_error"


def _names(text: str | None, option: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    if not names:
        raise _UsageError(
            f"{option} names no stratum", where=option, fix="e.g. hour_of_week,segment,intent"
        )
    return names


def _spec(strata: str | None, time_column: str, tz: str, weight: str | None) -> StrataSpec:
    from assay.data.sampling import StrataSpec

    return StrataSpec(_names(strata, "--strata"), time_column=time_column, tz=tz, weight=weight)


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    from assay.trace.query import parse_time

    start = parse_time(since, where="--since") if since else None
    end = parse_time(until, where="--until") if until else None
    if start and end and end <= start:
        raise _UsageError("--until is not later than --since", where="--until")
    return start, end


def _traces_only(traces: bool, **given: Any) -> None:
    """--since/--until/--field mean nothing without --traces: say so instead of ignoring them."""
    if traces:
        return
    for option, value in given.items():
        if value:
            raise _UsageError(
                f"{option} applies to the trace store only",
                where=option,
                fix="add --traces, or drop " + option,
            )


def _read_traces(
    store: Store,
    strata: tuple[str, ...],
    since: str | None,
    until: str | None,
    fields: list[str] | None,
    weight: str | None,
    quiet: bool,
) -> tuple[list[Record], dict[str, Any]]:
    """The trace population and a JSON description of where it came from."""
    from assay.trace.population import parse_fields, read_population, sources_of

    start, end = _window(since, until)
    field_map = parse_fields(fields or [])
    status = err_console.status("reading traces…", spinner="dots")
    with nullcontext() if quiet else status:
        records = read_population(
            store, strata, since=start, until=end, fields=field_map, weight=weight
        )
    if not records:
        raise _UsageError(
            "no traces in the store" + (" in that window" if start or end else ""),
            where="--since" if start or end else "--db",
            fix="widen --since/--until, or point --db at the store that received the traces",
        )
    source = {
        "source": "traces",
        "store": store.url,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
        "fields": {
            n: list(sources_of(n, field_map)) for n in (*strata, *([weight] if weight else ()))
            if n != "hour_of_week"
        },
    }  # fmt: skip
    return records, source


@data_app.command("sample")
def sample(
    n: Annotated[int, typer.Option("--n", help="Records (or traces) to draw.")],
    strata: Annotated[
        str,
        typer.Option(
            "--strata",
            help="Comma-separated strata: hour_of_week (from the timestamp) and column names, "
            "e.g. hour_of_week,segment,geo,intent,actor.",
        ),
    ],
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE", help="Production records: JSONL, CSV or Parquet (or use --traces)."
        ),
    ] = None,
    traces: TracesOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    fields: FieldOption = None,
    db: DbOption = None,
    weight: WeightOption = None,
    time_column: TimeColumnOption = "timestamp",
    tz: TimezoneOption = "UTC",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same sample).")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the drawn records as JSONL (with --traces: a dataset of cases with the "
            "redacted input, origin sampled-production, created_from the trace id).",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Draw N records by stratified allocation (each stratum within ±1 of its quota).

    Allocation is proportional to record counts, or to a --weight column; the report compares
    the sample with the population and flags temporal_window_bias. With --traces the population
    is the trace store: strata are trace/span columns or span attributes (--field).
    """
    from assay.data.sampling import composition, draw_stratified, read_records, write_records

    if (file is None) == (not traces):
        raise _UsageError(
            "give a records FILE or --traces (one population)",
            where="FILE" if file is None else "--traces",
            fix="assay data sample traffic.jsonl --n 500 --strata … or "
            "assay data sample --traces --n 500 --strata …",
        )
    _traces_only(traces, **{"--since": since, "--until": until, "--field": fields})
    store = _store(db) if traces else None
    try:
        if store is not None:
            spec = _spec(strata, "timestamp", tz, weight)
            population, source = _read_traces(
                store, spec.strata, since, until, fields, weight, json_out
            )
        else:
            spec = _spec(strata, time_column, tz, weight)
            population, source = read_records(file), {"source": str(file)}  # type: ignore[arg-type]
        drawn = draw_stratified(population, spec, n, seed=seed)
        report = composition(drawn.records, population, spec)
        written: dict[str, Any] = {}
        if out is not None and store is not None:
            written = _write_cases(store, drawn.records, spec.strata, out, json_out)
        elif out is not None:
            write_records(drawn.records, out)
    finally:
        if store is not None:
            store.close()
    if json_out:
        data = report.to_json()
        data.update(source)
        data["seed"] = seed
        data["out"] = None if out is None else str(out)
        data.update(written)
        data["allocation"] = [
            {"stratum": list(a.key), "population": a.population, "quota": a.quota,
             "drawn": a.drawn}
            for a in drawn.allocation
        ]  # fmt: skip
        console.print_json(json.dumps(data))
        return
    worst = max(abs(a.drawn - a.quota) for a in drawn.allocation)
    unit = "traces" if traces else "records"
    err_console.print(
        f"drew {len(drawn.records):,} of {len(population):,} {unit} over "
        f"{len(drawn.allocation):,} strata (largest |drawn − quota| {worst:.2f}, seed {seed})"
    )
    _render(report)
    if out is not None:
        if written.get("without_input"):
            err_console.print(
                f"[yellow]{len(written['without_input'])} drawn traces hold no input "
                "(no LLM messages, no root input) and were left out[/yellow]"
            )
        err_console.print(f"wrote the sample to {out}")


def _write_cases(
    store: Store, records: list[Record], strata: tuple[str, ...], out: Path, quiet: bool
) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from assay.trace.population import sampled_cases, write_cases

    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    with Progress(
        TextColumn("cases"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task("cases", total=len(records))
        for start in range(0, len(records), 50):
            part = sampled_cases(store, records[start : start + 50], strata)
            rows.extend(part.rows)
            missing.extend(part.without_input)
            progress.advance(task, min(50, len(records) - start))
    write_cases(rows, out)
    return {"cases_written": len(rows), "without_input": missing}


@data_app.command("composition")
def composition_command(
    sample_file: Annotated[
        Path | None,
        typer.Argument(metavar="SAMPLE", help="The drawn records (optional: see below)."),
    ] = None,
    population_file: Annotated[
        Path | None,
        typer.Option("--population", help="The production records it was drawn from."),
    ] = None,
    strata: StrataOption = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Stratum (or comma-separated strata) to report shares of."),
    ] = None,
    traces: TracesOption = False,
    curated: Annotated[
        Path | None,
        typer.Option(
            "--curated",
            help="A curated (fine-tuning) set to compare with production's shares (D7).",
        ),
    ] = None,
    curated_field: Annotated[
        str | None,
        typer.Option(
            "--curated-field", help="The curated set's category field (default: the --by name)."
        ),
    ] = None,
    hedge: Annotated[
        str | None,
        typer.Option(
            "--hedge",
            help="Comma-separated hedge category names (default: clarification, clarify, "
            "refusal, refuse, hedge, hedged, out_of_scope, unanswerable, cannot_answer, "
            "abstain, abstention).",
        ),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fields: FieldOption = None,
    db: DbOption = None,
    weight: WeightOption = None,
    time_column: TimeColumnOption = "timestamp",
    tz: TimezoneOption = "UTC",
    json_out: JsonOption = False,
) -> None:
    """Compare a sample with its population per stratum (flag temporal_window_bias); report
    production shares per stratum with Wilson intervals (--traces --by); or compare a curated
    set with production (--curated FILE --by intent) and flag curriculum_trap.

    Each segment's coverage is its sample share over its population share (0% when absent).
    """
    if curated is not None and sample_file is not None:
        raise _UsageError(
            "--curated compares a curated set with production, not a SAMPLE",
            where="SAMPLE",
            fix="drop SAMPLE (production is the trace store, or --population FILE)",
        )
    if curated is not None and population_file is None:
        traces = True
    _traces_only(traces, **{"--since": since, "--until": until, "--field": fields})
    if curated is not None:
        _curated(
            curated, curated_field, hedge, by or strata, population_file,
            (since, until, fields, db, tz), json_out,
        )  # fmt: skip
        return
    if sample_file is not None and population_file is not None:
        if traces:
            raise _UsageError(
                "--population and --traces are two populations; give one",
                where="--traces",
                fix="drop --population to compare with the trace store",
            )
        from assay.data.sampling import composition, read_records

        spec = _spec(strata or by, time_column, tz, weight)
        report = composition(read_records(sample_file), read_records(population_file), spec)
        _print_composition(report, {"source": str(population_file)}, json_out)
        return
    if not traces:
        raise _UsageError(
            "nothing to compare: give SAMPLE --population FILE, --traces, or --curated FILE",
            where="--population",
            fix="e.g. assay data composition --traces --by intent",
        )
    store = _store(db)
    try:
        if sample_file is not None:
            from assay.data.sampling import composition
            from assay.trace.population import sample_records

            spec = _spec(strata or by, "timestamp", tz, weight)
            population, source = _read_traces(
                store, spec.strata, since, until, fields, weight, json_out
            )
            report = composition(sample_records(sample_file), population, spec)
            _print_composition(report, source, json_out)
            return
        names = _names(by or strata, "--by")
        population, source = _read_traces(store, names, since, until, fields, None, json_out)
    finally:
        store.close()
    _print_shares(population, names, source, tz, json_out)


def _print_composition(report: CompositionReport, source: dict[str, Any], json_out: bool) -> None:
    if json_out:
        console.print_json(json.dumps({**report.to_json(), **source}))
    else:
        _render(report)


def _label_counts(population: list[Record], name: str, tz: str) -> dict[str, int]:
    from collections import Counter

    from assay.data.sampling import HOUR_OF_WEEK, StrataSpec, hour_of_week_label

    if name == HOUR_OF_WEEK:
        zone = StrataSpec((name,), tz=tz).zone()
        return Counter(hour_of_week_label(r.values["timestamp"], zone) for r in population)
    return Counter(str(r.values[name]) for r in population)


def _print_shares(
    population: list[Record], names: tuple[str, ...], source: dict[str, Any], tz: str,
    json_out: bool,
) -> None:  # fmt: skip
    from assay.data.curriculum import category_shares

    shares = {name: category_shares(_label_counts(population, name, tz)) for name in names}
    if json_out:
        data = {
            **source,
            "population_size": len(population),
            "confidence": 0.95,
            "variables": {n: [s.to_json() for s in v] for n, v in shares.items()},
        }
        console.print_json(json.dumps(data))
        return
    window = ", ".join(f"{k} {source[k]}" for k in ("since", "until") if source.get(k))
    for name, values in shares.items():
        table = Table(title=f"{name}: production shares of {len(population):,} traces"
                      + (f" ({window})" if window else ""))  # fmt: skip
        for column in ("value", "traces", "share", "95% interval"):
            table.add_column(column, justify="left" if column == "value" else "right")
        for s in values:
            table.add_row(s.category, f"{s.count:,}", _pct(s.share), _interval(s))
        console.print(table)


def _interval(share: CategoryShare) -> str:
    return f"{share.low:.1%}–{share.high:.1%}"


def _curated(
    curated: Path,
    curated_field: str | None,
    hedge: str | None,
    by: str | None,
    population_file: Path | None,
    window: tuple[str | None, str | None, list[str] | None, str | None, str],
    json_out: bool,
) -> None:
    from assay.data.curriculum import HEDGE_CATEGORIES, audit_curated, read_categories

    names = _names(by, "--by")
    if len(names) != 1:
        raise _UsageError(
            f"--by names {len(names)} strata; a curated set is compared on one",
            where="--by",
            fix="e.g. --by intent",
        )
    name = names[0]
    field = curated_field or name
    curated_counts = read_categories(curated, field)
    since, until, fields, db, tz = window
    production_counts: Mapping[str, int]
    if population_file is not None:
        production_counts = read_categories(population_file, name)
        source: dict[str, Any] = {"source": str(population_file)}
    else:
        store = _store(db)
        try:
            population, source = _read_traces(store, names, since, until, fields, None, json_out)
        finally:
            store.close()
        production_counts = _label_counts(population, name, tz)
    hedge_names = _names(hedge, "--hedge") if hedge is not None else HEDGE_CATEGORIES
    report = audit_curated(curated_counts, production_counts, hedge_names=hedge_names)
    if json_out:
        data = {
            "by": name,
            "curated": {"file": str(curated), "field": field},
            "production": source,
            **report.to_json(),
        }
        console.print_json(json.dumps(data))
        return
    _render_curated(report, name, curated, source)


def _render_curated(
    report: CurriculumReport, name: str, curated: Path, source: dict[str, Any]
) -> None:
    where = "the trace store" if source.get("source") == "traces" else source["source"]
    table = Table(
        title=f"{name}: curated set ({report.curated_n:,} rows, {curated}) vs production "
        f"({report.production_n:,}, {where})"
    )
    for column in ("category", "curated", "production", "95% interval", "difference", "p"):
        table.add_column(column, justify="left" if column == "category" else "right")
    rows = [*report.categories, *([report.hedge_total] if report.hedge_total else [])]
    for row in rows:
        label = (
            f"{row.category} (hedge)"
            if row.hedge and row is not report.hedge_total
            else (row.category)
        )
        style = "yellow" if row.under_represented else None
        table.add_row(
            label,
            _pct(row.curated.share),
            _pct(row.production.share),
            _interval(row.production),
            f"{row.difference * 100:+.1f} pp",
            f"{row.p_value:.2g}",
            style=style,
        )
    console.print(table)
    if report.test is not None:
        t = report.test
        console.print(
            f"whole table: G = {t.g:.2f}, p = {t.g_p_value:.2g}; chi-square = {t.chi2:.2f}, "
            f"p = {t.chi2_p_value:.2g} (dof {t.dof}, smallest expected count "
            f"{t.min_expected:.1f})"
        )
    for key, count in (
        ("curated rows", report.curated_missing),
        ("production traces", report.production_missing),
    ):
        if count:
            console.print(f"{count:,} {key} have no {name} and are not compared")
    for flag in report.flags:
        console.print(f"[yellow]{flag.code}[/yellow]: {flag.message}")
    for note in report.notes:
        console.print(f"note: {note}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _render(report: CompositionReport) -> None:
    basis = f"by {report.spec.weight}" if report.spec.weight else "by records"
    for name, values in report.variables.items():
        if name == "hour_of_week":
            touched = sum(1 for v in values if v.sample_count)
            console.print(
                f"hour_of_week ({report.spec.tz}): the sample touches {touched} of "
                f"{len(values)} hours, holding {_pct(report.hour_coverage)} of traffic"
            )
            continue
        table = Table(title=f"{name}: sample vs population ({basis})")
        for column in ("value", "population", "sample", "coverage"):
            table.add_column(column, justify="left" if column == "value" else "right")
        for v in values:
            table.add_row(v.value, _pct(v.population_share), _pct(v.sample_share), _pct(v.coverage))
        console.print(table)
    for flag in report.flags:
        console.print(f"[yellow]{flag.code}[/yellow]: {flag.message}")
    if any(f.code == "temporal_window_bias" for f in report.flags):
        for name, coverage in report.segment_coverage.items():
            shown = ", ".join(f"{value}: {_pct(c)}" for value, c in coverage.items())
            console.print(f"  {name} coverage: {shown}")
