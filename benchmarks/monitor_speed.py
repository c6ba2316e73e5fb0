"""Speed of a monitoring pass over 1,000,000 stored spans, cold and incremental, against a SQL
floor in the same run.

The store: 500,000 traces (a root span and one LLM span each: 1,000,000 spans) over 7 days,
spread over 20 routes, with a JSON output that is sometimes malformed or a refusal, output
tokens, latency, cost and a few errors, each trace stamped as delivered 2 s after it ended. It
is bulk-inserted through the SQLAlchemy tables into a SQLite file cached under /tmp (built once;
``--rebuild`` to redo it).

After a first (cold, untimed) pass, each of ``--repeat`` rounds is an hour of a scheduled
monitor: the store first receives the next hour of traffic on every route (1/168 of the store),
30 late traces in older hours, 10 late LLM spans of old traces (through the real writer) and 50
late thumbs on old traces; then, timed:

- **incremental**: :func:`assay.monitor.engine.run_pass` as ``assay monitor run`` runs it
  (sinks off) with 20 routes × 6 signals (error rate, format validity, refusal rate, output
  length, latency, cost), reading from rows only the windows that changed
  (:mod:`assay.monitor.rollups`) — checked to find exactly what the cold pass finds;
- **cold**: the same pass with ``full=True`` (``assay monitor run --full``): every series per
  route read from rows, the CUSUM change-point detection on each, the substrate scan and the
  stored points;
- **floor**: the same aggregates as one SQL ``GROUP BY`` (route, hour) per signal over the
  same rows, fetched: the least a pass that reads everything must read (also timed with the
  store's defaults, no mmap, as earlier figures were).

The rounds run seconds apart, the scenario's an hour apart: before each round what arrived in
the previous one is moved an hour into the past (:func:`an_hour_passes`), or the pass would
re-read it as arrived within the watermark's margin.

Prints each round, the medians with their spread (min–max) in wall and CPU seconds (SQLite runs
in the process; CPU moves less than wall time on a shared machine), the peak anonymous RSS
(the peak RSS also counts the store's mapped pages, the OS's file cache), with ``--memory`` each
pass's peak traced Python memory, and on its last line the ratios pass/floor of the medians.
Target (issue 14): ≤ 3× the floor and under 10 s.

    python benchmarks/monitor_speed.py --repeat 3
    python benchmarks/monitor_speed.py --traces 50000   # a 100,000-span store for quick runs

Measured (2 cores shared with other work, 2026-12-05, ``--repeat 3 --memory``, load
3.3–5.9): incremental 9.50 s wall (8.79–9.75), 7.35 CPU-s (5.56–7.50), reading 134–196 of
3,380 route-windows and 30–32 of 193 substrate hours; cold 29.4 s (23.1–29.7), 21.4 CPU-s;
floor 7.85 s (6.33–9.04), 6.30 CPU-s: **incremental 1.21× wall, 1.17× CPU; cold 3.75× wall,
3.39× CPU**; peak traced memory 103 MiB incremental, 108 MiB cold; peak anonymous RSS 344
MiB. Every incremental pass found what the cold pass found. Other runs: at load 4.5–6.2,
incremental 9.35 s (8.0–13.7), 6.35 CPU-s, cold 33.2 s, 20.4 CPU-s, floor 11.6 s, 6.0 CPU-s
(0.81× and 2.85× wall); at load 6.9–7.5, incremental 19.1 s, 6.6 CPU-s, cold 61.0 s, floor
12.9 s. The code before (one cold pass, load 3.7–4.9): 45.0 s wall, 31.6 CPU-s against a
floor of 16.0 s, 10.6 CPU-s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DB = Path("/tmp/assay-bench-monitor-1m.db")
ROUTES = [f"route-{i:02d}" for i in range(20)]
TRACES = 500_000
DAYS = 7
END = datetime(2026, 3, 1, tzinfo=UTC)
SIGNALS = ["error_rate", "format_validity", "refusal_rate", "output_length", "latency", "cost"]


def spec_text() -> str:
    routes = "\n".join(f"  - {{name: {r}, signals: [{', '.join(SIGNALS)}]}}" for r in ROUTES)
    return f"window: 1h\nlookback: {DAYS}d\nbaseline: 200\nroutes:\n{routes}\n"


RESOURCE = json.dumps({"deployment.environment.name": "production", "service.version": "1"})


def trace_rows(
    i: int, t0: datetime, rng: random.Random, ingested: datetime | None = None
) -> tuple[dict, list[dict]]:
    """Trace ``i`` of the store (route ``i mod 20``) started at ``t0``: its trace row and its two
    span rows. ``ingested``: when it arrived (``traces.updated_at``; default: 2 s after it
    ended, as a collector delivers it)."""
    route = ROUTES[i % len(ROUTES)]
    latency = rng.lognormvariate(6.5, 0.5)
    t1 = t0 + timedelta(milliseconds=latency)
    error = rng.random() < 0.01
    u = rng.random()
    text = (
        "I'm sorry, I can't help with that."
        if u < 0.02
        else ("Sure: {total: 3}" if u < 0.03 else '{"total": 3, "currency": "EUR"}')
    )
    tokens = int(rng.lognormvariate(4, 0.4))
    cost = tokens * 2e-6
    trace_id = f"{i:032x}"
    root, llm = f"{2 * i:016x}", f"{2 * i + 1:016x}"
    trace = {
        "id": trace_id,
        "start_time": t0,
        "end_time": t1,
        "root_name": f"POST /{route}",
        "service": "bench",
        "session_id": None,
        "user_id": None,
        "route": route,
        "environment": "production",
        "status": "error" if error else "ok",
        "n_spans": 2,
        "n_errors": int(error),
        "input_tokens": 30,
        "output_tokens": tokens,
        "cost": cost,
        "redacted": False,
        "attributes_json": RESOURCE,
        "updated_at": ingested or t1 + timedelta(seconds=2),
    }
    common = {
        "trace_id": trace_id,
        "convention": "otel",
        "start_time": t0,
        "end_time": t1,
        "duration_ms": latency,
        "status_message": None,
        "service": "bench",
        "operation": None,
        "provider": None,
        "response_id": None,
        "session_id": None,
        "user_id": None,
        "flags_json": None,
        "cached_input_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "input_audio_tokens": None,
        "output_audio_tokens": None,
        "input_image_tokens": None,
        "request_max_tokens": None,
        "ttft_ms": None,
        "queue_ms": None,
        "cost_source": None,
    }
    spans = [
        {
            **common,
            "span_id": root,
            "parent_id": None,
            "kind": "chain",
            "name": f"POST /{route}",
            "status": "error" if error else "ok",
            "model_requested": None,
            "model_resolved": None,
            "system_fingerprint": None,
            "finish_reasons_json": None,
            "input_tokens": None,
            "output_tokens": None,
            "cost": None,
            "input_json": None,
            "output_json": None,
            "attributes_json": json.dumps({"app.route": route}),
        },
        {
            **common,
            "span_id": llm,
            "parent_id": root,
            "kind": "llm",
            "name": "chat m-1",
            "status": "error" if error else "ok",
            "model_requested": "m-1",
            "model_resolved": None if error else "m-1@2026-01",
            "system_fingerprint": None if error else "fp_a",
            "finish_reasons_json": '["stop"]',
            "input_tokens": 30,
            "output_tokens": tokens,
            "cost": cost,
            "input_json": json.dumps([{"role": "user", "content": f"question {i}"}]),
            "output_json": None if error else json.dumps([{"role": "assistant", "content": text}]),
            "attributes_json": json.dumps({"app.prompt.version": "p-v1"}),
        },
    ]
    return trace, spans


def insert(store, rows: list[tuple[dict, list[dict]]]) -> None:  # type: ignore[no-untyped-def]
    """Bulk-insert (trace, spans) rows through the SQLAlchemy tables."""
    from assay.store.engine import WRITE_OPTION
    from assay.store.tables import spans, traces

    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        conn.execute(traces.insert(), [t for t, _ in rows])
        conn.execute(spans.insert(), [s for _, ss in rows for s in ss])


def build(path: Path, n_traces: int = TRACES) -> None:
    """Bulk-insert the traces and spans (see the module docstring)."""
    from assay.store import Store

    if path.exists():
        path.unlink()
    store = Store(str(path))
    rng = random.Random(14)
    start = END - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / n_traces
    batch: list[tuple[dict, list[dict]]] = []
    for i in range(n_traces):
        batch.append(trace_rows(i, start + i * step, rng))
        if len(batch) >= 20_000:
            insert(store, batch)
            batch.clear()
    if batch:
        insert(store, batch)
    store.close()


def ingested_as_delivered(store) -> None:  # type: ignore[no-untyped-def]
    """A store built before the builder stamped each trace with its delivery time has every
    ``updated_at`` at the build's time: set them to 2 s after each trace's end (once)."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        latest = conn.execute(text("SELECT max(updated_at) FROM traces")).scalar()
        if latest is not None and str(latest) > str(END + timedelta(days=1))[:19]:
            conn.execute(text("UPDATE traces SET updated_at = datetime(end_time, '+2 seconds')"))


