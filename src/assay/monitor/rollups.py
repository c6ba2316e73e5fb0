"""Incremental monitoring passes: per-window rollups of the observations, under a watermark.

A pass analyses every observation of the lookback (the CUSUM charts, the medians' intervals and
the shifts' bootstrap need the values themselves, not per-window sums), but only the windows
whose traces changed since the last pass need reading from the trace tables. A **rollup** is
one window (``monitors.window`` long, epoch-aligned) of a route's per-trace columns — trace
id, start time, segment and each signal's value (NaN: none) — exactly what
:func:`assay.monitor.signals.observe_read` computes for those traces, so a pass that reads
some windows from rollups and the rest from rows analyses the same observations in the same
order as a pass that reads everything (the cold pass), and finds the same points, changes and
budgets. The substrate scan's hourly groups are rolled up the same way, per hour.

**Keys.** A rollup is stored under a hash of what its values depend on (:func:`route_key`:
the route's filter, segment attribute, each signal's name and options, the window, and
:data:`ROLLUP_VERSION`): editing a route's filter or a signal's definition in
``monitors.yaml`` changes the key, so that route's rollups are recomputed. Thresholds,
baselines, false-alarm rates and objectives only enter the analysis, which every pass runs on
all the observations. A route with a signal whose value of one trace depends on other traces
(``outcome_failure``: one value per session, keyed by its first trace in the lookback) has no
key and is read in full on every pass.

**Which windows are re-read.** Only a window that lies wholly inside the pass's range and has a
rollup is reused; the partial first and last windows are always read. A rollup is stale when
a row its values depend on changed after it was computed:

- *spans and traces, new or late*: every span is written with its trace's upsert, which sets
  ``traces.updated_at`` to the time of the batch; a trace's spans all start within its
  [start_time, end_time], and a late span can only widen that range, so the windows that
  overlap [start_time, end_time] of each trace updated since the watermark hold every window
  the trace's observation or spans were or are in (a trace moved to an earlier window by a
  late root span included). The watermark is the largest ``updated_at`` seen at the previous
  pass's start, less :data:`MARGIN` (a batch stamped before that but committed after it, or a
  writer whose clock lags, within the margin);
- *scores and feedback* (online judges, reviews, thumbs; their ``created_at`` is the event's
  time, not its arrival): triggers log the trace of every row inserted, updated or deleted in
  ``monitor_marks`` with the database's clock; the windows of those traces are re-read;
- *delayed outcomes*: only ``outcome_failure`` reads them, and its routes are always read in
  full;
- *deletes (retention) and in-place updates (redaction)* of spans, retrievals or traces (other
  than the upsert, which moves ``updated_at``): triggers bump the store's **monitor epoch**;
  a pass whose key was computed under another epoch recomputes everything;
- *a configuration change*: a new key (above); ``assay monitor run --full`` forces a cold pass.

Marks older than :data:`MARK_KEEP` are deleted; a key whose watermark is older than the marks
kept is recomputed too.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, String, delete, func, select, type_coerce

from assay.monitor.spec import Route
from assay.store.tables import monitor_marks, monitor_rollups, monitor_state, traces

#: Bump when what a rollup holds, or how a signal's value is computed, changes.
ROLLUP_VERSION = "1"
#: How far before the previous watermark changes are looked for (see the module docstring).
MARGIN = timedelta(minutes=10)
#: Marks older than this are deleted; a key whose watermark is older is recomputed.
MARK_KEEP = timedelta(days=2)
#: The substrate groups are hourly (``GROUP BY`` hour).
SUBSTRATE_SECONDS = 3600
#: Signals whose value for a trace depends on other traces.
NOT_LOCAL = frozenset({"outcome_failure"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000


def _hash(parts: Any) -> str:
    import hashlib

    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def route_key(route: Route, window: timedelta) -> str | None:
    """The key of ``route``'s rollups (``None``: the route is always read in full)."""
    signals = [s for s in route.signals if s.kind != "check"]
    if any(s.name in NOT_LOCAL for s in signals):
        return None
    return _hash(
        [
            ROLLUP_VERSION,
            "route",
            route.route,
            route.environment,
            route.service,
            sorted(route.attributes),
            route.segment_by,
            [[s.name, s.options] for s in signals],
            window.total_seconds(),
        ]
    )


