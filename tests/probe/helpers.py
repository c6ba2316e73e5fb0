"""Shared builders for the probe tests: datasets, specs, and an in-memory probe table made by
asking the simulated world directly (no runner, no store) for the null-rate sweeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from assay.core import ModelRequest, Sample
from assay.probe import Probe, ProbeTable
from assay.probe.base import ITEM_KEY
from assay.run import PromptTemplate

SRC = str(Path(__file__).resolve().parents[2] / "src")


def qa_rows(n: int, **extra: Any) -> list[dict[str, Any]]:
    """n questions with unique whole-word answers (``code0007``)."""
    return [
        {
            "id": f"q{i}",
            "input": f"What is the code of item {i}?",
            "target": f"code{i:04d}",
            **extra,
        }
        for i in range(n)
    ]


def write_project(tmp: Path, rows: list[dict[str, Any]], spec: str) -> Path:
    (tmp / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    path = tmp / "probe.yaml"
    path.write_text(spec, encoding="utf-8")
    return path


def cli(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    env.pop("ASSAY_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "assay", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def simulated_table(
    probe: Probe, samples: list[Sample], provider: Any, model: str, *, expanded: Any = None
) -> ProbeTable:
    """The table a stored run of ``probe`` would give, with the world's truth as the score
    (``expanded``: the probe's requests from :func:`probe_requests`, to reuse across worlds)."""
    values: dict[str, Any] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    texts: dict[str, Any] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    meta: dict[str, dict[str, Any]] = {}
    for s, request in expanded or probe_requests(probe, samples, model):
        meta[s.id] = s.metadata
        out = provider.simulate(request)
        item, variant = s.metadata[ITEM_KEY], str(s.metadata[probe.variant_key])
        correct = out.text.strip() == str(s.target) or out.text.startswith(f"{s.target} (")
        values["subject"][item][variant].append(float(correct))
        texts["subject"][item][variant].append(out.text)
    return ProbeTable(None, "exact", probe.variants(), values, texts, meta)


def probe_requests(probe: Probe, samples: list[Sample], model: str) -> list[tuple[Sample, Any]]:
    """Every expanded sample with the request a model subject would send for it."""
    template = PromptTemplate()
    return [
        (
            s,
            ModelRequest(
                model=model,
                messages=template.render(s),
                context={"sample_id": s.id, "metadata": s.metadata, "target": s.target},
            ),
        )
        for s in probe.expand(samples)
    ]
