"""What ``assay mcp``'s tools answer: plain functions of a store returning JSON-ready dicts.

Each calls the analysis function the CLI's ``--json`` output comes from, so an agent gets the
numbers ``assay`` prints, not new statistics:

==================  ==========================================================================
tool                same as
==================  ==========================================================================
list_runs           ``assay runs --json`` (:meth:`Store.list_runs`)
show_run            ``assay show RUN --json [--intervals]`` (:func:`summarise_run`,
                    :func:`run_precision`)
compare_runs        ``assay compare A B --json`` (:func:`compare_runs`, priced cost delta)
search_samples      the run's samples (:func:`load_scores`, as ``assay show`` reads them) whose
                    id, input, target or an output contains the text
search_traces       ``assay traces search TEXT --json`` (:func:`assay.trace.query.list_traces`)
list_certificates   ``assay audit list --json``
show_certificate    ``assay audit show CERT --json``
==================  ==========================================================================
"""

from __future__ import annotations

from typing import Any

from assay.core import AssayError

#: ``assay compare``'s defaults (``assay compare --help``): the tool compares with the same.
COMPARE_DEFAULTS: dict[str, Any] = {
    "alpha": 0.05,
    "power": 0.8,
    "confidence": 0.95,
    "correction": "holm",
    "min_effect": None,
    "min_clusters": 10,
    "cluster_correction": True,
    "resamples": 5000,
    "seed": 0,
}
MAX_LIMIT = 500


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise AssayError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", where="limit")
    return limit


def list_runs(store: Any, limit: int = 50) -> dict[str, Any]:
    """The stored runs, newest first."""
    runs = store.list_runs(limit=_limit(limit))
    return {"runs": [r.model_dump(mode="json") for r in runs]}


def show_run(
    store: Any, run: str = "latest", slices: list[str] | None = None, intervals: bool = False
) -> dict[str, Any]:
    """Per scorer and slice: means with 95% intervals (Wilson for pass/fail, t otherwise);
    with ``intervals``, also clustered and bootstrap intervals, epochs and flaky samples."""
    from assay.analyse import summarise_run

    run_id = store.resolve_run_id(run)
    data: dict[str, Any] = summarise_run(store, run_id, slices=slices or None).as_dict()
    if intervals:
        from assay.analyse import run_precision
        from assay.cli.render_stats import precision_json

        data["precision"] = precision_json(run_precision(store, run_id, slices=slices or None))
    return data


def compare_runs(
    store: Any,
    run_a: str | None = None,
    run_b: str | None = None,
    scorers: list[str] | None = None,
    slices: list[str] | None = None,
) -> dict[str, Any]:
    """The paired comparison of ``run_b`` (candidate) with ``run_a`` (baseline), as
    ``assay compare --json``: per metric and slice the difference, interval, MDE and verdict,
    then the priced cost delta. Only ``run_a``: it is the candidate, compared with the run of
    the same eval before it; neither: the newest run that has a predecessor."""
    from assay.analyse import compare_runs as compare
    from assay.analyse import default_runs
    from assay.analyse.run_costs import priced_cost_delta
    from assay.cli.stats_commands import _settings

    settings = _settings(**COMPARE_DEFAULTS)
    if run_a is not None and run_b is not None:
        a, b = store.resolve_run_id(run_a), store.resolve_run_id(run_b)
    elif run_b is not None:
        a, b = default_runs(store, run_b)
    elif run_a is not None:
        a, b = default_runs(store, run_a)
    else:
        a, b = default_runs(store)
    result = compare(store, a, b, scorers=scorers or None, slices=slices or None, settings=settings)
    data: dict[str, Any] = result.to_dict()
    data["cost"] = priced_cost_delta(store, result.run_a.id, result.run_b.id)
    return data


def search_samples(store: Any, run: str, text: str, limit: int = 20) -> dict[str, Any]:
    """Samples of ``run`` whose id, input, target or any subject's output contains ``text``
    (case-insensitive), in dataset order, with their slices and each subject's scores over its
    epochs (as :func:`~assay.analyse.load_scores` reads them for ``assay show``)."""
    from assay.analyse import load_scores

    needle = text.strip().lower()
    if not needle:
        raise AssayError("the search text is empty", where="text", fix="give some words")
    _limit(limit)
    run_id = store.resolve_run_id(run)
    matched: dict[str, list[str]] = {}
    outputs: dict[str, dict[str, str]] = {}
    for result in store.iter_results(run_id):
        if result.output is None:
            continue
        outputs.setdefault(result.sample_id, {}).setdefault(result.subject, result.output.text)
        if needle in result.output.text.lower():
            where = f"output of {result.subject}"
            if where not in matched.setdefault(result.sample_id, []):
                matched[result.sample_id].append(where)
    scores = load_scores(store, run_id)
    found = []
    for sample in scores.samples.values():
        fields = [("id", sample.id), ("input", sample.input_text)]
        fields += [("target", t) for t in sample.targets]
        hits = [name for name, value in fields if needle in str(value).lower()]
        hits += matched.get(sample.id, [])
        if not hits:
            continue
        found.append(
            {
                "id": sample.id,
                "matched_in": list(dict.fromkeys(hits)),
                "input": sample.input_text,
                "targets": list(sample.targets),
                "slices": {k: scores.slice_label(sample.id, k) for k in scores.manifest.slices},
                "subjects": [
                    {
                        "subject": subject,
                        "output": outputs.get(sample.id, {}).get(subject),
                        "scores": {
                            scorer: scores.per_sample(subject, scorer).get(sample.id)
                            for scorer in scores.scorers
                        },
                        "error": sample.id in scores.errored.get(subject, set()),
                    }
                    for subject in scores.subjects
                ],
            }
        )
    return {"run_id": run_id, "text": text, "total": len(found), "samples": found[:limit]}


def search_traces(
    store: Any,
    text: str,
    since: str | None = None,
    model: str | None = None,
    status: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Production traces whose span names, messages or inputs/outputs contain ``text``, newest
    first (``since``: an age such as ``24h`` or an ISO date)."""
    from assay.trace.query import TraceFilter, list_traces, parse_time

    start = parse_time(since, where="since") if since else None
    flt = TraceFilter(since=start, model=model, status=status, text=text)
    return list_traces(store, flt, limit=_limit(limit))


def list_certificates(store: Any) -> dict[str, Any]:
    """The judge audit certificates, newest first."""
    return {
        "certificates": [
            {
                "id": c.id,
                "judge": c.judge,
                "model": c.model,
                "created_at": c.created_at.isoformat(),
                "status": c.status,
                "flags": c.flags,
            }
            for c in store.list_certificates()
        ]
    }


def show_certificate(store: Any, certificate: str = "latest") -> dict[str, Any]:
    """One judge certificate: every check's figure, interval and verdict."""
    found: dict[str, Any] = store.get_certificate(certificate).model_dump(mode="json")
    return found
