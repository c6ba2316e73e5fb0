"""Helpers for the lint tests: write datasets and specs, make stored runs in the sim world.

(Imported by name: tests/data/lint/conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from assay.run import run_async
from assay.run.spec import load_eval

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "bel", "dor", "fen", "gal", "hup",
              "jis", "mar", "pol", "quen", "sar", "tov", "wex"]  # fmt: skip


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def unrelated_text(rng: random.Random, words: int = 9) -> str:
    """A question of random pseudo-words: unrelated to any other such question."""
    return " ".join(_word(rng) for _ in range(words)).capitalize() + "?"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def unrelated_rows(n: int = 80, *, slice_size: int | None = None) -> list[dict[str, Any]]:
    """``n`` distinct, unrelated questions with short targets, production-origin and with
    two control samples at the end (a clean dataset)."""
    rng = random.Random(n)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "id": f"q{i}",
            "input": unrelated_text(rng),
            "target": f"answer {i}",
            "provenance": {"origin": "sampled" if i % 3 else "authored"},
        }
        if slice_size is not None:
            row["slice"] = f"s{i // slice_size}"
        rows.append(row)
    rows[-1]["control"] = True
    rows[-2]["control"] = True
    return rows


def write_spec(
    path: Path,
    dataset: Path,
    *,
    subjects: list[str] = ("sim/atlas-large",),  # type: ignore[assignment]
    scorers: str = "[exact]",
    seed: int = 0,
    epochs: int = 1,
    temperature: float = 0.0,
    slices: list[str] = (),  # type: ignore[assignment]
) -> Path:
    subject_lines = "".join(
        f"  - {{name: {m.split('/')[1]}, model: {m}, params: {{temperature: {temperature}}}}}\n"
        for m in subjects
    )
    path.write_text(
        f"name: lint-test\nseed: {seed}\nepochs: {epochs}\n"
        f"dataset: {{path: {dataset.name}}}\n"
        + (f"slices: [{', '.join(slices)}]\n" if slices else "")
        + f"subjects:\n{subject_lines}scorers: {scorers}\n",
        encoding="utf-8",
    )
    return path


def make_runs(store, spec: Path, seeds: list[int]) -> list[str]:
    """One stored run of ``spec`` per seed (the spec's seed line is rewritten), oldest first."""
    text = spec.read_text(encoding="utf-8")
    ids = []
    for seed in seeds:
        spec.write_text(
            "\n".join(
                f"seed: {seed}" if line.startswith("seed:") else line for line in text.splitlines()
            )
            + "\n",
            encoding="utf-8",
        )
        outcome = asyncio.run(run_async(load_eval(spec), db=store))
        assert outcome.status == "completed", outcome
        ids.append(outcome.run_id)
    spec.write_text(text, encoding="utf-8")
    return ids


SRC = str(Path(__file__).resolve().parents[3] / "src")


def assay_cli(*args: Any, cwd: Path, check: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m assay ARGS`` in a subprocess (wide, colourless output, no ASSAY_DB)."""
    env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    env.pop("ASSAY_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "assay", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc
