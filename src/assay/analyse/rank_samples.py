"""Per-sample rows for a ranking of many candidates (issue 13, item 2's web view): every
candidate's score on each shared sample beside the baseline's, sorted by the largest
regression against the baseline, one page at a time, with the outputs of just that page.

The join is the one :func:`assay.analyse.rank.rank_candidates` makes: samples every candidate
graded on the scorer, each candidate's scores averaged over its epochs. A sample's *regression*
is ``min_j (x_j − x_baseline)`` over the other candidates (its worst drop); ``regression``
sorting puts the most negative first, ``improvement`` the largest ``max_j (x_j − x_base)``
first, ``id`` the sample ids. Ties keep sample-id order, so a page is stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.analyse.rank import Candidate
from assay.analyse.scores import RunScores
from assay.core import AssayError
from assay.store import Store

SORTS = ("regression", "improvement", "id")


def rank_sample_rows(
    candidates: Sequence[tuple[Candidate, RunScores]],
    scorer: str,
    baseline: str,
    *,
    sort: str = "regression",
    offset: int = 0,
    limit: int = 25,
) -> dict[str, Any]:
    """The page ``[offset, offset + limit)`` of shared samples in ``sort`` order, each with
    every candidate's mean score and its difference from ``baseline`` (see the module
    docstring). Outputs are not read here (:func:`attach_outputs`)."""
    if sort not in SORTS:
        raise AssayError(f"unknown sort {sort!r}", where="sort", fix=f"use {', '.join(SORTS)}")
    names = [c.name for c, _ in candidates]
    if baseline not in names:
        raise AssayError(
            f"no candidate is named {baseline!r}", where="baseline", fix=", ".join(names)
        )
    per = [r.per_sample(c.subject, scorer) for c, r in candidates]
    if not all(per):
        raise AssayError(f"scorer {scorer!r} is not in every run", where="scorer")
    shared = sorted(set.intersection(*(set(p) for p in per)))
    base = names.index(baseline)
    rows: list[dict[str, Any]] = []
    for sample_id in shared:
        means = [sum(p[sample_id]) / len(p[sample_id]) for p in per]
        deltas = [m - means[base] for j, m in enumerate(means) if j != base]
        rows.append(
            {
                "sample_id": sample_id,
                "scores": [
                    {
                        "name": name,
                        "mean": means[j],
                        "epochs": len(per[j][sample_id]),
                        "delta": None if j == base else means[j] - means[base],
                    }
                    for j, name in enumerate(names)
                ],
                "worst_delta": min(deltas),
                "best_delta": max(deltas),
            }
        )
    if sort == "regression":
        rows.sort(key=lambda r: r["worst_delta"])
    elif sort == "improvement":
        rows.sort(key=lambda r: -r["best_delta"])
    page = rows[offset : offset + limit]
    samples = candidates[0][1].samples
    for row in page:
        sample = samples.get(row["sample_id"])
        row["input"] = sample.input_text if sample is not None else ""
        row["target"] = list(sample.targets) if sample is not None else []
    return {
        "scorer": scorer,
        "baseline": baseline,
        "sort": sort,
        "total": len(rows),
        "regressed": sum(1 for r in rows if r["worst_delta"] < 0),
        "offset": offset,
        "limit": limit,
        "rows": page,
    }


def attach_outputs(
    store: Store, candidates: Sequence[tuple[Candidate, RunScores]], page: dict[str, Any]
) -> dict[str, Any]:
    """Add each candidate's outputs (every epoch's text and error) to the rows of ``page``:
    one query over just the page's samples."""
    from assay.analyse.ab_reads import pair_outputs

    sides = [(c.run_id, c.subject) for c, _ in candidates]
    outputs = pair_outputs(store, sides, [r["sample_id"] for r in page["rows"]])
    for row in page["rows"]:
        for cell, found in zip(row["scores"], outputs, strict=True):
            cell["outputs"] = [
                {"epoch": e["epoch"], "output": e["output"], "error": e["error"]}
                for e in found.get(row["sample_id"], [])
            ]
    return page
