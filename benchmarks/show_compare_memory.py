"""Wall time and peak RSS of ``assay show`` and ``assay compare`` at 100,000 results (issue 20).

The store holds two runs of the same eval (run B is a little better than run A) over the same
``--n`` samples (default 100,000), one subject, one epoch, two scorers (``exact``, pass/fail,
and ``f1``, continuous), a ``slice`` key with three values and a ``template`` cluster. Each
response is a paragraph of about 600 characters, as a model's answer is, so reading whole
outputs where only scores are needed shows up in memory. The store is written with bulk inserts
through the store's SQLAlchemy tables into a SQLite file kept under /tmp (keyed by ``VERSION``,
``--n`` and the schema revision).

Each command then runs ``--repeats`` times in a fresh process (``python -m assay ...``); wall
time is measured around the process and peak RSS is its ``ru_maxrss`` (``os.wait4``). Medians
are reported with the range. Targets: both commands under 3 s and 300 MB. ``show`` is measured
cold (the stored run summaries are dropped before each run, so it computes the summary and
stores it) and ``show-cached`` warm (the summary a finished run normally has in the store).

    python benchmarks/show_compare_memory.py              # builds the store once (about 30 s)
    python benchmarks/show_compare_memory.py --n 20000 --repeats 5

The last line is the worst of the four figures as a ratio to its target, e.g.
``show_compare_memory: worst_ratio_to_target=0.62 (compare rss)``; at most 1 meets them all.

Figures (``--repeats 5``, 2 cores shared with other jobs, so wall time follows the load and CPU
time, user + system, is the figure to compare; medians). Before migration 0011 (same session,
load 5.0-6.3): ``show`` cold 7.37 s wall, 1.73 s CPU, 162 MB; cached 3.21 s, 0.68 s CPU, 69 MB;
``compare`` 13.64 s wall, 4.00 s CPU, 277 MB. After (covering indexes, index-only reads, the
pricing read skipped when nothing can be priced, sign flips as counted bits; load 6.3-6.9):
``show`` cold 3.54 s wall, 1.46 s CPU, 168 MB; cached 1.92 s, 0.53 s CPU, 126 MB (71 MB when
measured again: the first run on a store just built is higher, before too); ``compare`` 7.26 s
wall, 3.00 s CPU, 268 MB. Wall time meets 3 s only when the machine is quiet. Then (the GC held
through ``compare_runs``, slice and cluster labels once per group of samples sharing them;
same session, load 1.4-3.1): before, ``show`` cold 1.53 s wall, 1.52 s CPU, 168 MB; cached
0.49 s, 0.48 s CPU, 71 MB; ``compare`` 2.98 s wall, 3.05 s CPU, 268 MB. After: ``show`` cold
1.65 s wall, 1.49 s CPU, 162 MB; cached 0.48 s, 0.47 s CPU, 71 MB; ``compare`` 2.72 s wall,
2.68 s CPU, 244 MB (interleaved with the previous code, ``compare --json``: 2.85 -> 2.67 s
CPU). Single runs move by 0.2 s of CPU with the load. Then (cluster codes taken as they are,
one-value-per-sample metrics as arrays, the manifest read once a run), this script on a
quiet machine (load 0.9, 2026-12-05, ``--repeats 5``): ``show`` cold 1.32 s wall, 1.48 s CPU,
162 MB; cached 0.44 s, 0.44 s CPU, 71 MB; ``compare`` 2.04 s wall, 2.40 s CPU, 201 MB; last
line ``worst_ratio_to_target=0.68 (compare wall)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

VERSION = "1"
SCORERS = ("exact", "f1")
SLICES = ("arithmetic", "units", "sequences")
TARGET_S, TARGET_MB = 3.0, 300.0
FILLER = (
    "Let me work through this step by step. First, restate what is asked, then check each "
    "quantity against the question, and only then give the answer on its own line so that a "
    "grader can find it. "
)


def store_path(n: int) -> Path:
    from assay.store.migrate import HEAD_REVISION

    return Path(f"/tmp/assay-show-compare-v{VERSION}-n{n}-r{HEAD_REVISION}.db")


def _manifest(run_id: str, n: int, prompt: str, started: datetime) -> Any:
    from assay.core import (
        DatasetManifest,
        EnvironmentManifest,
        RunManifest,
        ScorerManifest,
        SubjectManifest,
    )

    text = f"Prompt {prompt}: answer the question.\n\nQuestion: {{{{ input }}}}\nAnswer:"
    return RunManifest(
        run_id=run_id,
        name="big",
        spec_hash=hashlib.sha256(f"big{prompt}".encode()).hexdigest(),
        dataset=DatasetManifest(
            name="big",
            source="data/big.jsonl",
            content_hash=hashlib.sha256(b"big").hexdigest(),
            n_samples=n,
            sample_ids=[f"q{i:06d}" for i in range(n)],
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
        epochs=1,
        seed=7,
        slices=["slice"],
        cluster="template",
        environment=EnvironmentManifest(
            assay_version="bench", git_sha="0123456789abcdef", python="3.11", platform="bench"
        ),
        started_at=started,
        finished_at=started + timedelta(minutes=30),
    )


def build(path: Path, n: int) -> tuple[str, str]:
    """Write the two runs with bulk inserts; returns their ids (A, B)."""
    from sqlalchemy import insert

    from assay.core import Provenance
    from assay.store import Store, codec
    from assay.store.tables import manifests, results, runs, samples, scores

    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    store = Store(str(partial))
    rng = random.Random(20)
    provenance = Provenance().model_dump_json()
    difficulty = [rng.gauss(0, 1) for _ in range(n)]
    writer = store.engine.execution_options(assay_write=True)
    ids = []
    for k, (prompt, ability) in enumerate((("v1", 0.4), ("v2", 0.5))):
        started = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=k)
        run_id = f"{started:%Y%m%d-%H%M%S}-big{k}"
        ids.append(run_id)
        manifest = _manifest(run_id, n, prompt, started)
        with writer.begin() as conn:
            conn.execute(
                insert(runs),
                {
                    "id": run_id,
                    "name": "big",
                    "status": "completed",
                    "started_at": started,
                    "finished_at": started + timedelta(minutes=30),
                    "fingerprint": manifest.fingerprint,
                    "spec_hash": manifest.spec_hash,
                    "subjects_json": '["assistant"]',
                    "n_planned": n,
                    "pid": None,
                    "hostname": None,
                    "created_at": started,
                },
            )
            conn.execute(
                insert(manifests),
                {
                    "run_id": run_id,
                    "manifest_json": manifest.model_dump_json(),
                    "spec_json": json.dumps({"subjects": [{"name": "assistant"}]}),
                },
            )
            for lo in range(0, n, 10_000):
                sample_rows, result_rows, score_rows = [], [], []
                for i in range(lo, min(n, lo + 10_000)):
                    sid = f"q{i:06d}"
                    sl = SLICES[i % 3]
                    sample_rows.append(
                        {
                            "run_id": run_id,
                            "id": sid,
                            "position": i,
                            "content_hash": hashlib.sha256(sid.encode()).hexdigest(),
                            "input_json": json.dumps(f"Question {i}: what is {i} + {k}?"),
                            "target_json": json.dumps(str(i)),
                            "metadata_json": json.dumps(
                                {"slice": sl, "template": f"{sl}:{i % 17}"}
                            ),
                            "cluster": f"{sl}:{i % 17}",
                            "provenance_json": provenance,
                        }
                    )
                    rid = codec.result_id(run_id, "assistant", sid, 0)
                    correct = rng.random() < 1 / (1 + 2.718 ** (difficulty[i] - ability))
                    answer = str(i) if correct else str(i + 1)
                    text = f"{FILLER * 3}\nAnswer: {answer}"
                    result_rows.append(
                        {
                            "id": rid,
                            "run_id": run_id,
                            "subject": "assistant",
                            "sample_id": sid,
                            "epoch": 0,
                            "output_text": text,
                            "resolved_model": "sim:helper-1@2026-01",
                            "system_fingerprint": "sim-world-7",
                            "finish_reason": "stop",
                            "input_tokens": 40 + i % 13,
                            "output_tokens": 120,
                            "latency_ms": 200.0 + rng.random() * 300,
                            "output_json": json.dumps(
                                {"text": text, "model": "sim:helper-1@2026-01"}
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
                        zip(SCORERS, (float(correct), f1), strict=True)
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
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.close()
    partial.rename(path)
    return ids[0], ids[1]


def forget_summaries(db: str) -> None:
    """Drop the stored run summaries, so that ``show`` computes its summary (cold)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM run_summaries"))
    engine.dispose()