def substrate_key() -> str:
    """The key of the substrate scan's hourly rollups."""
    from assay.monitor.substrate_scan import ATTRIBUTE_KEYS

    return _hash([ROLLUP_VERSION, "substrate", list(ATTRIBUTE_KEYS)])


def micros(t: datetime) -> int:
    return (t.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


@dataclass(frozen=True)
class Watermark:
    """The store's change clocks at one moment: the monitor epoch, the largest
    ``traces.updated_at`` and the latest mark's time (epoch seconds)."""

    epoch: int
    traces_at: datetime | None
    marks_at: float | None

    def as_json(self) -> str:
        at = None if self.traces_at is None else self.traces_at.isoformat()
        return json.dumps({"traces_at": at, "marks_at": self.marks_at})

    @classmethod
    def from_row(cls, seq: int, value: str | None) -> Watermark:
        data = json.loads(value or "{}")
        at = data.get("traces_at")
        return cls(int(seq), datetime.fromisoformat(at) if at else None, data.get("marks_at"))


def read_watermark(conn: Connection) -> Watermark:
    epoch = conn.execute(select(monitor_state.c.seq).where(monitor_state.c.key == "epoch"))
    traces_at = conn.execute(select(func.max(traces.c.updated_at))).scalar()
    marks_at = conn.execute(select(func.max(monitor_marks.c.at))).scalar()
    return Watermark(int(epoch.scalar() or 0), traces_at, marks_at)


@dataclass(frozen=True)
class Changed:
    """The traces changed since a watermark: ids, start and end (epoch µs), the columns routes
    filter on (route, environment, service); the first ``updated`` were updated (spans), the
    rest marked (scores, feedback)."""

    ids: frozenset[str]
    start: np.ndarray
    end: np.ndarray
    columns: list[tuple[Any, Any, Any]]
    updated: int


@dataclass
class Plan:
    """What one key's pass over [since, until) reuses (window index → its rollup: decoded
    :class:`Columns` for a route, bytes for the substrate) and what it reads from rows."""

    key: str | None
    seconds: int
    since: datetime
    until: datetime
    reused: dict[int, Any] = field(default_factory=dict)
    ranges: list[tuple[datetime, datetime]] = field(default_factory=list)
    full: bool = True

    def complete(self, w: int) -> bool:
        """Whether window ``w`` lies wholly inside [since, until) (so it can be stored)."""
        lo, hi = micros(self.since), micros(self.until)
        return w * self.seconds * _US >= lo and (w + 1) * self.seconds * _US <= hi

    def windows(self) -> range:
        step = self.seconds * _US
        return range(micros(self.since) // step, (micros(self.until) - 1) // step + 1)

    @property
    def read_windows(self) -> int:
        """Windows read from rows (the partial ends included)."""
        step = self.seconds * _US
        return sum((micros(b) - 1) // step - micros(a) // step + 1 for a, b in self.ranges if b > a)


class Tracker:
    """One pass's view of the rollups: the store's clocks at its start, each key's watermark,
    and the traces changed since each watermark (read once per distinct watermark)."""

    def __init__(self, conn: Connection, *, full: bool = False) -> None:
        self.full = full
        self.now = read_watermark(conn)
        self.states = {
            r.key[len("rollup:") :]: Watermark.from_row(r.seq, r.value)
            for r in conn.execute(select(monitor_state).where(monitor_state.c.key.like("rollup:%")))
        }
        pruned = conn.execute(
            select(monitor_state.c.value).where(monitor_state.c.key == "marks_pruned")
        ).scalar()
        #: Marks before this (database time) were deleted (:func:`prune_marks`).
        self.pruned = float(pruned) if pruned else None
        self._changed: dict[Watermark, Changed] = {}
        self.recomputed = 0
        self.reused = 0
        self.incremental = False

    def _stale(self, state: Watermark | None) -> bool:
        if self.full or state is None or state.epoch != self.now.epoch:
            return True
        # Marks the key would need have been deleted.
        since = -math.inf if state.marks_at is None else state.marks_at - MARGIN.total_seconds()
        return self.pruned is not None and self.pruned > since

    def changed(self, conn: Connection, state: Watermark) -> Changed:
        """Every trace updated (spans, late or new), scored or given feedback since ``state``
        (less :data:`MARGIN`)."""
        if state in self._changed:
            return self._changed[state]
        from assay.monitor.signals import _driver_rows, _micros

        columns = (
            traces.c.id,
            type_coerce(traces.c.start_time, String),
            type_coerce(traces.c.end_time, String),
            traces.c.route,
            traces.c.environment,
            traces.c.service,
        )
        query = select(*columns)
        if state.traces_at is not None:
            query = query.where(traces.c.updated_at > state.traces_at - MARGIN)
        updated = _driver_rows(conn, query)
        marked = (
            select(*columns)
            .select_from(monitor_marks.join(traces, traces.c.id == monitor_marks.c.trace_id))
            .distinct()
        )
        if state.marks_at is not None:
            marked = marked.where(monitor_marks.c.at > state.marks_at - MARGIN.total_seconds())
        rows = updated + _driver_rows(conn, marked)
        found = Changed(
            ids=frozenset(r[0] for r in rows),
            start=_micros([r[1] for r in rows]),
            end=_micros([r[2] for r in rows]),
            columns=[tuple(r[3:6]) for r in rows],
            updated=len(updated),
        )
        self._changed[state] = found
        return found

    def plan(
        self,
        conn: Connection,
        key: str | None,
        since: datetime,
        until: datetime,
        seconds: int,
        route: Route | None = None,
    ) -> Plan:
        """Which windows of [since, until) ``key``'s pass reuses and which it reads.

        ``route``: a route's plan (its rollups are :class:`Columns`, decoded here, and only its
        changed traces count: those its filter matches now, and those its rollups hold — a
        trace whose late root span moved it to another route); else the substrate's (every
        trace counts, marks do not: a score or feedback row changes no span)."""
        from assay.monitor.substrate_scan import matches

        plan = Plan(key, seconds, since, until)
        state = self.states.get(key) if key is not None else None
        if key is None or self._stale(state):
            plan.ranges = [(since, until)]
            return plan
        assert state is not None
        plan.full = False
        step = seconds * _US
        windows = plan.windows()
        changed = self.changed(conn, state)
        if route is None:
            keep = np.arange(changed.updated)
        else:
            keep = np.flatnonzero([matches(c, route) for c in changed.columns])
            keep = keep.astype(np.int64)
        dirty = _overlapping(
            changed.start[keep], changed.end[keep], step, windows.start, windows.stop - 1
        )
        complete = [w for w in windows if plan.complete(w)]
        cached: dict[int, Any] = {}
        if complete:
            rows = conn.execute(
                select(monitor_rollups.c.window_start, monitor_rollups.c.data).where(
                    monitor_rollups.c.key == key,
                    monitor_rollups.c.window_start >= from_micros(complete[0] * step),
                    monitor_rollups.c.window_start <= from_micros(complete[-1] * step),
                )
            )
            cached = {micros(t) // step: bytes(data) for t, data in rows}
        read: list[int] = []
        for w in windows:
            if plan.complete(w) and w in cached and w not in dirty:
                data = cached[w]
                if route is not None:
                    data = Columns.from_bytes(data)
                    if changed.ids and not changed.ids.isdisjoint(data.ids.tolist()):
                        read.append(w)
                        continue
                plan.reused[w] = data
            else:
                read.append(w)
        plan.ranges = [
            (max(since, from_micros(a * step)), min(until, from_micros((b + 1) * step)))
            for a, b in _runs(read)
        ]
        return plan

    def count(self, plan: Plan) -> None:
        """Add a finished plan to the pass's counts (called in the pass's thread)."""
        self.recomputed += plan.read_windows
        self.reused += len(plan.reused)
        self.incremental = self.incremental or not plan.full


def _overlapping(starts: np.ndarray, ends: np.ndarray, step: int, lo: int, hi: int) -> set[int]:
    """Windows in [lo, hi] that overlap any [start, end]."""
    if starts.size == 0:
        return set()
    first = np.maximum(starts // step, lo)
    last = np.minimum(np.maximum(ends, starts) // step, hi)
    keep = first <= last
    out: set[int] = set()
    for a, b in zip(first[keep].tolist(), last[keep].tolist(), strict=True):
        out.update(range(a, b + 1))
    return out


def _runs(windows: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive windows as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for w in windows:
        if runs and runs[-1][1] == w - 1:
            runs[-1] = (runs[-1][0], w)
        else:
            runs.append((w, w))
    return runs


def save(
    conn: Connection,
    plan: Plan,
    fresh: dict[int, bytes],
    counts: dict[int, int],
    watermark: Watermark,
    now: datetime,
) -> None:
    """Store the complete windows a pass read (``fresh``) and move the key's watermark to
    ``watermark`` (the pass's start). Only the windows the pass checked stay: its complete
    windows (reused or read); any other (outside its range: before the lookback, or after
    ``until`` for a pass at an earlier moment, or a partial end) is deleted, since the new
    watermark vouches for nothing the pass did not check."""
    if plan.key is None:
        return
    step = plan.seconds * _US
    complete = [w for w in plan.windows() if plan.complete(w)]
    rows = delete(monitor_rollups).where(monitor_rollups.c.key == plan.key)
    if plan.full or not complete:
        conn.execute(rows)
    else:
        first, last = from_micros(complete[0] * step), from_micros(complete[-1] * step)
        conn.execute(
            rows.where(
                (monitor_rollups.c.window_start < first) | (monitor_rollups.c.window_start > last)
            )
        )
        starts = [from_micros(w * step) for w in sorted(fresh)]
        for chunk in range(0, len(starts), 400):
            replaced = starts[chunk : chunk + 400]
            conn.execute(rows.where(monitor_rollups.c.window_start.in_(replaced)))
    if fresh:
        conn.execute(
            monitor_rollups.insert(),
            [
                {
                    "key": plan.key,
                    "window_start": from_micros(w * step),
                    "window_seconds": plan.seconds,
                    "n": counts.get(w, 0),
                    "data": data,
                    "computed_at": now,
                }
                for w, data in sorted(fresh.items())
            ],
        )
    set_state(conn, f"rollup:{plan.key}", watermark.epoch, watermark.as_json())


def set_state(conn: Connection, key: str, seq: int, value: str | None) -> None:
    conn.execute(delete(monitor_state).where(monitor_state.c.key == key))
    conn.execute(monitor_state.insert().values(key=key, seq=seq, value=value))


def prune_marks(conn: Connection, watermark: Watermark, pruned: float | None) -> None:
    """Delete marks older than :data:`MARK_KEEP` before the latest one, and record the cutoff
    (a key whose watermark is older is recomputed: see :meth:`Tracker._stale`)."""
    if watermark.marks_at is None:
        return
    cutoff = watermark.marks_at - MARK_KEEP.total_seconds()
    if pruned is not None and cutoff <= pruned:
        return
    conn.execute(delete(monitor_marks).where(monitor_marks.c.at < cutoff))
    set_state(conn, "marks_pruned", 0, repr(cutoff))


# --- One window's per-trace columns (a route's rollup).


@dataclass
class Columns:
    """Per-trace columns in time order: ids, start (epoch µs), segment, and one value column
    per signal (NaN: no observation)."""

    ids: np.ndarray
    start: np.ndarray
    segment: np.ndarray
    values: np.ndarray  # (n, k)

    def __len__(self) -> int:
        return int(self.start.size)

    def to_bytes(self) -> bytes:
        header = orjson.dumps([self.values.shape[1], self.ids.tolist(), self.segment.tolist()])
        return b"".join(
            (
                struct.pack("<I", len(header)),
                header,
                np.ascontiguousarray(self.start, dtype="<i8").tobytes(),
                np.ascontiguousarray(self.values, dtype="<f8").tobytes(),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Columns:
        (size,) = struct.unpack_from("<I", data)
        k, ids, segments = orjson.loads(data[4 : 4 + size])
        n = len(ids)
        at = 4 + size
        start = np.frombuffer(data, dtype="<i8", count=n, offset=at).astype(np.int64)
        values = np.frombuffer(data, dtype="<f8", count=n * k, offset=at + 8 * n)
        return cls(
            _objects(ids),
            start,
            _objects(segments),
            values.astype(float).reshape(n, k),
        )

    @classmethod
    def concat(cls, parts: Sequence[Columns], k: int) -> Columns:
        if not parts:
            empty = np.zeros(0, dtype=object)
            return cls(empty, np.zeros(0, dtype=np.int64), empty, np.zeros((0, k)))
        return cls(
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.start for p in parts]),
            np.concatenate([p.segment for p in parts]),
            np.concatenate([p.values for p in parts]),
        )

    def split(self, step: int, windows: Iterable[int]) -> dict[int, Columns]:
        """The columns of each window in ``windows`` (empty ones included)."""
        keys = self.start // step
        out = {}
        for w in windows:
            lo, hi = np.searchsorted(keys, [w, w + 1])
            out[w] = Columns(
                self.ids[lo:hi], self.start[lo:hi], self.segment[lo:hi], self.values[lo:hi]
            )
        return out


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
