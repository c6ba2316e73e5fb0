"""Stratified sampling of production records into an eval set, and the sample's bias check (D1, D2).

A *record* is one row of a production table (JSONL, CSV or Parquet) with a timestamp column and
categorical segment columns. Strata are declared by name: ``hour_of_week`` is derived from the
timestamp (``Mon 03:00`` … ``Sun 23:00`` in the chosen time zone); any other name is a column.

Allocation is proportional to each stratum's share of the population (by record count, or by
the sum of a weight column such as revenue) and rounded by the largest-remainder (Hamilton)
method, so every stratum's count is within ±1 of its quota ``n × share`` unless the stratum has
fewer records than its quota, in which case it is taken whole and the shortfall is re-allocated
among the others.

The bias check (:func:`bias_check`) flags ``temporal_window_bias`` when either

* **coverage**: the hours of week present in the sample hold less than
  :data:`MIN_HOUR_COVERAGE` (50%) of the population's traffic, or
* **concentration**: one hour of day holds more than :data:`MAX_WINDOW_SHARE` (50%) of the
  sample while it holds less than :data:`MAX_WINDOW_TRAFFIC` (25%) of the population's traffic,

and reports, for every other stratum column, each value's coverage: its share of the sample
divided by its share of the population (100% is proportional, ``0%`` means absent). Every
stratum value whose sample share is more than :data:`MARGINAL_TOLERANCE` (2 points) from its
population share is flagged ``marginal_off``.

With several stratum variables the allocation keeps each variable's marginal shares, not only
the cells' (:func:`allocate_balanced`): per-cell rounding over a product of many strata starves
the values spread over many small cells.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assay.core.errors import AssayError, DatasetError
from assay.data.readers import open_rows

HOUR_OF_WEEK = "hour_of_week"
MIN_HOUR_COVERAGE = 0.5
MAX_WINDOW_SHARE = 0.5
MAX_WINDOW_TRAFFIC = 0.25
#: How far a stratum value's share of the sample may sit from its share of production before
#: the composition report flags it (``marginal_off``), in absolute share (2 points).
MARGINAL_TOLERANCE = 0.02
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class SamplingError(AssayError):
    """Raised for an impossible sampling request: an unknown time zone, no strata, ``n`` larger
    than the population, a negative weight."""

    code = "sampling_error"


@dataclass(frozen=True)
class Record:
    """One production row: its values and where it was read from (``file:line``)."""

    where: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class StrataSpec:
    """Which strata to sample by and how to read them.

    ``strata``: stratum variables (``hour_of_week`` or column names); ``time_column``: the
    timestamp (ISO 8601 text, a datetime, or Unix seconds; text without an offset is UTC);
    ``tz``: the IANA zone hours of week are counted in; ``weight``: an optional non-negative
    numeric column whose sum, not the record count, gives each stratum's share.
    """

    strata: tuple[str, ...]
    time_column: str = "timestamp"
    tz: str = "UTC"
    weight: str | None = None

    def zone(self) -> ZoneInfo:
        """The time zone, or a SamplingError naming the option."""
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SamplingError(
                f"unknown time zone {self.tz!r}",
                where="--timezone",
                fix="give an IANA name such as UTC or America/New_York",
            ) from error


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """Every row of a JSONL, CSV or Parquet (or JSON/YAML) table, with its ``file:line``."""
    source = open_rows(path)
    records = []
    for number, row in source.rows:
        where = source.where(number)
        if not isinstance(row, Mapping):
            raise DatasetError(
                f"a record must be a mapping of column to value, not {type(row).__name__}",
                where=where,
                fix="write one object per line with the timestamp and segment columns",
            )
        records.append(Record(where, row))
    return records


def _timestamp(record: Record, column: str) -> datetime:
    value = record.values.get(column)
    if value is None or value == "":
        raise DatasetError(
            f"the record has no timestamp column {column!r}",
            where=record.where,
            fix="add the column or name the right one with --time-column",
        )
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, tz=UTC)
        else:
            moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError) as error:
        raise DatasetError(
            f"cannot read timestamp {value!r} in column {column!r}",
            where=record.where,
            fix="use ISO 8601 (2024-05-01T03:15:00Z) or Unix seconds",
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def write_records(records: Iterable[Record], path: str | os.PathLike[str]) -> int:
    """Write records as JSONL (values unchanged; datetimes as ISO text). Returns the count."""
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(dict(record.values), default=_json_default) + "\n")
            count += 1
    return count


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def hour_of_week_label(moment: datetime, zone: ZoneInfo) -> str:
    """``Mon 03:00`` for any moment in the 03:00–04:00 hour of a Monday in ``zone``."""
    local = moment.astimezone(zone)
    return f"{_DAYS[local.weekday()]} {local.hour:02d}:00"


def _value(record: Record, variable: str, spec: StrataSpec, zone: ZoneInfo) -> str:
    if variable == HOUR_OF_WEEK:
        return hour_of_week_label(_timestamp(record, spec.time_column), zone)
    value = record.values.get(variable)
    if value is None or value == "":
        raise DatasetError(
            f"the record has no value in stratum column {variable!r}",
            where=record.where,
            fix=f"fill the column, or drop {variable!r} from --strata",
        )
    return str(value)


def _weight(record: Record, column: str) -> float:
    value = record.values.get(column)
    try:
        weight = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        weight = math.nan
    if not math.isfinite(weight) or weight < 0:
        raise DatasetError(
            f"weight column {column!r} holds {value!r}, not a non-negative number",
            where=record.where,
            fix="give every record a number ≥ 0 (0 for no weight)",
        )
    return weight


@dataclass(frozen=True)
class _Table:
    """Records with their stratum values (one tuple per record, in ``spec.strata`` order)."""

    keys: list[tuple[str, ...]]
    weights: list[float]


def _tabulate(records: Sequence[Record], spec: StrataSpec) -> _Table:
    if not spec.strata:
        raise SamplingError("no strata declared", where="--strata", fix="e.g. hour_of_week,segment")
    zone = spec.zone()
    keys = [tuple(_value(r, v, spec, zone) for v in spec.strata) for r in records]
    weights = [_weight(r, spec.weight) for r in records] if spec.weight else [1.0] * len(records)
    return _Table(keys, weights)


def allocate(
    shares: Mapping[Any, float], n: int, capacity: Mapping[Any, int] | None = None
) -> dict[Any, int]:
    """Split ``n`` over strata in proportion to ``shares`` by the largest-remainder method.

    Each stratum gets ``floor(n × share / total)``; the seats left go one each to the largest
    remainders (ties by stratum order). So every count is within ±1 of its quota. A stratum
    whose quota exceeds its ``capacity`` (records available) is filled to capacity and the rest
    is re-allocated over the others the same way.
    """
    counts: dict[Any, int] = dict.fromkeys(shares, 0)
    open_strata = [k for k in shares if capacity is None or capacity[k] > 0]
    remaining = n
    while remaining > 0 and open_strata:
        total = sum(shares[k] for k in open_strata)
        if total <= 0:
            # Only zero-weight strata are left: share what remains by records available.
            quotas = {k: remaining / len(open_strata) for k in open_strata}
        else:
            quotas = {k: remaining * shares[k] / total for k in open_strata}
        full = [k for k in open_strata if capacity is not None and quotas[k] >= capacity[k]]
        if full:
            for k in full:
                counts[k] = capacity[k]  # type: ignore[index]
                remaining -= capacity[k]  # type: ignore[index]
            open_strata = [k for k in open_strata if k not in full]
            continue
        floors = {k: math.floor(quotas[k]) for k in open_strata}
        left = remaining - sum(floors.values())
        order = sorted(open_strata, key=lambda k: floors[k] - quotas[k])
        for k in order[:left]:
            floors[k] += 1
        for k in open_strata:
            counts[k] += floors[k]
        remaining = 0
    return counts


def _real_quotas(
    shares: Mapping[Any, float], n: int, capacity: Mapping[Any, int]
) -> dict[Any, float]:
    """Proportional quotas ``n × share`` as real numbers, a stratum with fewer records than its
    quota taken whole and the rest spread over the others in proportion."""
    quotas: dict[Any, float] = dict.fromkeys(shares, 0.0)
    open_strata = [k for k in shares if capacity[k] > 0]
    remaining = float(n)
    while remaining > 1e-9 and open_strata:
        total = sum(shares[k] for k in open_strata)
        share = {k: (shares[k] / total if total > 0 else 1 / len(open_strata)) for k in open_strata}
        full = [k for k in open_strata if remaining * share[k] >= capacity[k]]
        if not full:
            for k in open_strata:
                quotas[k] = remaining * share[k]
            break
        for k in full:
            quotas[k] = float(capacity[k])
            remaining -= capacity[k]
        open_strata = [k for k in open_strata if k not in full]
    return quotas


def allocate_balanced(
    shares: Mapping[tuple[str, ...], float], n: int, capacity: Mapping[tuple[str, ...], int]
) -> dict[tuple[str, ...], int]:
    """Split ``n`` over cells of several stratum variables so that every variable's marginal
    counts stay close to ``n ×`` its population share.

    Per-cell largest-remainder rounding (:func:`allocate`) is exact for one variable but, over
    a product of many (hour of week × segment × geography × intent × actor), almost every cell's
    quota is below one and the few seats go to the largest cells: segments spread over many
    small cells (enterprise, automation) are starved. Here each cell gets the floor of its real
    quota, and the seats left go one at a time to the cell whose values are furthest below
    their marginal targets (the sum over variables of target − count), ties to the larger
    fractional part: a greedy balanced rounding in the spirit of Deville & Tillé's (2004) cube
    method. Each marginal then lands within a few records of its target; within a cell,
    records are still drawn uniformly.
    """
    import numpy as np

    cells = list(shares)
    quotas = _real_quotas(shares, n, capacity)
    q = np.array([quotas[c] for c in cells])
    counts = np.floor(q + 1e-9).astype(int)
    n_vars = len(cells[0]) if cells else 0
    codes = []
    targets = []
    current = []
    for position in range(n_vars):
        values = {c[position] for c in cells}
        index = {v: i for i, v in enumerate(sorted(values))}
        code = np.array([index[c[position]] for c in cells])
        codes.append(code)
        targets.append(np.bincount(code, weights=q, minlength=len(index)))
        current.append(np.bincount(code, weights=counts, minlength=len(index)))
    room = np.array([capacity[c] for c in cells]) - counts
    fraction = q - counts
    candidate = (room > 0) & (fraction > 1e-9)
    for _ in range(n - int(counts.sum())):
        if not candidate.any():
            candidate = room > 0  # every fractional seat given: any cell with records left
            if not candidate.any():
                break
        score = sum(targets[v][codes[v]] - current[v][codes[v]] for v in range(n_vars))
        score = np.where(candidate, score + 1e-6 * fraction, -np.inf)
        best = int(np.argmax(score))
        counts[best] += 1
        room[best] -= 1
        candidate[best] = False
        for v in range(n_vars):
            current[v][codes[v][best]] += 1
    return {c: int(k) for c, k in zip(cells, counts, strict=True)}


@dataclass(frozen=True)
class StratumAllocation:
    """One stratum: records in the population, its quota ``n × share`` and the records drawn."""

    key: tuple[str, ...]
    population: int
    share: float
    quota: float
    drawn: int


@dataclass(frozen=True)
class StratifiedSample:
    """The records drawn (in population order) and the allocation per stratum."""

    spec: StrataSpec
    records: list[Record]
    allocation: list[StratumAllocation]
    seed: int


def draw_stratified(
    records: Sequence[Record], spec: StrataSpec, n: int, *, seed: int = 0
) -> StratifiedSample:
    """Draw ``n`` records by proportional (or weighted) allocation over ``spec.strata``.

    Within a stratum records are drawn uniformly without replacement by ``random.Random(seed)``,
    so the same file, strata, ``n`` and seed give the same sample.
    """
    if n < 1 or n > len(records):
        raise SamplingError(
            f"cannot draw {n} records from a population of {len(records)}",
            where="--n",
            fix=f"choose 1 ≤ n ≤ {len(records)}",
        )
    table = _tabulate(records, spec)
    members: dict[tuple[str, ...], list[int]] = defaultdict(list)
    mass: dict[tuple[str, ...], float] = defaultdict(float)
    for index, (key, weight) in enumerate(zip(table.keys, table.weights, strict=True)):
        members[key].append(index)
        mass[key] += weight
    strata = sorted(members)
    total = sum(mass.values())
    shares = {k: (mass[k] / total if total > 0 else len(members[k]) / len(records)) for k in strata}
    capacity = {k: len(members[k]) for k in strata}
    counts = (
        allocate_balanced(shares, n, capacity)
        if len(spec.strata) > 1
        else allocate(shares, n, capacity)
    )
    rng = random.Random(seed)
    chosen: list[int] = []
    for key in strata:
        chosen.extend(rng.sample(members[key], counts[key]))
    allocation = [
        StratumAllocation(key, len(members[key]), shares[key], n * shares[key], counts[key])
        for key in strata
    ]
    return StratifiedSample(spec, [records[i] for i in sorted(chosen)], allocation, seed)


@dataclass(frozen=True)
class ValueShare:
    """One value of a stratum variable: its share of the population and of the sample.

    ``population_share`` is by weight when the spec has one; ``coverage`` is
    ``sample_share / population_share`` (``None`` when the population share is 0).
    """

    value: str
    population_count: int
    population_share: float
    sample_count: int
    sample_share: float

    @property
    def coverage(self) -> float | None:
        """How well the value is represented: 1.0 proportional, 0.0 absent."""
        if self.population_share == 0:
            return None
        return self.sample_share / self.population_share


@dataclass(frozen=True)
class BiasFlag:
    """A warning about how the sample was drawn, with the numbers that triggered it."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompositionReport:
    """Sample against population, per stratum variable, with the bias check's flags.

    ``variables`` maps each stratum variable to its values (population order by share);
    ``segment_coverage`` maps each non-time variable to ``{value: coverage}``;
    ``hour_coverage`` is the population traffic share of the hours of week the sample touches.
    """

    spec: StrataSpec
    population_size: int
    sample_size: int
    variables: dict[str, list[ValueShare]]
    hour_coverage: float | None
    flags: list[BiasFlag]
    segment_coverage: dict[str, dict[str, float | None]]

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for ``--json``."""
        return {
            "strata": list(self.spec.strata),
            "weight": self.spec.weight,
            "timezone": self.spec.tz,
            "population_size": self.population_size,
            "sample_size": self.sample_size,
            "hour_coverage": self.hour_coverage,
            "flags": [{"code": f.code, "message": f.message, **f.details} for f in self.flags],
            "segment_coverage": self.segment_coverage,
            "variables": {
                name: [
                    {
                        "value": v.value,
                        "population_count": v.population_count,
                        "population_share": v.population_share,
                        "sample_count": v.sample_count,
                        "sample_share": v.sample_share,
                        "coverage": v.coverage,
                    }
                    for v in values
                ]
                for name, values in self.variables.items()
            },
        }


def _shares(keys: Iterable[str], weights: Iterable[float]) -> tuple[Counter[str], dict[str, float]]:
    counts: Counter[str] = Counter()
    mass: dict[str, float] = defaultdict(float)
    for key, weight in zip(keys, weights, strict=True):
        counts[key] += 1
        mass[key] += weight
    total = sum(mass.values())
    if total <= 0:
        size = sum(counts.values()) or 1
        return counts, {k: counts[k] / size for k in counts}
    return counts, {k: mass[k] / total for k in mass}


def composition(
    sample: Sequence[Record], population: Sequence[Record], spec: StrataSpec
) -> CompositionReport:
    """Compare ``sample`` with ``population`` on every stratum variable and run the bias check.

    Population shares use ``spec.weight`` when given (the target the sample should match);
    sample shares are by record count.
    """
    pop = _tabulate(population, spec)
    drawn = _tabulate(sample, spec)
    variables: dict[str, list[ValueShare]] = {}
    for position, name in enumerate(spec.strata):
        pop_counts, pop_shares = _shares((k[position] for k in pop.keys), pop.weights)
        sample_counts = Counter(k[position] for k in drawn.keys)
        size = len(sample) or 1
        values = sorted(set(pop_counts) | set(sample_counts), key=lambda v: -pop_shares.get(v, 0))
        variables[name] = [
            ValueShare(
                v, pop_counts[v], pop_shares.get(v, 0.0), sample_counts[v], sample_counts[v] / size
            )
            for v in values
        ]
    flags, hour_coverage = _temporal_bias(sample, population, spec)
    flags += _marginal_flags(variables, len(sample))
    segment_coverage = {
        name: {v.value: v.coverage for v in values}
        for name, values in variables.items()
        if name != HOUR_OF_WEEK
    }
    return CompositionReport(
        spec, len(population), len(sample), variables, hour_coverage, flags, segment_coverage
    )


def _marginal_flags(variables: dict[str, list[ValueShare]], sample_size: int) -> list[BiasFlag]:
    """``marginal_off``: a stratum value whose share of the sample is more than
    :data:`MARGINAL_TOLERANCE` from its share of the population (weighted when the spec has a
    weight); every marginal is in the report, these are the ones that miss."""
    if not sample_size:
        return []
    flags = []
    for name, values in variables.items():
        for v in values:
            gap = v.sample_share - v.population_share
            if abs(gap) > MARGINAL_TOLERANCE:
                flags.append(
                    BiasFlag(
                        "marginal_off",
                        f"{name}={v.value} is {v.sample_share:.1%} of the sample but "
                        f"{v.population_share:.1%} of production ({100 * gap:+.1f} pts; "
                        f"tolerance ±{100 * MARGINAL_TOLERANCE:.0f} pts)",
                        {
                            "rule": "marginal_tolerance",
                            "variable": name,
                            "value": v.value,
                            "sample_share": v.sample_share,
                            "population_share": v.population_share,
                        },
                    )
                )
    return flags


def _temporal_bias(
    sample: Sequence[Record], population: Sequence[Record], spec: StrataSpec
) -> tuple[list[BiasFlag], float | None]:
    """The two ``temporal_window_bias`` rules of the module docstring, on traffic (counts)."""
    if not sample or not population or spec.time_column not in population[0].values:
        # No timestamps to judge (hour_of_week not declared and no time column): no check.
        return [], None
    zone = spec.zone()
    pop_moments = [_timestamp(r, spec.time_column).astimezone(zone) for r in population]
    sample_moments = [_timestamp(r, spec.time_column).astimezone(zone) for r in sample]
    pop_hours = Counter((m.weekday(), m.hour) for m in pop_moments)
    sample_hours = {(m.weekday(), m.hour) for m in sample_moments}
    coverage = sum(pop_hours[h] for h in sample_hours) / len(population)
    flags: list[BiasFlag] = []
    if coverage < MIN_HOUR_COVERAGE:
        flags.append(
            BiasFlag(
                "temporal_window_bias",
                f"the sample's hours of week hold {coverage:.1%} of population traffic "
                f"(< {MIN_HOUR_COVERAGE:.0%})",
                {"rule": "hour_coverage", "hour_coverage": coverage},
            )
        )
    pop_day_hours = Counter(m.hour for m in pop_moments)
    sample_day_hours = Counter(m.hour for m in sample_moments)
    for hour, count in sorted(sample_day_hours.items()):
        sample_share = count / len(sample)
        traffic = pop_day_hours[hour] / len(population)
        if sample_share > MAX_WINDOW_SHARE and traffic < MAX_WINDOW_TRAFFIC:
            flags.append(
                BiasFlag(
                    "temporal_window_bias",
                    f"{hour:02d}:00–{(hour + 1) % 24:02d}:00 holds {sample_share:.1%} of the "
                    f"sample but {traffic:.1%} of traffic",
                    {
                        "rule": "window_concentration",
                        "window": f"{hour:02d}:00-{(hour + 1) % 24:02d}:00",
                        "sample_share": sample_share,
                        "traffic_share": traffic,
                    },
                )
            )
    return flags, coverage


def bias_check(
    sample: Sequence[Record], population: Sequence[Record], spec: StrataSpec
) -> list[BiasFlag]:
    """The ``temporal_window_bias`` flags alone (see the module docstring for the rules)."""
    return _temporal_bias(sample, population, spec)[0]
