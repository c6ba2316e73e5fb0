"""The compare page's per-sample A/B grid, the A/B sample page and their routes (what sits
above the grid is :mod:`assay.web.compare_view`).

Presentation glue over :mod:`assay.analyse.ab` (pairs, flips, word diffs) and
:mod:`assay.analyse.run_labels`; the comparison itself is :func:`assay.web.views.compare_page`
(``assay compare``'s numbers). The grid reads the two runs' per-sample scores with one narrow
query (kept while neither run changes) and the outputs of only the samples on screen.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from assay.analyse import ab
from assay.core import AssayError
from assay.store import Store
from assay.web import page_cache, views
from assay.web.compare_view import _manifest, run_labels
from assay.web.render import render
from assay.web.run_memo import MEMO

#: Rows per grid page (the API takes up to 500).
PAGE_SIZE = 50

ScorerParam = Annotated[str | None, Query(max_length=200, description="Scorer to classify by.")]
Show = Literal["all", "changed", "fixed", "broken", "moved", "unchanged", "ungraded"]
Sort = Literal["change", "worst", "best", "id"]


# -- the grid --------------------------------------------------------------------------------


def _pairs(store: Store, run_a: str, run_b: str, subject_a: str, subject_b: str) -> Any:
    """Every sample pair of the two subjects, with all scorers (cached while both runs stay
    unchanged)."""

    def compute() -> list[ab.SamplePair]:
        ea, eb = ab.load_epoch_scores(store, [(run_a, subject_a), (run_b, subject_b)])
        scorers = [s for s in ea.values if s in eb.values]
        scorers += [s for s in {*ea.values, *eb.values} if s not in scorers]
        return ab.sample_pairs(ea, eb, sorted(scorers, key=lambda s: s not in ea.values))

    return MEMO.get(store, (run_a, run_b), ("pairs", subject_a, subject_b), compute)


def _selection(
    store: Store, run_a: str, run_b: str, subject_a: str, subject_b: str, options: dict[str, Any]
) -> tuple[list[ab.SamplePair], dict[str, int]]:
    """The pairs a filter and order select, and the counts per kind (cached like the pairs)."""
    by, show, sort = options["by"], options["show"], options["sort"]

    def compute() -> tuple[list[ab.SamplePair], dict[str, int]]:
        pairs = _pairs(store, run_a, run_b, subject_a, subject_b)
        return ab.select_pairs(pairs, by, show, sort), ab.kind_counts(pairs, by)

    key = ("selection", subject_a, subject_b, by, show, sort)
    return MEMO.get(store, (run_a, run_b), key, compute)  # type: ignore[no-any-return]


def grid_options(cmp: dict[str, Any], request_params: Any) -> dict[str, Any]:
    """The grid's choices read from a query (``pair``, ``by``, ``show``, ``sort``, ``offset``),
    checked against the comparison; bad values raise :class:`AssayError` (a 400)."""
    pairs = cmp["subject_pairs"]
    scorers = list(dict.fromkeys(m["scorer"] for m in cmp["metrics"]))
    try:
        pair = int(request_params.get("pair") or 0)
        offset = int(request_params.get("offset") or 0)
    except ValueError:
        raise AssayError("pair and offset must be whole numbers", where="grid") from None
    if not 0 <= pair < len(pairs):
        raise AssayError(f"no subject pair {pair}", where="pair", fix=f"use 0 to {len(pairs) - 1}")
    if offset < 0:
        raise AssayError("offset must be 0 or more", where="offset")
    by = request_params.get("by") or scorers[0]
    if by not in scorers:
        raise AssayError(
            f"no compared scorer {by!r}", where="by", fix=f"use one of {', '.join(scorers)}"
        )
    show = request_params.get("show") or "all"
    sort = request_params.get("sort") or "change"
    if show not in ab.SHOWS:
        raise AssayError(f"unknown filter {show!r}", where="show", fix=", ".join(ab.SHOWS))
    if sort not in ab.SORTS:
        raise AssayError(f"unknown order {sort!r}", where="sort", fix=", ".join(ab.SORTS))
    return {"pair": pair, "by": by, "show": show, "sort": sort, "offset": offset}


def _judged(store: Store, run_ids: tuple[str, str]) -> set[str]:
    judged: set[str] = set()
    for run_id in run_ids:
        judged |= {j.name.split("[")[0] for j in _manifest(store, run_id).judges}
    return judged


def _epoch_view(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    return entries[0] if entries else None


def grid(
    store: Store, cmp: dict[str, Any], options: dict[str, Any], *, limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """One page of the A/B grid: counts per kind on the chosen scorer, and per row the sample's
    input and target, both first-epoch outputs with their word diff, every scorer's change
    (``2/3 → 3/3`` with epochs), and judge verdicts (answers) where a judge scored."""
    run_a, run_b = cmp["run_a"]["id"], cmp["run_b"]["id"]
    subject_a, subject_b = cmp["subject_pairs"][options["pair"]]
    scorers = list(dict.fromkeys(m["scorer"] for m in cmp["metrics"]))
    chosen, counts = _selection(store, run_a, run_b, subject_a, subject_b, options)
    page = chosen[options["offset"] : options["offset"] + limit]
    ids = [p.sample_id for p in page]
    outputs_a, outputs_b = ab.pair_outputs(store, [(run_a, subject_a), (run_b, subject_b)], ids)
    samples = ab.pair_samples(store, [run_a, run_b], ids)
    judged = _judged(store, (run_a, run_b))
    rows = []
    for p in page:
        sample = samples.get(p.sample_id)
        out_a, out_b = (
            _epoch_view(outputs_a.get(p.sample_id, [])),
            _epoch_view(outputs_b.get(p.sample_id, [])),
        )
        text_a = (out_a or {}).get("output") or ""
        text_b = (out_b or {}).get("output") or ""
        verdicts = {}
        for scorer in judged:
            answers = [
                next(
                    (s["answer"] for s in (o or {}).get("scores", []) if s["scorer"] == scorer),
                    None,
                )
                for o in (out_a, out_b)
            ]
            if any(a is not None for a in answers):
                verdicts[scorer] = answers
        rows.append(
            {
                "sample_id": p.sample_id,
                "kind": p.kind(options["by"]),
                "delta": views.jsonable(p.delta(options["by"])),
                "input": "" if sample is None else views._preview(sample.input_text, 300),
                "target": None
                if sample is None or sample.target is None
                else ", ".join(sample.targets),
                "output_a": text_a,
                "output_b": text_b,
                "error_a": (out_a or {}).get("error"),
                "error_b": (out_b or {}).get("error"),
                "diff": ab.word_diff(text_a, text_b),
                "epochs_a": len(outputs_a.get(p.sample_id, [])),
                "epochs_b": len(outputs_b.get(p.sample_id, [])),
                "scores": {s: p.scores[s].as_dict() for s in scorers if s in p.scores},
                "verdicts": verdicts,
            }
        )
    return {
        "subject_a": subject_a,
        "subject_b": subject_b,
        "scorers": scorers,
        "judged": sorted(judged),
        "options": options,
        "counts": counts,
        "total": len(chosen),
        "limit": limit,
        "rows": rows,
    }


def query_with(params: Any, **changes: Any) -> str:
    """The current query string with some parameters replaced (None drops one)."""
    merged = [(k, v) for k, v in params.multi_items() if k not in changes]
    merged += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urllib.parse.urlencode(merged)


def grid_view(
    store: Store, cmp: dict[str, Any], options: dict[str, Any], params: Any, base: str
) -> dict[str, Any]:
    """:func:`grid` with what the page needs around it: the filter form's hidden fields (the
    comparison's own settings, kept), and links to each kind, the previous and next page and
    the A/B sample pages (which keep the filter and order, for their previous/next)."""
    data = grid(store, cmp, options)
    own = ("pair", "by", "show", "sort", "offset")
    data["controls"] = True
    data["keep"] = [(k, v) for k, v in params.multi_items() if k not in own]

    def link(**changes: Any) -> str:
        return f"{base}?{query_with(params, **changes)}#ab-grid"

    offset, limit = options["offset"], data["limit"]
    data["links"] = {
        "kinds": {k: link(show=k, offset=None) for k in ab.SHOWS},
        "prev": link(offset=max(0, offset - limit)) if offset > 0 else None,
        "next": link(offset=offset + limit) if offset + limit < data["total"] else None,
        "sample_query": query_with(params, offset=None),
    }
    return data


def top_pairs(store: Store, cmp: dict[str, Any], n: int = 10) -> dict[str, Any] | None:
    """The report's most-changed pairs: the ``n`` samples with the largest change on the first
    compared scorer (of the first subject pair), with both outputs and the word diff."""
    if not cmp["metrics"]:
        return None
    options = {"pair": 0, "by": cmp["metrics"][0]["scorer"], "show": "changed", "sort": "change"}
    data = grid(store, cmp, {**options, "offset": 0}, limit=n)
    data["controls"] = False
    shown = len(data["rows"])
    data["title"] = (
        f"The {shown} most-changed samples on {options['by']}"
        if shown
        else f"No sample changed on {options['by']}"
    )
    data["links"] = {"sample_query": f"by={urllib.parse.quote(options['by'])}"}
    return data


# -- the A/B sample page ---------------------------------------------------------------------


def ab_sample(
    store: Store, cmp: dict[str, Any], options: dict[str, Any], sample_id: str
) -> dict[str, Any]:
    """One sample in both runs: input, target, every epoch's output side by side with the word
    diff, every scorer's scores with answers and explanations, and the previous and next
    sample of the grid's current filter and order."""
    run_a, run_b = cmp["run_a"]["id"], cmp["run_b"]["id"]
    subject_a, subject_b = cmp["subject_pairs"][options["pair"]]
    pairs = _pairs(store, run_a, run_b, subject_a, subject_b)
    pair = next((p for p in pairs if p.sample_id == sample_id), None)
    if pair is None:
        raise views.NotFound(
            f"sample {sample_id!r} has no result in both runs {run_a} and {run_b}",
            where="sample",
            fix=f"open the grid at /compare/{run_a}/{run_b}",
        )
    samples = ab.pair_samples(store, [run_a, run_b], [sample_id], full=True)
    sample = samples[sample_id]
    outputs_a, outputs_b = ab.pair_outputs(
        store, [(run_a, subject_a), (run_b, subject_b)], [sample_id]
    )
    epochs_a, epochs_b = outputs_a.get(sample_id, []), outputs_b.get(sample_id, [])
    epochs = []
    for k in range(max(len(epochs_a), len(epochs_b))):
        a = epochs_a[k] if k < len(epochs_a) else None
        b = epochs_b[k] if k < len(epochs_b) else None
        epochs.append(
            {
                "epoch": (a or b or {}).get("epoch", k),
                "a": a,
                "b": b,
                "diff": ab.word_diff((a or {}).get("output"), (b or {}).get("output")),
            }
        )
    chosen, _ = _selection(store, run_a, run_b, subject_a, subject_b, options)
    ids = [p.sample_id for p in chosen]
    where = ids.index(sample_id) if sample_id in ids else None
    return {
        "sample": {
            "id": sample.id,
            "input": sample.input_text,
            "targets": list(sample.targets),
            "metadata": {k: v for k, v in sample.metadata.items() if k != "pair"},
        },
        "subject_a": subject_a,
        "subject_b": subject_b,
        "pair": pair.as_dict(),
        "kind": pair.kind(options["by"]),
        "epochs": epochs,
        "judged": sorted(_judged(store, (run_a, run_b))),
        "previous": ids[where - 1] if where else None,
        "next": ids[where + 1] if where is not None and where + 1 < len(ids) else None,
        "position": None if where is None else where + 1,
        "of": len(ids),
    }


