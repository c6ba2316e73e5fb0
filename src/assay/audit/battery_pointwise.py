"""The audit battery's pointwise run: the sides' stored outputs graded on a 1..N rubric by the
audited judge (and any reference judges), giving the anchor vector (drift, C5-C6), the
self-preference effect (C4) and, with human labels, the judge-human agreement (C8).

Also the two steps every battery run shares: running an eval through the runner
(:func:`_run`) and a skipped check (:func:`_skipped`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from assay.audit.battery_config import AuditConfig
from assay.audit.battery_probes import _Side
from assay.core import CheckResult, JudgeManifest, Output, Sample, SubjectManifest, text_hash
from assay.data import Dataset
from assay.providers.lineage import LineageRegistry
from assay.store import Store


class _StoredOutputs:
    """A subject that answers with outputs already stored (the sides' outputs to grade)."""

    kind = "stored_outputs"

    def __init__(self, name: str, outputs: dict[str, Output], sources: dict[str, str]) -> None:
        self.name = name
        self.outputs = outputs
        self.sources = sources

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        from assay.core import SubjectError

        try:
            return self.outputs[sample.id]
        except KeyError:
            raise SubjectError(f"no stored output for {sample.id!r}") from None

    def manifest(self) -> SubjectManifest:
        return SubjectManifest(name=self.name, kind=self.kind, config={"sides": self.sources})

    async def aclose(self) -> None:
        return None


def _anchor_id(sample: Sample, output: Output) -> str:
    return text_hash(sample.input_text + "\x1f" + output.text)[:16]


def _families(output: Output, registry: LineageRegistry) -> set[str]:
    families = set(registry.families(output.model)) if output.model else set()
    sim = output.metadata.get("sim")
    if isinstance(sim, dict) and sim.get("family"):
        families.add(f"sim:{sim['family']}")
    return families


def _run(store: Store, ev: Any, cache: bool, progress: Callable[[Any], None] | None) -> str:
    from assay.run import RunOptions, run

    outcome = run(ev, db=store, options=RunOptions(cache=cache), on_progress=progress)
    return outcome.run_id


def _skipped(check: str, message: str) -> CheckResult:
    return CheckResult(check=check, verdict="skipped", message=message)


def _pointwise_checks(
    store: Store,
    config: AuditConfig,
    sides: list[_Side],
    samples: dict[str, Sample],
    outputs: list[dict[str, Output]],
    ids: list[str],
    registry: LineageRegistry,
    judge_manifests: list[JudgeManifest],
    progress: Callable[[Any], None] | None,
) -> tuple[str | None, dict[str, float], list[CheckResult]]:
    """Grade the sides' outputs pointwise with the judge (and the reference judges)."""
    from assay.audit.self_preference import self_preference_check
    from assay.run import Eval
    from assay.score.judges.pointwise import PointwiseJudge

    checks: list[CheckResult] = []
    want_self = bool(config.reference_judges)
    anchors = ids[: config.n_anchors]
    graded_ids = ids if (want_self or config.humans) else anchors
    if not graded_ids:
        return None, {}, checks
    rows: list[Sample] = []
    served: dict[str, Output] = {}
    origin: dict[str, tuple[int, str]] = {}
    for k in range(len(sides)):
        if k > 0 and not want_self:
            break
        for sid in graded_ids:
            pid = f"{k}/{sid}"
            rows.append(samples[sid].model_copy(update={"id": pid}))
            served[pid] = outputs[k][sid]
            origin[pid] = (k, sid)
    scorers: list[Any] = [
        PointwiseJudge(
            judge=config.judge,
            name="judge",
            scale=config.scale,
            style=config.style,
            params=config.params,
            context=config.context,
        )
    ]
    for i, ref in enumerate(config.reference_judges):
        scorers.append(
            PointwiseJudge(
                judge=ref, name=f"reference{i}", scale=config.scale, context=config.context
            )
        )
    ev = Eval(
        name=f"audit {config.label} (pointwise)",
        dataset=Dataset("audit:outputs", rows, source="audit"),
        subjects=[_StoredOutputs("graded", served, {str(k): s.ref for k, s in enumerate(sides)})],
        scorers=scorers,
        seed=config.seed,
        concurrency=config.concurrency,
        spec={"audit_pointwise": {"judge": config.judge, "runs": [s.ref for s in sides]}},
        lineage=registry,
        scorer_context=config.context,
    )
    run_id = _run(store, ev, config.cache, progress)
    scores: dict[str, dict[str, float]] = {}
    for result in store.iter_results(run_id, "graded"):
        for score in result.scores:
            if score.value is not None:
                scores.setdefault(result.sample_id, {})[score.scorer] = float(score.value)

    anchor_scores: dict[str, float] = {}
    for sid in anchors:
        value = scores.get(f"0/{sid}", {}).get("judge")
        if value is not None:
            anchor_scores[_anchor_id(samples[sid], outputs[0][sid])] = value

    if want_self:
        judge_families = {f for j in judge_manifests for f in j.family}
        judge_scores, other_scores, own = [], [], []
        for pid in origin:
            got = scores.get(pid, {})
            refs = [
                got[f"reference{i}"]
                for i in range(len(config.reference_judges))
                if f"reference{i}" in got
            ]
            if "judge" not in got or not refs:
                continue
            judge_scores.append(got["judge"])
            other_scores.append(float(np.mean(refs)))
            own.append(bool(_families(served[pid], registry) & judge_families))
        checks.append(
            self_preference_check(
                np.array(judge_scores),
                np.array(other_scores),
                np.array(own, dtype=bool),
                confidence=config.confidence,
            )
        )
    else:
        checks.append(
            _skipped(
                "self_preference",
                "needs reference judges of other families (--reference-judge) to compare the "
                "judge's scores of its own family's outputs with",
            )
        )

    if config.humans is not None:
        from assay.audit.humans import human_agreement_check, load_human_labels

        labels = load_human_labels(config.humans)
        judge_by_sample = {
            sid: scores[f"0/{sid}"]["judge"] for sid in ids if "judge" in scores.get(f"0/{sid}", {})
        }
        checks.append(human_agreement_check(labels, judge_by_sample, confidence=config.confidence))
    return run_id, anchor_scores, checks
