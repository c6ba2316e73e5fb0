"""What the web pages, the JSON API and the HTML report show, gathered from the analyses.

Presentation glue only: every figure comes from an :mod:`assay.analyse` function (the same one
the CLI calls) and is turned into JSON-ready dicts here; nothing statistical is computed. The
pages render these dicts, and the API returns them unchanged, so a page and its API route can
never disagree.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from assay.analyse import (
    CompareSettings,
    RunComparison,
    RunSummary,
    compare_scores,
    is_pairwise_run,
    load_scores,
    pairwise_report,
    plan_from_runs,
    plan_proportions,
    run_precision,
    summarise_run,
)
from assay.analyse.scores import NO_LABEL, RunScores
from assay.core import AssayError, StoreError
from assay.stats import Interval
from assay.store import RunInfo, Store


class NotFound(AssayError):
    """Raised when a page or API route names something the store does not hold."""

    code = "not_found"


def jsonable(value: Any) -> Any:
    """Dataclasses, dicts and lists as plain JSON values; NaN becomes ``None``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def interval_dict(i: Interval) -> dict[str, Any]:
    """An interval as the CLI's ``--json`` prints it (NaN bounds become ``None``)."""
    return jsonable(
        {
            "estimate": i.estimate,
            "low": i.low,
            "high": i.high,
            "n": i.n,
            "method": i.method,
            "confidence": i.confidence,
        }
    )


def resolve_run(store: Store, ref: str) -> str:
    """The run id ``ref`` names (id, prefix, ``latest~N``); :class:`NotFound` otherwise."""
    try:
        return store.resolve_run_id(ref)
    except StoreError as error:
        raise NotFound(error.message, where="run", fix=error.fix) from error


# -- runs ------------------------------------------------------------------------------------


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    """A run summary with the same fields as ``assay show --json``."""
    return jsonable(summary.as_dict())


def run_overview(store: Store, info: RunInfo) -> dict[str, Any]:
    """One line of the runs list: identity, dataset, size, status and the overall metrics."""
    summary = summarise_run(store, info.id)
    manifest = summary.manifest
    return {
        "run": info.model_dump(mode="json"),
        "dataset": {
            "name": manifest.dataset.name,
            "source": manifest.dataset.source,
            "n_samples": manifest.dataset.n_samples,
            "content_hash": manifest.dataset.content_hash,
        },
        "subjects": [
            {"name": s.name, "kind": s.kind, "model": s.requested_model} for s in manifest.subjects
        ],
        "epochs": manifest.epochs,
        "pairwise": is_pairwise_run(manifest),
        "metrics": [
            {"subject": m.subject, "scorer": m.scorer, **interval_dict(m.interval)}
            for m in summary.metrics
            if m.slice_key is None
        ],
    }


