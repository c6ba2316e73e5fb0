"""How fast the web pages are on a large store: 1,000 runs and 1,000,000 results (issue 12).

The store is generated with bulk SQL inserts through the store's SQLAlchemy tables into a
temporary SQLite file, and kept under /tmp between runs (keyed by ``VERSION`` and the schema
revision; a new revision upgrades a copy of the newest older store of the same ``VERSION``
through the Store's migrations, a new ``VERSION`` or ``--rebuild`` builds one):

- 20 evals x 50 runs; each run has 1,000 results: 1,000 samples, or 500 samples x 2 epochs in
  every tenth run; one subject; three scorers (``exact`` and ``includes``, pass/fail, and
  ``f1``, continuous), so 3,000,000 scores; a ``slice`` key with three values and a
  ``template`` cluster; prompts ``v1``..``v5`` (so labels and history marks have changes).

The pages are then requested in-process through the FastAPI app (starlette's TestClient) and
timed by their ``Server-Timing`` header (:mod:`assay.web.timing`: from the request reaching
the app to its response starting, so the test client's own thread hand-offs are left out).
Two warm-up requests fill the run summary cache for the runs shown, as the runner does when a
run finishes. Then, ``REPEATS`` times, a write that no page shows is committed (so the store's
data version moves) and the page is requested twice:

- **cold**: the first request after the write, a miss of the page cache
  (:mod:`assay.web.page_cache`): the page is read and rendered;
- **warm**: the revisit, a hit: what a browser coming back to an unchanged page gets, and so
  what the browser tests' own timing sees. It must be byte-identical to the cold page.

The medians are taken. The app's floor is measured too: a minimal async route, a minimal sync
route (the thread pool the pages run in) and a small static file. Each page is set against
the time to read the same rows with one SQL query on the same database:

- runs list ``/``: the page's 50 runs with their manifests (what labels are read from),
  cached summaries and tags (runs JOIN manifests LEFT JOIN run_summaries LEFT JOIN
  run_labels, ordered and limited). The page also reads each run's previous run and diffs
  the two manifests, and renders 50 rows; a read of 50 rows takes about a millisecond, so
  this ratio measures the page's own work more than its reads;
- run page ``/runs/{id}``: the run's results joined with their scores;
- compare ``/compare/{a}/{b}``: both runs' results joined with their scores;
- sample page ``/runs/{id}/samples/{sample}``: the sample's row, results and scores.

Targets: each page under 300 ms cold, and under 2x its SQL read as the browser sees it
(warm). The last line names the slowest page by each ratio, e.g. ``slowest page ratio (warm,
cache hit): 0.48 (sample page); cold: 79.3 (sample page)``.

    python benchmarks/web_pages.py                # builds the store once (about a minute)
    python benchmarks/web_pages.py --repeats 9 --rebuild
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

VERSION = "1"
N_EVALS, RUNS_PER_EVAL, RESULTS_PER_RUN = 20, 50, 1_000
SCORERS = ("exact", "includes", "f1")
SLICES = ("arithmetic", "units", "sequences")
REPEATS = 5


def store_path() -> Path:
    from assay.store.migrate import HEAD_REVISION

    return Path(f"/tmp/assay-web-bench-v{VERSION}-r{HEAD_REVISION}.db")


def _manifest(eval_name: str, n_samples: int, epochs: int, prompt: str) -> Any:
    from assay.core import (
        DatasetManifest,
        EnvironmentManifest,
        RunManifest,
        ScorerManifest,
        SubjectManifest,
    )

    text = f"Prompt {prompt}: answer the question.\n\nQuestion: {{{{ input }}}}\nAnswer:"
    return RunManifest(
        run_id="template",
        name=eval_name,
        spec_hash=hashlib.sha256(f"{eval_name}{prompt}{epochs}".encode()).hexdigest(),
        dataset=DatasetManifest(
            name=eval_name,
            source=f"data/{eval_name}.jsonl",
            content_hash=hashlib.sha256(eval_name.encode()).hexdigest(),
            n_samples=n_samples,
            sample_ids=[f"q{i:05d}" for i in range(n_samples)],
        ),
        subjects=[
            SubjectManifest(
                name="assistant",
                kind="model",
                provider="sim",
                requested_model="helper-1",
                resolved_models=["sim:helper-1@2026-01"],
                prompt_template=text,
                prompt_hash=hashlib.sha256(text.encode()).hexdigest(),
                params={"temperature": 0},
                config={"system": None, "user": text},
            )
        ],
        scorers=[ScorerManifest(name=s, version="1", kind=s) for s in SCORERS],
        epochs=epochs,
        seed=7,
        slices=["slice"],
        cluster="template",
        environment=EnvironmentManifest(
            assay_version="bench", git_sha="0123456789abcdef", python="3.11", platform="bench"
        ),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def build(path: Path) -> None:
    """Write the store with bulk inserts (executemany through the tables)."""
    from sqlalchemy import insert

    from assay.store import Store, codec
    from assay.store.tables import manifests, results, runs, samples, scores

    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    store = Store(str(partial))
    rng = random.Random(12)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    writer = store.engine.execution_options(assay_write=True)
    from assay.core import Provenance

    provenance = Provenance().model_dump_json()
    for e in range(N_EVALS):
        eval_name = f"eval-{e:02d}"
        difficulty = [rng.gauss(0, 1) for _ in range(RESULTS_PER_RUN)]
        with writer.begin() as conn:
            for k in range(RUNS_PER_EVAL):
                epochs = 2 if k % 10 == 9 else 1
                n_samples = RESULTS_PER_RUN // epochs
                prompt = f"v{1 + k // 10}"
                run_id = (
                    f"{start + timedelta(hours=e * RUNS_PER_EVAL + k):%Y%m%d-%H%M%S}-{e:02d}{k:04d}"
                )
                started = start + timedelta(hours=e + k * N_EVALS)
                manifest = _manifest(eval_name, n_samples, epochs, prompt).model_copy(
                    update={"run_id": run_id, "started_at": started, "finished_at": started}
                )
                conn.execute(
                    insert(runs),
                    {
                        "id": run_id,
                        "name": eval_name,
                        "status": "completed",
                        "started_at": started,
                        "finished_at": started + timedelta(minutes=5),
                        "fingerprint": manifest.fingerprint,
                        "spec_hash": manifest.spec_hash,
                        "subjects_json": '["assistant"]',
                        "n_planned": RESULTS_PER_RUN,
                        "pid": None,
                        "hostname": None,
                        "created_at": started,
                    },
                )
                spec = {"subjects": [{"name": "assistant", "prompt": f"prompts/{prompt}.txt"}]}
                conn.execute(
                    insert(manifests),
                    {
                        "run_id": run_id,
                        "manifest_json": manifest.model_dump_json(),
                        "spec_json": json.dumps(spec),
                    },
                )
                sample_rows, result_rows, score_rows = [], [], []
                ability = 0.3 + 0.05 * (k // 10) + rng.gauss(0, 0.05)
                for i in range(n_samples):
                    sid = f"q{i:05d}"
                    sl = SLICES[i % 3]
                    sample_rows.append(
                        {
                            "run_id": run_id,
                            "id": sid,
                            "position": i,
                            "content_hash": hashlib.sha256(
                                f"{eval_name}{sid}".encode()
                            ).hexdigest(),
                            "input_json": json.dumps(
                                f"Question {i} of {eval_name}: what is {i} + {e}?"
                            ),
                            "target_json": json.dumps(str(i + e)),
                            "metadata_json": json.dumps(
                                {"slice": sl, "template": f"{sl}:{i % 17}"}
                            ),
                            "cluster": f"{sl}:{i % 17}",
                            "provenance_json": provenance,
                        }
                    )
                    for epoch in range(epochs):
                        rid = codec.result_id(run_id, "assistant", sid, epoch)
                        correct = rng.random() < 1 / (1 + 2.718 ** (difficulty[i] - ability))
                        answer = str(i + e) if correct else str(i + e + 1)
                        result_rows.append(
                            {
                                "id": rid,
                                "run_id": run_id,
                                "subject": "assistant",
                                "sample_id": sid,
                                "epoch": epoch,
                                "output_text": answer,
                                "resolved_model": "sim:helper-1@2026-01",
                                "system_fingerprint": "sim-world-7",
                                "finish_reason": "stop",
                                "input_tokens": 40 + i % 13,
                                "output_tokens": 2,
                                "latency_ms": 200.0 + rng.random() * 300,
                                "output_json": json.dumps(
                                    {"text": answer, "model": "sim:helper-1@2026-01"}
                                ),
                                "error": None,
                                "error_class": None,
                                "attempts": 1,
                                "cached": False,
                                "created_at": started,
                            }
                        )
                        f1 = 1.0 if correct else round(rng.random() * 0.6, 3)
                        for position, (scorer, value) in enumerate(
                            zip(SCORERS, (float(correct), float(correct), f1), strict=True)
                        ):
                            score_rows.append(
                                {
                                    "result_id": rid,
                                    "position": position,
                                    "run_id": run_id,
                                    "scorer": scorer,
                                    "value": value,
                                    "answer": answer,
                                    "explanation": None,
                                    "error": None,
                                    "metadata_json": None,
                                }
                            )
                conn.execute(insert(samples), sample_rows)
                conn.execute(insert(results), result_rows)
                conn.execute(insert(scores), score_rows)
        print(f"  built eval {e + 1}/{N_EVALS} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.close()
    partial.rename(path)


def _median_ms(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def upgrade_older(path: Path) -> bool:
    """Copy the newest store of this ``VERSION`` built at an older schema revision to ``path``
    (SQLite's online backup, so a store in use copies consistently) and let the Store migrate
    it: the same rows with the new schema, without the minutes a build takes."""
    import sqlite3

    from assay.store import Store

    older = sorted(path.parent.glob(f"assay-web-bench-v{VERSION}-r*.db"))
    older = [p for p in older if p.name < path.name]  # revisions are zero-padded
    if not older:
        return False
    print(f"upgrading a copy of {older[-1]} ...", file=sys.stderr)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    source, target = sqlite3.connect(older[-1]), sqlite3.connect(partial)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    Store(str(partial)).close()  # runs the newer migrations
    partial.rename(path)
    return True


def bump(engine: Any) -> None:
    """A committed write that no page shows: the store's data version moves, so the next
    request of every page is a miss of the page cache (a "cold" request)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO store_settings (key, value) VALUES ('web-bench:bump', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(time.time_ns()),),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = store_path()
    if args.rebuild:
        path.unlink(missing_ok=True)
    if not path.exists() and (args.rebuild or not upgrade_older(path)):
        print(f"building {path} ...", file=sys.stderr)
        build(path)
    from fastapi.responses import PlainTextResponse
    from fastapi.testclient import TestClient

    from assay.store import Store
    from assay.web import create_app
    from assay.web.timing import server_time_ms

    store = Store(str(path))
    engine = store.engine
    with engine.connect() as conn:
        newest = conn.exec_driver_sql(
            "SELECT id FROM runs WHERE name = 'eval-00' ORDER BY started_at DESC LIMIT 2"
        ).all()
        n_results = conn.exec_driver_sql("SELECT count(*) FROM results").scalar_one()
        n_runs = conn.exec_driver_sql("SELECT count(*) FROM runs").scalar_one()
    b, a = newest[0][0], newest[1][0]
    sample = "q00042"
    print(f"store: {path} ({n_runs:,} runs, {n_results:,} results)")
    join = (
        "SELECT r.*, s.* FROM results r JOIN scores s ON s.result_id = r.id WHERE r.run_id IN ({})"
    )
    pages = {
        "runs list": (
            "/",
            "SELECT runs.*, manifests.*, run_summaries.*, run_labels.* FROM runs JOIN manifests "
            "ON manifests.run_id = runs.id LEFT JOIN run_summaries ON run_summaries.run_id = "
            "runs.id LEFT JOIN run_labels ON run_labels.run_id = runs.id "
            "ORDER BY runs.started_at DESC, runs.created_at DESC, runs.id DESC LIMIT 50",
            (),
        ),
        "run page": (f"/runs/{b}", join.format("?"), (b,)),
        "compare": (f"/compare/{a}/{b}", join.format("?, ?"), (a, b)),
        "sample page": (
            f"/runs/{b}/samples/{sample}",
            "SELECT smp.*, r.*, s.* FROM samples smp JOIN results r ON r.run_id = smp.run_id "
            "AND r.sample_id = smp.id LEFT JOIN scores s ON s.result_id = r.id "
            "WHERE smp.run_id = ? AND smp.id = ?",
            (b, sample),
        ),
    }

    def timed(client: Any, url: str) -> tuple[float, Any]:
        response = client.get(url)
        ms = server_time_ms(response.headers.get("server-timing"))
        if ms is None:
            raise SystemExit(f"{url}: no Server-Timing header in the response")
        return ms, response

    def floor_ms(client: Any, url: str) -> float:
        timed(client, url)
        return statistics.median(timed(client, url)[0] for _ in range(max(args.repeats, 9)))

    app = create_app(store)

    @app.get("/bench-floor-async")
    async def floor_async() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/bench-floor-sync")
    def floor_sync() -> PlainTextResponse:
        return PlainTextResponse("ok")

    cache = app.state.page_cache
    cold_ratios, warm_ratios = {}, {}
    with TestClient(app) as client:
        floors = {
            "a minimal async route": floor_ms(client, "/bench-floor-async"),
            "a minimal sync route (thread pool, as the pages)": floor_ms(
                client, "/bench-floor-sync"
            ),
            "a small static file": floor_ms(client, "/static/assay.js"),
        }
        print(
            "the app's floor (server time): "
            + "; ".join(f"{name} {ms:.3f} ms" for name, ms in floors.items())
        )
        for name, (url, sql, params) in pages.items():
            t = time.perf_counter()
            first = client.get(url)
            first_ms = 1000 * (time.perf_counter() - t)
            if first.status_code != 200:
                print(f"{name}: {url} answered {first.status_code}: {first.text[:200]}")
                continue
            client.get(url)  # the first load may write (run summaries): then one more miss
            cold, warm = [], []
            hits = cache.hits
            for _ in range(args.repeats):
                bump(engine)
                ms, fresh = timed(client, url)
                cold.append(ms)
                ms, revisit = timed(client, url)
                warm.append(ms)
                if revisit.content != fresh.content:
                    raise SystemExit(f"{name}: a revisit differs from the fresh render")
            if cache.hits - hits != args.repeats:
                raise SystemExit(f"{name}: {cache.hits - hits} of {args.repeats} revisits hit")
            cold_ms, warm_ms = statistics.median(cold), statistics.median(warm)
            raw = engine.raw_connection()
            try:

                def read(sql: str = sql, params: tuple[Any, ...] = params, raw: Any = raw) -> None:
                    cursor = raw.cursor()
                    cursor.execute(sql, params)
                    cursor.fetchall()
                    cursor.close()

                sql_ms = _median_ms(read, args.repeats)
            finally:
                raw.close()
            cold_ratios[name], warm_ratios[name] = cold_ms / sql_ms, warm_ms / sql_ms
            verdict = "ok" if cold_ms < 300 and warm_ratios[name] < 2 else "MISSES TARGET"
            print(
                f"{name:12s} cold {cold_ms:7.1f} ms  warm {warm_ms:6.3f} ms  sql {sql_ms:7.2f} ms"
                f"  ratio cold {cold_ratios[name]:6.1f}  warm {warm_ratios[name]:5.2f}"
                f"   (first load {first_ms:.0f} ms, {len(first.content):,} bytes)  {verdict}"
            )
    store.close()
    worst_warm = max(warm_ratios, key=lambda k: warm_ratios[k])
    worst_cold = max(cold_ratios, key=lambda k: cold_ratios[k])
    print(
        f"slowest page ratio (warm, cache hit): {warm_ratios[worst_warm]:.2f} ({worst_warm}); "
        f"cold: {cold_ratios[worst_cold]:.1f} ({worst_cold})"
    )


if __name__ == "__main__":
    main()