# -- routes ----------------------------------------------------------------------------------


def _context(store: Store, request: Request, run_a: str, run_b: str) -> tuple[Any, ...]:
    from assay.web.app import _finite, _settings_from

    a, b = views.resolve_run(store, run_a), views.resolve_run(store, run_b)
    _, data = views.compare_page(
        store,
        a,
        b,
        scorers=request.query_params.getlist("scorer") or None,
        slices=request.query_params.getlist("slice") or None,
        settings=_settings_from(request),
    )
    cmp = _finite(data)
    return a, b, cmp, grid_options(cmp, request.query_params)


def ab_routers(store: Store) -> list[APIRouter]:
    """The A/B sample page and the grid's JSON (``/api/compare/{a}/{b}/samples``)."""
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    api = APIRouter(prefix="/api", tags=["api"])

    @pages.get("/compare/{run_a}/{run_b}/samples/{sample_id:path}")
    def ab_sample_page(request: Request, run_a: str, run_b: str, sample_id: str) -> HTMLResponse:
        with MEMO.snapshot():
            return _ab_sample_page(request, run_a, run_b, sample_id)

    def _ab_sample_page(request: Request, run_a: str, run_b: str, sample_id: str) -> HTMLResponse:
        a, b, cmp, options = _context(store, request, run_a, run_b)
        data = ab_sample(store, cmp, options, sample_id)
        labels = run_labels(store, a, b)
        back = query_with(request.query_params)
        page_cache.cacheable(request)  # path, query and store only
        return HTMLResponse(
            render(
                "ab_sample.html",
                title=f"sample {sample_id}: {a} → {b}",
                cmp=cmp,
                ab_data=data,
                labels=labels,
                options=options,
                back=back,
                base=f"/compare/{urllib.parse.quote(a, safe='')}/{urllib.parse.quote(b, safe='')}",
            )
        )

    @api.get(
        "/compare/{run_a}/{run_b}/samples",
        summary="The per-sample A/B grid of two runs: pairs filtered and sorted, with diffs",
    )
    def ab_grid_api(
        request: Request,
        run_a: str,
        run_b: str,
        by: ScorerParam = None,
        show: Show = "all",
        sort: Sort = "change",
        pair: Annotated[int, Query(ge=0, le=1000)] = 0,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    ) -> dict[str, Any]:
        with MEMO.snapshot():
            _, _, cmp, options = _context(store, request, run_a, run_b)
            data = grid(store, cmp, options, limit=limit)
        for row in data["rows"]:
            row["diff"] = [{"op": d.op, "text": d.text} for d in row["diff"]]
        out: dict[str, Any] = views.jsonable(data)
        return out

    @api.get(
        "/compare/{run_a}/{run_b}/samples/{sample_id}",
        summary="One sample in both runs: outputs per epoch, word diffs, scores",
    )
    def ab_sample_api(request: Request, run_a: str, run_b: str, sample_id: str) -> dict[str, Any]:
        with MEMO.snapshot():
            _, _, cmp, options = _context(store, request, run_a, run_b)
            data = ab_sample(store, cmp, options, sample_id)
        for e in data["epochs"]:
            e["diff"] = [{"op": d.op, "text": d.text} for d in e["diff"]]
        out: dict[str, Any] = views.jsonable(data)
        return out

    return [pages, api]
