"""Ranking many candidates on the web (issue 13, item 2): ``/rank?runs=A&runs=B&runs=C`` and
its JSON twin ``/api/rank``.

The figures are :func:`assay.analyse.rank.rank_candidates`' report, the one ``assay rank
A B C --json`` (and ``assay compare A B C --json``) prints, unchanged under ``report``; the
per-sample rows come from :mod:`assay.analyse.rank_samples`. The page adds geometry (the
forest plot) and names (run labels); it computes nothing else.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from assay.core import AssayError
from assay.store import Store
from assay.web.render import render

PER_PAGE = 25
MAX_CANDIDATE_RUNS = 20

RunsParam = Annotated[
    list[str] | None,
    Query(description="Runs to rank (id, prefix, latest~1, or RUN:SUBJECT); repeat the field."),
]
Baseline = Annotated[
    str | None,
    Query(
        max_length=300, description="The candidate (name, or run id) the others are set against."
    ),
]
Scorer = Annotated[str | None, Query(max_length=300, description="Rank on this scorer only.")]
Alpha = Annotated[float, Query(ge=0.001, le=0.5, description="Significance level.")]
Resamples = Annotated[int, Query(ge=100, le=20_000, description="Bootstrap resamples.")]
Seed = Annotated[int, Query(ge=0, le=2**32 - 1, description="Seed of the resampling.")]
Sort = Annotated[
    str, Query(pattern="^(regression|improvement|id)$", description="Order of the samples.")
]
Page = Annotated[int, Query(ge=1, le=10**6, description="Page of samples (25 a page).")]


def _baseline_name(candidates: list[Any], baseline: str | None, store: Store) -> str | None:
    """A candidate's name as given, or the first candidate of the run ``baseline`` names (the
    picker offers runs)."""
    if not baseline:
        return None
    names = [c.name for c, _ in candidates]
    if baseline in names:
        return baseline
    try:
        run_id = store.resolve_run_id(baseline)
    except AssayError:
        run_id = None
    found = [c.name for c, _ in candidates if c.run_id == run_id]
    if not found:
        raise AssayError(
            f"no candidate is named {baseline!r}", where="baseline", fix=", ".join(names)
        )
    return str(found[0])


def rank_data(
    store: Store,
    runs: list[str],
    *,
    baseline: str | None = None,
    scorer: str | None = None,
    alpha: float = 0.05,
    resamples: int = 2_000,
    seed: int = 0,
    sort: str = "regression",
    page: int = 1,
) -> dict[str, Any]:
    """The ranking report of ``assay rank RUNS --json`` (``report``), display labels per
    candidate, and one page of per-sample rows with outputs for the shown scorer."""
    from assay.analyse.rank import rank_candidates, resolve_candidates
    from assay.analyse.rank_samples import attach_outputs, rank_sample_rows
    from assay.analyse.run_labels import label_runs

    if len(runs) > MAX_CANDIDATE_RUNS:
        raise AssayError(
            f"at most {MAX_CANDIDATE_RUNS} runs can be ranked at once, not {len(runs)}",
            where="runs",
        )
    candidates = resolve_candidates(store, runs)
    base = _baseline_name(candidates, baseline, store)
    report = rank_candidates(
        candidates,
        scorers=[scorer] if scorer else None,
        baseline=base,
        alpha=alpha,
        n_resamples=resamples,
        seed=seed,
    )
    data = report.to_dict()
    shown = data["rankings"][0]
    run_ids = list(dict.fromkeys(c.run_id for c, _ in candidates))
    labels = label_runs(store, run_ids)
    per_run = {r: sum(1 for c, _ in candidates if c.run_id == r) for r in run_ids}
    display = {}
    for c, _ in candidates:
        short = labels[c.run_id].short if c.run_id in labels else c.run_id
        display[c.name] = short if per_run[c.run_id] == 1 else f"{short}: {c.subject}"
    samples = rank_sample_rows(
        candidates,
        shown["scorer"],
        shown["baseline"],
        sort=sort,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    samples["page"] = page
    samples["pages"] = max(1, -(-samples["total"] // PER_PAGE))
    if page > samples["pages"]:
        raise AssayError(
            f"page {page} is past the last page of samples ({samples['pages']})", where="page"
        )
    attach_outputs(store, candidates, samples)
    return {
        "runs": list(runs),
        "settings": {"alpha": alpha, "resamples": resamples, "seed": seed, "scorer": scorer},
        "labels": display,
        "report": data,
        "samples": samples,
    }


def _picker(store: Store) -> list[dict[str, Any]]:
    """The newest runs with their labels, for the form (derived runs left out)."""
    from assay.analyse.run_labels import is_derived, label_runs
    from assay.store.summaries import run_choices

    choices = [c for c in run_choices(store, 200) if not is_derived(c.name)]
    labels = label_runs(store, [c.id for c in choices])
    return [
        {
            "id": c.id,
            "name": c.name,
            "status": c.status,
            "started_at": str(c.started_at)[:16],
            "label": labels[c.id].short if c.id in labels else c.id,
        }
        for c in choices
    ]


def _query(request: Request, **changes: Any) -> str:
    """The page's URL with some parameters changed (pager and sort links)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    items += [(k, str(v)) for k, v in changes.items() if v is not None]
    return "/rank?" + urllib.parse.urlencode(items)


