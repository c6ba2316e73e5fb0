"""A pass's reads through the rollups (:mod:`assay.monitor.rollups`): a route's observations and
the substrate scan, each assembled from the windows a :class:`~assay.monitor.rollups.Plan`
reuses and the ranges it reads from rows, in time order.

Reads only: what a read produced for the store (the complete windows it read, serialized) comes
back as a :class:`Fresh` for the pass to write in its own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection

from assay.monitor.rollups import _US, Columns, Plan, micros
from assay.monitor.signals import (
    Observations,
    _datetimes,
    observations_of,
    read_route,
    series_name,
    signal_values,
    tune_reads,
)
from assay.monitor.spec import Route
from assay.monitor.substrate_scan import (
    DeployGroup,
    RetrievalGroup,
    SpanGroup,
    SubstrateScan,
    scan_substrate,
)
from assay.store import Store


@dataclass
class Fresh:
    """The complete windows a read produced: window index → serialized rollup, and counts."""

    plan: Plan
    data: dict[int, bytes] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)


def _signals(route: Route) -> list[Any]:
    return [s for s in route.signals if s.kind != "check"]


def read_columns(conn: Connection, route: Route, since: datetime, until: datetime) -> Columns:
    """Every signal's per-trace values of ``route``'s traces started in [since, until)."""
    read = read_route(conn, route, since, until)
    shared: dict[str, Any] = {}
    signals = _signals(route)
    values = [signal_values(conn, read, route, s, since, until, shared) for s in signals]
    matrix = np.column_stack(values) if values else np.zeros((len(read), 0))
    return Columns(read.ids, read.start, read.segment, matrix.reshape(len(read), len(signals)))


def _assemble(
    store: Store,
    plan: Plan,
    read: Callable[[Connection, datetime, datetime], Any],
    split: Callable[[Any, range], dict[int, Any]],
    encode: Callable[[Any], tuple[bytes, int]],
    decode: Callable[[Any], Any],
) -> tuple[list[Any], Fresh]:
    """The plan's windows in time order: each range read (``read``) and cut into windows
    (``split``), whose complete ones are encoded for the store (``encode``: the rollup and its
    count), and the reused ones (``decode``d)."""
    step = plan.seconds * _US
    parts: dict[int, Any] = {}
    fresh = Fresh(plan)
    with store.engine.connect() as conn:
        tune_reads(conn)
        for a, b in plan.ranges:
            if b <= a:
                continue
            windows = range(micros(a) // step, (micros(b) - 1) // step + 1)
            for w, part in split(read(conn, a, b), windows).items():
                parts[w] = part
                if plan.key is not None and plan.complete(w):
                    fresh.data[w], fresh.counts[w] = encode(part)
    for w, rollup in plan.reused.items():
        parts[w] = decode(rollup)
    return [parts[w] for w in sorted(parts)], fresh


def observe_planned(
    store: Store, route: Route, plan: Plan
) -> tuple[dict[str, Observations], Fresh]:
    """:func:`assay.monitor.signals.observe_route` over [plan.since, plan.until): the plan's
    reused windows from their rollups (decoded by the plan), its ranges from rows (one read
    per range)."""
    signals = _signals(route)
    step = plan.seconds * _US
    parts, fresh = _assemble(
        store,
        plan,
        lambda conn, a, b: read_columns(conn, route, a, b),
        lambda cols, windows: cols.split(step, windows),
        lambda part: (part.to_bytes(), len(part)),
        lambda part: part,
    )
    whole = Columns.concat(parts, len(signals))
    times = _datetimes(whole.start)
    observed = {
        series_name(s): observations_of(
            route, s, whole.ids, whole.start, whole.segment, whole.values[:, j], times
        )
        for j, s in enumerate(signals)
    }
    return observed, fresh


# --- The substrate scan, per hour.


def _hour_of(first: datetime) -> int:
    return micros(first) // (3600 * _US)


def _split_scan(scan: SubstrateScan) -> dict[int, SubstrateScan]:
    """The scan's groups per hour (``hour`` made the hour's index, the same on every
    backend, so reused and read groups merge alike)."""
    out: dict[int, SubstrateScan] = {}

    def part(h: int) -> SubstrateScan:
        return out.setdefault(h, SubstrateScan([], [], []))

    for g in scan.spans:
        h = _hour_of(g.first)
        part(h).spans.append(replace(g, hour=h))
    for r in scan.retrievals:
        h = _hour_of(r.first)
        part(h).retrievals.append(r._replace(hour=h))
    for d in scan.deploys:
        h = _hour_of(d.first)
        part(h).deploys.append(d._replace(hour=h))
    return out


def _fields(cls: Any) -> list[str]:
    """A group type's fields in order (a dataclass's, or a named tuple's)."""
    return list(cls._fields) if hasattr(cls, "_fields") else [f.name for f in fields(cls)]


#: The group fields held as tuples (JSON gives them back as lists).
_TUPLES = frozenset({"attributes", "trace"})


def _scan_bytes(scan: SubstrateScan) -> bytes:
    def row(g: Any) -> list[Any]:
        values = (getattr(g, name) for name in _fields(type(g)))
        return [micros(v) if isinstance(v, datetime) else v for v in values]

    return orjson.dumps(
        [[row(g) for g in part] for part in (scan.spans, scan.retrievals, scan.deploys)]
    )


def _scan_from(data: bytes) -> SubstrateScan:
    """:func:`_scan_bytes` read back: each group rebuilt field by field, ``first`` a datetime
    again and the tuple fields tuples."""
    from assay.monitor.rollups import from_micros

    def group(cls: Any, row: list[Any]) -> Any:
        values = {
            name: from_micros(v) if name == "first" else tuple(v) if name in _TUPLES else v
            for name, v in zip(_fields(cls), row, strict=True)
        }
        return cls(**values)

    rows = orjson.loads(data)
    kinds = (SpanGroup, RetrievalGroup, DeployGroup)
    spans, found, deploys = (
        [group(cls, r) for r in part] for cls, part in zip(kinds, rows, strict=True)
    )
    return SubstrateScan(spans, found, deploys)


def scan_planned(store: Store, plan: Plan) -> tuple[SubstrateScan, Fresh]:
    """:func:`assay.monitor.substrate_scan.scan_substrate` over [plan.since, plan.until): the
    reused hours from their rollups, the plan's ranges from rows."""

    def split(scan: SubstrateScan, hours: range) -> dict[int, SubstrateScan]:
        by_hour = _split_scan(scan)
        return {h: by_hour.get(h, SubstrateScan([], [], [])) for h in hours}

    parts, fresh = _assemble(
        store,
        plan,
        scan_substrate,
        split,
        lambda part: (_scan_bytes(part), sum(g.count for g in part.spans)),
        _scan_from,
    )
    return (
        SubstrateScan(
            [g for p in parts for g in p.spans],
            [g for p in parts for g in p.retrievals],
            [g for p in parts for g in p.deploys],
        ),
        fresh,
    )
