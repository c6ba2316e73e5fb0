"""Re-scoring stored outputs with judges: the C7 bridge between an old and a new judge, and the
judge scores that human labels are compared with (C8).

Both grade a stored run's outputs again, pointwise, through the runner (cached, paced and
retried, stored as a run of their own), then hand the paired scores to the pure functions of
:mod:`assay.audit.drift` and :mod:`assay.audit.humans`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.audit.battery_pointwise import _StoredOutputs
from assay.audit.battery_probes import _choose, _first_outputs, _resolve
from assay.audit.drift import ExchangeRate, exchange_rate
from assay.core import Output, Sample, SpecError
from assay.data import Dataset
from assay.score import ScorerContext
from assay.store import Store


@dataclass
class Rescored:
    """Pointwise scores of one run's outputs by several judges (by judge ref, then sample)."""

    run_id: str
    subject: str
    rescoring_run: str
    slice_key: str | None
    slices: dict[str, str | None]
    scores: dict[str, dict[str, float]]


def rescore(
    store: Store,
    run: str,
    judges: Sequence[str],
    *,
    context: ScorerContext | None = None,
    scale: int = 10,
    max_samples: int = 500,
    seed: int = 0,
    slice_key: str | None = None,
    cache: bool = True,
    progress: Callable[[Any], None] | None = None,
) -> Rescored:
    """Grade the outputs of ``run`` (``RUN`` or ``RUN:SUBJECT``) with every judge in
    ``judges`` on a 1..``scale`` rubric; at most ``max_samples`` samples (a seeded subset)."""
    from assay.run import Eval, RunOptions
    from assay.run import run as run_eval
    from assay.score.judges.pointwise import PointwiseJudge

    if not judges:
        raise SpecError("name at least one judge", where="--judge")
    side = _resolve(store, run)
    manifest = store.get_manifest(side.run_id)
    key = slice_key or (manifest.slices[0] if manifest.slices else None)
    samples = {s.id: s for s in store.get_samples(side.run_id)}
    outputs = _first_outputs(store, side)
    ids = _choose([sid for sid in samples if sid in outputs], max_samples, seed)
    if not ids:
        raise SpecError(f"run {side.run_id} has no answered sample to re-score", where=run)
    rows: list[Sample] = [samples[sid] for sid in ids]
    served: dict[str, Output] = {sid: outputs[sid] for sid in ids}
    scorers = [
        PointwiseJudge(judge=ref, name=f"judge{i}", scale=scale, context=context)
        for i, ref in enumerate(judges)
    ]
    ev = Eval(
        name=f"rescore {side.ref}",
        dataset=Dataset(f"rescore:{manifest.dataset.name}", rows, source=side.ref),
        subjects=[_StoredOutputs("rescored", served, {"0": side.ref})],
        scorers=scorers,
        seed=seed,
        slices=[key] if key else [],
        spec={"rescore": {"run": side.ref, "judges": list(judges), "scale": scale}},
        scorer_context=context,
    )
    outcome = run_eval(ev, db=store, options=RunOptions(cache=cache), on_progress=progress)
    scores: dict[str, dict[str, float]] = {ref: {} for ref in judges}
    for result in store.iter_results(outcome.run_id, "rescored"):
        for score in result.scores:
            if score.value is None or not score.scorer.startswith("judge"):
                continue
            ref = judges[int(score.scorer[len("judge") :])]
            scores[ref][result.sample_id] = float(score.value)
    slices = {sid: (None if key is None else _label(samples[sid].metadata.get(key))) for sid in ids}
    return Rescored(side.run_id, side.subject, outcome.run_id, key, slices, scores)


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def judge_bridge(
    store: Store,
    run: str,
    old_judge: str,
    new_judge: str,
    *,
    context: ScorerContext | None = None,
    scale: int = 10,
    max_samples: int = 500,
    seed: int = 0,
    slice_key: str | None = None,
    confidence: float = 0.95,
    cache: bool = True,
    progress: Callable[[Any], None] | None = None,
) -> tuple[ExchangeRate, Rescored]:
    """The re-scoring bridge (C7): the run's outputs graded by the old and the new judge, and
    the exchange rate per slice (:func:`assay.audit.drift.exchange_rate`)."""
    if old_judge == new_judge:
        raise SpecError(
            "the old and the new judge are the same",
            where="--new-judge",
            fix="name the judge config the history was graded with and its replacement",
        )
    rescored = rescore(
        store,
        run,
        [old_judge, new_judge],
        context=context,
        scale=scale,
        max_samples=max_samples,
        seed=seed,
        slice_key=slice_key,
        cache=cache,
        progress=progress,
    )
    ids = sorted(rescored.slices)
    old = [rescored.scores[old_judge].get(sid, math.nan) for sid in ids]
    new = [rescored.scores[new_judge].get(sid, math.nan) for sid in ids]
    rate = exchange_rate(old, new, [rescored.slices[sid] for sid in ids], confidence=confidence)
    return rate, rescored
