"""Contamination scan throughput on Ray: 1 vs 2 workers, checked row for row (issue 19).

Generates a JSONL training corpus of ``--size`` (default 2 GB, as the issue asks) and a
10,000-sample eval set with planted copies (the generator of
``benchmarks/contamination_speed.py``), once, under ``--dir`` (default /tmp), and reuses it on
later runs. Then scans it:

1. with the local executor (one process on this machine): the reference report;
2. on a local Ray cluster of one head node that runs no tasks (``num_cpus=0``) and 1 worker
   node of one CPU, then 2 worker nodes: the same corpus, sharded into work units run as Ray
   tasks, with the eval index shared through the object store.

Each Ray report must equal the local one row for row (every sample's overlap, band, n-gram
count and best documents; the dirty rows; document and byte counts): the script exits 1 if
not. It prints MB/s for each (the median and range of ``--repeat`` scans; the 1- and 2-worker
clusters alternate, so a change in the machine's load hits both alike) and, as its last line,
the 2-vs-1-worker throughput ratio. Cluster start-up is not timed; the scan is, from the first
task to the merged report (object-store upload of the index included).

On a shared machine the ratio says as much about the neighbours as about Ray, so each Ray
scan also reports the cores its workers actually got: the CPU seconds (user + system, from
/proc) of every process under the cluster's raylets, divided by the scan's wall time, and the
load average when it started.

    python benchmarks/ray_scaling.py                 # 2 GB
    python benchmarks/ray_scaling.py --size 256MB --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contamination_speed import N_EVAL, generate


def parse_size(text: str) -> int:
    """Megabytes in ``text``: ``2GB``, ``512MB``, ``300`` (MB)."""
    value = text.strip().upper().removesuffix("B")
    scale = 1
    if value.endswith("G"):
        value, scale = value[:-1], 1000
    elif value.endswith("M"):
        value = value[:-1]
    try:
        mb = int(float(value) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 2GB, 512MB)") from None
    if mb < 1:
        raise argparse.ArgumentTypeError("the corpus needs at least 1 MB")
    return mb


def corpus(folder: Path, mb: int, seed: int) -> tuple[Path, Path]:
    """The generated corpus, written once: a ``complete`` marker says a folder is whole."""
    where = folder / f"assay-ray-scaling-{mb}mb-seed{seed}"
    marker = where / "complete"
    if not marker.exists():
        where.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        generate(where, mb, seed)
        marker.write_text("ok\n")
        print(f"generated {mb} MB in {time.perf_counter() - began:.0f} s under {where}")
    else:
        print(f"reusing the corpus under {where}")
    return where / "eval.jsonl", where / "train.jsonl"


def _worker_cpu_seconds(roots: set[int]) -> float:
    """CPU seconds (user + system) of the live processes below ``roots`` (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid in cpu:
        ancestor = parent.get(pid)
        while ancestor and ancestor not in roots:
            ancestor = parent.get(ancestor)
        if ancestor in roots:
            total += cpu[pid]
    return total


def _raylets(cluster) -> set[int]:  # type: ignore[no-untyped-def]
    pids = set()
    for node in cluster.list_all_nodes():
        for info in node.all_processes.get("raylet", []):
            pids.add(info.process.pid)
    return pids


def same_rows(a, b) -> bool:  # type: ignore[no-untyped-def]
    return (
        a.samples == b.samples
        and a.dirty_rows == b.dirty_rows
        and a.n_dirty_rows == b.n_dirty_rows
        and (a.corpus.documents, a.corpus.bytes) == (b.corpus.documents, b.corpus.bytes)
    )


def timed(scan, repeat: int) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    rates, report = [], None
    for _ in range(repeat):
        report = scan()
        rates.append(report.corpus.bytes / 1e6 / report.corpus.seconds)
    return rates, report


def show(label: str, rates: list[float]) -> str:
    spread = f" (range {min(rates):.1f}-{max(rates):.1f}, n={len(rates)})" if len(rates) > 1 else ""
    return f"{label}: {statistics.median(rates):.1f} MB/s{spread}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=parse_size, default=2000, help="corpus size [2GB]")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where it is kept [/tmp]")
    parser.add_argument("--repeat", type=int, default=1, help="scans per configuration [1]")
    parser.add_argument("--unit-mb", type=int, default=32, help="work unit (shard) size [32]")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from assay.data import load_dataset
    from assay.data.contamination import EvalIndex, scan_corpus
    from assay.scale import LocalExecutor, make_executor

    eval_path, train_path = corpus(args.dir, args.size, args.seed)
    size_mb = train_path.stat().st_size / 1e6
    index = EvalIndex.from_samples(load_dataset(eval_path))
    unit = args.unit_mb << 20
    print(f"corpus {size_mb:.0f} MB JSONL, {N_EVAL} eval samples, {args.unit_mb} MB shards")

    local_rates, local = timed(
        lambda: scan_corpus(index, [train_path], unit_bytes=unit, executor=LocalExecutor(1)),
        args.repeat,
    )
    print(show("local executor, 1 process", local_rates), flush=True)

    rates: dict[int, list[float]] = {1: [], 2: []}
    cores: dict[int, list[float]] = {1: [], 2: []}
    equal = True
    for _ in range(args.repeat):
        for workers in (1, 2):
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
            try:
                for _ in range(workers):
                    cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
                roots = _raylets(cluster)
                load = os.getloadavg()[0]
                with make_executor("ray", ray_address=cluster.address, workers=workers) as ex:
                    cpu_before = _worker_cpu_seconds(roots)
                    report = scan_corpus(index, [train_path], unit_bytes=unit, executor=ex)
                    got = (_worker_cpu_seconds(roots) - cpu_before) / report.corpus.seconds
            finally:
                if ray.is_initialized():
                    ray.shutdown()
                cluster.shutdown()
            same = same_rows(local, report)
            equal &= same
            rate = report.corpus.bytes / 1e6 / report.corpus.seconds
            rates[workers].append(rate)
            cores[workers].append(got)
            print(
                f"  ray, {workers} worker node(s): {rate:.1f} MB/s; workers got {got:.2f} cores "
                f"({rate / max(got, 1e-9):.1f} MB/s per core; load average {load:.1f} at start); "
                + ("equals the local scan row for row" if same else "DIFFERS from the local scan"),
                flush=True,
            )
    medians = {k: statistics.median(v) for k, v in rates.items()}
    for workers in (1, 2):
        print(
            show(f"ray, {workers} worker node(s)", rates[workers])
            + f"; {statistics.median(cores[workers]):.2f} cores obtained (median)"
        )

    print(
        f"bands: {local.band_counts()}; {local.n_dirty_rows} dirty training rows; "  # type: ignore[attr-defined]
        f"{'PASS' if equal else 'FAIL'} row-for-row equality"
    )
    print(f"ray 2-vs-1-worker throughput ratio: {medians[2] / medians[1]:.2f}x")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
