"""A run under random HTTP 429s with ``Retry-After``, against the same run without faults
(issue 20, section 9: "42x slower than fault-free").

Setup: the project's mock OpenAI-compatible server (``assay.testing.MockOpenAIServer``) on
loopback, ``--latency-ms`` per call; an eval of ``--n`` samples, one subject, ``exact``
scorer, concurrency 16, the default call policy; a fresh SQLite store per run. Three runs, in
this process:

- ``fault-free``: no faults;
- ``429 + Retry-After``: each call answered 429 with probability ``--rate``, header
  ``Retry-After: --retry-after``;
- ``429, no header``: the same faults without the header (backoff alone).

Each line prints the wall time, its ratio to the fault-free run, the 429s the server sent and
the time the endpoint spent paused (the gateway's pause windows). The faults are drawn from a
seed, so every run sees the same calls fail.

    python benchmarks/retry_after_pauses.py                  # n = 3000, rate = 0.05
    python benchmarks/retry_after_pauses.py --rate 0.1 --repeat 3
    python benchmarks/retry_after_pauses.py --pause-every-429   # the policy before the fix
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


async def one_run(n: int, faults: dict[str, Any], workdir: Path) -> tuple[float, int, float]:
    """(wall seconds, 429s sent, seconds paused) of one run of ``n`` samples."""
    from assay.data import dataset_from_records
    from assay.providers import OpenAICompatProvider
    from assay.run import Eval, ModelSubject, PromptTemplate, run_async
    from assay.run.runner import Runner
    from assay.score import exact
    from assay.store import Store
    from assay.testing import MockOpenAIServer

    records = [{"id": f"q{i}", "input": f"q{i}", "target": f"echo: q{i}"} for i in range(n)]
    async with MockOpenAIServer(model="mock-1", faults=faults) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None, timeout=30)
        ev = Eval(
            name="retry-after",
            dataset=dataset_from_records(records, name="retry-after"),
            subjects=[
                ModelSubject("bot", provider=provider, model="mock-1", prompt=PromptTemplate())
            ],
            scorers=[exact()],
            concurrency=16,
        )
        paused: list[float] = []
        original = Runner._finish

        async def keep_pauses(self, *args: Any) -> None:  # type: ignore[no-untyped-def]
            paused.extend(g.paused_total for g in self._gateways.values())
            await original(self, *args)

        Runner._finish = keep_pauses  # type: ignore[method-assign]
        store = Store(workdir / f"{time.perf_counter_ns()}.db")
        try:
            start = time.perf_counter()
            outcome = await run_async(ev, db=store)
            wall = time.perf_counter() - start
        finally:
            Runner._finish = original  # type: ignore[method-assign]
            store.close()
        assert outcome.n_results == n and not outcome.n_errors, outcome
        sent = sum(1 for _, fault in server.faults_injected if fault == "rate_limit")
    return wall, sent, sum(paused)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=0.05, help="share of calls answered 429")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--pause-every-429",
        action="store_true",
        help="the policy before issue 20: every 429 with Retry-After pauses the endpoint",
    )
    args = parser.parse_args()
    if args.pause_every_429:
        from assay.run.limits import ServerPause

        ServerPause.__init__.__kwdefaults__["share"] = 0.0  # any share of throttling pauses
    cases = {
        "fault-free": {"latency_ms": args.latency_ms},
        "429 + Retry-After": {
            "latency_ms": args.latency_ms,
            "rate_limit": args.rate,
            "retry_after": args.retry_after,
            "seed": 7,
        },
        "429, no header": {
            "latency_ms": args.latency_ms,
            "rate_limit": args.rate,
            "retry_after": None,
            "seed": 7,
        },
    }
    print(
        f"n={args.n} rate_limit={args.rate} Retry-After={args.retry_after:g} s "
        f"latency={args.latency_ms:g} ms concurrency=16, {args.repeat} repeat(s)"
        + (", pause on every 429 (old policy)" if args.pause_every_429 else "")
    )
    base: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, faults in cases.items():
            runs = [asyncio.run(one_run(args.n, faults, Path(tmp))) for _ in range(args.repeat)]
            walls = [w for w, _, _ in runs]
            wall = statistics.median(walls)
            base = base if base is not None else wall
            print(
                f"{name:>18}: {wall:7.2f} s (min {min(walls):.2f}, max {max(walls):.2f})  "
                f"x{wall / base:5.1f}  429s sent {runs[0][1]:5d}  paused {runs[0][2]:6.1f} s"
            )


if __name__ == "__main__":
    main()
