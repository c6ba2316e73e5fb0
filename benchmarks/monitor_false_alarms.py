"""False alarms of the production monitors on simulated weeks without incidents.

For each seed, a week of 2,000 requests from the traffic simulator (no planted incident) is
stored through the real mapping and writer, and one monitoring pass runs at its end with the
monitors of tests/monitor/world.py (4 routes, 6-7 signals each, per route and per segment,
two objectives). Every alert it raises is a false alarm. Prints the alerts per week, the
watched observations, and false alarms per 1,000 observations with a Wilson interval.

    python benchmarks/monitor_false_alarms.py --seeds 8-27
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from tests.monitor.world import load_world, monitors, pass_time

    from assay.monitor.engine import run_pass
    from assay.stats.intervals import wilson_interval
    from assay.store import Store
    from assay.testing.traffic import TrafficConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="8-27")
    args = parser.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    alarms = observations = series = 0
    started = time.perf_counter()
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(str(Path(tmp) / "assay.db"))
            result = load_world(
                store, TrafficConfig(seed=seed, days=7, requests=2000, incidents=())
            )
            report = run_pass(store, monitors(), now=result.truth.start + pass_time(result))
            watched = sum(max(0, s.n - 100) for r in report.routes for s in r.series if s.detection)
            n_series = sum(1 for r in report.routes for s in r.series if s.detection)
            store.close()
        alarms += len(report.findings)
        observations += watched
        series += n_series
        print(
            f"seed {seed}: {len(report.findings)} alert(s), {n_series} watched series, "
            f"{watched} watched observations"
        )
        for f in report.findings:
            print(f"    {f.title}")
    rate = wilson_interval(alarms, observations)
    print(
        f"{len(seeds)} weeks: {alarms} false alarm(s) over {observations} watched observations "
        f"in {series} series; {1000 * rate.estimate:.4f} per 1,000 "
        f"(95% {1000 * rate.low:.4f} to {1000 * rate.high:.4f}); "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
