"""The runs list (the home page and ``/api/runs``): one page of runs, sorted and paged in SQL,
each with its cached summary (:mod:`assay.analyse.summary_cache`) and its human label
(:mod:`assay.analyse.run_labels`), plus the comparisons worth making first.

Presentation glue only: the page, its sort and its figures come from the store and the
analysis modules; nothing is recomputed here.
"""

from __future__ import annotations

import math
from typing import Any

from assay.core import AssayError
from assay.store import Store

#: Page sizes the runs list offers.
PAGE_SIZES = (25, 50, 100, 200)


def list_runs_page(
    store: Store,
    *,
    name: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "started",
    descending: bool = True,
    extra_labels: list[str] | None = None,
) -> dict[str, Any]:
    """One page of runs: ``{"runs": [...], "total": N, "labels": {...}}`` (``total`` runs match
    the filters; ``labels`` has the page's runs and ``extra_labels``, labelled together)."""
    from assay.analyse.run_labels import label_runs
    from assay.analyse.summary_cache import cached_entries
    from assay.store.summaries import SORTS, page_runs
    from assay.web.views import run_overview

    if sort not in SORTS:
        raise AssayError(
            f"unknown sort {sort!r}", where="sort", fix=f"use one of {', '.join(SORTS)}"
        )
    infos, total = page_runs(
        store,
        name=name,
        subject=subject,
        status=status,
        sort=sort,  # type: ignore[arg-type]
        descending=descending,
        limit=limit,
        offset=offset,
    )
    entries = cached_entries(store, infos)
    labels = label_runs(store, [i.id for i in infos] + list(extra_labels or []))
    runs = [run_overview(store, i, entries[i.id], labels.get(i.id)) for i in infos]
    return {"runs": runs, "total": total, "labels": labels}


def suggestions(
    store: Store, pairs: list[tuple[str, str]], labels: dict[str, Any]
) -> list[dict[str, Any]]:
    """The newest pair of runs of each eval (:func:`~assay.analyse.run_labels.suggested_pairs`:
    audit and judge runs left out) with their labels: ``{"a", "b", "name", "a_label",
    "b_label", "changes"}``, newest first."""
    out = []
    for a, b in pairs:
        la, lb = labels.get(a), labels.get(b)
        if la is None or lb is None:
            continue
        short_a, short_b = la.short, lb.short
        if short_a == short_b:  # nothing tells them apart but the time
            short_a, short_b = f"{short_a} ({a[-6:]})", f"{short_b} ({b[-6:]})"
        out.append(
            {
                "a": a,
                "b": b,
                "name": lb.name,
                "a_label": short_a,
                "b_label": short_b,
                "changes": list(lb.changes),
            }
        )
    return out


def home_page(
    store: Store,
    *,
    name: str | None,
    status: str | None,
    subject: str | None,
    page: int,
    size: int,
    sort: str,
    descending: bool,
) -> dict[str, Any]:
    """Everything the home page shows: the page of runs, paging, and suggested comparisons."""
    if size not in PAGE_SIZES:
        raise AssayError(
            f"page size must be one of {', '.join(map(str, PAGE_SIZES))}, got {size}",
            where="size",
        )
    if page < 1:
        raise AssayError(f"page must be 1 or more, got {page}", where="page")
    from assay.analyse.run_labels import suggested_pairs

    pairs = suggested_pairs(store, limit=6)
    listing = list_runs_page(
        store,
        extra_labels=[x for pair in pairs for x in pair],
        name=name,
        status=status,
        subject=subject,
        limit=size,
        offset=(page - 1) * size,
        sort=sort,
        descending=descending,
    )
    pages = max(1, math.ceil(listing["total"] / size))
    return {
        **listing,
        "page": page,
        "pages": pages,
        "size": size,
        "sizes": PAGE_SIZES,
        "sort": sort,
        "descending": descending,
        "suggestions": suggestions(store, pairs, listing.pop("labels")),
    }
