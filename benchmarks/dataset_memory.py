"""Peak memory and time of loading a large dataset, as a multiple of the file's size (issue 20).

Loading a dataset used to hold it whole as validated pydantic samples, about 14 times the
file's size (2.74 GB for 1.5 million short rows), so the eval a machine could run was bounded by
its memory long before its patience. This measures what ``assay run`` does with a dataset file:
``load_dataset`` (the function the run's spec loader calls) and then the dataset's manifest
(its content hash and sample ids, which the run's manifest holds), and the one-pass path
``iter_samples`` (count and check every row without holding them).

The files hold ``--n`` short rows (default 1,500,000) such as ``{"id": "q0000123", "input":
"What is 7 + 5?", "target": "12", "metadata": {"slice": "arithmetic"}}`` as JSONL, and the same
rows as CSV (``id,input,target,slice``); they are written once under /tmp (keyed by ``VERSION``
and ``--n``). Each measurement runs in a fresh process
(``python -c``); its peak RSS is ``ru_maxrss`` from ``os.wait4``. A baseline process imports
the same modules and loads nothing; a load's memory is its peak RSS minus the baseline's, over
the file's size. Targets: the loaded dataset at most 3 times the file's size, the one-pass
path at most 1 time (it keeps only the ids, for the duplicate check).

    python benchmarks/dataset_memory.py                  # writes the files once (about 20 s)
    python benchmarks/dataset_memory.py --n 200000 --formats jsonl

The CSV file is the more compact (37 bytes a row against 99), so its multiple is the larger:
each sample holds its id as a ``str`` (64 bytes with the allocator's rounding, which the run's
manifest shares) and about 70 bytes besides, whatever the format.

The last line is the worst loaded-dataset figure, e.g.
``dataset_memory: rss_over_file=3.57x (target <= 3x; worst of jsonl 1.37x, csv 3.57x)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

VERSION = "1"
SLICES = ("arithmetic", "units", "sequences")
TARGET_LOADED, TARGET_STREAMED = 3.0, 1.0

#: Run in the child process: import what `assay run` imports to read a dataset, then do MODE.
CHILD = """
import json, sys, time
from assay.data import load_dataset
import assay.data.dataset, assay.core.hashing
try:
    from assay.data.loader import iter_samples
except ImportError:  # a version of assay from before the one-pass path
    iter_samples = None

mode, path = sys.argv[1], sys.argv[2]
out = {}
if mode == "load":
    start = time.perf_counter()
    dataset = load_dataset(path)
    out["load_s"] = time.perf_counter() - start
    start = time.perf_counter()
    manifest = dataset.manifest()  # the content hash and the ids, as the run's manifest has
    out["hash_s"] = time.perf_counter() - start
    out["n"] = len(dataset)
elif mode == "stream" and iter_samples is not None:
    start = time.perf_counter()
    out["n"] = sum(1 for _ in iter_samples(path))
    out["load_s"] = time.perf_counter() - start
print(json.dumps(out))
"""


def data_paths(n: int) -> dict[str, Path]:
    return {
        fmt: Path(f"/tmp/assay-dataset-memory-v{VERSION}-n{n}.{fmt}") for fmt in ("jsonl", "csv")
    }


def build(paths: dict[str, Path], n: int) -> None:
    """Write the rows as JSONL and CSV (to ``.partial`` files renamed when complete)."""
    rng = random.Random(20)
    partial = {fmt: path.with_name(path.name + ".partial") for fmt, path in paths.items()}
    with (
        open(partial["jsonl"], "w", encoding="utf-8") as jf,
        open(partial["csv"], "w", encoding="utf-8", newline="") as cf,
    ):
        writer = csv.writer(cf, lineterminator="\n")
        writer.writerow(["id", "input", "target", "slice"])
        for i in range(n):
            a, b = rng.randrange(100), rng.randrange(100)
            row = {
                "id": f"q{i:07d}",
                "input": f"What is {a} + {b}?",
                "target": str(a + b),
                "metadata": {"slice": SLICES[rng.randrange(len(SLICES))]},
            }
            jf.write(json.dumps(row) + "\n")
            writer.writerow([row["id"], row["input"], row["target"], row["metadata"]["slice"]])
    for fmt, path in paths.items():
        partial[fmt].rename(path)


def measure(mode: str, path: Path) -> tuple[dict[str, float], float, float]:
    """(the child's JSON report, wall seconds, peak RSS in MB) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} {path} failed with exit code {proc.returncode}")
    report = json.loads(out) if out.strip() else {}
    return report, wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_500_000, help="rows in the dataset")
    parser.add_argument(
        "--formats", default="jsonl,csv", help="comma-separated: jsonl, csv (default both)"
    )
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - {"jsonl", "csv"}
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")

    paths = data_paths(args.n)
    if not all(p.exists() for p in paths.values()):
        start = time.perf_counter()
        build(paths, args.n)
        print(f"wrote {args.n:,} rows as JSONL and CSV in {time.perf_counter() - start:.1f} s")

    _, _, baseline = measure("none", paths["jsonl"])
    print(f"baseline (imports only): peak RSS {baseline:.0f} MB; {os.getloadavg()[0]:.1f} load")
    figures: dict[str, float] = {}
    for fmt in formats:
        path = paths[fmt]
        size = path.stat().st_size / 2**20
        loaded, wall, rss = measure("load", path)
        over = figures[fmt] = (rss - baseline) / size
        per_sample = (rss - baseline) * 2**20 / loaded["n"]
        print(
            f"{fmt:5} {size:6.0f} MB file, {loaded['n']:,.0f} samples: load_dataset "
            f"{loaded['load_s']:.1f} s + manifest {loaded['hash_s']:.1f} s "
            f"({wall:.1f} s wall), peak RSS {rss:.0f} MB = {over:.2f}x the file, "
            f"{per_sample:.0f} B a sample (target <= {TARGET_LOADED:g}x)"
        )
        streamed, wall, rss = measure("stream", path)
        if "n" not in streamed:
            print(f"{fmt:5} iter_samples: not in this version of assay")
            continue
        over_streamed = (rss - baseline) / size
        print(
            f"{fmt:5} iter_samples one pass {streamed['load_s']:.1f} s, peak RSS {rss:.0f} MB = "
            f"{over_streamed:.2f}x the file (target <= {TARGET_STREAMED:g}x)"
        )
    worst = max(figures, key=figures.__getitem__)
    each = ", ".join(f"{fmt} {over:.2f}x" for fmt, over in figures.items())
    print(
        f"dataset_memory: rss_over_file={figures[worst]:.2f}x "
        f"(target <= {TARGET_LOADED:g}x; worst of {each})"
    )


if __name__ == "__main__":
    main()
