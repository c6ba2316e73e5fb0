"""Saturated and never-passed samples, and a saturated suite, from stored runs (A5).

The runs read are the ``runs`` most recent stored runs of *this* dataset: a run counts when its
manifest's dataset content hash equals the file's, or when it stored some of the file's samples
with unchanged content (same id and same sample content hash: an edited sample, such as a fixed
label, starts a fresh history). Only pass/fail scores count (a scorer whose every value in
those runs is 0 or 1); a sample's outcome in one run, for one subject and scorer, is the mean
over its epochs. Errored and ungraded results are left out, never counted as failures.

* ``saturated`` (the suite): in each of the ``saturated_runs`` most recent runs, the best
  subject's pass rate on some scorer is at least ``saturated_rate`` (A5: ≥ 99% on 5
  consecutive runs). The eval can no longer show that the best model got better.
* ``saturated_samples``: graded in at least ``min_runs`` runs and passed by every subject,
  every epoch, every run. They cost calls and tell nothing apart; an ``info`` finding.
* ``never_passed``: graded in at least ``min_runs`` runs and failed by every subject, every
  epoch, every run. When strong and weak models all fail an item, the item (its target, or the
  scorer's reading of it) is the first suspect: a label error.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from assay.data.dataset import Dataset
from assay.data.lint.context import CheckSkipped, LintContext
from assay.data.lint.report import Smell
from assay.data.lint.stored_runs import RunOutcome, RunOutcomes

__all__ = ["RunOutcome", "RunOutcomes", "check_run_outcomes", "run_outcomes"]

if TYPE_CHECKING:
    from assay.store import Store


def _matching_ids(store: Store, run_id: str, manifest: Any, dataset: Dataset) -> set[str]:
    """The ids of ``dataset``'s samples that the run stored with unchanged content."""
    if manifest.dataset.content_hash == dataset.content_hash:
        return set(dataset.sample_ids)
    shared = {i for i in manifest.dataset.sample_ids if i in dataset}
    if not shared:
        return set()
    return {
        s.id
        for s in store.get_samples(run_id)
        if s.id in shared and s.content_hash() == dataset.get(s.id).content_hash()
    }


def run_outcomes(store: Store, dataset: Dataset, *, runs: int = 5) -> RunOutcomes:
    """Read the ``runs`` most recent stored runs of ``dataset`` (matching rules in the module
    docstring). ``store`` is an :class:`assay.store.Store` (only its read methods are used)."""
    found: list[RunOutcome] = []
    infos = store.list_runs()
    values_seen: dict[str, set[float]] = defaultdict(set)
    for info in infos:
        if len(found) >= runs:
            break
        if info.status == "running":
            continue  # still being written: its numbers are not final
        manifest = store.get_manifest(info.id)
        ids = _matching_ids(store, info.id, manifest, dataset)
        if not ids:
            continue
        per: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for result in store.iter_results(info.id):
            if result.error_class or result.sample_id not in ids:
                continue
            for score in result.scores:
                if score.value is None:
                    continue
                per[(result.subject, score.scorer)][result.sample_id].append(float(score.value))
                values_seen[score.scorer].add(float(score.value))
        scores = {
            key: {sid: sum(v) / len(v) for sid, v in by_sample.items()}
            for key, by_sample in per.items()
        }
        found.append(
            RunOutcome(
                run_id=info.id,
                name=info.name,
                scores=scores,
                scorer_kinds={s.name: s.kind or s.name for s in manifest.scorers},
                judges_same_lineage=tuple(
                    (j.name, j.model, tuple(j.same_lineage))
                    for j in manifest.judges
                    if j.same_lineage
                ),
                slices=tuple(manifest.slices),
            )
        )
    binary = frozenset(s for s, seen in values_seen.items() if seen <= {0.0, 1.0})
    return RunOutcomes(tuple(found), len(infos), binary)


