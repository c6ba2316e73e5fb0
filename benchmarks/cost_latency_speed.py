"""``assay latency`` and ``assay costs`` over a million stored spans, against a floor measured
in the same run (issue 15).

Setup: N spans (default 1,000,000) in traces of five (a ``chain`` root, a retrieval, an LLM
call, a tool call, a second LLM call), over 14 days, 8 routes, 20,000 users, heavy-tailed
durations and token counts, 2% of calls cut at their ``max_tokens``; written to a SQLite store
(migrated by ``Store``) by bulk ``executemany`` of finished rows — ``store_spans`` (redaction,
upserts) would take minutes for a million spans and is measured by benchmarks/trace_ingest.py.

Measured, in this process, each after one warm-up run:

- latency: ``latency_report`` (what ``assay latency`` prints: per route × stage percentiles
  with intervals, ratio, tail attribution, hour-of-week baselines, load-test flags) against
  its floor: one SQL query summing span durations per trace and kind, joined to the trace's
  route, plus ``numpy.percentile`` of the same four percentiles per route × kind;
- costs: ``cost_report`` + ``length_report`` + ``loop_report`` (what ``assay costs`` prints)
  against its floor: one SQL query of per-request cost with route and user, plus
  ``numpy.percentile`` of the per-request and per-user cost percentiles, and one SQL query of
  the LLM calls' output lengths plus their percentiles per route;
- memory: the peak RSS growth (``/proc/self/statm`` sampled every millisecond) of each.

    python benchmarks/cost_latency_speed.py             # N = 1,000,000
    python benchmarks/cost_latency_speed.py --n 100000

The last line is the figure: the larger of the two time ratios (target ≤ 3).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

QUANTILES = (0.5, 0.9, 0.99, 0.999)


class PeakRss:
    """Peak resident set growth (MB) while the block runs, sampled every millisecond."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = self._rss()
        self.running = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _rss(self) -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        while self.running:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _times(seconds: np.ndarray) -> list[str]:
    stamps = np.datetime_as_string(
        (seconds * 1e6).astype("int64").astype("datetime64[us]"), unit="us"
    )
    return [s.replace("T", " ") for s in stamps.tolist()]


def build(db: Path, n_spans: int, seed: int = 0) -> None:
    """The store's schema (through ``Store``), then traces and spans by bulk insert."""
    from assay.store import Store

    Store(f"sqlite:///{db}").close()
    rng = np.random.default_rng(seed)
    n = n_spans // 5
    start = 1_741_000_000.0 + np.sort(rng.uniform(0, 14 * 86400, n))
    route = rng.integers(0, 8, n)
    users = np.minimum((rng.pareto(1.2, n) * 50).astype(int), 19_999)
    retrieval = rng.lognormal(3.5, 0.5, n)
    tool = rng.lognormal(5.0, 1.0, n)
    out1 = np.maximum(1, rng.lognormal(5.0, 0.8, n)).astype(int)
    out2 = np.maximum(1, rng.lognormal(4.0, 0.8, n)).astype(int)
    cap = 800
    cut1, cut2 = out1 >= cap, out2 >= cap
    out1, out2 = np.minimum(out1, cap), np.minimum(out2, cap)
    in1 = np.maximum(10, rng.lognormal(7.0, 0.7, n)).astype(int)
    in2 = in1 + out1 + 200
    llm1 = 300 + out1 * 20.0 * rng.lognormal(0, 0.3, n)
    llm2 = 300 + out2 * 20.0 * rng.lognormal(0, 0.3, n)
    total = retrieval + llm1 + tool + llm2 + 5
    cost1 = (in1 * 0.15 + out1 * 0.6) / 1e6
    cost2 = (in2 * 0.15 + out2 * 0.6) / 1e6
    trace_ids = [f"{k:032x}" for k in range(n)]
    t0 = _times(start)
    t_end = _times(start + total / 1000)
    offsets = {
        "retrieval": np.zeros(n),
        "llm1": retrieval,
        "tool": retrieval + llm1,
        "llm2": retrieval + llm1 + tool,
    }
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = t0[-1]
    con.executemany(
        "INSERT INTO traces (id, start_time, end_time, root_name, route, user_id, session_id, "
        "environment, status, n_spans, n_errors, input_tokens, output_tokens, cost, redacted, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'production', 'ok', 5, 0, ?, ?, ?, 0, ?)",
        (
            (
                trace_ids[k],
                t0[k],
                t_end[k],
                f"route-{route[k]}",
                f"route-{route[k]}",
                f"user-{users[k]}",
                f"s-{k // 3}",
                int(in1[k] + in2[k]),
                int(out1[k] + out2[k]),
                float(cost1[k] + cost2[k]),
                now,
            )
            for k in range(n)
        ),
    )
    columns = (
        "trace_id, span_id, parent_id, kind, name, convention, start_time, end_time, "
        "duration_ms, status, model_requested, model_resolved, provider, input_tokens, "
        "output_tokens, cost, cost_source, finish_reasons_json, request_max_tokens, "
        "attributes_json"
    )
    marks = ", ".join("?" * 20)
    sql = f"INSERT INTO spans ({columns}) VALUES ({marks})"

    def rows():  # type: ignore[no-untyped-def]
        for k in range(n):
            tid = trace_ids[k]
            root_id = f"{5 * k:016x}"
            yield (
                tid,
                root_id,
                None,
                "chain",
                f"route-{route[k]}",
                "genai",
                t0[k],
                t_end[k],
                float(total[k]),
                "ok",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                f'{{"app.route": "route-{route[k]}"}}',
            )
            for j, (kind, name, dur, off) in enumerate(
                (
                    ("retrieval", "retrieve", retrieval[k], offsets["retrieval"][k]),
                    ("llm", "chat gpt-4o-mini", llm1[k], offsets["llm1"][k]),
                    ("tool", "execute_tool lookup", tool[k], offsets["tool"][k]),
                    ("llm", "chat gpt-4o-mini", llm2[k], offsets["llm2"][k]),
                ),
                start=1,
            ):
                begin = start[k] + off / 1000
                llm = kind == "llm"
                second = j == 4
                yield (
                    tid,
                    f"{5 * k + j:016x}",
                    root_id,
                    kind,
                    name,
                    "genai",
                    _one(begin),
                    _one(begin + dur / 1000),
                    float(dur),
                    "ok",
                    "gpt-4o-mini" if llm else None,
                    "gpt-4o-mini" if llm else None,
                    "openai" if llm else None,
                    int(in2[k] if second else in1[k]) if llm else None,
                    int(out2[k] if second else out1[k]) if llm else None,
                    float(cost2[k] if second else cost1[k]) if llm else None,
                    "priced" if llm else None,
                    ('["length"]' if (cut2[k] if second else cut1[k]) else '["stop"]')
                    if llm
                    else None,
                    cap if llm else None,
                    "{}",
                )

    con.executemany(sql, rows())
    con.commit()
    con.close()