def one_more_hour(store, hour: int, n_traces: int, rng: random.Random) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What a store receives in the hour before the pass ``hour`` hours after END: an hour of
    traffic on every route (1/168 of the store), late traces for older hours, late LLM spans
    of old traces (through the real writer: the trace's upsert) and late feedback on old
    traces. Returns the counts."""
    import uuid

    from assay.store.engine import WRITE_OPTION
    from assay.store.tables import feedback
    from assay.trace.ingest import store_spans
    from assay.trace.model import SpanRecord

    now = datetime.now(UTC)
    per_hour = n_traces // (DAYS * 24)
    first = n_traces * (2 + hour)  # ids past the store's (and past earlier hours')
    begin = END + timedelta(hours=hour)
    step = timedelta(hours=1) / per_hour
    rows = [trace_rows(first + j, begin + j * step, rng, now) for j in range(per_hour)]
    # Late traces: started in a random older hour of the lookback, delivered now.
    late = 30
    for j in range(late):
        t0 = begin - timedelta(hours=rng.randrange(2, DAYS * 24 - 2), seconds=rng.randrange(3600))
        rows.append(trace_rows(first + per_hour + j, t0, rng, now))
    insert(store, rows)
    # Late LLM spans of old traces: a retried call that ended after the first.
    old = rng.sample(range(n_traces), 10)
    start = END - timedelta(days=DAYS)
    spans = [
        SpanRecord(
            trace_id=f"{i:032x}",
            span_id=f"{i:015x}f",
            parent_id=f"{2 * i:016x}",
            name="chat m-1",
            start_time=start + i * timedelta(days=DAYS) / n_traces + timedelta(milliseconds=5),
            end_time=start + i * timedelta(days=DAYS) / n_traces + timedelta(seconds=3),
            kind="llm",
            model_requested="m-1",
            model_resolved="m-1@2026-01",
            output_tokens=77,
            input_tokens=30,
            output=[{"role": "assistant", "content": '{"total": 4}'}],
            attributes={"app.prompt.version": "p-v1"},
        )
        for i in old
    ]
    store_spans(store, spans, redact=False, note="benchmark late spans")
    # Late feedback (thumbs) on old traces, dated when it was given.
    given = rng.sample(range(n_traces), 50)
    with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        conn.execute(
            feedback.insert(),
            [
                {
                    "id": uuid.uuid4().hex,
                    "trace_id": f"{i:032x}",
                    "kind": "thumbs",
                    "value": float(rng.random() < 0.8),
                    "rater_role": "end_user",
                    "surface": "prod",
                    "created_at": start + i * timedelta(days=DAYS) / n_traces,
                }
                for i in given
            ],
        )
    return {"traces": per_hour, "late_traces": late, "late_spans": len(spans), "feedback": 50}


def an_hour_passes(store, arrived: datetime) -> None:  # type: ignore[no-untyped-def]
    """Move what arrived since ``arrived`` (traces' ``updated_at``, the marks' database time)
    an hour into the past: the scenario's passes run an hour apart, this benchmark's seconds
    apart, and a pass re-reads whatever arrived within :data:`assay.monitor.rollups.MARGIN`
    before the previous one (a write stamped before that pass but committed after it)."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(
            text(
                # (the store's format: six digits of the second's fraction)
                "UPDATE traces SET updated_at = strftime('%Y-%m-%d %H:%M:%f', updated_at, "
                "'-1 hour') || '000' WHERE updated_at >= :t"
            ),
            {"t": arrived.replace(tzinfo=None).isoformat(" ")},
        )
        conn.execute(
            text("UPDATE monitor_marks SET at = at - 3600 WHERE at >= :t"),
            {"t": arrived.timestamp()},
        )


