"""Agreement between raters: judges with humans, judges with each other, a judge with itself.

Raw agreement flatters: two raters who both say "pass" 90% of the time agree 82% by chance.
The chance-corrected coefficients here say how much of the agreement is real: Cohen's kappa
(two raters, optionally weighted), Fleiss' kappa (many raters), Krippendorff's alpha (any
number of raters, missing ratings, four levels of measurement), and the MT-Bench agreement
rates with and without ties (Zheng et al. 2023).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

KappaWeights = Literal["linear", "quadratic"] | None
Level = Literal["nominal", "ordinal", "interval", "ratio"]


@dataclass(frozen=True)
class Kappa:
    """A kappa with its asymptotic standard error and normal-theory interval.

    ``observed`` and ``expected`` are the (weighted) agreement proportions p_o and p_e.
    """

    kappa: float
    standard_error: float
    low: float
    high: float
    observed: float
    expected: float
    n: int
    weights: str | None
    confidence: float = 0.95


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def agreement_table(
    ratings_a: Sequence[Any], ratings_b: Sequence[Any], categories: Sequence[Any] | None = None
) -> tuple[NDArray[np.float64], list[Any]]:
    """The k × k table of counts (rows: rater A's category, columns: B's) and its categories.

    Items where either rating is missing (None or NaN) are left out. ``categories`` fixes the
    order (it matters for weighted kappa); by default the sorted distinct ratings.
    """
    if len(ratings_a) != len(ratings_b):
        raise ValueError(
            f"raters rated different numbers of items: {len(ratings_a)}, {len(ratings_b)}"
        )
    pairs = [
        (x, y)
        for x, y in zip(ratings_a, ratings_b, strict=True)
        if not (_missing(x) or _missing(y))
    ]
    cats = list(categories) if categories is not None else sorted({v for p in pairs for v in p})
    position = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    for x, y in pairs:
        if x not in position or y not in position:
            raise ValueError(
                f"rating {x if x not in position else y!r} is not among the categories"
            )
        table[position[x], position[y]] += 1
    return table, cats


def cohens_kappa_table(
    table: ArrayLike, *, weights: KappaWeights = None, confidence: float = 0.95
) -> Kappa:
    """Cohen's kappa from a k × k agreement table, with standard error and interval.

    κ = (p_o − p_e)/(1 − p_e), p_o = Σᵢⱼ wᵢⱼ pᵢⱼ, p_e = Σᵢⱼ wᵢⱼ pᵢ. p.ⱼ with agreement weights
    w = 1 on the diagonal and 0 off it (Cohen 1960), 1 − |i−j|/(k−1) for ``linear`` or
    1 − (i−j)²/(k−1)² for ``quadratic`` (Cohen 1968). The standard error is the asymptotic
    non-null one of Fleiss, Cohen & Everitt (1969) — SAS PROC FREQ's "ASE" — and the interval
    κ ± z·SE. Computed by ``statsmodels.stats.inter_rater.cohens_kappa``. Published check
    (SAS agreement example): κ = 0.4842, ASE = 0.1380, 95% CI 0.2137-0.7547; linear weighted
    κ = 0.4701.

    Edge cases: an empty table raises ``ValueError``; p_e = 1 (both raters always use the
    same single category) makes κ undefined: NaN.
    """
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"need a square table, got shape {t.shape}")
    n = float(t.sum())
    if n <= 0:
        raise ValueError("the agreement table is empty")
    k = t.shape[0]
    p = t / n
    if weights is None:
        agree = np.eye(k)
    elif weights in ("linear", "quadratic"):
        distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / max(k - 1, 1)
        agree = 1 - (distance if weights == "linear" else distance**2)
    else:
        raise ValueError(f"unknown weights {weights!r}; use None, 'linear' or 'quadratic'")
    observed = float((agree * p).sum())
    expected = float((agree * np.outer(p.sum(axis=1), p.sum(axis=0))).sum())
    from scipy.special import ndtri

    z = float(ndtri(1 - (1 - confidence) / 2))
    if expected >= 1 - 1e-12:
        return Kappa(
            math.nan, math.nan, math.nan, math.nan, observed, expected, int(n), weights, confidence
        )
    from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

    result = sm_kappa(t, wt=weights, return_results=True)
    kappa, se = float(result.kappa), float(result.std_kappa)
    return Kappa(
        kappa, se, kappa - z * se, kappa + z * se, observed, expected, int(n), weights, confidence
    )


def cohens_kappa(
    ratings_a: Sequence[Any],
    ratings_b: Sequence[Any],
    *,
    weights: KappaWeights = None,
    categories: Sequence[Any] | None = None,
    confidence: float = 0.95,
) -> Kappa:
    """Cohen's kappa of two raters' ratings of the same items (``ratings_a[i]`` and
    ``ratings_b[i]`` rate item i). See :func:`cohens_kappa_table`; missing ratings are left
    out, and ``categories`` orders the categories for weighted kappa."""
    table, _ = agreement_table(ratings_a, ratings_b, categories)
    return cohens_kappa_table(table, weights=weights, confidence=confidence)


def fleiss_kappa(counts: ArrayLike, *, method: Literal["fleiss", "randolph"] = "fleiss") -> float:
    """Fleiss' kappa for many raters: ``counts[i, j]`` raters put item i in category j.

    κ = (P̄ − P̄_e)/(1 − P̄_e), P̄ = mean over items of Σⱼ nᵢⱼ(nᵢⱼ − 1)/(m(m − 1)) and
    P̄_e = Σⱼ p̄ⱼ² (Fleiss 1971); ``randolph`` uses P̄_e = 1/k, the free-marginal kappa
    (Randolph 2005). Every item needs the same number m ≥ 2 of ratings. Computed by
    ``statsmodels.stats.inter_rater.fleiss_kappa``. Published check (10 items, 14 raters,
    5 categories): κ = 0.2099, free-marginal 0.2225.
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim != 2:
        raise ValueError("need an items x categories matrix of counts")
    totals = c.sum(axis=1)
    if totals.size == 0 or np.any(totals != totals[0]) or totals[0] < 2:
        raise ValueError("every item needs the same number (at least 2) of ratings")
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    return float(sm_fleiss(c, method=method))


