"""Signals: per-trace observations of a route, read from the trace tables.

A signal turns each trace of a route (in a time range) into one observation: 0/1 for a
good/bad signal (1 is bad: an error, an unparsable output, a refusal, a bad outcome, a thumbs
down), a number otherwise (output length, judge score, latency, cost). The unit is the trace
(a request), so a route's observations are independent requests, never pooled across routes.
Observations come back in time order with the trace's start time, id and segment value.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, select

from assay.monitor.spec import Route, Signal
from assay.store import Store
from assay.store.tables import feedback, outcomes, spans, trace_scores, traces

_IN_CHUNK = 400
#: ``PRAGMA mmap_size`` of the connections a pass reads through (SQLite): pages are read from
#: the mapped file instead of one ``read`` system call each into a 2 MB page cache, which cut
#: the system time of the route reads ~6× (``benchmarks/monitor_speed.py``). SQLite caps it
#: at its compile-time maximum (2 GB by default).
MMAP_BYTES = 1 << 31
#: A canary probe passes when its mean score reaches this.
CANARY_PASS = 0.5


@dataclass
class Observations:
    """One signal's observations on one route, in time order."""

    route: str
    signal: Signal
    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    segments: list[str | None] = field(default_factory=list)
    #: ``times`` as Unix epoch seconds (``t.timestamp()``) when the reader had them as numbers
    #: (:meth:`epoch_seconds` computes them otherwise).
    stamps: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.values)

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=float)

    def epoch_seconds(self) -> np.ndarray:
        """``[t.timestamp() for t in times]`` as an array."""
        if self.stamps is not None and self.stamps.size == len(self.times):
            return self.stamps
        return np.fromiter((t.timestamp() for t in self.times), dtype=float, count=len(self.times))

    def subset(self, segment: str | None) -> Observations:
        """The observations of one segment value (``None``: all of them)."""
        if segment is None:
            return self
        keep = [i for i, s in enumerate(self.segments) if s == segment]
        stamps = self.epoch_seconds()[keep] if self.stamps is not None else None
        return Observations(
            self.route,
            self.signal,
            [self.times[i] for i in keep],
            [self.values[i] for i in keep],
            [self.trace_ids[i] for i in keep],
            [self.segments[i] for i in keep],
            stamps,
        )


@dataclass(frozen=True)
class TraceRow:
    id: str
    start: datetime
    end: datetime
    status: str
    cost: float | None
    session_id: str | None
    segment: str | None


def json_attribute(column: Any, key: str, dialect: str) -> Any:
    """SQL for the text of one key of a JSON-text column (SQLite ``json_extract``, PostgreSQL
    ``->>``); keys with dots are quoted as one key."""
    from sqlalchemy import cast, func, literal
    from sqlalchemy.dialects.postgresql import JSONB

    if dialect == "postgresql":
        return cast(column, JSONB).op("->>")(literal(key))
    quoted = key.replace('"', '\\"')
    return func.json_extract(column, f'$."{quoted}"')