def floor_queries(store, mapped: bool = True) -> int:  # type: ignore[no-untyped-def]
    """The same aggregates as one SQL GROUP BY (route, hour) per signal; returns rows read.
    ``mapped``: on a connection with the pass's read settings (SQLite's ``mmap_size``); else
    with the store's defaults (what the floor was measured with before the pass mapped)."""
    from sqlalchemy import text

    from assay.monitor.signals import tune_reads

    since = (END - timedelta(days=DAYS)).strftime("%Y-%m-%d %H:%M:%S")
    hour = "strftime('%Y-%m-%d %H', t.start_time)"
    where = f"t.environment = 'production' AND t.start_time >= '{since}'"
    llm = "JOIN spans s ON s.trace_id = t.id AND s.kind = 'llm' AND s.status != 'error'"
    content = "json_extract(s.output_json, '$[0].content')"
    queries = [
        f"SELECT t.route, {hour}, count(*), sum(t.status = 'error') FROM traces t "
        f"WHERE {where} GROUP BY 1, 2",
        f"SELECT t.route, {hour}, count(*), sum(NOT json_valid({content})) FROM traces t {llm} "
        f"WHERE {where} GROUP BY 1, 2",
        f"SELECT t.route, {hour}, count(*), sum({content} LIKE '%can''t help%') FROM traces t "
        f"{llm} WHERE {where} GROUP BY 1, 2",
        f"SELECT t.route, {hour}, count(*), avg(s.output_tokens) FROM traces t {llm} "
        f"WHERE {where} GROUP BY 1, 2",
        f"SELECT t.route, {hour}, count(*), avg(julianday(t.end_time) - julianday(t.start_time)) "
        f"FROM traces t WHERE {where} GROUP BY 1, 2",
        f"SELECT t.route, {hour}, count(*), avg(t.cost) FROM traces t WHERE {where} GROUP BY 1, 2",
    ]
    rows = 0
    with store.engine.connect() as conn:
        if mapped:
            tune_reads(conn)  # the pass's read settings (SQLite's mmap), so both read alike
        else:
            conn.exec_driver_sql("PRAGMA mmap_size=0")
        for q in queries:
            rows += len(conn.execute(text(q)).all())
    return rows