def _reliability_codes(data: Any) -> tuple[NDArray[np.intp], NDArray[np.float64] | None, list[Any]]:
    """Codes 0..V−1 for each (rater, unit) cell (−1 when missing), numeric values if any."""
    rows = [list(r) for r in data]
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("need a raters x units table with the same number of units per rater")
    present = [v for r in rows for v in r if not _missing(v)]
    distinct = sorted(set(present), key=lambda v: (isinstance(v, str), v))
    position = {v: i for i, v in enumerate(distinct)}
    codes = np.array([[-1 if _missing(v) else position[v] for v in r] for r in rows], dtype=np.intp)
    numeric = None
    if all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in distinct
    ):
        numeric = np.array(distinct, dtype=float)
    return codes, numeric, distinct


def krippendorff_alpha(reliability_data: Any, level: Level = "nominal") -> float:
    """Krippendorff's alpha for any number of raters, with missing ratings.

    ``reliability_data`` is raters × units (a list of rows or an array); a missing rating is
    None or NaN. Following Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability":
    from the coincidence matrix o_ck = Σ_u (number of c-k pairs of ratings in unit u, from
    different raters)/(m_u − 1) over units with m_u ≥ 2 ratings, n_c = Σ_k o_ck, n = Σ n_c,

        α = 1 − (n − 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck

    with δ² by ``level``: nominal 1[c ≠ k]; ordinal (Σ_{g=c..k} n_g − (n_c + n_k)/2)² over
    the ranks of the sorted values; interval (c − k)²; ratio ((c − k)/(c + k))².
    Written here because the ``krippendorff`` package is GPL. Published check (Krippendorff
    2011, example C, 4 raters × 12 units): nominal 0.743, ordinal 0.815, interval 0.849,
    ratio 0.797.

    Edge cases: NaN when fewer than two pairable ratings exist or every rating is the same
    value (no variation to be reliable about). ``interval`` and ``ratio`` need numbers.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"unknown level {level!r}; use nominal, ordinal, interval or ratio")
    codes, numeric, distinct = _reliability_codes(reliability_data)
    v = len(distinct)
    if v == 0:
        return math.nan
    if level in ("interval", "ratio") and numeric is None:
        raise ValueError(f"{level} alpha needs numeric ratings")
    # counts[u, c]: how many raters put unit u in category c
    units = codes.T
    counts = np.zeros((units.shape[0], v))
    rated = units >= 0
    np.add.at(counts, (np.nonzero(rated)[0], units[rated]), 1)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    if counts.size == 0:
        return math.nan
    weighted = counts / (m - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = float(n_c.sum())
    if level == "nominal":
        delta2 = 1 - np.eye(v)
    elif level == "ordinal":
        cumulative = np.concatenate([[0.0], np.cumsum(n_c)])
        lo = np.minimum.outer(np.arange(v), np.arange(v))
        hi = np.maximum.outer(np.arange(v), np.arange(v))
        between = cumulative[hi + 1] - cumulative[lo]
        delta2 = (between - (n_c[:, None] + n_c[None, :]) / 2) ** 2
    else:
        assert numeric is not None
        diff = np.subtract.outer(numeric, numeric)
        if level == "interval":
            delta2 = diff**2
        else:
            total = np.add.outer(numeric, numeric)
            delta2 = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    disagreement_expected = float(n_c @ delta2 @ n_c)
    if n < 2 or disagreement_expected == 0:
        return math.nan
    return 1 - (n - 1) * float((coincidence * delta2).sum()) / disagreement_expected


@dataclass(frozen=True)
class PairwiseAgreement:
    """MT-Bench agreement of two judges' pairwise votes (Zheng et al. 2023, Table 5).

    ``with_ties`` (setup S1): share of items where the two votes are identical, ties
    included as a third answer. ``without_ties`` (S2): the same share among items where
    neither judge voted a tie. Random voting gives about 1/3 and 1/2.
    """

    with_ties: float
    without_ties: float
    n_with_ties: int
    n_without_ties: int


def pairwise_agreement(
    votes_a: Sequence[Any], votes_b: Sequence[Any], *, tie: Any = "tie"
) -> PairwiseAgreement:
    """S1/S2 agreement (see :class:`PairwiseAgreement`) of two judges voting on the same
    comparisons (``votes_a[i]`` and ``votes_b[i]`` are votes on comparison i: e.g. ``"A"``,
    ``"B"`` or ``tie``). Missing votes (None/NaN) are left out; a share with no items is NaN.
    """
    if len(votes_a) != len(votes_b):
        raise ValueError(
            f"judges voted on different numbers of items: {len(votes_a)}, {len(votes_b)}"
        )
    both = [
        (x, y) for x, y in zip(votes_a, votes_b, strict=True) if not (_missing(x) or _missing(y))
    ]
    decided = [(x, y) for x, y in both if x != tie and y != tie]

    def share(pairs: list[tuple[Any, Any]]) -> float:
        return sum(x == y for x, y in pairs) / len(pairs) if pairs else math.nan

    return PairwiseAgreement(share(both), share(decided), len(both), len(decided))
