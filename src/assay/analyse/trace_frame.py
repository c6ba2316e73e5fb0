"""Reading spans and traces into numpy columns, fast and in bounded memory.

Cost, latency and length reports read hundreds of thousands to millions of rows. Each query
here runs on the driver's own cursor (SQLAlchemy's per-row processing would be most of the
time) and is fetched in chunks that become numpy arrays at once: floats and integers as arrays
(NULL → NaN, or −1 for integer codes), strings as ``int32`` codes into a vocabulary list. No
Python object per row outlives its chunk, so memory is the arrays themselves.

:class:`TrafficWindow` is the filter every report takes: a route, a time range on the trace's
start, and an environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.store import Store

_CHUNK = 50_000


@dataclass(frozen=True)
class TrafficWindow:
    """Which traces a report covers: ``route`` (exact), ``since`` (inclusive) and ``until``
    (exclusive) on the trace's start, ``environment`` (exact; ``None`` for every one)."""

    route: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    environment: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "environment": self.environment,
        }


@dataclass
class Columns:
    """Named numpy columns; string columns have ``vocab[name]`` (code → text)."""

    data: dict[str, NDArray[Any]] = field(default_factory=dict)
    vocab: dict[str, list[str | None]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.data[name]

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def text(self, name: str, code: int) -> str | None:
        return self.vocab[name][code] if code >= 0 else None

    def codes_of(self, name: str, value: str | None) -> int:
        try:
            return self.vocab[name].index(value)
        except ValueError:
            return -2


def dialect_of(store: Store) -> str:
    return store.engine.dialect.name


def epoch_seconds(column: str, dialect: str) -> str:
    """SQL for a stored timestamp as Unix seconds (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return f"((julianday({column}) - 2440587.5) * 86400.0)"
    return f"EXTRACT(EPOCH FROM {column})"


def param(dialect: str, name: str) -> str:
    """A named placeholder in the driver's style (sqlite3 ``:name``, psycopg ``%(name)s``)."""
    return f":{name}" if dialect == "sqlite" else f"%({name})s"


def _time_param(dialect: str, value: datetime) -> Any:
    if dialect == "sqlite":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def window_sql(
    window: TrafficWindow, dialect: str, alias: str = "t"
) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses on the traces table (aliased ``alias``) and their parameters."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if window.route is not None:
        clauses.append(f"{alias}.route = {param(dialect, 'w_route')}")
        params["w_route"] = window.route
    if window.since is not None:
        clauses.append(f"{alias}.start_time >= {param(dialect, 'w_since')}")
        params["w_since"] = _time_param(dialect, window.since)
    if window.until is not None:
        clauses.append(f"{alias}.start_time < {param(dialect, 'w_until')}")
        params["w_until"] = _time_param(dialect, window.until)
    if window.environment is not None:
        clauses.append(f"{alias}.environment = {param(dialect, 'w_env')}")
        params["w_env"] = window.environment
    return clauses, params


def fetch_columns(
    store: Store, sql: str, params: dict[str, Any], spec: Sequence[tuple[str, str]]
) -> Columns:
    """Run ``sql`` on the driver's cursor and return its columns, named and typed by ``spec``:
    ``(name, "f")`` float (NULL → NaN), ``(name, "i")`` integer (NULL → −1), ``(name, "s")``
    string code (NULL → −1). Rows are fetched 50,000 at a time."""
    chunks: dict[str, list[NDArray[Any]]] = {name: [] for name, _ in spec}
    vocab: dict[str, dict[str | None, int]] = {name: {} for name, kind in spec if kind == "s"}
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(_CHUNK)
            if not rows:
                break
            columns = list(zip(*rows, strict=True))
            for (name, kind), values in zip(spec, columns, strict=True):
                if kind == "f":  # numpy reads None as NaN for a float array
                    chunks[name].append(np.array(values, dtype=float))
                elif kind == "i":
                    floats = np.array(values, dtype=float)
                    chunks[name].append(np.nan_to_num(floats, nan=-1.0).astype(np.int64))
                else:
                    table = vocab[name]
                    codes = [
                        -1 if v is None else table.setdefault(str(v), len(table)) for v in values
                    ]
                    chunks[name].append(np.asarray(codes, dtype=np.int32))
        cursor.close()
    finally:
        raw.close()
    out = Columns()
    for name, kind in spec:
        parts = chunks[name]
        empty = np.empty(0, dtype=float if kind == "f" else np.int64 if kind == "i" else np.int32)
        out.data[name] = np.concatenate(parts) if parts else empty
        if kind == "s":
            out.vocab[name] = list(vocab[name])
    return out


def group_codes(codes: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Unique codes and, for each, the row indices holding it (stable order)."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    uniques, starts = np.unique(sorted_codes, return_index=True)
    bounds = [*list(starts), len(codes)]
    groups = np.empty(len(uniques), dtype=object)
    for k in range(len(uniques)):
        groups[k] = order[bounds[k] : bounds[k + 1]]
    return uniques, groups
