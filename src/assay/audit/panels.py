"""Judge panels (C9, B5): how correlated are the judges' errors, and how many independent
judges is the panel worth?

Pairwise error correlation among top frontier models is about r ≈ 0.77, so three models from
different providers are worth about 1.3 independent ones, not 3 (REQUIREMENTS B5, "Ensemble
vs. Debate"). A "majority of three" whose members make the same mistakes buys little: the
majority is wrong whenever the shared mistake is made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.core.certificate import CheckResult
from assay.stats import effective_number_of_graders, error_correlation, krippendorff_alpha

__all__ = ["panel_check", "panel_errors"]


def panel_errors(labels: ArrayLike, gold: ArrayLike) -> NDArray[np.float64]:
    """Error indicators (n_items, n_judges): 1 where judge j's label of item i differs from
    ``gold[i]``, 0 where it matches, NaN where the label or gold is missing (None/NaN)."""
    table = np.asarray(labels, dtype=object)
    truth = np.asarray(gold, dtype=object).reshape(-1)
    if table.ndim != 2 or table.shape[0] != truth.size:
        raise ValueError(
            f"labels must be (n_items, n_judges) with one gold label per item; got "
            f"{table.shape} labels and {truth.size} gold labels"
        )

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))

    errors = np.empty(table.shape, dtype=float)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            value, right = table[i, j], truth[i]
            errors[i, j] = math.nan if missing(value) or missing(right) else float(value != right)
    return errors


def _percentile(values: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


def panel_check(
    errors: ArrayLike,
    gold: ArrayLike | None = None,
    *,
    judges: Sequence[str] | None = None,
    min_effective: float = 2.0,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> CheckResult:
    """Error correlation and effective number of independent judges of a panel (C9, B5).

    ``errors`` is (n_items, n_judges): 1 where judge j erred on item i and 0 where it was
    right (or signed residuals for numeric grades). With ``gold``, ``errors`` holds the
    judges' *labels* instead and errors are label ≠ gold (:func:`panel_errors`). Items with a
    missing entry are left out (listwise).

    ρ̄ is the mean pairwise Pearson correlation of the judges' errors
    (:func:`assay.stats.error_correlation`; judges that never or always err are left out of
    it) and n_eff = N / (1 + (N − 1)·ρ̄) (Kish's design effect,
    :func:`assay.stats.effective_number_of_graders`): ρ̄ = 0.6 makes three judges worth
    1.36. Both get a percentile bootstrap interval over items (``n_resamples`` resamples,
    seeded).

    Verdict: ``warn`` with flag ``correlated_panel`` when n_eff is below ``min_effective``
    (2: a "majority of N" worth fewer than two independent judges); for a two-judge panel,
    which can never reach 2, the bound is (N + 1)/2 = 1.5. ``pass`` otherwise; ``skipped``
    with fewer than two judges or items, or when fewer than two judges ever err (no
    correlation is defined).
    """
    e = panel_errors(errors, gold) if gold is not None else np.asarray(errors, dtype=float)
    if e.ndim != 2:
        raise ValueError(f"errors must be an (n_items, n_judges) array, got shape {e.shape}")
    n_judges = e.shape[1]
    names = list(judges) if judges is not None else [f"judge_{j}" for j in range(n_judges)]
    if len(names) != n_judges:
        raise ValueError(f"{len(names)} judge names for {n_judges} judges")
    complete = np.all(np.isfinite(e), axis=1)
    dropped = int(e.shape[0] - complete.sum())
    e = e[complete]
    n_items = int(e.shape[0])
    check = "panel"
    bound = min(min_effective, (n_judges + 1) / 2)
    details: dict[str, Any] = {
        "judges": names,
        "n_judges": n_judges,
        "dropped_items": dropped,
        "min_effective": bound,
        "confidence": confidence,
        "error_rates": {name: float(e[:, j].mean()) for j, name in enumerate(names)}
        if n_items
        else {},
    }
    if n_judges < 2 or n_items < 2:
        return CheckResult(
            check=check,
            n=n_items,
            verdict="skipped",
            message=f"a panel check needs two judges and two items (got {n_judges}, {n_items})",
            details=details,
        )
    graders = e.T
    rho = error_correlation(graders)
    n_eff = effective_number_of_graders(graders)
    if math.isnan(n_eff):
        return CheckResult(
            check=check,
            n=n_items,
            verdict="skipped",
            message="fewer than two judges ever erred: no error correlation to measure",
            details=details,
        )
    pairs = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for a in range(n_judges):
            for b in range(a + 1, n_judges):
                if e[:, a].std() > 0 and e[:, b].std() > 0:
                    r = float(np.corrcoef(e[:, a], e[:, b])[0, 1])
                    pairs[f"{names[a]}~{names[b]}"] = r
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_items, size=(n_resamples, n_items))
    rhos = np.full(n_resamples, math.nan)
    effs = np.full(n_resamples, math.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for b in range(n_resamples):
            sample = graders[:, draws[b]]
            rhos[b] = error_correlation(sample)
            if math.isfinite(rhos[b]):
                effs[b] = effective_number_of_graders(sample)
    low, high = _percentile(effs, confidence)
    rho_low, rho_high = _percentile(rhos, confidence)
    binary = bool(np.all((e == 0) | (e == 1)))
    if binary:
        majority_wrong = float(np.mean(e.sum(axis=1) > n_judges / 2))
        details["majority_error_rate"] = majority_wrong
        details["all_wrong_rate"] = float(np.mean(e.sum(axis=1) == n_judges))
    if gold is not None:
        labels = np.asarray(errors, dtype=object)[complete]
        try:
            details["label_alpha"] = _clean(krippendorff_alpha(labels.T.tolist()))
        except (TypeError, ValueError):
            details["label_alpha"] = None
    details.update(
        {
            "error_correlation": rho,
            "error_correlation_low": _clean(rho_low),
            "error_correlation_high": _clean(rho_high),
            "pairwise_error_correlation": pairs,
            "method": "percentile bootstrap over items",
            "n_resamples": n_resamples,
        }
    )
    span = f"n_eff = {n_eff:.2f} [{low:.2f}, {high:.2f}] of {n_judges} (ρ̄ = {rho:.2f})"
    if n_eff < bound:
        verdict, flag = "warn", "correlated_panel"
        message = (
            f"the judges' errors are correlated: {span}; a majority of {n_judges} is worth "
            f"fewer than {bound:g} independent judges"
        )
    else:
        verdict, flag = "pass", None
        message = f"panel of {n_judges}: {span}"
    return CheckResult(
        check=check,
        figure=n_eff,
        low=_clean(low),
        high=_clean(high),
        n=n_items,
        verdict=verdict,
        flag=flag,
        message=message,
        details=details,
    )
