"""An online judge's anchor set re-graded on a schedule, beside the stream (issue 14, item 2).

A judge whose scores of production traffic drop has either seen worse answers or become a
different instrument (a new snapshot behind the same judge name, a changed rubric, a provider
that moved). :func:`regrade_anchors` re-scores the judge's frozen anchor set (``anchors:``:
input/output pairs, :mod:`assay.run.anchors`) with fresh calls, as a stored run named
``judge-anchors-<judge>``; the runner puts the judge's resolved snapshots, fingerprints and
anchor scores with their fingerprint (:func:`assay.core.anchor_fingerprint`: a hash of the
snapshot and the rounded score vector) in the run's manifest.
:func:`assay.monitor.substrate.detect_judge_changes` reads those manifests in run order and logs
a ``judge`` substrate event ("judge changed") when the anchor fingerprint moves, so "what
changed" ranks the judge first for a judge-score change: the monitor tells "the judge moved"
(anchors moved, the app's outputs did not) from "the app moved" (anchors still).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core import SpecError
from assay.monitor.spec import JudgeSpec, Monitors
from assay.store import Store

#: Run names of anchor re-grades (:func:`detect_judge_changes` reads them with online judging).
ANCHOR_RUN_PREFIX = "judge-anchors-"


@dataclass
class AnchorReport:
    """One re-grade: its run, the judge's anchor fingerprint and mean anchor score."""

    judge: str
    run_id: str
    fingerprint: str | None
    mean_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "run_id": self.run_id,
            "fingerprint": self.fingerprint,
            "mean_score": self.mean_score,
        }


def anchors_path(monitors: Monitors, judge: JudgeSpec) -> Path:
    if not judge.anchors:
        raise SpecError(
            f"judge {judge.name!r} has no anchor set",
            where=f"{monitors.source} (judges.{judge.name})",
            fix="add `anchors: anchors.jsonl` (id, input, output per line)",
        )
    path = Path(judge.anchors)
    return path if path.is_absolute() else monitors.base_dir / path


def regrade_anchors(
    store: Store, monitors: Monitors, judge: JudgeSpec, *, options: Any = None
) -> AnchorReport:
    """Re-score ``judge``'s anchor set with fresh calls as a stored run (module docstring)."""
    from assay.core.manifest import RunManifest
    from assay.run import RunOptions, eval_from_spec
    from assay.run import run as run_eval
    from assay.run.anchors import load_anchors

    path = anchors_path(monitors, judge)
    anchors = load_anchors(path)
    with tempfile.TemporaryDirectory(prefix="assay-anchors-") as tmp:
        outputs = Path(tmp) / "outputs.jsonl"
        outputs.write_text(
            "".join(json.dumps({"id": s.id, "output": o.text}) + "\n" for s, o in anchors),
            encoding="utf-8",
        )
        data: dict[str, Any] = {
            "name": f"{ANCHOR_RUN_PREFIX}{judge.name}",
            "dataset": {
                "name": f"anchors-{judge.name}",
                "samples": [
                    {
                        "id": s.id,
                        "input": s.input
                        if isinstance(s.input, str)
                        else [m.model_dump(exclude_none=True) for m in s.input],
                        **({"target": s.target} if s.target is not None else {}),
                        "metadata": s.metadata,
                    }
                    for s, _ in anchors
                ],
            },
            "subjects": [{"name": "anchors", "outputs": str(outputs)}],
            "scorers": judge.scorers,
            "anchors": str(path),
            "concurrency": judge.concurrency,
        }
        if judge.providers:
            data["providers"] = judge.providers
        try:
            ev = eval_from_spec(data, base_dir=monitors.base_dir)
        except SpecError as exc:
            raise SpecError(
                exc.message, where=f"{monitors.source} (judges.{judge.name})", fix=exc.fix
            ) from None
        outcome = run_eval(ev, db=store, options=options or RunOptions(cache=False))
    manifest: RunManifest = store.get_manifest(outcome.run_id)
    fingerprint, mean = None, None
    for j in manifest.judges:
        if j.anchor_fingerprint:
            fingerprint = j.anchor_fingerprint
            values = [v for v in j.anchor_scores.values() if v is not None]
            mean = sum(values) / len(values) if values else None
            break
    return AnchorReport(judge.name, outcome.run_id, fingerprint, mean)
