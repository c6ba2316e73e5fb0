"""The run page's sample browser and the sample page, as JSON-ready dicts (what the pages render
and the API returns).

The browser's rows are searched, filtered, sorted and paged in SQL
(:mod:`assay.store.sample_query`); a sample is looked up by its key. Nothing statistical is
computed here: a row's pass/fail is :func:`assay.store.sample_query.verdict` of its stored
scores, a result's cost the price book's price of its stored usage, its prompt the runner's own
template rendering.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from assay.core import AssayError, RunManifest, Sample, SampleResult
from assay.store import Store
from assay.store.sample_lookup import get_sample, runs_with_sample, sample_results
from assay.store.sample_query import (
    NO_LABEL,
    SORT_COLUMNS,
    SampleBrowser,
    SampleQuery,
    SubjectCells,
    pass_threshold,
    verdict,
)
from assay.web.views import NotFound, _preview

SORTS_HELP = "sort by position, id, input, target, output, error, score:SCORER or slice:KEY"
MAX_SEARCH = 500


def check_query(store: Store, run_id: str, query: SampleQuery) -> RunManifest:
    """The run's manifest, once ``query`` names only scorers, slices and columns it has:
    an unknown scorer is :class:`NotFound`, any other mistake an :class:`AssayError`."""
    manifest = store.get_manifest(run_id)
    scorers = [s.name for s in manifest.scorers]
    fix = f"scorers of this run: {', '.join(scorers) or '(none)'}"
    named = [query.scorer] if query.scorer is not None else []
    for scorer in [*named, *(s for s, _ in query.verdicts)]:
        if scorer not in scorers:
            raise NotFound(f"run {run_id} has no scorer {scorer!r}", where="scorer", fix=fix)
    for scorer, wanted in query.verdicts:
        if wanted not in ("pass", "fail"):
            raise AssayError(
                f"cannot read filter {scorer}:{wanted}",
                where="f",
                fix="write SCORER:pass or SCORER:fail",
            )
    if query.slice is not None:
        key, sep, _ = query.slice.partition("=")
        if not sep or not key:
            raise AssayError(
                f"cannot read slice filter {query.slice!r}", where="slice", fix="write KEY=VALUE"
            )
        if key not in manifest.slices:
            raise AssayError(
                f"run {run_id} has no slice {key!r}",
                where="slice",
                fix=f"slices of this run: {', '.join(manifest.slices) or '(none)'}",
            )
    key = query.sort_key
    known = (
        key in SORT_COLUMNS
        or (key.startswith("score:") and key[6:] in scorers)
        or (key.startswith("slice:") and key[6:] in manifest.slices)
    )
    if not known:
        raise AssayError(f"cannot sort by {query.sort!r}", where="sort", fix=SORTS_HELP)
    if query.search is not None and len(query.search) > MAX_SEARCH:
        raise AssayError(f"the search is longer than {MAX_SEARCH} characters", where="q")
    return manifest


def pass_thresholds(manifest: RunManifest) -> dict[str, float]:
    """Each scorer's pass threshold, the midpoint of its scale (:func:`pass_threshold`)."""
    return {s.name: pass_threshold(s.config) for s in manifest.scorers}


def _row_subject(
    subject: str, cells: SubjectCells | None, pass_at: dict[str, float]
) -> dict[str, Any]:
    scores = {s: (cells.scores.get(s) if cells else None) for s in pass_at}
    return {
        "subject": subject,
        "scores": scores,
        "verdicts": {s: verdict(v, pass_at[s]) for s, v in scores.items()},
        "error": bool(cells and cells.error),
        "flaky": bool(cells and cells.flaky),
        "output": None if cells is None or cells.output is None else _preview(cells.output),
    }


