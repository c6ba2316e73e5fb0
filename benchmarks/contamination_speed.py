"""Contamination scan speed and memory on a generated corpus (issue 7, D3).

Generates a training corpus of ``--mb`` megabytes of JSONL (default 1024) and a 10,000-sample eval
set in a temporary folder, plants known contamination (whole samples copied, and partial copies
of 30% and 60%), scans the corpus with ``assay.data.contamination`` and reports:

- throughput in MB/s (total and per job) and the peak resident memory of the scan;
- whether every planted copy was found in the right band (it must be);
- the same-run baseline: a straightforward pure-Python 13-gram set scan in the style of
  lm-evaluation-harness's janitor (normalise, split, look every 13-gram tuple up in a set) on the
  first ``--baseline-mb`` of the corpus, and the speed-up over it;
- lm-evaluation-harness's own janitor on that slice too, when ``lm_eval`` is installed.

The last line is the per-core throughput as a ratio of the 25 MB/s target.

    python benchmarks/contamination_speed.py                 # 1 GB, one job
    python benchmarks/contamination_speed.py --mb 200 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_MB_S = 25.0
N_EVAL = 10_000


def _vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    lengths = rng.integers(2, 11, size=size)
    letters = np.frombuffer(string.ascii_lowercase.encode(), dtype=np.uint8)
    words = set()
    out = []
    for length in lengths:
        word = bytes(rng.choice(letters, size=length)).decode()
        if word not in words:
            words.add(word)
            out.append(word)
    return np.array(out, dtype=object)


class _Words:
    """Zipf-distributed words with some capitals and punctuation, like running text."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocab = _vocabulary(self.rng, 60_000)
        ranks = np.arange(1, len(self.vocab) + 1)
        weights = 1.0 / ranks**1.05
        self.cdf = np.cumsum(weights / weights.sum())
        self.decorated = np.array(
            [
                w.capitalize() if i % 7 == 0 else w + ("," if i % 5 == 0 else ".")
                for i, w in enumerate(self.vocab)
            ],
            dtype=object,
        )

    def words(self, n: int) -> list[str]:
        idx = np.minimum(np.searchsorted(self.cdf, self.rng.random(n)), len(self.vocab) - 1)
        plain = self.vocab[idx]
        fancy = self.rng.random(n) < 0.08
        plain[fancy] = self.decorated[idx[fancy]]
        return plain.tolist()


