"""A queue's progress and its reviewers' agreement.

Agreement is measured on the items with at least two labels, a reviewer's latest label each:

* two reviewers in all: Cohen's kappa (Cohen 1960) with its asymptotic interval, weighted
  quadratically on a score scale (Cohen 1968), as :func:`assay.stats.cohens_kappa`;
* more reviewers, pass/fail, every such item with the same number of labels: Fleiss' kappa
  (Fleiss 1971), as :func:`assay.stats.fleiss_kappa`;
* otherwise (scores, or items with different numbers of labels): Krippendorff's alpha
  (nominal for pass/fail, ordinal for scores), which allows missing labels.

Krippendorff's alpha is reported beside the others in every case, so queues can be compared.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from assay.review.queue import ReviewItem, ReviewQueue, get_queue, queue_items
from assay.review.rubric import Rubric
from assay.stats import cohens_kappa, fleiss_kappa, krippendorff_alpha
from assay.stats.agreement import KappaWeights, Level
from assay.store import Store


@dataclass(frozen=True)
class QueueAgreement:
    """Inter-rater agreement of a queue: ``method`` (``cohen_kappa``, ``fleiss_kappa`` or
    ``krippendorff_alpha``) and its ``value`` (None when undefined, e.g. every label the
    same), with an interval for Cohen's kappa; over ``n_items`` items with two or more labels
    (``n_labels`` labels) by ``n_raters`` reviewers. ``alpha`` is Krippendorff's alpha on the
    same labels."""

    method: str
    value: float | None
    low: float | None
    high: float | None
    n_items: int
    n_raters: int
    n_labels: int
    alpha: float | None
    weights: KappaWeights = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _rating(rubric: Rubric, verdict: str | None, value: float | None) -> Any:
    return verdict if rubric.scale == "pass_fail" else value


def queue_agreement(items: list[ReviewItem], rubric: Rubric) -> QueueAgreement | None:
    """Agreement among the reviewers of ``items`` (see the module's docstring); None when no
    item has two labels yet."""
    shared = [item for item in items if len(item.labels) >= 2]
    if not shared:
        return None
    raters = sorted({label.rater for item in shared for label in item.labels})
    ratings = {
        (label.rater, item.id): _rating(rubric, label.verdict, label.value)
        for item in shared
        for label in item.labels
    }
    table = [[ratings.get((r, item.id)) for item in shared] for r in raters]
    level: Level = "nominal" if rubric.scale == "pass_fail" else "ordinal"
    alpha = _clean(krippendorff_alpha(table, level))
    method, value, low, high = "krippendorff_alpha", alpha, None, None
    weights: KappaWeights = None
    if len(raters) == 2:
        points: list[Any] = (
            ["fail", "pass"] if rubric.scale == "pass_fail" else [float(p) for p in rubric.points]
        )
        weights = None if rubric.scale == "pass_fail" else "quadratic"
        with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels' z when SE0 is 0
            kappa = cohens_kappa(table[0], table[1], weights=weights, categories=points)
        method, value = "cohen_kappa", _clean(kappa.kappa)
        low, high = _clean(kappa.low), _clean(kappa.high)
    elif rubric.scale == "pass_fail" and len({len(item.labels) for item in shared}) == 1:
        counts = [
            [sum(label.verdict == point for label in item.labels) for point in ("pass", "fail")]
            for item in shared
        ]
        method, value = "fleiss_kappa", _clean(fleiss_kappa(counts))
    return QueueAgreement(
        method,
        value,
        low,
        high,
        n_items=len(shared),
        n_raters=len(raters),
        n_labels=sum(len(item.labels) for item in shared),
        alpha=alpha,
        weights=weights,
    )


def summarise(queue: ReviewQueue, items: list[ReviewItem]) -> dict[str, Any]:
    """Progress, verdicts, reviewers, drafts decided and agreement of a queue's items."""
    wanted = queue.reviews_per_item
    labels = [label for item in items for label in item.labels]
    reviewers: dict[str, dict[str, Any]] = {}
    for label in labels:
        entry = reviewers.setdefault(label.rater, {"rater": label.rater, "role": label.role})
        entry["labelled"] = entry.get("labelled", 0) + 1
        entry["role"] = label.role
    for item in items:
        for rater in item.pending_assignees():
            entry = reviewers.setdefault(rater, {"rater": rater, "role": None})
            entry["assigned_open"] = entry.get("assigned_open", 0) + 1
    for entry in reviewers.values():
        entry.setdefault("labelled", 0)
        entry.setdefault("assigned_open", 0)
    verdicts = Counter(label.verdict for label in labels if label.verdict is not None)
    scores = [label.value for label in labels if label.value is not None]
    done = sum(min(len(item.labels), wanted) for item in items)
    agreement = queue_agreement(items, queue.rubric)
    decisions = Counter(
        item.payload.get("decision", "undecided") for item in items if item.kind == "draft"
    )
    return {
        **queue.as_dict(),
        "items": len(items),
        "by_kind": dict(Counter(item.kind for item in items)),
        "complete": sum(len(item.labels) >= wanted for item in items),
        "labels": len(labels),
        "labels_wanted": len(items) * wanted,
        "progress": done / (len(items) * wanted) if items else None,
        "verdicts": {"pass": verdicts.get("pass", 0), "fail": verdicts.get("fail", 0)},
        "mean_score": (
            sum(scores) / len(scores) if scores and queue.rubric.scale == "score" else None
        ),
        "drafts": dict(decisions),
        "reviewers": sorted(reviewers.values(), key=lambda e: e["rater"]),
        "agreement": agreement.as_dict() if agreement else None,
    }


def queue_status(store: Store, name: str) -> dict[str, Any]:
    """:func:`summarise` of the queue called ``name``, read from the store."""
    return summarise(get_queue(store, name), queue_items(store, name))