def _history(
    outcomes: RunOutcomes,
) -> tuple[dict[str, list[float]], dict[str, set[str]]]:
    """Per sample: every (run, subject, binary scorer) outcome, and the runs that graded it."""
    values: dict[str, list[float]] = defaultdict(list)
    graded_in: dict[str, set[str]] = defaultdict(set)
    for run in outcomes.runs:
        for (_subject, scorer), by_sample in run.scores.items():
            if scorer not in outcomes.binary_scorers:
                continue
            for sample_id, value in by_sample.items():
                values[sample_id].append(value)
                graded_in[sample_id].add(run.run_id)
    return values, graded_in


def _suite_saturated(ctx: LintContext, outcomes: RunOutcomes) -> Smell | None:
    settings = ctx.settings
    recent = outcomes.runs[: settings.saturated_runs]
    if len(recent) < settings.saturated_runs:
        return None
    for scorer in sorted(outcomes.binary_scorers):
        rates: list[tuple[str, str, float]] = []
        for run in recent:
            best: tuple[str, float] | None = None
            for (subject, name), by_sample in run.scores.items():
                if name != scorer or not by_sample:
                    continue
                rate = sum(by_sample.values()) / len(by_sample)
                if best is None or rate > best[1]:
                    best = (subject, rate)
            if best is None:
                break
            rates.append((run.run_id, best[0], best[1]))
        if len(rates) == len(recent) and all(r >= settings.saturated_rate for *_, r in rates):
            return Smell(
                code="saturated",
                severity="warning",
                message=f"the suite is saturated on {scorer!r}: the best subject passed "
                f"≥ {settings.saturated_rate:.0%} in each of the last {len(rates)} runs",
                fix="add harder samples (production failures are the best source) or retire "
                "the suite to a regression-only role",
                details={
                    "scorer": scorer,
                    "runs": [
                        {"run_id": run_id, "subject": subject, "pass_rate": round(rate, 4)}
                        for run_id, subject, rate in rates
                    ],
                },
            )
    return None


def check_run_outcomes(ctx: LintContext) -> list[Smell]:
    """``saturated``, ``saturated_samples`` and ``never_passed`` (rules in the module
    docstring). Skipped without a store or without a stored run of this dataset."""
    outcomes = ctx.outcomes
    if outcomes is None:
        raise CheckSkipped(ctx.store_reason or "no store given")
    if not outcomes.runs:
        raise CheckSkipped(
            f"none of the {outcomes.runs_searched} stored run(s) used this dataset's samples"
        )
    if not outcomes.binary_scorers:
        raise CheckSkipped("the stored runs have no pass/fail scores")
    smells: list[Smell] = []
    suite = _suite_saturated(ctx, outcomes)
    if suite is not None:
        smells.append(suite)
    values, graded_in = _history(outcomes)
    min_runs = ctx.settings.min_runs
    saturated, never = [], []
    for sample in ctx.dataset:
        seen = values.get(sample.id)
        if not seen or len(graded_in[sample.id]) < min_runs:
            continue
        if all(v == 1.0 for v in seen):
            saturated.append(sample)
        elif all(v == 0.0 for v in seen):
            never.append(sample)
    details = {"runs": outcomes.run_ids(), "min_runs": min_runs}
    if saturated:
        smells.append(
            Smell(
                code="saturated_samples",
                severity="info",
                message=f"{len(saturated)} sample(s) were passed by every subject in every one "
                f"of the last {len(outcomes.runs)} run(s)",
                fix="replace some with harder variants; they no longer tell models apart",
                rows=ctx.rows(saturated),
                details=details,
            )
        )
    if never:
        smells.append(
            Smell(
                code="never_passed",
                severity="warning",
                message=f"{len(never)} sample(s) were failed by every subject in every one of "
                f"the last {len(outcomes.runs)} run(s): label-error suspects",
                fix="check each target (and how the scorer reads it); fix or drop wrong labels",
                rows=ctx.rows(never),
                details=details,
            )
        )
    return smells