class AnonPeak:
    """The peak of the process's anonymous resident memory (``RssAnon``: its heap, numpy
    arrays, SQLite's caches), sampled every 20 ms while running: the peak RSS also counts the
    store's pages that SQLite maps (``PRAGMA mmap_size``), which are the OS's file cache, shared
    and reclaimable, not the pass's memory."""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Whether two passes found the same series, changes, budgets and alerts."""
    x, y = a.as_dict(), b.as_dict()
    return all(x[k] == y[k] for k in ("routes", "alerts", "healthy"))


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t, time.process_time() - c


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f}s (min {min(xs):.2f}, max {max(xs):.2f})"


def main() -> None:
    import os

    from assay.monitor.engine import run_pass
    from assay.monitor.spec import monitors_from_text
    from assay.store import Store

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--memory", action="store_true", help="also trace the pass's memory")
    parser.add_argument(
        "--traces",
        type=int,
        default=TRACES,
        help="traces in the store (two spans each); a smaller store is cached beside the 1M one",
    )
    args = parser.parse_args()
    db = DB if args.traces == TRACES else DB.with_name(f"assay-bench-monitor-{args.traces}.db")
    if args.rebuild or not db.exists():
        started = time.perf_counter()
        build(db, args.traces)
        print(f"built {db} ({2 * args.traces:,} spans) in {time.perf_counter() - started:.1f}s")
    store = Store(str(db))
    ingested_as_delivered(store)
    monitors = monitors_from_text(spec_text())
    rng = random.Random(168)
    # The pass runs an hour after the previous one; each repeat first receives that hour.
    with store.engine.connect() as conn:
        from sqlalchemy import text

        hour = conn.execute(
            text("SELECT count(*) FROM traces WHERE start_time >= :end"),
            {"end": str(END)[:19]},
        ).scalar() // max(1, args.traces // (DAYS * 24))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # A first pass (cold: it stores the rollups the next one reuses), untimed.
    at = END + timedelta(hours=hour, minutes=1)
    run_pass(store, monitors, now=at, deliver_alerts=False, full=True)
    cold, cold_cpu, incr, incr_cpu, floors, floor_cpu, plain, plain_cpu = ([] for _ in range(8))
    anon = AnonPeak().__enter__()
    arrived: datetime | None = None
    for i in range(args.repeat):
        if arrived is not None:
            an_hour_passes(store, arrived)
        arrived = datetime.now(UTC)
        got = one_more_hour(store, hour, args.traces, rng)
        hour += 1
        at = END + timedelta(hours=hour, minutes=1)
        inc, t, c = _timed(run_pass, store, monitors, now=at, deliver_alerts=False)
        incr.append(t)
        incr_cpu.append(c)
        full, t, c = _timed(run_pass, store, monitors, now=at, deliver_alerts=False, full=True)
        cold.append(t)
        cold_cpu.append(c)
        rows, t, c = _timed(floor_queries, store)
        floors.append(t)
        floor_cpu.append(c)
        _, t, c = _timed(floor_queries, store, mapped=False)
        plain.append(t)
        plain_cpu.append(c)
        n = sum(s.n for r in full.routes for s in r.series)
        r = inc.rollups
        print(
            f"run {i + 1}: received {got['traces']:,} traces, {got['late_traces']} late traces, "
            f"{got['late_spans']} late spans, {got['feedback']} late feedback; "
            f"incremental {incr[-1]:.2f}s (cpu {incr_cpu[-1]:.2f}s; "
            f"{r['windows_recomputed']} windows read, {r['windows_reused']} reused; substrate "
            f"{r['substrate_hours_recomputed']} hours read, {r['substrate_hours_reused']} "
            f"reused; same as cold: {'yes' if _same(inc, full) else 'NO'}); "
            f"cold {cold[-1]:.2f}s (cpu {cold_cpu[-1]:.2f}s; {len(full.routes)} routes, "
            f"{sum(len(r.series) for r in full.routes)} series, {n:,} observations, "
            f"{len(full.findings)} alerts); floor {floors[-1]:.2f}s (cpu {floor_cpu[-1]:.2f}s; "
            f"{rows} aggregate rows); floor without mmap {plain[-1]:.2f}s "
            f"(cpu {plain_cpu[-1]:.2f}s)"
        )
        if not _same(inc, full):
            raise SystemExit("the incremental pass differs from the cold pass")
    anon.__exit__()
    if args.memory:
        import tracemalloc

        for name, cold_pass in (("incremental", False), ("cold", True)):
            tracemalloc.start()
            run_pass(store, monitors, now=at, deliver_alerts=False, full=cold_pass)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{name} pass peak traced memory: {peak / 2**20:.0f} MiB")
    store.close()
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"process peak RSS: {rss:.0f} MiB (with the store's mapped pages); peak anonymous RSS: "
        f"{anon.peak / 2**20:.0f} MiB; load average at end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"wall: incremental {_spread(incr)}; cold {_spread(cold)}; floor {_spread(floors)}")
    print(
        f"cpu: incremental {_spread(incr_cpu)}; cold {_spread(cold_cpu)}; floor "
        f"{_spread(floor_cpu)}"
    )
    i, p, f = (statistics.median(x) for x in (incr, cold, floors))
    ic, pc, fc = (statistics.median(x) for x in (incr_cpu, cold_cpu, floor_cpu))
    q, qc = statistics.median(plain), statistics.median(plain_cpu)
    print(
        f"floor without mmap: {_spread(plain)}, cpu {qc:.2f}s; cold/that floor {p / q:.2f}x "
        f"wall, {pc / qc:.2f}x cpu"
    )
    print(f"cpu ratios: incremental/floor {ic / fc:.2f}x, cold/floor {pc / fc:.2f}x")
    print(
        f"pass/floor: incremental {i / f:.2f}x ({i:.1f} s), cold {p / f:.2f}x ({p:.1f} s) "
        "(target <= 3x and < 10 s)"
    )


if __name__ == "__main__":
    main()