def sample_rows(
    store: Store, run_id: str, filters: SampleQuery, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """The sample browser: one page of the run's samples matching ``filters`` (searched,
    filtered, sorted and paged in SQL), each with every subject's scores over its epochs, its
    pass/fail per scorer, and its first output."""
    manifest = check_query(store, run_id, filters)
    scorers = [s.name for s in manifest.scorers]
    subjects = [s.name for s in manifest.subjects]
    if filters.scorer is None and (filters.score_min is not None or filters.score_max is not None):
        filters = dataclasses.replace(filters, scorer=scorers[0] if scorers else "")
    pass_at = pass_thresholds(manifest)
    browser = SampleBrowser(store, run_id, subjects, scorers, pass_at)
    page = browser.page(filters, limit=limit, offset=offset)
    rows = []
    for sample in page.samples:
        cells = page.cells.get(sample.id, {})
        per_subject = [_row_subject(s, cells.get(s), pass_at) for s in subjects]
        rows.append(
            {
                "id": sample.id,
                "input": _preview(sample.input_text),
                "target": None if sample.target is None else ", ".join(sample.targets),
                "slices": {
                    k: (NO_LABEL if (v := sample.slice_value(k)) is None else v)
                    for k in manifest.slices
                },
                "subjects": per_subject,
                "error": any(s["error"] for s in per_subject),
                "flaky": any(s["flaky"] for s in per_subject),
            }
        )
    slices = {
        key: [label for label in browser.slice_labels(key) if label != NO_LABEL]
        for key in manifest.slices
    }
    return {
        "run_id": run_id,
        "scorers": scorers,
        "subjects": subjects,
        "slices": slices,
        "query": {
            "search": filters.search,
            "slice": filters.slice,
            "verdicts": [{"scorer": s, "verdict": v} for s, v in filters.verdicts],
            "scorer": filters.scorer,
            "score_min": filters.score_min,
            "score_max": filters.score_max,
            "error": filters.error,
            "flaky": filters.flaky,
            "sort": filters.sort,
        },
        "pass_at": pass_at,
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "rows": rows,
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


def _prompts(manifest: RunManifest, sample: Sample) -> list[dict[str, Any]]:
    """The messages each model subject was sent for ``sample``: the runner does not store the
    request, so it is rendered again from the manifest's template with the runner's renderer."""
    from assay.run.prompt import PromptTemplate

    out = []
    for subject in manifest.subjects:
        user = subject.config.get("user")
        if subject.kind != "model" or not isinstance(user, str):
            continue
        system = subject.config.get("system")
        template = PromptTemplate(user=user, system=system if isinstance(system, str) else None)
        try:
            messages = [m.model_dump() for m in template.render(sample)]
            error = None
        except AssayError as problem:
            messages, error = [], problem.message
        out.append({"subject": subject.name, "messages": messages, "error": error})
    return out


def _usage(book: Any, result: SampleResult, requested: str | None, at: Any) -> dict[str, Any]:
    """A result's tokens and their cost at the price book's rates on the day it was stored."""
    from assay.analyse.run_costs import token_details

    output = result.output
    usage = output.usage if output is not None else None
    if output is None or usage is None or result.cached:
        cost = None
    else:
        model = output.model or requested
        details = token_details(output.model_dump(mode="json"))
        priced = book.price(model, usage.input_tokens, usage.output_tokens, details, at=at)
        cost = None if priced is None else priced.total
    return {
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "cost": cost,
        "cached": result.cached,
    }


def _name_and_start(store: Store, run_id: str) -> tuple[str, Any]:
    """The run's name and start time (the two columns the page shows; ``Store.get_run`` would
    also count the run's results)."""
    from sqlalchemy import select

    from assay.store.tables import runs

    with store.engine.connect() as conn:
        row = conn.execute(select(runs.c.name, runs.c.started_at).where(runs.c.id == run_id)).one()
    return row.name, row.started_at


def sample_page(
    store: Store, run_id: str, sample_id: str, query: SampleQuery | None = None
) -> dict[str, Any]:
    """One sample of a run, looked up by key: input, target, metadata and provenance, the
    prompt each subject was sent, and every subject's result in every epoch (output, scores,
    tokens and cost, latency, model), with judge verdicts in both orders for a pairwise judge
    run; its neighbours in the browser's order (``query``), and the eval's other runs that hold
    it."""
    from assay.analyse.run_labels import previous_run
    from assay.core.prices import PriceBook
    from assay.web.trust import judge_badges

    query = query or SampleQuery()
    manifest = check_query(store, run_id, query)
    sample = get_sample(store, run_id, sample_id)
    if sample is None:
        raise NotFound(
            f"run {run_id} has no sample {sample_id!r}",
            where="sample",
            fix=f"browse the run's samples at /runs/{run_id}",
        )
    subjects = [s.name for s in manifest.subjects]
    requested = {s.name: s.requested_model for s in manifest.subjects}
    book = PriceBook()
    metadata = {k: v for k, v in sample.metadata.items() if k != "pair"}
    out_results = []
    for result, stored_at in sample_results(store, run_id, sample_id, subjects):
        data = result.model_dump(mode="json")
        data["pairwise"] = (
            _pairwise_view(sample.metadata, result.output.metadata)
            if result.output is not None
            else None
        )
        data["usage"] = _usage(book, result, requested.get(result.subject), stored_at)
        out_results.append(data)
    name, started_at = _name_and_start(store, run_id)
    others = [r for r in runs_with_sample(store, name, sample_id) if r["id"] != run_id]
    previous = previous_run(store, run_id)
    scorers = [s.name for s in manifest.scorers]
    pass_at = pass_thresholds(manifest)
    place = SampleBrowser(store, run_id, subjects, scorers, pass_at).neighbours(query, sample_id)
    return {
        "run_id": run_id,
        "run_name": name,
        "started_at": started_at.isoformat(),
        "pass_at": pass_at,
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
        "prompts": _prompts(manifest, sample),
        "results": out_results,
        "usage": {
            "input_tokens": sum(r["usage"]["input_tokens"] or 0 for r in out_results),
            "output_tokens": sum(r["usage"]["output_tokens"] or 0 for r in out_results),
            "cost": sum(r["usage"]["cost"] or 0.0 for r in out_results),
            "unpriced": sum(
                r["usage"]["cost"] is None and not r["usage"]["cached"] for r in out_results
            ),
            "price_sources": book.describe(),
        },
        "badges": [b.as_dict() for b in judge_badges(store, run_id, manifest)],
        "neighbours": dataclasses.asdict(place),
        "other_runs": others,
        "previous_run": previous if any(r["id"] == previous for r in others) else None,
    }
