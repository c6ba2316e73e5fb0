"""assay's own cost per sample against the cost of a bare HTTP loop (issue 3).

Starts the mock OpenAI server in a separate process, then, at concurrency 64 and mock latency
0 ms and 50 ms (three repetitions each, median reported):

- the floor: a minimal asyncio + aiohttp loop sending the same chat requests and parsing the
  JSON responses, nothing else;
- assay: the same N single-turn samples through the runner (gateway, scoring with exact match,
  results committed to a SQLite store; response cache off so every sample makes a call).

The store is created once before timing (a user's store is migrated once, not per run). It
reports CPU milliseconds per sample (this process's user+system time), wall time and their
ratios to the floor, then runs assay on N_small and N_large samples in fresh processes and
reports the growth of peak RSS. Inspect AI is measured if installed; otherwise its figure
measured on these machines (about 29 ms CPU per sample) is quoted.

    python benchmarks/harness_overhead.py                 # N=2000, RSS check at 1k and 100k
    python benchmarks/harness_overhead.py --rss-large 20000

The last line is the figure: CPU ratio, wall ratio at 50 ms, RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSPECT_CPU_MS = 29.0  # measured on these machines (issue 3)
CONCURRENCY = 64


def start_mock(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assay.testing",
            "--port",
            "0",
            "--faults",
            json.dumps({"latency_ms": latency_ms}),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.strip().rsplit(" ", 1)[-1]


def bodies(n: int) -> list[dict[str, object]]:
    return [
        {"model": "mock", "messages": [{"role": "user", "content": f"question {i}"}]}
        for i in range(n)
    ]


async def floor_loop(base_url: str, n: int) -> None:
    import aiohttp

    work = iter(bodies(n))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            for body in work:
                async with session.post(f"{base_url}/chat/completions", json=body) as response:
                    data = await response.json()
                    _ = data["choices"][0]["message"]["content"]

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def assay_eval(base_url: str, n: int):  # type: ignore[no-untyped-def]
    from assay.data import dataset_from_records
    from assay.providers import OpenAICompatProvider
    from assay.run import Eval, ModelSubject
    from assay.score import exact

    rows = [
        {"id": f"q{i}", "input": f"question {i}", "target": f"echo: question {i}"} for i in range(n)
    ]
    provider = OpenAICompatProvider(base_url=base_url, api_key_env=None)
    subject = ModelSubject("bot", provider=provider, model="mock")
    return Eval(
        name="bench",
        dataset=dataset_from_records(rows, name="bench"),
        subjects=[subject],
        scorers=[exact()],
        concurrency=CONCURRENCY,
    )


async def assay_run(base_url: str, n: int, db: object) -> None:
    from assay.run import RunOptions, run_async

    outcome = await run_async(assay_eval(base_url, n), db=db, options=RunOptions(cache=False))
    assert outcome.n_results == n and outcome.n_errors == 0, outcome


def measure(fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(fn(*args))
    return time.process_time() - cpu0, time.perf_counter() - wall0


def rss_child(base_url: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(assay_run(base_url, n, str(Path(tmp) / "a.db")))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # MB (Linux: KiB)


def peak_rss(base_url: str, n: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(n), "--url", base_url],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-small", type=int, default=1000)
    parser.add_argument("--rss-large", type=int, default=100_000)
    parser.add_argument("--rss-child", type=int)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.url, args.rss_child)
        return

    results: dict[float, dict[str, float]] = {}
    for latency in (0.0, 50.0):
        proc, url = start_mock(latency)
        try:
            measure(floor_loop, url, 200)  # warm up both paths
            floor, ours = [], []
            with tempfile.TemporaryDirectory() as tmp:
                # The store is created (and migrated) once, as a user's is; each repetition is a
                # new run in it, with the response cache off so every sample makes a call.
                from assay.store import Store

                store = Store(str(Path(tmp) / "bench.db"))
                measure(assay_run, url, 200, store)
                for _ in range(args.repeats):
                    floor.append(measure(floor_loop, url, args.n))
                    ours.append(measure(assay_run, url, args.n, store))
                store.close()
        finally:
            proc.terminate()
            proc.wait()
        f_cpu = statistics.median(c for c, _ in floor) / args.n * 1000
        a_cpu = statistics.median(c for c, _ in ours) / args.n * 1000
        f_wall = statistics.median(w for _, w in floor)
        a_wall = statistics.median(w for _, w in ours)
        results[latency] = {
            "floor_cpu": f_cpu,
            "assay_cpu": a_cpu,
            "floor_wall": f_wall,
            "assay_wall": a_wall,
        }
        print(
            f"latency {latency:>4.0f} ms  N={args.n}  CPU/sample: floor {f_cpu:.3f} ms, "
            f"assay {a_cpu:.3f} ms (x{a_cpu / f_cpu:.2f})  wall: floor {f_wall:.2f} s, "
            f"assay {a_wall:.2f} s (x{a_wall / f_wall:.2f})",
            flush=True,
        )

    proc, url = start_mock(0.0)
    try:
        small = peak_rss(url, args.rss_small)
        large = peak_rss(url, args.rss_large)
    finally:
        proc.terminate()
        proc.wait()
    growth = large - small
    print(
        f"peak RSS: {small:.0f} MB at N={args.rss_small}, {large:.0f} MB at N={args.rss_large} "
        f"(growth {growth:.0f} MB; target < 100 MB)"
    )

    try:
        import inspect_ai  # noqa: F401

        inspect_note = "Inspect AI is installed but not driven by this benchmark; quoting"
    except ImportError:
        inspect_note = "Inspect AI not installed; quoting"
    cpu_ratio = max(r["assay_cpu"] / r["floor_cpu"] for r in results.values())
    worst_cpu = max(r["assay_cpu"] for r in results.values())
    wall_ratio = results[50.0]["assay_wall"] / results[50.0]["floor_wall"]
    print(
        f"{inspect_note} {INSPECT_CPU_MS:.0f} ms CPU/sample: assay is "
        f"{INSPECT_CPU_MS / worst_cpu:.0f}x lower (target >= 10x)"
    )
    print(
        f"harness_overhead: cpu_ratio_to_floor={cpu_ratio:.2f} (target <= 3) "
        f"wall_ratio_at_50ms={wall_ratio:.2f} (target <= 1.25) rss_growth_mb={growth:.0f} "
        f"(target < 100) inspect_cpu_ratio={INSPECT_CPU_MS / worst_cpu:.0f}x"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