def list_runs(
    store: Store,
    *,
    name: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The runs list, newest first, filtered by name and subject substring and by status."""
    out = []
    for info in store.list_runs():
        if name and name.lower() not in info.name.lower():
            continue
        if status and info.status != status:
            continue
        if subject and not any(subject.lower() in s.lower() for s in info.subjects):
            continue
        out.append(run_overview(store, info))
        if len(out) >= limit:
            break
    return out


def run_page(store: Store, run_id: str) -> dict[str, Any]:
    """A run: its summary (per subject, scorer and slice) and, for a judge run, its report."""
    summary = summarise_run(store, run_id)
    data = summary_dict(summary)
    data["manifest"] = summary.manifest.model_dump(mode="json")
    data["scorers"] = [s.name for s in summary.manifest.scorers]
    data["pairwise"] = (
        pairwise_report(store, run_id).as_dict() if is_pairwise_run(summary.manifest) else None
    )
    return data


# -- samples ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFilter:
    """The sample browser's filters: a slice (``key=value``), a score range on one scorer,
    errored or not, flaky (answers disagree across epochs) or not."""

    slice: str | None = None
    scorer: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    error: bool | None = None
    flaky: bool | None = None


def _flaky(store: Store, scores: RunScores) -> set[tuple[str, str]]:
    """(subject, sample id) pairs that ``assay show --intervals`` lists as flaky."""
    if not any(len(v) > 1 for per in scores.values.values() for v in per.values()):
        return set()  # one answer per sample: nothing can disagree
    out = set()
    for metric in run_precision(store, scores.run_id, slices=[], n_resamples=0):
        out.update((metric.subject, f.sample_id) for f in metric.flaky)
    return out


def _preview(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_rows(
    store: Store, run_id: str, filters: SampleFilter, *, limit: int = 200, offset: int = 0
) -> dict[str, Any]:
    """The sample browser: one row per sample with each subject's scores over its epochs."""
    scores = load_scores(store, run_id)
    scorers = scores.scorers
    if filters.scorer is not None and filters.scorer not in scorers:
        raise NotFound(
            f"run {run_id} has no scorer {filters.scorer!r}",
            where="scorer",
            fix=f"scorers of this run: {', '.join(scorers) or '(none)'}",
        )
    slice_key = slice_value = None
    if filters.slice:
        slice_key, sep, slice_value = filters.slice.partition("=")
        if not sep or not slice_key:
            raise AssayError(
                f"cannot read slice filter {filters.slice!r}", where="slice", fix="write KEY=VALUE"
            )
    flaky = _flaky(store, scores)
    rows = []
    for sample in scores.samples.values():
        if slice_key is not None and scores.slice_label(sample.id, slice_key) != slice_value:
            continue
        subjects = []
        for subject in scores.subjects:
            values = {s: scores.per_sample(subject, s).get(sample.id) for s in scorers}
            subjects.append(
                {
                    "subject": subject,
                    "scores": values,
                    "error": sample.id in scores.errored.get(subject, set()),
                    "flaky": (subject, sample.id) in flaky,
                }
            )
        errored = any(s["error"] for s in subjects)
        is_flaky = any(s["flaky"] for s in subjects)
        if filters.error is not None and errored != filters.error:
            continue
        if filters.flaky is not None and is_flaky != filters.flaky:
            continue
        if filters.score_min is not None or filters.score_max is not None:
            scorer = filters.scorer or (scorers[0] if scorers else None)
            means = [
                sum(v) / len(v) for s in subjects if (v := s["scores"].get(scorer)) is not None
            ]
            low = -math.inf if filters.score_min is None else filters.score_min
            high = math.inf if filters.score_max is None else filters.score_max
            if not any(low <= m <= high for m in means):
                continue
        rows.append(
            {
                "id": sample.id,
                "input": _preview(sample.input_text),
                "target": None if sample.target is None else ", ".join(sample.targets),
                "slices": {k: scores.slice_label(sample.id, k) for k in scores.manifest.slices},
                "subjects": subjects,
                "error": errored,
                "flaky": is_flaky,
            }
        )
    slices = {
        key: sorted({scores.slice_label(i, key) for i in scores.samples} - {NO_LABEL})
        for key in scores.manifest.slices
    }
    return {
        "run_id": run_id,
        "scorers": scorers,
        "subjects": scores.subjects,
        "slices": slices,
        "total": len(rows),
        "offset": offset,
        "limit": limit,
        "rows": rows[offset : offset + limit],
    }


def _pairwise_view(sample_metadata: dict[str, Any], output_metadata: dict[str, Any]) -> Any:
    """A pairwise judge result's two outputs and every verdict, in both presentation orders."""
    verdict = output_metadata.get("pairwise")
    if not isinstance(verdict, dict):
        return None
    pair = sample_metadata.get("pair") or {}
    orders = {"ab": "A shown first", "ba": "B shown first"}
    judges = []
    for judge in verdict.get("judges", []):
        judges.append(
            {
                "judge": judge.get("judge"),
                "winner": judge.get("winner"),
                "consistent": judge.get("consistent"),
                "preference": judge.get("preference"),
                "verdicts": [
                    {**v, "order_label": orders.get(v.get("order"), v.get("order"))}
                    for v in judge.get("verdicts", [])
                ],
            }
        )
    return {
        "a": pair.get("a"),
        "b": pair.get("b"),
        "winner": verdict.get("winner"),
        "preference": verdict.get("preference"),
        "consistency": verdict.get("consistency"),
        "error": verdict.get("error"),
        "judges": judges,
    }


def sample_page(store: Store, run_id: str, sample_id: str) -> dict[str, Any]:
    """One sample of a run: input, target, metadata and provenance, and every subject's result
    in every epoch (output, scores, usage, latency, model), with judge verdicts in both orders
    for a pairwise judge run."""
    sample = next((s for s in store.get_samples(run_id) if s.id == sample_id), None)
    if sample is None:
        raise NotFound(
            f"run {run_id} has no sample {sample_id!r}",
            where="sample",
            fix=f"browse the run's samples at /runs/{run_id}",
        )
    results = [r for r in store.iter_results(run_id) if r.sample_id == sample_id]
    metadata = {k: v for k, v in sample.metadata.items() if k != "pair"}
    out_results = []
    for result in results:
        data = result.model_dump(mode="json")
        data["pairwise"] = (
            _pairwise_view(sample.metadata, result.output.metadata)
            if result.output is not None
            else None
        )
        out_results.append(data)
    return {
        "run_id": run_id,
        "sample": {
            "id": sample.id,
            "input": sample.input_text,
            "messages": [m.model_dump() for m in sample.messages],
            "targets": list(sample.targets),
            "metadata": metadata,
            "cluster": sample.cluster,
            "provenance": sample.provenance.model_dump(mode="json"),
            "content_hash": sample.content_hash(),
        },
        "pair": sample.metadata.get("pair"),
        "results": out_results,
    }


# -- comparisons -----------------------------------------------------------------------------


def flipped_samples(
    scores_a: RunScores, scores_b: RunScores, comparison: RunComparison
) -> list[dict[str, Any]]:
    """Per compared pass/fail metric, the samples that passed in one run and failed in the
    other (McNemar's discordant pairs, whose counts the comparison reports)."""
    out = []
    for m in comparison.metrics:
        if not m.aggregate.binary:
            continue
        va = scores_a.per_sample(m.subject_a, m.scorer)
        vb = scores_b.per_sample(m.subject_b, m.scorer)
        fixed, broken = [], []
        for sample_id in sorted(set(va) & set(vb)):
            a, b = va[sample_id][0], vb[sample_id][0]
            if a < b:
                fixed.append(sample_id)
            elif a > b:
                broken.append(sample_id)
        out.append(
            {
                "subject_a": m.subject_a,
                "subject_b": m.subject_b,
                "scorer": m.scorer,
                "fixed": fixed,
                "broken": broken,
            }
        )
    return out


def compare_page(
    store: Store,
    run_a: str,
    run_b: str,
    *,
    scorers: Iterable[str] | None = None,
    slices: Iterable[str] | None = None,
    settings: CompareSettings | None = None,
) -> tuple[RunComparison, dict[str, Any]]:
    """``assay compare`` for two runs (the same function, settings and defaults), plus the
    samples that flipped. The dict is ``RunComparison.to_dict()`` (what ``--json`` prints)
    with a ``flipped`` key added."""
    scores_a, scores_b = load_scores(store, run_a), load_scores(store, run_b)
    comparison = compare_scores(
        scores_a,
        scores_b,
        scorers=list(scorers) if scorers else None,
        slices=list(slices) if slices else None,
        settings=settings,
    )
    data = comparison.to_dict()
    from assay.analyse.run_costs import priced_cost_delta

    data["cost"] = priced_cost_delta(store, comparison.run_a.id, comparison.run_b.id)
    data["flipped"] = flipped_samples(scores_a, scores_b, comparison)
    return comparison, data


# -- planning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanForm:
    """The planner's inputs, as ``assay plan`` takes them."""

    baseline: float | None = None
    target: float | None = None
    delta: float | None = None
    n: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    run_a: str | None = None
    run_b: str | None = None
    scorer: str | None = None
    epochs: int | None = None
    budget: float | None = None

    @property
    def empty(self) -> bool:
        return self.baseline is None and self.run_a is None and self.run_b is None


def plan_result(store: Store, form: PlanForm) -> dict[str, Any]:
    """What ``assay plan --json`` prints for the same inputs: ``proportions`` (two independent
    rates) and/or ``paired`` (a paired design estimated from two runs)."""
    if form.target is not None and form.baseline is None:
        raise AssayError("a target needs a baseline", where="target", fix="add baseline 0.82")
    if form.target is not None and form.delta is not None:
        raise AssayError("give a target or a difference, not both", where="delta")
    if (form.run_a is None) != (form.run_b is None):
        raise AssayError("a paired plan needs two runs", where="run_a/run_b", fix="name both")
    out: dict[str, Any] = {}
    if form.baseline is not None and (form.target is not None or form.n is not None):
        out["proportions"] = jsonable(
            plan_proportions(
                form.baseline, form.target, n=form.n, alpha=form.alpha, power=form.power
            )
        )
    if form.run_a is not None and form.run_b is not None:
        difference = form.delta
        if difference is None and form.target is not None and form.baseline is not None:
            difference = form.target - form.baseline
        if difference is None:
            raise AssayError(
                "a paired plan needs the difference to detect",
                where="delta",
                fix="give baseline and target, or a difference such as 0.03",
            )
        out["paired"] = jsonable(
            plan_from_runs(
                store,
                resolve_run(store, form.run_a),
                resolve_run(store, form.run_b),
                delta=difference,
                scorer=form.scorer,
                epochs=form.epochs,
                budget=form.budget,
                alpha=form.alpha,
                power=form.power,
            )
        )
    if not out:
        raise AssayError(
            "nothing to plan",
            where="plan",
            fix="give baseline 0.82 and target 0.85 (or n 400), or two runs and a difference",
        )
    return out


# -- judge certificates and data lint --------------------------------------------------------


def certificate_dict(certificate: Any) -> dict[str, Any]:
    """A judge certificate as ``assay audit show --json`` prints it, plus its flags and
    status (properties the JSON leaves to the reader)."""
    data: dict[str, Any] = certificate.model_dump(mode="json")
    data["flags"] = list(certificate.flags)
    data["blocking_flags"] = list(certificate.blocking_flags)
    data["status"] = certificate.status
    return data


def list_certificates(store: Store) -> list[dict[str, Any]]:
    """Every stored judge certificate, newest first."""
    return [certificate_dict(c) for c in store.list_certificates()]


def get_certificate(store: Store, ref: str) -> dict[str, Any]:
    """One certificate by id, unique prefix, judge or model; :class:`NotFound` otherwise."""
    try:
        return certificate_dict(store.get_certificate(ref))
    except StoreError as error:
        raise NotFound(error.message, where="certificate", fix=error.fix) from error


def lint_run_dataset(store: Store, run_id: str) -> dict[str, Any]:
    """``assay data lint --json`` of the dataset a stored run used (its samples as stored),
    with the run's slices and the store's recent runs of that dataset."""
    from assay.data import Dataset
    from assay.data.lint import LintSettings, lint_dataset

    manifest = store.get_manifest(run_id)
    dataset = Dataset(
        manifest.dataset.name, store.get_samples(run_id), source=manifest.dataset.source
    )
    settings = LintSettings(slices=tuple(manifest.slices))
    report = lint_dataset(dataset, settings=settings, store=store)
    data: dict[str, Any] = report.as_dict()
    data["run_id"] = run_id
    return data
