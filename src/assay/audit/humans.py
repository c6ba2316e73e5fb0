"""Human agreement over time (C8): import human labels, measure judge-human and human-human
agreement per period and per rater, and attribute a composite change to its cause.

Humans are an instrument too: rater pools turn over every few weeks, raters tire, grow picky
or lenient, and a vendor change is a step change in the implicit rubric (REQUIREMENTS C8,
"The Eval Rubric Pulled By Two Drift Vectors"). A composite score that rose two points in a
quarter may mean a better system, a more lenient human cohort, or a judge that changed. The
frozen anchor set answers it: the anchors' outputs never change, so a shift in the humans'
mean on them is the cohort's and a shift in the judge's mean is the judge's; what remains of
the composite change on fresh production samples is the system's.

The code is in three modules, re-exported here: loading and periods
(:mod:`assay.audit.humans_labels`), agreement per period and per rater
(:mod:`assay.audit.humans_agreement`) and the attribution of a change
(:mod:`assay.audit.humans_attribution`). This module holds the single-number check a
certificate carries, :func:`human_agreement_check`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.audit.humans_agreement import KappaFigure as KappaFigure
from assay.audit.humans_agreement import (
    KappaWeights,
    PeriodAgreement,
    RaterAgreement,
    RaterPeriod,
    _alpha,
    _categories,
    _pairs,
    agreement_by_period,
    agreement_by_rater,
)
from assay.audit.humans_agreement import Level as Level
from assay.audit.humans_attribution import DriftAttribution, Shift, attribute_drift
from assay.audit.humans_labels import HumanLabel, labels_by_period, load_human_labels, period_of
from assay.audit.humans_labels import Period as Period
from assay.audit.humans_labels import PeriodName as PeriodName
from assay.core.certificate import CheckResult
from assay.stats import cohens_kappa

__all__ = [
    "DriftAttribution",
    "HumanLabel",
    "PeriodAgreement",
    "RaterAgreement",
    "RaterPeriod",
    "Shift",
    "agreement_by_period",
    "agreement_by_rater",
    "attribute_drift",
    "human_agreement_check",
    "labels_by_period",
    "load_human_labels",
    "period_of",
]


def _agreement_weights(k: int, weights: KappaWeights) -> NDArray[np.float64]:
    if weights is None:
        return np.eye(k)
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / max(k - 1, 1)
    return 1 - (distance if weights == "linear" else distance**2)


def _kappa_of_tables(
    tables: NDArray[np.float64], agree: NDArray[np.float64]
) -> NDArray[np.float64]:
    """κ = (p_o − p_e)/(1 − p_e) of many k × k tables at once (the formula of
    :func:`assay.stats.cohens_kappa_table`, vectorised for bootstrap resamples, where calling
    statsmodels per resample would cost ~2 ms each). NaN where p_e = 1."""
    n = tables.sum(axis=(1, 2))
    p = tables / n[:, None, None]
    observed = (p * agree).sum(axis=(1, 2))
    rows, cols = p.sum(axis=2), p.sum(axis=1)
    expected = np.einsum("bi,ij,bj->b", rows, agree, cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa: NDArray[np.float64] = (observed - expected) / (1 - expected)
    kappa[expected >= 1 - 1e-12] = np.nan
    return kappa


def human_agreement_check(
    human_labels: Sequence[HumanLabel],
    judge_labels: Mapping[str, Any],
    *,
    bound: float = 0.4,
    weights: KappaWeights = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> CheckResult:
    """Does the judge agree with humans well enough (C8)?

    κ is Cohen's kappa over every (human label, judge label) pair
    (:func:`assay.stats.cohens_kappa`). Pairs of one sample are not independent (several
    raters saw the same output), so the interval is a percentile bootstrap over *samples*
    (each resample draws samples with replacement and keeps all of a sample's pairs; the
    cluster bootstrap of Cameron, Gelbach & Miller 2008), ``n_resamples`` draws, seeded.
    The default bound 0.4 is the lower edge of "moderate" agreement on the Landis & Koch
    (1977) scale.

    Verdict: ``fail`` with flag ``low_human_agreement`` when the whole interval lies below
    ``bound``; ``warn`` when κ < ``bound`` but the interval reaches it; ``pass`` otherwise;
    ``skipped`` with fewer than two labelled samples that the judge also scored, or when κ is
    undefined (every label the same category).
    """
    human, machine, samples = _pairs(human_labels, judge_labels)
    distinct = sorted(set(samples))
    check = "human_agreement"
    if len(distinct) < 2:
        return CheckResult(
            check=check,
            n=len(distinct),
            verdict="skipped",
            message=(
                f"human agreement needs at least two samples with both human and judge labels "
                f"(got {len(distinct)})"
            ),
            details={"n_pairs": len(human)},
        )
    cats = _categories(human, machine)
    position = {c: i for i, c in enumerate(cats)}
    index = {s: i for i, s in enumerate(distinct)}
    k = len(cats)
    per_sample = np.zeros((len(distinct), k, k))
    for h, m, s in zip(human, machine, samples, strict=True):
        per_sample[index[s], position[h], position[m]] += 1
    kappa = cohens_kappa(human, machine, weights=weights, categories=cats, confidence=confidence)
    alpha, shared = _alpha(human_labels, "nominal" if weights is None else "ordinal")
    details: dict[str, Any] = {
        "bound": bound,
        "confidence": confidence,
        "n_pairs": len(human),
        "n_samples": len(distinct),
        "n_raters": len({x.rater for x in human_labels}),
        "observed_agreement": kappa.observed,
        "weights": weights,
        "categories": [c if isinstance(c, (int, float, str)) else repr(c) for c in cats],
        "asymptotic_interval": [kappa.low, kappa.high],
        "human_alpha": alpha,
        "n_shared": shared,
        "method": "percentile bootstrap over samples",
        "n_resamples": n_resamples,
    }
    if not math.isfinite(kappa.kappa):
        return CheckResult(
            check=check,
            n=len(distinct),
            verdict="skipped",
            message="kappa is undefined: humans and judge used a single category throughout",
            details={**details, "asymptotic_interval": None},
        )
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(distinct), np.full(len(distinct), 1 / len(distinct)), n_resamples)
    tables = (counts @ per_sample.reshape(len(distinct), k * k)).reshape(-1, k, k)
    replicates = _kappa_of_tables(tables, _agreement_weights(k, weights))
    replicates = replicates[np.isfinite(replicates)]
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(replicates, [tail, 1 - tail]))
    figure = kappa.kappa
    span = f"κ = {figure:.3f} [{low:.3f}, {high:.3f}]"
    if high < bound:
        verdict, flag = "fail", "low_human_agreement"
        message = f"the judge agrees poorly with humans: {span}, below {bound}"
    elif figure < bound:
        verdict, flag = "warn", None
        message = f"judge-human agreement {span} may be below {bound}"
    else:
        verdict, flag = "pass", None
        message = f"judge-human agreement {span}"
    return CheckResult(
        check=check,
        figure=figure,
        low=low,
        high=high,
        n=len(distinct),
        verdict=verdict,
        flag=flag,
        message=message,
        details=details,
    )
