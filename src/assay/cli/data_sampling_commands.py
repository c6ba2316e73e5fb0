"""``assay data sample`` and ``assay data composition``: stratified eval sets from production
records, and how a sample compares with its population (D1, D2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from assay.cli.app import JsonOption, console, err_console
from assay.cli.data_commands import data_app

if TYPE_CHECKING:
    from assay.data.sampling import CompositionReport, StrataSpec

StrataOption = Annotated[
    str,
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


def _spec(strata: str, time_column: str, tz: str, weight: str | None) -> StrataSpec:
    from assay.data.sampling import StrataSpec

    names = tuple(s.strip() for s in strata.split(",") if s.strip())
    return StrataSpec(names, time_column=time_column, tz=tz, weight=weight)


@data_app.command("sample")
def sample(
    file: Annotated[Path, typer.Argument(help="Production records: JSONL, CSV or Parquet.")],
    n: Annotated[int, typer.Option("--n", help="Records to draw.")],
    strata: StrataOption,
    weight: WeightOption = None,
    time_column: TimeColumnOption = "timestamp",
    tz: TimezoneOption = "UTC",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same sample).")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the drawn records here as JSONL.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Draw N records by stratified allocation (each stratum within ±1 of its quota).

    Allocation is proportional to record counts, or to a --weight column; the report compares
    the sample with the population and flags temporal_window_bias.
    """
    from assay.data.sampling import composition, draw_stratified, read_records, write_records

    spec = _spec(strata, time_column, tz, weight)
    population = read_records(file)
    drawn = draw_stratified(population, spec, n, seed=seed)
    report = composition(drawn.records, population, spec)
    if out is not None:
        write_records(drawn.records, out)
    if json_out:
        data = report.to_json()
        data["seed"] = seed
        data["out"] = None if out is None else str(out)
        data["allocation"] = [
            {"stratum": list(a.key), "population": a.population, "quota": a.quota,
             "drawn": a.drawn}
            for a in drawn.allocation
        ]  # fmt: skip
        console.print_json(json.dumps(data))
        return
    worst = max(abs(a.drawn - a.quota) for a in drawn.allocation)
    err_console.print(
        f"drew {len(drawn.records):,} of {len(population):,} records over "
        f"{len(drawn.allocation):,} strata (largest |drawn − quota| {worst:.2f}, seed {seed})"
    )
    _render(report)
    if out is not None:
        err_console.print(f"wrote the sample to {out}")


@data_app.command("composition")
def composition_command(
    sample_file: Annotated[Path, typer.Argument(metavar="SAMPLE", help="The drawn records.")],
    population_file: Annotated[
        Path, typer.Option("--population", help="The production records it was drawn from.")
    ],
    strata: StrataOption,
    weight: WeightOption = None,
    time_column: TimeColumnOption = "timestamp",
    tz: TimezoneOption = "UTC",
    json_out: JsonOption = False,
) -> None:
    """Compare a sample with its population per stratum; flag temporal_window_bias.

    Each segment's coverage is its sample share over its population share (0% when absent).
    """
    from assay.data.sampling import composition, read_records

    spec = _spec(strata, time_column, tz, weight)
    report = composition(read_records(sample_file), read_records(population_file), spec)
    if json_out:
        console.print_json(json.dumps(report.to_json()))
    else:
        _render(report)


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
