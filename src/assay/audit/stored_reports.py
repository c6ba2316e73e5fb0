"""The C7 bridge and C8 agreement reports from what the store already holds, for surfaces that
must not call a judge (the web pages).

* :func:`stored_bridges` / :func:`bridge_from_store`: ``assay audit bridge`` stores its
  re-scoring as a run of its own (spec ``{"rescore": {"run", "judges", "scale"}}``); the
  exchange rate is recomputed from that run's stored scores with the same
  :func:`assay.audit.drift.exchange_rate` call and inputs, so it equals the command's
  ``--json``.
* :func:`human_agreement`: ``assay audit humans --json`` for labels already loaded (a review
  queue's, or a file's) against the judge scores of stored runs, one per period.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from assay.core import AssayError
from assay.store import Store


def _bridge_spec(store: Store, run_id: str) -> dict[str, Any] | None:
    spec = store.get_spec(run_id) or {}
    rescore = spec.get("rescore") if isinstance(spec, dict) else None
    if isinstance(rescore, dict) and len(rescore.get("judges") or ()) == 2:
        return rescore
    return None


def stored_bridges(store: Store) -> list[dict[str, Any]]:
    """Every stored re-scoring run of two judges (an ``assay audit bridge``), newest first:
    its id, the run it re-scored, the old and new judge, the scale and its size."""
    out = []
    for info in store.list_runs():
        if not info.name.startswith("rescore "):
            continue
        rescore = _bridge_spec(store, info.id)
        if rescore is None:
            continue
        old, new = rescore["judges"]
        out.append(
            {
                "rescoring_run": info.id,
                "run": rescore.get("run"),
                "old_judge": old,
                "new_judge": new,
                "scale": rescore.get("scale"),
                "n_samples": info.n_results,
                "started_at": info.started_at.isoformat(),
            }
        )
    return out


def bridge_from_store(store: Store, rescoring_run: str, *, confidence: float = 0.95) -> dict:
    """What ``assay audit bridge --json`` printed for the stored re-scoring run
    ``rescoring_run``: the exchange rate from the old judge to the new, per slice."""
    from assay.audit.drift import exchange_rate

    run_id = store.resolve_run_id(rescoring_run)
    rescore = _bridge_spec(store, run_id)
    if rescore is None:
        raise AssayError(
            f"run {run_id} is not a judge bridge (a re-scoring by two judges)",
            where="run",
            fix="make one with `assay audit bridge RUN --old-judge … --new-judge …`",
        )
    old_judge, new_judge = rescore["judges"]
    manifest = store.get_manifest(run_id)
    key = manifest.slices[0] if manifest.slices else None
    samples = {s.id: s for s in store.get_samples(run_id)}
    scores: dict[str, dict[str, float]] = {old_judge: {}, new_judge: {}}
    for result in store.iter_results(run_id, "rescored"):
        for score in result.scores:
            if score.value is None or not score.scorer.startswith("judge"):
                continue
            ref = rescore["judges"][int(score.scorer[len("judge") :])]
            scores[ref][result.sample_id] = float(score.value)
    ids = sorted(samples)
    slices = {
        sid: None if key is None or samples[sid].metadata.get(key) is None
        else str(samples[sid].metadata.get(key))
        for sid in ids
    }  # fmt: skip
    rate = exchange_rate(
        [scores[old_judge].get(sid, math.nan) for sid in ids],
        [scores[new_judge].get(sid, math.nan) for sid in ids],
        [slices[sid] for sid in ids],
        confidence=confidence,
    )
    return {
        "run": _source_run(store, str(rescore.get("run") or "")),
        "rescoring_run": run_id,
        "old_judge": old_judge,
        "new_judge": new_judge,
        "slice_key": key,
        **rate.as_dict(),
    }


def _source_run(store: Store, ref: str) -> str | None:
    """The id of the run a bridge re-scored (its ``RUN[:SUBJECT]`` reference, resolved; a
    relative ``latest~N`` names another run by now, so it stays as written)."""
    head = ref.partition(":")[0]
    if not head or head.startswith("latest"):
        return ref or None
    try:
        return store.resolve_run_id(head)
    except AssayError:
        return head


def agreement_report(
    store: Store,
    labels: Sequence[Any],
    runs: Sequence[tuple[str, str]],
    *,
    scorer: str | None = None,
    period: str = "month",
    where: str = "scorer",
) -> tuple[list[Any], list[Any], Any]:
    """Judge-human κ and human-human α per period and per rater, and (with runs in two
    periods) whether the change came from the human cohort, the judge or the system: the
    objects ``assay audit humans`` renders. ``runs`` are (run id, period name) pairs;
    ``labels`` are :class:`~assay.audit.humans.HumanLabel` rows; ``where`` names the scorer
    option in errors."""
    from assay.audit.humans import (
        agreement_by_period,
        agreement_by_rater,
        attribute_drift,
        labels_by_period,
    )

    if not runs:
        raise AssayError("name at least one run", where="run")
    judge_by_period: dict[str, dict[str, float]] = {}
    for run_id, name in runs:
        manifest = store.get_manifest(run_id)
        judge_scorers = [s.name for s in manifest.scorers if s.kind in ("rubric", "judge")]
        chosen = scorer or (judge_scorers[0] if judge_scorers else None)
        if chosen is None:
            raise AssayError(
                f"run {run_id} has no judge scorer",
                where=where,
                fix="name the scorer whose scores the humans are compared with",
            )
        found = judge_by_period.setdefault(name, {})
        for result in store.iter_results(run_id):
            for score in result.scores:
                if score.scorer == chosen and score.value is not None and result.epoch == 0:
                    found.setdefault(result.sample_id, score.value)
    newest = list(judge_by_period.values())[-1]
    by_period = agreement_by_period(
        labels,
        newest,
        period=period,
        judge_by_period=judge_by_period,  # type: ignore[arg-type]
    )
    by_rater = agreement_by_rater(
        labels,
        newest,
        period=period,
        judge_by_period=judge_by_period,  # type: ignore[arg-type]
    )
    humans_by_period = labels_by_period(labels, period=period)  # type: ignore[arg-type]
    shared = [p for p in humans_by_period if p in judge_by_period]
    attribution = None
    if len(shared) >= 2:
        attribution = attribute_drift(
            {p: humans_by_period[p] for p in shared},
            {p: judge_by_period[p] for p in shared},
            periods=(shared[0], shared[-1]),
        )
    return by_period, by_rater, attribution


def human_agreement(
    store: Store,
    labels: Sequence[Any],
    runs: Sequence[tuple[str, str]],
    *,
    scorer: str | None = None,
    period: str = "month",
) -> dict[str, Any]:
    """``assay audit humans --json`` (see :func:`agreement_report`)."""
    by_period, by_rater, attribution = agreement_report(
        store, labels, runs, scorer=scorer, period=period
    )
    return {
        "periods": [p.as_dict() for p in by_period],
        "raters": [r.as_dict() for r in by_rater],
        "attribution": attribution.as_dict() if attribution else None,
    }


def run_period(store: Store, ref: str, period: str) -> tuple[str, str]:
    """``RUN`` or ``RUN=PERIOD`` → (run id, period name); without a name, the period the
    run started in (as ``assay audit humans --run`` reads it)."""
    from datetime import UTC

    from assay.audit.humans import HumanLabel, period_of

    run_ref, sep, name = ref.partition("=")
    run_id = store.resolve_run_id(run_ref.strip())
    if sep:
        return run_id, name.strip()
    if period == "label":
        raise AssayError(
            f"run {run_id} has no period name",
            where="run",
            fix="write RUN=PERIOD to name the period each run belongs to",
        )
    started = store.get_run(run_id).started_at.astimezone(UTC)
    probe = HumanLabel(sample="", rater="", label=None, time=started)
    return run_id, period_of(probe, period)  # type: ignore[arg-type]
