"""What the web pages, the JSON API and the HTML report show, gathered from the analyses.

Presentation glue only: every figure comes from an :mod:`assay.analyse` function (the same one
the CLI calls) and is turned into JSON-ready dicts here; nothing statistical is computed. The
pages render these dicts, and the API returns them unchanged, so a page and its API route can
never disagree.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable
from typing import Any

from assay.analyse import (
    CompareSettings,
    RunComparison,
    RunSummary,
    compare_scores,
    is_pairwise_run,
    load_scores,
    pairwise_report,
)
from assay.analyse.scores import RunScores
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


def run_overview(
    store: Store,
    info: RunInfo,
    entry: dict[str, Any] | None = None,
    label: Any = None,
) -> dict[str, Any]:
    """One line of the runs list: identity, dataset, size, status and the overall metrics,
    read from the run summary cache (:mod:`assay.analyse.summary_cache`; ``entry`` when the
    caller has it already) and, with ``label``, the run's :class:`RunLabel`."""
    if entry is None:
        from assay.analyse.summary_cache import cached_entries

        entry = cached_entries(store, [info])[info.id]
    overview = entry["overview"]
    return {
        "run": info.model_dump(mode="json"),
        "dataset": dict(overview["dataset"]),
        "subjects": [dict(s) for s in overview["subjects"]],
        "epochs": overview["epochs"],
        "pairwise": overview["pairwise"],
        "metrics": [
            {
                "subject": m["subject"],
                "scorer": m["scorer"],
                "estimate": m["estimate"],
                "low": m["low"],
                "high": m["high"],
                "n": m["n"],
                "method": m["method"],
                "confidence": m["confidence"],
            }
            for m in entry["metrics"]
            if m["slice_key"] is None
        ],
        "label": None if label is None else label.as_dict(),
    }


def list_runs(
    store: Store,
    *,
    name: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "started",
    descending: bool = True,
) -> list[dict[str, Any]]:
    """One page of the runs list (newest first by default), filtered by name and subject
    substring and by status, sorted and paged in SQL (:func:`assay.store.summaries.page_runs`),
    each run with its cached summary and its label."""
    from assay.web.runs_list import list_runs_page

    return list_runs_page(
        store,
        name=name,
        status=status,
        subject=subject,
        limit=limit,
        offset=offset,
        sort=sort,
        descending=descending,
    )["runs"]


def run_page(store: Store, run_id: str) -> dict[str, Any]:
    """A run: its summary (per subject, scorer and slice) and, for a judge run, its report;
    the run ``assay compare`` pairs it with by default, its judges' certificate badges (and
    which of them fail a bias check that a pairwise win rate depends on), and its token, cost
    and latency totals."""
    from assay.analyse.run_labels import previous_run
    from assay.analyse.summary_cache import cached_costs, cached_entries, cached_summary
    from assay.web.trust import judge_badges

    summary = cached_summary(store, run_id)  # the numbers of summarise_run, kept in the store
    data = summary_dict(summary)
    data["manifest"] = summary.manifest.model_dump(mode="json")
    data["scorers"] = [s.name for s in summary.manifest.scorers]
    data["pairwise"] = (
        pairwise_report(store, run_id).as_dict() if is_pairwise_run(summary.manifest) else None
    )
    data["previous_run"] = previous_run(store, run_id)
    badges = judge_badges(store, run_id, summary.manifest)
    data["badges"] = [b.as_dict() for b in badges]
    data["pairwise_distrust"] = (
        [b.as_dict() for b in badges if set(b.flags) & PAIRWISE_BIASES] if data["pairwise"] else []
    )
    info = store.get_run(run_id)
    data["costs"] = cached_costs(store, [info], cached_entries(store, [info]))[run_id]
    return data


# -- samples ---------------------------------------------------------------------------------
# The sample browser and the sample page: assay.web.sample_views.

#: Certificate flags that make a pairwise win rate untrustworthy.
PAIRWISE_BIASES = {"position_bias", "length_bias"}


def _preview(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- comparisons -----------------------------------------------------------------------------


def flipped_samples(
    scores_a: RunScores, scores_b: RunScores, comparison: RunComparison
) -> list[dict[str, Any]]:
    """Per compared pass/fail metric (every score 0 or 1, whatever the number of epochs), the
    samples that passed in one run and failed in the other, by the majority of their epochs
    (:mod:`assay.analyse.ab`). With one epoch these are McNemar's discordant pairs, whose
    counts the comparison reports."""
    from assay.analyse import ab

    def side(scores: RunScores, subject: str) -> ab.EpochScores:
        values = {
            scorer: per
            for (s, scorer), per in scores.values.items()
            if s == subject and scorer in scores.scorers
        }
        errored = scores.errored.get(subject, set())
        ids = {i for per in values.values() for i in per} | errored
        return ab.EpochScores(values, ids, dict.fromkeys(errored, 1))

    out = []
    for m in comparison.metrics:
        ea, eb = side(scores_a, m.subject_a), side(scores_b, m.subject_b)
        pairs = ab.sample_pairs(ea, eb, [m.scorer])
        if not pairs or not pairs[0].scores[m.scorer].binary:
            continue
        fixed, broken = ab.flips(pairs, m.scorer)
        out.append(
            {
                "subject_a": m.subject_a,
                "subject_b": m.subject_b,
                "scorer": m.scorer,
                "epochs_a": m.epochs_a,
                "epochs_b": m.epochs_b,
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
    with ``cost`` (:func:`assay.analyse.run_costs.priced_cost_delta`, as the CLI adds it) and
    ``flipped`` keys added.

    The result is kept while neither run changes (:class:`assay.web.run_memo.RunMemo`), so the
    page, its grid and its sample pages do not recompute the comparison on every request."""
    from assay.web.run_memo import MEMO

    scorer_list = tuple(scorers) if scorers else None
    slice_list = tuple(slices) if slices else None

    def compute() -> tuple[RunComparison, dict[str, Any]]:
        scores_a, scores_b = load_scores(store, run_a), load_scores(store, run_b)
        comparison = compare_scores(
            scores_a,
            scores_b,
            scorers=list(scorer_list) if scorer_list else None,
            slices=list(slice_list) if slice_list else None,
            settings=settings,
        )
        data = comparison.to_dict()
        from assay.analyse.run_costs import priced_cost_delta

        data["cost"] = priced_cost_delta(store, comparison.run_a.id, comparison.run_b.id)
        data["flipped"] = flipped_samples(scores_a, scores_b, comparison)
        return comparison, data

    key = ("compare", scorer_list, slice_list, settings or CompareSettings())
    comparison, data = MEMO.get(store, (run_a, run_b), key, compute)
    return comparison, copy.deepcopy(data)


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


def lint_groups(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The lint report's smells for the page: consecutive smells of one code and severity in
    one group (the report's order kept), so 60 duplicate pairs make one card, not 60."""
    groups: list[dict[str, Any]] = []
    for smell in report.get("smells", []):
        last = groups[-1] if groups else None
        if last and (last["code"], last["severity"]) == (smell["code"], smell["severity"]):
            last["smells"].append(smell)
        else:
            groups.append({"code": smell["code"], "severity": smell["severity"], "smells": [smell]})
    return groups