def rank_routers(store: Store) -> list[APIRouter]:
    """``/rank`` (the form and the ranking) and ``/api/rank`` (the same data as JSON)."""
    api = APIRouter(prefix="/api", tags=["api"])
    pages = APIRouter(include_in_schema=False)

    @api.get("/rank", summary="assay rank RUNS --json, plus per-sample rows against the baseline")
    def rank_api(
        runs: RunsParam = None,
        baseline: Baseline = None,
        scorer: Scorer = None,
        alpha: Alpha = 0.05,
        resamples: Resamples = 2_000,
        seed: Seed = 0,
        sort: Sort = "regression",
        page: Page = 1,
    ) -> dict[str, Any]:
        if not runs:
            raise AssayError("name the runs to rank", where="runs", fix="/api/rank?runs=A&runs=B")
        return rank_data(
            store, runs, baseline=baseline, scorer=scorer, alpha=alpha,
            resamples=resamples, seed=seed, sort=sort, page=page,
        )  # fmt: skip

    @pages.get("/rank", response_class=HTMLResponse)
    def rank_page(
        request: Request,
        runs: RunsParam = None,
        baseline: Baseline = None,
        scorer: Scorer = None,
        alpha: Alpha = 0.05,
        resamples: Resamples = 2_000,
        seed: Seed = 0,
        sort: Sort = "regression",
        page: Page = 1,
    ) -> HTMLResponse:
        from assay.web.rank_svg import rank_forest

        picked = list(dict.fromkeys(runs or []))
        data = None
        forests: list[str] = []
        if picked:
            data = rank_data(
                store,
                picked,
                baseline=baseline,
                scorer=scorer,
                alpha=alpha,
                resamples=resamples,
                seed=seed,
                sort=sort,
                page=page,
            )
            for r in data["report"]["rankings"]:
                rate = all(0 <= (c["mean"] or 0) <= 1 for c in r["candidates"])
                r["rate"] = rate
                forests.append(
                    rank_forest(r["versus_baseline"], r["baseline"], rate, alpha, data["labels"])
                )
        return HTMLResponse(
            render(
                "rank.html",
                title="rank candidates",
                data=data,
                forests=forests,
                choices=_picker(store),
                picked=picked,
                form={
                    "baseline": baseline or "",
                    "scorer": scorer or "",
                    "alpha": alpha,
                    "resamples": resamples,
                    "seed": seed,
                },
                link=lambda **changes: _query(request, **changes),
            )
        )

    return [api, pages]
