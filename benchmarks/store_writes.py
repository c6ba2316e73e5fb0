"""The SQLite store's CPU per sample when a run is stored, against raw ``sqlite3`` in the same run.

The workload is what a run with one subject and one scorer stores: N samples (a dataset built
with ``dataset_from_records``, as the harness benchmark's) and N results with one score each
(an output with text, resolved model and latency, as a provider returns; an exact-match
score).

- store: on a fresh SQLite store, ``Store.create_run`` (the run, its manifest and its N
  samples in one transaction), then ``Store.add_results`` in batches of ``--batch`` (the
  runner flushes about every 50 ms, so batches of 100-500 are typical).
- raw: the same rows (read back from the store's database, so they are exactly what the store
  wrote) inserted with ``sqlite3`` ``executemany`` into a database with the same tables and
  indexes (their SQL read from the store's database) and the same pragmas (WAL,
  ``synchronous=NORMAL``, foreign keys on): the samples in one transaction, then the results
  and their scores with a commit per batch. The floor: storing the rows, nothing else.

CPU time (``time.process_time``), the median of ``--repeats``. The last line is the figure.

    python benchmarks/store_writes.py
    python benchmarks/store_writes.py --n 4000 --batch 100 --repeats 9
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assay.core import ModelRequest, Output, RunManifest, SampleResult, Score
from assay.data import dataset_from_records
from assay.run import Eval, ModelSubject, build_manifest
from assay.score import exact
from assay.store import Store

#: The tables a run's samples, results and scores go to (``runs`` for their foreign keys).
TABLES = ("runs", "samples", "results", "scores")
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


class EchoProvider:
    """A provider that is never called: the subject's manifest needs one."""

    name = "echo"

    async def generate(self, request: ModelRequest) -> Output:
        return Output(text="echo: " + request.messages[-1].content, model="mock")

    async def aclose(self) -> None:
        return None


def workload(n: int) -> tuple[Eval, list[SampleResult]]:
    """The eval (its dataset as ``dataset_from_records`` builds it) and its results."""
    rows = [
        {"id": f"q{i}", "input": f"question {i}", "target": f"echo: question {i}"} for i in range(n)
    ]
    ev = Eval(
        name="bench",
        dataset=dataset_from_records(rows, name="bench"),
        subjects=[ModelSubject("bot", provider=EchoProvider(), model="mock")],
        scorers=[exact()],
    )
    results = [
        SampleResult(
            subject="bot",
            sample_id=f"q{i}",
            output=Output(text=f"echo: question {i}", model="mock", latency_ms=1.0),
            scores=[Score(scorer="exact", value=1.0, answer=f"echo: question {i}")],
        )
        for i in range(n)
    ]
    return ev, results


def time_store(
    path: Path, manifest: RunManifest, ev: Eval, results: list[SampleResult], batch: int
) -> tuple[float, float]:
    """CPU seconds of create_run and of all the add_results batches, on a fresh store."""
    run_id = manifest.run_id
    with Store(f"sqlite:///{path}") as store:
        start = time.process_time()
        store.create_run(manifest, ev.dataset, n_planned=len(results))
        create = time.process_time() - start
        start = time.process_time()
        for first in range(0, len(results), batch):
            store.add_results(run_id, results[first : first + batch])
        add = time.process_time() - start
    return create, add


def stored_rows(path: Path) -> tuple[dict[str, str], dict[str, list[tuple[Any, ...]]]]:
    """The schema SQL of :data:`TABLES` (and their indexes) and the rows stored in them."""
    conn = sqlite3.connect(path)
    try:
        schema = {
            name: sql
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN "
                f"({', '.join('?' for _ in TABLES)}) ORDER BY type DESC",
                TABLES,
            )
        }
        rows = {table: conn.execute(f"SELECT * FROM {table}").fetchall() for table in TABLES}
    finally:
        conn.close()
    return schema, rows


def time_raw(
    path: Path, schema: dict[str, str], rows: dict[str, list[tuple[Any, ...]]], batch: int
) -> tuple[float, float]:
    """CPU seconds of inserting the samples, then the results and scores by batch, raw."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        for sql in schema.values():
            conn.execute(sql)

        def insert(table: str, values: list[tuple[Any, ...]]) -> None:
            marks = ", ".join("?" for _ in values[0])
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", values)

        results, scores = rows["results"], rows["scores"]
        start = time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        insert("runs", rows["runs"])
        insert("samples", rows["samples"])
        conn.execute("COMMIT")
        create = time.process_time() - start
        start = time.process_time()
        # One score per result, stored in the results' order.
        for first in range(0, len(results), batch):
            conn.execute("BEGIN IMMEDIATE")
            insert("results", results[first : first + batch])
            insert("scores", scores[first : first + batch])
            conn.execute("COMMIT")
        add = time.process_time() - start
    finally:
        conn.close()
    return create, add


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="samples (and results)")
    parser.add_argument("--batch", type=int, default=250, help="results per add_results")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    n = args.n
    ev, results = workload(n)
    timings: dict[str, list[float]] = {
        key: [] for key in ("create", "add", "raw_create", "raw_add")
    }
    with tempfile.TemporaryDirectory() as tmp:
        # One untimed round first: imports, compiled statements, the page cache.
        time_store(Path(tmp) / "warm.db", build_manifest(ev, "warm"), ev, results, args.batch)
        for repeat in range(args.repeats):
            path = Path(tmp) / f"store{repeat}.db"
            manifest = build_manifest(ev, f"run{repeat}")
            create, add = time_store(path, manifest, ev, results, args.batch)
            schema, rows = stored_rows(path)
            assert len(rows["samples"]) == n and len(rows["results"]) == n
            assert len(rows["scores"]) == n
            raw_create, raw_add = time_raw(Path(tmp) / f"raw{repeat}.db", schema, rows, args.batch)
            for key, value in zip(timings, (create, add, raw_create, raw_add), strict=True):
                timings[key].append(value)
    ms = {key: statistics.median(values) / n * 1000 for key, values in timings.items()}
    print(
        f"N={n} samples and results (one score each), batches of {args.batch}, "
        f"median of {args.repeats}, CPU ms per sample"
    )
    print(f"create_run   store {ms['create']:.4f}  raw {ms['raw_create']:.4f}")
    print(f"add_results  store {ms['add']:.4f}  raw {ms['raw_add']:.4f}")
    print(
        f"add_results_ratio_to_raw={ms['add'] / ms['raw_add']:.2f} "
        f"create_run_ratio_to_raw={ms['create'] / ms['raw_create']:.2f}"
    )


if __name__ == "__main__":
    main()