def generate(folder: Path, mb: int, seed: int) -> tuple[Path, Path, dict[str, list[str]]]:
    """Write ``eval.jsonl`` and ``train.jsonl`` (about ``mb`` MB); return planted truth."""
    rng = random.Random(seed)
    eval_words = _Words(seed + 1)  # eval text drawn independently of the corpus text
    samples = {}
    for i in range(N_EVAL):
        samples[f"q{i}"] = eval_words.words(rng.randint(40, 160))
    eval_path = folder / "eval.jsonl"
    with open(eval_path, "w") as out:
        for sid, words in samples.items():
            out.write(json.dumps({"id": sid, "input": " ".join(words)}) + "\n")

    ids = list(samples)
    rng.shuffle(ids)
    planted = {"dirty": ids[:50], "partial60": ids[50:100], "partial30": ids[100:150]}
    inserts: list[str] = []
    for sid in planted["dirty"]:
        inserts.append(" ".join(samples[sid]))
    for sid in planted["partial60"]:
        w = samples[sid]
        inserts.append(" ".join(w[: int(len(w) * 0.6)]))
    for sid in planted["partial30"]:
        w = samples[sid]
        inserts.append(" ".join(w[len(w) // 3 : len(w) // 3 + int(len(w) * 0.3)]))

    corpus = _Words(seed + 2)
    # A pool of sentences makes generation fast; documents are random runs of them.
    pool = [" ".join(corpus.words(rng.randint(8, 30))) for _ in range(200_000)]
    train_path = folder / "train.jsonl"
    target = mb * 1_000_000
    written = 0
    n = 0
    insert_at = sorted(rng.sample(range(1, max(2, target // 2000)), len(inserts)))
    next_insert = 0
    with open(train_path, "w", buffering=1 << 20) as out:
        while written < target:
            sentences = rng.choices(pool, k=rng.randint(5, 40))
            if next_insert < len(inserts) and n >= insert_at[next_insert]:
                sentences.insert(len(sentences) // 2, inserts[next_insert] + ".")
                next_insert += 1
            line = json.dumps({"id": f"doc{n}", "text": ". ".join(sentences)}) + "\n"
            out.write(line)
            written += len(line)
            n += 1
    missing = inserts[next_insert:]
    if missing:  # a small corpus: put the rest in at the end
        with open(train_path, "a") as out:
            for k, text in enumerate(missing):
                out.write(json.dumps({"id": f"tail{k}", "text": text}) + "\n")
    return eval_path, train_path, planted


def _janitor_like(train: Path, eval_path: Path, limit: int) -> tuple[float, int]:
    """The straightforward method: normalise with str.translate, split, look up 13-gram tuples
    in a set of the eval side's. Returns (MB/s, documents with a hit)."""
    table = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, string.punctuation)
    grams = set()
    with open(eval_path) as handle:
        for line in handle:
            words = json.loads(line)["input"].translate(table).split()
            grams.update(tuple(words[i : i + 13]) for i in range(len(words) - 12))
    began = time.perf_counter()
    read = hits = 0
    with open(train, "rb") as handle:
        for line in handle:
            read += len(line)
            words = json.loads(line)["text"].translate(table).split()
            if any(tuple(words[i : i + 13]) in grams for i in range(len(words) - 12)):
                hits += 1
            if read >= limit:
                break
    return read / 1e6 / (time.perf_counter() - began), hits


def _lm_eval_janitor(train: Path, eval_path: Path, limit: int) -> float | None:
    try:
        from lm_eval.decontamination.janitor import Janitor  # type: ignore[import-not-found]
    except ImportError:
        return None
    janitor = Janitor(ngram_n=13)
    with open(eval_path) as handle:
        for line in handle:
            janitor.register_contaminant(json.loads(line)["input"])
    began = time.perf_counter()
    read = 0
    with open(train, "rb") as handle:
        for line in handle:
            read += len(line)
            janitor.clean_python(json.loads(line)["text"])
            if read >= limit:
                break
    return read / 1e6 / (time.perf_counter() - began)


def _scan(eval_path: Path, train_path: Path, jobs: int, queue: multiprocessing.Queue) -> None:
    from assay.data import load_dataset
    from assay.data.contamination import EvalIndex, scan_corpus

    began = time.perf_counter()
    index = EvalIndex.from_samples(load_dataset(eval_path))
    index_seconds = time.perf_counter() - began
    report = scan_corpus(index, [train_path], jobs=jobs)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    queue.put(
        {
            "index_seconds": index_seconds,
            "seconds": report.corpus.seconds,
            "bytes": report.corpus.bytes,
            "documents": report.corpus.documents,
            "bands": {s.sample_id: s.band for s in report.samples if s.overlap > 0},
            "overlaps": {s.sample_id: s.overlap for s in report.samples if s.overlap > 0},
            "peak_rss_mb": max(own, children) / 1024,
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="corpus size in MB [1024]")
    parser.add_argument("--jobs", type=int, default=1, help="scan processes [1]")
    parser.add_argument("--baseline-mb", type=int, default=64, help="baseline slice in MB [64]")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="assay-contamination-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        began = time.perf_counter()
        eval_path, train_path, planted = generate(folder, args.mb, args.seed)
        size = train_path.stat().st_size
        print(
            f"corpus: {size / 1e6:.0f} MB JSONL, eval: {N_EVAL} samples "
            f"(generated in {time.perf_counter() - began:.0f} s)"
        )
        # The scan runs in a fresh process so its peak RSS is its own, not the generator's.
        queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        proc = multiprocessing.get_context("spawn").Process(
            target=_scan, args=(eval_path, train_path, args.jobs, queue)
        )
        proc.start()
        result = queue.get()
        proc.join()
        mb_s = result["bytes"] / 1e6 / result["seconds"]
        per_core = mb_s / args.jobs
        print(
            f"assay scan: {result['bytes'] / 1e6:.0f} MB, {result['documents']} documents in "
            f"{result['seconds']:.1f} s = {mb_s:.1f} MB/s ({per_core:.1f} MB/s per job, "
            f"jobs={args.jobs}); index built in {result['index_seconds']:.1f} s; "
            f"peak RSS {result['peak_rss_mb']:.0f} MB (limit 2048)"
        )
        bands = result["bands"]
        overlaps = result["overlaps"]
        dirty_ok = sum(bands.get(s) == "dirty" for s in planted["dirty"])
        p60 = [overlaps.get(s, 0.0) for s in planted["partial60"]]
        p30 = [overlaps.get(s, 0.0) for s in planted["partial30"]]
        unplanted = [s for s in bands if not any(s in v for v in planted.values())]
        print(
            f"planted: {dirty_ok}/{len(planted['dirty'])} full copies banded dirty; "
            f"60% copies measured {min(p60):.2f}-{max(p60):.2f}; "
            f"30% copies measured {min(p30):.2f}-{max(p30):.2f}; "
            f"{len(unplanted)} unplanted samples flagged"
        )
        limit = min(size, args.baseline_mb * 1_000_000)
        base_mb_s, _ = _janitor_like(train_path, eval_path, limit)
        print(
            f"baseline (pure-Python 13-gram set, janitor-style) on {limit / 1e6:.0f} MB: "
            f"{base_mb_s:.1f} MB/s; assay per job is {per_core / base_mb_s:.1f}x faster"
        )
        lm = _lm_eval_janitor(train_path, eval_path, limit)
        if lm is None:
            print("lm-evaluation-harness janitor: not installed, skipped")
        else:
            print(
                f"lm-evaluation-harness janitor: {lm:.1f} MB/s; "
                f"assay per job is {per_core / lm:.1f}x"
            )
        ok = dirty_ok == len(planted["dirty"]) and not unplanted and result["peak_rss_mb"] < 2048
        print(f"{'PASS' if ok else 'FAIL'} correctness and memory")
        print(
            f"contamination MB/s per core vs target {TARGET_MB_S:.0f}: "
            f"{per_core / TARGET_MB_S:.2f}x"
        )
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