def measure(
    args: list[str], repeats: int, before: Any = None
) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of ``python -m assay ARGS``,
    ``repeats`` fresh processes (``before()`` runs ahead of each). On a shared machine CPU time
    moves far less than wall time."""
    walls, cpus, peaks = [], [], []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "assay", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"assay {' '.join(args)} failed:\n{err.decode()[-3000:]}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)  # Linux: KiB
    return walls, cpus, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = store_path(args.n)
    if args.rebuild:
        path.unlink(missing_ok=True)
    if not path.exists():
        print(f"building {path} ...", file=sys.stderr)
        t = time.perf_counter()
        build(path, args.n)
        print(f"  built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    db = f"sqlite:///{path}"
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:
        a, b = (r[0] for r in conn.execute(text("SELECT id FROM runs ORDER BY started_at")))
        n_results = conn.execute(text("SELECT count(*) FROM results")).scalar_one()
    engine.dispose()
    print(f"store: {path} ({n_results:,} results in 2 runs of {args.n:,})")
    ratios: dict[str, float] = {}
    commands = (
        ("show", ["show", b], lambda: forget_summaries(db)),
        ("show-cached", ["show", b], None),
        ("compare", ["compare", a, b], None),
    )
    for name, cmd, before in commands:
        walls, cpus, peaks = measure([*cmd, "--db", db], args.repeats, before)
        wall, peak = statistics.median(walls), statistics.median(peaks)
        ratios[f"{name} wall"] = wall / TARGET_S
        ratios[f"{name} rss"] = peak / TARGET_MB
        print(
            f"{name:11s} wall {wall:6.2f} s [{min(walls):.2f}-{max(walls):.2f}] (target < "
            f"{TARGET_S:.0f} s), CPU {statistics.median(cpus):.2f} s   "
            f"peak RSS {peak:5.0f} MB [{min(peaks):.0f}-{max(peaks):.0f}] "
            f"(target < {TARGET_MB:.0f} MB)"
        )
    worst = max(ratios, key=lambda k: ratios[k])
    print(f"show_compare_memory: worst_ratio_to_target={ratios[worst]:.2f} ({worst})")


if __name__ == "__main__":
    main()