def _one(seconds: float) -> str:
    return _times(np.array([seconds]))[0]


def floor_latency(db: Path) -> dict[tuple[str, str], np.ndarray]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT t.route, s.kind, SUM(s.duration_ms) FROM spans s JOIN traces t "
        "ON t.id = s.trace_id GROUP BY s.trace_id, s.kind"
    ).fetchall()
    con.close()
    routes, kinds, values = zip(*rows, strict=True)
    key = np.array([f"{r}|{k}" for r, k in zip(routes, kinds, strict=True)])
    v = np.asarray(values, dtype=float)
    out = {}
    for name in np.unique(key):
        out[tuple(name.split("|"))] = np.percentile(v[key == name], [100 * q for q in QUANTILES])
    return out


def floor_costs(db: Path) -> None:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT route, user_id, cost FROM traces").fetchall()
    lengths = con.execute(
        "SELECT t.route, s.output_tokens FROM spans s JOIN traces t ON t.id = s.trace_id "
        "WHERE s.kind = 'llm'"
    ).fetchall()
    con.close()
    _routes, users, costs = zip(*rows, strict=True)
    c = np.asarray(costs, dtype=float)
    np.percentile(c, [50, 90, 99, 99.5])
    codes = {u: i for i, u in enumerate(set(users))}
    per_user = np.bincount(np.array([codes[u] for u in users]), weights=c)
    np.percentile(per_user, [50, 90, 99, 99.5])
    r, length = zip(*lengths, strict=True)
    r_arr, l_arr = np.array(r), np.asarray(length, dtype=float)
    for name in np.unique(r_arr):
        np.percentile(l_arr[r_arr == name], [50, 90, 99, 99.9])


def assay_latency(db: Path) -> None:
    from assay.analyse.latency import latency_report
    from assay.store import Store

    with Store(f"sqlite:///{db}") as store:
        latency_report(store)


def assay_costs(db: Path) -> None:
    from assay.analyse.costs import cost_report
    from assay.analyse.lengths import length_report
    from assay.analyse.loops import loop_report
    from assay.store import Store

    with Store(f"sqlite:///{db}") as store:
        cost_report(store)
        length_report(store)
        loop_report(store)


def timed(fn, db: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn(db)  # warm-up: imports, page cache
    with PeakRss() as rss:
        t = time.perf_counter()
        fn(db)
        elapsed = time.perf_counter() - t
    return elapsed, rss.growth_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="spans to store")
    parser.add_argument("--db", type=Path, default=None, help="reuse this store if it exists")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cost-latency-"))
    db = args.db or folder / "assay.db"
    if not db.exists():
        t = time.perf_counter()
        build(db, args.n)
        print(f"setup: {args.n:,} spans bulk-inserted in {time.perf_counter() - t:.1f} s ({db})")
    results = {}
    for name, ours, floor in (
        ("latency", assay_latency, floor_latency),
        ("costs", assay_costs, floor_costs),
    ):
        floor_s, floor_mb = timed(floor, db)
        ours_s, ours_mb = timed(ours, db)
        results[name] = ours_s / floor_s
        print(
            f"{name}: assay {ours_s:.2f} s (peak RSS +{ours_mb:.0f} MB), floor {floor_s:.2f} s "
            f"(+{floor_mb:.0f} MB): ratio {ours_s / floor_s:.2f}"
        )
    print(
        f"ratio to the SQL + numpy.percentile floor (worst of latency, costs): "
        f"{max(results.values()):.2f}"
    )


if __name__ == "__main__":
    main()
