"""Which interval and test a paired comparison of one group uses, and margins (non-inferiority,
equivalence) decided by the same interval.

* clustered, at least ``min_clusters`` clusters: CR2 with Bell-McCaffrey degrees of freedom
  under an estimated exchangeable working model (:mod:`assay.stats.clustered_small`);
* clustered, 2 to ``min_clusters`` − 1 clusters: CR2 with the conservative working model
  (the clusters alone as units), noted;
* pass/fail: McNemar's exact test with Tango's score interval, widened to reach 0 whenever
  the exact test does not reject (the interval inverts McNemar's exact test at Δ₀ = 0 and
  Tango's score test elsewhere, so it excludes 0 exactly when the test rejects);
* otherwise the paired t-test and interval.

A margin δ turns "is there a difference?" into "is B not worse than A by δ or more?"
(non-inferiority: the one-sided 1 − α bound, i.e. the lower end of the two-sided 1 − 2α
interval, lies above −δ) or "is the difference within ±δ?" (equivalence by two one-sided
tests, TOST: the whole 1 − 2α interval lies inside (−δ, δ); Schuirmann 1987, J Pharmacokinet
Biopharm 15:657; Walker & Nowacki 2011, J Gen Intern Med 26:192).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.stats import Interval, mcnemar_exact, t_interval
from assay.stats.clustered_small import WorkingModel, cr2_interval, cr2_standard_error
from assay.stats.paired_intervals import tango_bounds

NON_INFERIOR = "non-inferior"
NOT_NON_INFERIOR = "not shown non-inferior"
EQUIVALENT = "equivalent"
NOT_EQUIVALENT = "not shown equivalent"


@dataclass(frozen=True)
class GroupEstimate:
    """The chosen test's p-value, interval and standard error for one group, how to get the
    same method's interval at another level (for margins), and the test's degrees of freedom
    (``df``: the Bell-McCaffrey ν of CR2, n − 1 of the paired t; ``None`` for McNemar's exact
    test, whose MDE keeps the normal approximation), which its MDE needs
    (:func:`~assay.stats.power.minimum_detectable_effect`)."""

    test: str
    interval: Interval
    p_value: float
    standard_error: float
    n_clusters: int | None
    note: str | None
    interval_at: Callable[[float], Interval]
    df: float | None


def mcnemar_consistent_interval(
    b_only: int, a_only: int, n: int, p_exact: float, alpha: float, confidence: float
) -> Interval:
    """Tango's score interval for p_B − p_A, widened to reach 0 when McNemar's exact test does
    not reject at ``alpha`` (p ≥ α). The confidence set of a family of level-α tests (McNemar's
    exact test at Δ₀ = 0, Tango's score test at every other Δ₀), convex hull taken; it excludes
    0 exactly when the exact test rejects. Method ``tango-score``."""
    low, high = (float(v[0]) for v in tango_bounds(b_only, a_only, n, confidence))
    if p_exact >= alpha:
        low, high = min(low, 0.0), max(high, 0.0)
    return Interval((b_only - a_only) / n, low, high, n, "tango-score", confidence)


def estimate_group(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    clusters: NDArray[Any] | None,
    binary: bool,
    *,
    confidence: float,
    alpha: float,
    min_clusters: int,
) -> GroupEstimate:
    """The test and interval of one group (see the module docstring)."""
    d = b - a
    n = int(d.size)
    n_clusters = int(np.unique(clusters).size) if clusters is not None else None
    if clusters is not None and n_clusters is not None and n_clusters >= 2:
        model: WorkingModel = "estimated" if n_clusters >= min_clusters else "clusters"
        cl = cr2_standard_error(d, clusters, working_model=model)
        from scipy.special import stdtr

        se = cl.standard_error
        p = float(2 * stdtr(cl.df, -abs(cl.mean / se))) if se > 0 else float(cl.mean == 0)
        note = None
        if model == "clusters":
            note = (
                f"{n_clusters} clusters (fewer than {min_clusters}): CR2 with degrees of freedom "
                f"from the clusters alone ({cl.df:.1f}), which is conservative"
            )
        return GroupEstimate(
            "clustered-cr2",
            cr2_interval(d, clusters, confidence, working_model=model),
            p,
            se,
            n_clusters,
            note,
            lambda c: cr2_interval(d, clusters, c, working_model=model),
            cl.df,
        )
    note = None
    if n_clusters is not None:
        note = f"{n_clusters} cluster: too few for clustered errors; samples treated as independent"
    t = t_interval(d, confidence)
    if binary and n >= 1:
        mc = mcnemar_exact(a, b)
        interval = mcnemar_consistent_interval(
            mc.b_only, mc.a_only, n, mc.p_value, alpha, confidence
        )
        return GroupEstimate(
            "mcnemar-exact",
            interval,
            mc.p_value,
            t.standard_error,
            n_clusters,
            note,
            lambda c: mcnemar_consistent_interval(mc.b_only, mc.a_only, n, mc.p_value, 1 - c, c),
            # An exact test of discordant counts has no degrees of freedom; its MDE keeps the
            # normal approximation on the paired standard error (as for a large-n z test).
            None,
        )
    from scipy.special import stdtr

    se = t.standard_error
    if n < 2 or math.isnan(se):
        p = math.nan
    elif se == 0:
        p = 1.0 if t.estimate == 0 else 0.0
    else:
        p = float(2 * stdtr(n - 1, -abs(t.estimate / se)))
    paired = Interval(t.estimate, t.low, t.high, n, "paired-t", confidence, se)

    def at(c: float) -> Interval:
        other = t_interval(d, c)
        return Interval(other.estimate, other.low, other.high, n, "paired-t", c, se)

    df = float(n - 1) if n >= 2 else math.nan
    return GroupEstimate("paired-t", paired, p, se, n_clusters, note, at, df)


def margin_verdict(
    estimate: GroupEstimate, margin: float, alpha: float, equivalence: bool
) -> tuple[str, Interval]:
    """Non-inferiority (or, with ``equivalence``, TOST equivalence) at level ``alpha`` with
    margin δ, decided by the group's own interval at 1 − 2α: non-inferior when its lower end
    exceeds −δ; equivalent when it lies inside (−δ, δ). Returns the verdict and that
    interval. An undefined interval is never non-inferior."""
    interval = estimate.interval_at(1 - 2 * alpha)
    if math.isnan(interval.low) or math.isnan(interval.high):
        return (NOT_EQUIVALENT if equivalence else NOT_NON_INFERIOR), interval
    if equivalence:
        ok = interval.low > -margin and interval.high < margin
        return (EQUIVALENT if ok else NOT_EQUIVALENT), interval
    return (NON_INFERIOR if interval.low > -margin else NOT_NON_INFERIOR), interval


def parse_margin(text: str) -> tuple[float, bool]:
    """Read a margin: ``2pts``, ``2 pts``, ``2%`` → (0.02, True: in points of a rate);
    ``0.02`` or ``1.5`` → (the number, False: in the metric's own units). Raises
    ``ValueError`` for anything else or a margin that is not positive."""
    raw = text.strip().lower().replace(" ", "")
    points = raw.endswith(("pts", "pt", "%"))
    number = raw.rstrip("pts%") if points else raw
    value = float(number)
    if not value > 0 or math.isinf(value):
        raise ValueError(f"a margin must be positive, got {text!r}")
    return (value / 100 if points else value), points
