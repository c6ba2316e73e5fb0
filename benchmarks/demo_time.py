"""How long ``assay demo`` takes (issue 20, section 3: "keep the whole demo under 5 s").

Each variant runs in a fresh folder and store, in a fresh process, ``--repeats`` times after
one untimed start that writes the bytecode cache (``PYTHONPYCACHEPREFIX`` in the temporary
folder: an installed package has its cache; where the environment sets
``PYTHONDONTWRITEBYTECODE``, an editable checkout would otherwise recompile every module on
every start). Variants, taking turns so that a change in the machine's load reaches all alike:

- ``demo``: the default, the offline story (two prompt runs, the pairwise judge, the judge
  audit, the verdict last): the figure held to 5 s. The audit runs in a helper process beside
  the rest when a second core is idle (see ``assay.cli.demo_offline``);
- ``helper`` and ``serial``: the same with the helper forced (``ASSAY_DEMO_HELPER=1``) and
  refused (``=0``), which shows what the helper saves, or costs on a busy machine;
- ``production``: ``assay demo --production``, with the simulated week of traffic through
  the OTLP receiver and the monitoring pass before the offline story.

The baseline, measured in the same run and in the same way, is ``assay run eval_v1.yaml`` on
the demo's own project (written untimed): start-up, one 400-sample run of prompt v1 and its
summary, one of the demo's seven runs. Each variant is printed as wall and CPU seconds
(user+system of the process and its helper) and as a ratio of that baseline. Wall follows
the machine's load (printed beside it) on two shared cores; CPU much less. Every demo's
standard output must end on its verdict ("Is prompt v2 better? ...") or the benchmark fails.

    python benchmarks/demo_time.py                  # median of 3
    python benchmarks/demo_time.py --repeats 5 --no-production

The last line is the figure: the default demo's median wall time against the 5 s target.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 5.0
VERDICT = "Is prompt v2 better?"
BASELINE = "one run"
_WRITE = (
    "from pathlib import Path; from assay.cli.demo import write_demo_project as w; w(Path('.'))"
)


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (the child and its own children) of ``cmd``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout


def measure(repeats: int, production: bool) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of the baseline and each demo variant."""
    assay = [sys.executable, "-m", "assay", "demo"]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        BASELINE: ([sys.executable, "-m", "assay", "run", "eval_v1.yaml"], {}),
        "demo": (assay, {}),
        "helper": (assay, {"ASSAY_DEMO_HELPER": "1"}),
        "serial": (assay, {"ASSAY_DEMO_HELPER": "0"}),
    }
    if production:
        variants["production"] = ([*assay, "--production"], {})
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        base.pop("ASSAY_DEMO_HELPER", None)
        for i in range(repeats + 1):
            for name, (cmd, extra) in variants.items():
                folder = Path(tmp) / f"{name.replace(' ', '-')}-{i}"
                folder.mkdir()
                if name == BASELINE:  # the demo's project, written untimed
                    subprocess.run([sys.executable, "-c", _WRITE], cwd=folder, env=base, check=True)
                wall, cpu, out = _timed(cmd, folder, {**base, **extra})
                if name != BASELINE:
                    last = [line for line in out.splitlines() if line.strip()]
                    ending = " ".join(last[-6:])
                    if VERDICT not in ending:
                        raise SystemExit(f"{name}: the demo did not end on its verdict:\n{ending}")
                if i:  # the first start of each writes the bytecode cache
                    walls[name].append(wall)
                    cpus[name].append(cpu)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in walls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-production", action="store_true", help="Skip `assay demo --production`."
    )
    args = parser.parse_args()
    figures = measure(args.repeats, production=not args.no_production)
    base_wall, base_cpu = figures.pop(BASELINE)
    load = os.getloadavg()
    print(
        f"baseline `assay run eval_v1.yaml` (one of the demo's runs, start-up included): "
        f"{base_wall:.2f} s wall, {base_cpu:.2f} s CPU "
        f"(load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs)"
    )
    for name, (wall, cpu) in figures.items():
        print(
            f"{name:10s}: {wall:5.2f} s wall (x{wall / base_wall:.1f} one run), "
            f"{cpu:5.2f} s CPU (x{cpu / base_cpu:.1f})",
            flush=True,
        )
    wall, cpu = figures["demo"]
    verdict = "meets" if wall <= TARGET_S else "misses"
    print(
        f"demo_time: assay demo {wall:.2f} s wall, {cpu:.2f} s CPU, x{wall / base_wall:.1f} "
        f"one run's wall; {verdict} the target wall <= {TARGET_S:.0f} s "
        f"(load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