def tune_reads(conn: Connection) -> None:
    """Set :data:`MMAP_BYTES` on a SQLite connection a pass reads through (it stays set on the
    pooled connection, where it only speeds up later reads); nothing on other databases."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _micros(values: Sequence[Any]) -> np.ndarray:
    """Unix epoch microseconds of timestamps as the driver returns them: SQLite's text (naive,
    UTC, as :class:`assay.store.tables.UTCDateTime` stores it) parsed by numpy in one call, or
    datetimes (naive ones are UTC)."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    if all(isinstance(v, str) for v in values):
        try:
            return np.array(values, dtype="datetime64[us]").astype(np.int64)
        except ValueError:  # a format numpy does not read (an offset): the slow way
            values = [datetime.fromisoformat(v) for v in values]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    return np.fromiter(
        (((v.replace(tzinfo=UTC) if v.tzinfo is None else v) - epoch) // tick for v in values),
        dtype=np.int64,
        count=len(values),
    )


def _datetimes(micros: np.ndarray) -> np.ndarray:
    """Timezone-aware (UTC) datetimes of epoch microseconds, as an object array."""
    naive = micros.astype("datetime64[us]").astype(object)
    return np.fromiter((t.replace(tzinfo=UTC) for t in naive), dtype=object, count=micros.size)


@dataclass
class RouteRead:
    """The traces of a route in a time range, as columns in time order (one read shared by
    every signal of the route; :meth:`rows` gives them as :class:`TraceRow`)."""

    ids: np.ndarray  # object: str
    start: np.ndarray  # int64 epoch microseconds
    end: np.ndarray  # int64 epoch microseconds
    status: list[str]
    cost: list[float | None]
    session_id: list[str | None]
    segment: np.ndarray  # object: str | None
    _times: np.ndarray | None = field(default=None, repr=False)
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def times(self) -> np.ndarray:
        """The start times (aware datetimes) as an object array."""
        if self._times is None:
            self._times = _datetimes(self.start)
        return self._times

    @property
    def index(self) -> dict[str, int]:
        """Trace id → position."""
        if self._index is None:
            self._index = {t: i for i, t in enumerate(self.ids.tolist())}
        return self._index

    def rows(self) -> list[TraceRow]:
        ends = _datetimes(self.end)
        return [
            TraceRow(*fields)
            for fields in zip(
                self.ids.tolist(),
                self.times.tolist(),
                ends.tolist(),
                self.status,
                self.cost,
                self.session_id,
                self.segment.tolist(),
                strict=True,
            )
        ]


def _driver_rows(conn: Connection, query: Any) -> list[Any]:
    """The rows of ``query`` as the driver returns them (tuples), without SQLAlchemy's row
    objects: for the large reads of a pass, whose columns (text, numbers, timestamps as text
    or datetimes) need no result processing."""
    result = conn.execute(query)
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def _route_where(query: Any, route: Route, since: datetime, until: datetime) -> Any:
    query = query.where(traces.c.start_time >= since, traces.c.start_time < until)
    if route.route is not None:
        query = query.where(traces.c.route == route.route)
    if route.environment is not None:
        query = query.where(traces.c.environment == route.environment)
    if route.service is not None:
        query = query.where(traces.c.service == route.service)
    return query


def read_route(conn: Connection, route: Route, since: datetime, until: datetime) -> RouteRead:
    """:func:`route_traces` as columns."""
    from sqlalchemy import String, type_coerce

    query = select(
        traces.c.id,
        # Timestamps as the driver returns them (text on SQLite), converted in one numpy call.
        type_coerce(traces.c.start_time, String),
        type_coerce(traces.c.end_time, String),
        traces.c.status,
        traces.c.cost,
        traces.c.session_id,
    )
    query = _route_where(query, route, since, until)
    rows = _driver_rows(conn, query.order_by(traces.c.start_time, traces.c.id))
    dialect = conn.dialect.name
    if route.attributes:
        ids_ok = _attribute_match(conn, [r[0] for r in rows], route.attributes, dialect)
        rows = [r for r in rows if r[0] in ids_ok]
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    ids = np.array(columns[0], dtype=object)
    segment = np.full(ids.size, None, dtype=object)
    if route.segment_by:
        segments: dict[str, str] = {}
        value = json_attribute(spans.c.attributes_json, route.segment_by, dialect)
        for chunk in _chunks(list(columns[0])):
            for trace_id, seg in conn.execute(
                select(spans.c.trace_id, value).where(
                    spans.c.trace_id.in_(chunk), spans.c.parent_id.is_(None), value.is_not(None)
                )
            ):
                segments.setdefault(trace_id, str(seg))
        segment[:] = [segments.get(t) for t in columns[0]]
    return RouteRead(
        ids=ids,
        start=_micros(columns[1]),
        end=_micros(columns[2]),
        status=list(columns[3]),
        cost=list(columns[4]),
        session_id=list(columns[5]),
        segment=segment,
    )


def route_traces(
    conn: Connection, route: Route, since: datetime, until: datetime
) -> list[TraceRow]:
    """The traces of ``route`` that started in [since, until), in time order, with the value of
    the route's ``segment_by`` attribute (from the trace's root span) when it has one."""
    return read_route(conn, route, since, until).rows()


def _attribute_match(
    conn: Connection, ids: list[str], wanted: Iterable[tuple[str, str]], dialect: str
) -> set[str]:
    """Trace ids any of whose spans holds every wanted attribute value (compared as text)."""
    from assay.trace.query import attribute_matches

    keep: set[str] | None = None
    for key, expected in wanted:
        value = json_attribute(spans.c.attributes_json, key, dialect)
        found: set[str] = set()
        for chunk in _chunks(ids):
            for trace_id, text in conn.execute(
                select(spans.c.trace_id, value).where(
                    spans.c.trace_id.in_(chunk), value.is_not(None)
                )
            ):
                if attribute_matches(_scalar(text), expected):
                    found.add(trace_id)
        keep = found if keep is None else keep & found
    return keep or set()


def _scalar(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _final_outputs(
    conn: Connection, route: Route, since: datetime, until: datetime, read: RouteRead
) -> dict[int, tuple[str | None, int | None, list[str]]]:
    """Per trace (by its position in ``read``): the text, output tokens and finish reasons of
    its last successful LLM call, from one read of the route's LLM spans."""
    query = select(
        spans.c.trace_id,
        spans.c.output_json,
        spans.c.output_tokens,
        spans.c.finish_reasons_json,
    ).select_from(spans.join(traces, traces.c.id == spans.c.trace_id))
    query = _route_where(query, route, since, until).where(
        spans.c.kind == "llm", spans.c.status != "error"
    )
    index = read.index
    last: dict[int, tuple[Any, Any, Any]] = {}
    # In end-time order per trace, so the last successful call wins (the span id breaks ties,
    # so a read of any time range that holds the trace picks the same call).
    for trace_id, output, tokens, reasons in _driver_rows(
        conn, query.order_by(spans.c.trace_id, spans.c.end_time, spans.c.span_id)
    ):
        i = index.get(trace_id)
        if i is not None:
            last[i] = (output, tokens, reasons)
    return {
        i: (_output_text(output), tokens, _reasons(reasons))
        for i, (output, tokens, reasons) in last.items()
    }


@lru_cache(maxsize=256)
def _reasons_tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _reasons(text: str | None) -> list[str]:
    """Finish reasons from their JSON text (a handful of distinct values: decoded once each)."""
    return list(_reasons_tuple(text)) if text else []


_scan_json = json.decoder.JSONDecoder().scan_once
_json_space = json.decoder.WHITESPACE.match


#: A run of digits that ``orjson`` may read as a float where ``json`` reads an exact integer.
_LONG_DIGITS = re.compile(r"\d{19}").search


def _loads(text: str) -> Any:
    """``json.loads(text)``, the same value and a ValueError wherever ``json.loads`` raises one,
    at a fraction of its cost (once or twice per observation).

    ``orjson`` first: it accepts only RFC 8259 JSON, a subset of what ``json`` accepts, and
    reads it to the same value except integers beyond 64 bits (floats to ``orjson``), so a text
    with a run of 19 digits, or one ``orjson`` rejects (NaN, lone surrogates, 1e400, a BOM),
    goes to ``json``'s own scanner without its three Python layers (``loads`` → ``decode`` →
    ``raw_decode``)."""
    if not isinstance(text, str):
        return json.loads(text)
    if _LONG_DIGITS(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM")
    try:
        value, end = _scan_json(text, _json_space(text, 0).end())
    except StopIteration:
        raise ValueError("Expecting value") from None
    if _json_space(text, end).end() != len(text):
        raise ValueError("Extra data")
    return value


def _output_text(output_json: str | None) -> str | None:
    """The assistant's text of a stored output (messages or a plain value)."""
    if output_json is None:
        return None
    try:
        value = _loads(output_json)
    except ValueError:
        return output_json
    if isinstance(value, list):
        texts = [
            str(m.get("content") or "")
            for m in value
            if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
        ]
        return texts[-1] if texts else None
    if isinstance(value, dict):
        return str(value.get("content") or value.get("text") or json.dumps(value))
    return str(value)


def format_bad(text: str, schema: dict[str, Any] | None) -> bool:
    """Whether an output fails the format check: not one JSON value (after trimming
    whitespace), or not valid against ``schema``."""
    return _format_check(schema)(text)


def _format_check(schema: dict[str, Any] | None) -> Any:
    """:func:`format_bad` for one schema (its validator built once)."""
    validator = None
    if schema is not None:
        from jsonschema.validators import validator_for

        validator = validator_for(schema)(schema)

    def bad(text: str) -> bool:
        text = text.strip()
        if validator is None:
            # Validity only: whatever orjson reads, json reads (see _loads); the value's
            # exactness does not matter here.
            try:
                orjson.loads(text)
                return False
            except orjson.JSONDecodeError:
                pass
        try:
            value = _loads(text)
        except ValueError:
            return True
        return validator is not None and not validator.is_valid(value)

    return bad


def observe(
    store: Store, route: Route, signal: Signal, since: datetime, until: datetime
) -> Observations:
    """The observations of one signal on one route for traces started in [since, until)."""
    with store.engine.connect() as conn:
        tune_reads(conn)
        read = read_route(conn, route, since, until)
        return observe_read(conn, read, route, signal, since, until)


def observe_read(
    conn: Connection,
    read: RouteRead,
    route: Route,
    signal: Signal,
    since: datetime,
    until: datetime,
    shared: dict[str, Any] | None = None,
) -> Observations:
    """:func:`observe` for traces already read (several signals share one read; ``shared``
    keeps what one signal read for the next, e.g. the final outputs)."""
    values = signal_values(conn, read, route, signal, since, until, shared)
    return observations_of(route, signal, read.ids, read.start, read.segment, values, read.times)


def observations_of(
    route: Route,
    signal: Signal,
    ids: np.ndarray,
    start: np.ndarray,
    segment: np.ndarray,
    values: np.ndarray,
    times: np.ndarray | None = None,
) -> Observations:
    """The observations of one signal from per-trace columns in time order (trace ids, start
    times in epoch microseconds, segments, and the signal's value per trace, NaN for none;
    ``times``: the start times as datetimes when already made)."""
    keep = np.flatnonzero(~np.isnan(values))  # missing or NaN: no observation
    return Observations(
        route.name,
        signal,
        (_datetimes(start[keep]) if times is None else times[keep]).tolist(),
        values[keep].tolist(),
        ids[keep].tolist(),
        segment[keep].tolist(),
        start[keep] / 1e6,
    )


def signal_values(
    conn: Connection,
    read: RouteRead,
    route: Route,
    signal: Signal,
    since: datetime,
    until: datetime,
    shared: dict[str, Any] | None = None,
) -> np.ndarray:
    """One signal's value for each trace of ``read`` (NaN where the trace has none): a
    function of the trace alone for every signal but ``outcome_failure`` (see
    :mod:`assay.monitor.rollups`)."""
    n = len(read)
    # One value per trace of ``read``, NaN where the trace has none.
    values = np.full(n, np.nan)
    name = signal.name
    shared = {} if shared is None else shared
    if name == "error_rate":
        values = (np.array(read.status, dtype=object) == "error").astype(float)
    elif name == "latency":
        # (end − start).total_seconds() * 1000, as timedelta computes it: µs / 10⁶.
        values = (read.end - read.start) / 1e6 * 1000
    elif name == "cost":
        values = np.array(read.cost, dtype=float)  # None: NaN
    elif name in ("format_validity", "refusal_rate", "output_length"):
        if "finals" not in shared:
            shared["finals"] = _final_outputs(conn, route, since, until, read)
        finals = shared["finals"]
        if name == "format_validity":
            bad = _format_check(signal.options.get("schema"))
            for i, (text, _, _) in finals.items():
                if text is not None:
                    values[i] = float(bad(text))
        elif name == "refusal_rate":
            search = re.compile(signal.options["pattern"]).search
            for i, (text, _, reasons) in finals.items():
                refused = "content_filter" in reasons or (
                    text is not None and search(text) is not None
                )
                values[i] = float(refused)
        else:
            for i, (text, tokens, _) in finals.items():
                if tokens is not None:
                    values[i] = float(tokens)
                elif text is not None:
                    values[i] = float(len(text.split()))
    else:
        ids = read.ids.tolist()
        by_id: dict[str, float]
        if name == "judge_score":
            by_id = _scores(conn, ids, signal.options["name"], signal.options.get("source"))
        elif name == "canary_failure":
            # A probe fails when its mean score (over the canary's scorers) is below 0.5.
            scored = _scores(conn, ids, None, "canary")
            by_id = {k: float(v < CANARY_PASS) for k, v in scored.items()}
        elif name == "feedback":
            by_id = _thumbs(
                conn,
                ids,
                signal.options.get("rater_role", "end_user"),
                signal.options.get("surface", "prod"),
            )
        elif name == "outcome_failure":
            by_id = _outcomes(conn, read.rows(), signal.options["window"])
        else:  # pragma: no cover - the spec rejects unknown signals
            raise ValueError(name)
        index = read.index
        for trace_id, value in by_id.items():
            i = index.get(trace_id)
            if i is not None and value is not None:
                values[i] = value
    return np.asarray(values, dtype=float)


def _scores(
    conn: Connection, ids: Sequence[str], name: str | None, source: str | None
) -> dict[str, float]:
    """Per trace, the mean of its scores named ``name`` (any name when ``None``)."""
    sums: dict[str, list[float]] = defaultdict(list)
    for chunk in _chunks(ids):
        query = select(trace_scores.c.trace_id, trace_scores.c.value).where(
            trace_scores.c.trace_id.in_(chunk),
            trace_scores.c.value.is_not(None),
        )
        if name is not None:
            query = query.where(trace_scores.c.name == name)
        if source is not None:
            query = query.where(trace_scores.c.source == source)
        for trace_id, value in conn.execute(query):
            sums[trace_id].append(float(value))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _thumbs(conn: Connection, ids: Sequence[str], role: str, surface: str) -> dict[str, float]:
    bad: dict[str, float] = {}
    for chunk in _chunks(ids):
        for trace_id, value in conn.execute(
            select(feedback.c.trace_id, feedback.c.value).where(
                feedback.c.trace_id.in_(chunk),
                feedback.c.kind == "thumbs",
                feedback.c.rater_role == role,
                feedback.c.surface == surface,
                feedback.c.value.is_not(None),
            )
        ):
            # Any thumbs down on the trace makes it a bad observation.
            bad[trace_id] = max(bad.get(trace_id, 0.0), float(value < 0.5))
    return bad


def _outcomes(conn: Connection, rows: list[TraceRow], window: Any) -> dict[str, float]:
    """Per session (the unit: an outcome is about a conversation, and every turn of a
    conversation shares it, so counting turns would count one outcome many times): 1 when a bad
    outcome of the session (by session id) or of one of its traces (by trace id) occurred
    within ``window`` after a trace of it started (E3's join), else 0. The value is keyed by
    the session's first trace in range; a trace without a session is its own unit."""
    by_session: dict[str, list[datetime]] = defaultdict(list)
    by_trace: dict[str, list[datetime]] = defaultdict(list)
    sessions = sorted({r.session_id for r in rows if r.session_id})
    ids = [r.id for r in rows]
    for chunk in _chunks(sessions):
        for sid, at in conn.execute(
            select(outcomes.c.session_id, outcomes.c.occurred_at).where(
                outcomes.c.session_id.in_(chunk), outcomes.c.bad.is_(True)
            )
        ):
            by_session[sid].append(at)
    for chunk in _chunks(ids):
        for tid, at in conn.execute(
            select(outcomes.c.trace_id, outcomes.c.occurred_at).where(
                outcomes.c.trace_id.in_(chunk), outcomes.c.bad.is_(True)
            )
        ):
            by_trace[tid].append(at)
    units: dict[str, list[TraceRow]] = {}
    for r in rows:
        units.setdefault(r.session_id or f"trace:{r.id}", []).append(r)
    out: dict[str, float] = {}
    for unit in units.values():
        times = [t for r in unit for t in by_trace.get(r.id, [])]
        if unit[0].session_id:
            times += by_session.get(unit[0].session_id, [])
        bad = any(r.start <= t <= r.start + window for r in unit for t in times)
        out[unit[0].id] = float(bad)
    return out


def observe_route(
    store: Store, route: Route, since: datetime, until: datetime
) -> dict[str, Observations]:
    """Every signal of ``route`` (keyed by :func:`series_name`) from one read of its traces."""
    with store.engine.connect() as conn:
        tune_reads(conn)
        read = read_route(conn, route, since, until)
        shared: dict[str, Any] = {}
        return {
            series_name(s): observe_read(conn, read, route, s, since, until, shared)
            for s in route.signals
            if s.kind != "check"
        }


def series_name(signal: Signal) -> str:
    """``judge_score:helpfulness`` for a judge score, the signal's name otherwise."""
    return f"judge_score:{signal.options['name']}" if signal.name == "judge_score" else signal.name
