"""Error budgets and multiwindow, multi-burn-rate alerts (the SRE workbook, made statistical).

An objective says "at least ``objective`` of observations are good over ``period``"; its error
budget is the allowed bad share, b = 1 − objective. The **burn rate** over a window is the bad
share in it divided by b: burning at 1 spends exactly the budget over the period, at 14.4 it
spends 2 % of a 30-day budget in one hour. **Budget remaining** is 1 − (bad / (b · n)) over the
observations of the period seen so far.

**Alerting** follows *The Site Reliability Workbook* (Beyer et al. 2018), ch. 5, "Alerting on
SLOs", recommendation 6 (multiwindow, multi-burn-rate): a rule (long window, short window,
burn rate B) fires when both windows burn at B or more; the long window makes the alert
significant, the short one makes it reset soon after the burning stops.

One change for low-traffic routes, where a window may hold two requests: the long window must
burn at B *with evidence* — the one-sided Clopper–Pearson lower bound (confidence
:data:`EVIDENCE`) of its bad share must reach B·b, so a single unlucky request in a quiet hour
never pages; while the true burn rate is at or below B, a rule fires in a given evaluation with
probability at most 1 − EVIDENCE. The short window needs only its point estimate to reach
B·b; when it holds no observation at all it cannot show that the burning stopped, so it
counts as still burning.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from assay.monitor.spec import Objective
from assay.stats.changepoints import clopper_pearson_bound

#: Confidence of the long window's lower bound on its bad share.
EVIDENCE = 0.95


@dataclass(frozen=True)
class WindowBurn:
    """Bad share and burn rate over one window ending at the evaluation time."""

    window: timedelta
    n: int
    bad: int
    burn: float | None
    burn_low: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": _text(self.window),
            "n": self.n,
            "bad": self.bad,
            "burn": self.burn,
            "burn_low": self.burn_low,
        }


@dataclass(frozen=True)
class RuleStatus:
    long: WindowBurn
    short: WindowBurn
    threshold: float
    severity: str
    firing: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "long": self.long.as_dict(),
            "short": self.short.as_dict(),
            "burn_threshold": self.threshold,
            "severity": self.severity,
            "firing": self.firing,
        }


@dataclass
class BudgetStatus:
    """An objective evaluated at ``at``: the period's counts, budget left, every rule."""

    signal: str
    objective: float
    period: timedelta
    at: datetime
    n: int
    bad: int
    remaining: float | None
    rules: list[RuleStatus] = field(default_factory=list)
    series: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def firing(self) -> list[RuleStatus]:
        return [r for r in self.rules if r.firing]

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "objective": self.objective,
            "period": _text(self.period),
            "at": self.at.isoformat(),
            "n": self.n,
            "bad": self.bad,
            "budget": 1 - self.objective,
            "budget_remaining": self.remaining,
            "rules": [r.as_dict() for r in self.rules],
        }


def _text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def window_burn(
    times: list[datetime],
    bad: list[float],
    cumulative: list[int],
    at: datetime,
    window: timedelta,
    budget: float,
) -> WindowBurn:
    """Burn over (at − window, at] from time-sorted observations (``cumulative[i]`` = bad
    among the first i)."""
    lo = bisect_left(times, at - window)
    hi = bisect_left(times, at)
    # Observations exactly at ``at`` count (the window is closed on the right).
    while hi < len(times) and times[hi] == at:
        hi += 1
    n = hi - lo
    k = cumulative[hi] - cumulative[lo]
    if n == 0:
        return WindowBurn(window, 0, 0, None, None)
    low = clopper_pearson_bound(k, n, EVIDENCE, upper=False)
    return WindowBurn(window, n, k, (k / n) / budget, low / budget)


def evaluate_objective(
    objective: Objective,
    times: list[datetime],
    bad: list[float],
    at: datetime,
    *,
    step: timedelta | None = None,
) -> BudgetStatus:
    """The objective's budget and burn-rate rules at ``at`` from time-sorted 0/1 observations
    (1 = bad). With ``step``, ``series`` holds the budget remaining at every step over the
    period (for the monitor page)."""
    budget = objective.budget
    cumulative = [0]
    for v in bad:
        cumulative.append(cumulative[-1] + int(v))
    period = window_burn(times, bad, cumulative, at, objective.period, budget)
    remaining = None if period.n == 0 else 1 - period.bad / (budget * period.n)
    status = BudgetStatus(
        signal=objective.signal,
        objective=objective.objective,
        period=objective.period,
        at=at,
        n=period.n,
        bad=period.bad,
        remaining=remaining,
    )
    for long, short, threshold, severity in objective.rules:
        lw = window_burn(times, bad, cumulative, at, long, budget)
        sw = window_burn(times, bad, cumulative, at, short, budget)
        firing = (
            lw.burn_low is not None
            and lw.burn_low >= threshold
            and (sw.n == 0 or (sw.burn is not None and sw.burn >= threshold))
        )
        status.rules.append(RuleStatus(lw, sw, threshold, severity, firing))
    if step is not None and times:
        t = times[0]
        while t <= at:
            w = window_burn(times, bad, cumulative, t, objective.period, budget)
            if w.n:
                status.series.append((t, 1 - w.bad / (budget * w.n)))
            t += step
    return status


def budget_text(status: BudgetStatus) -> str:
    """``62% of the budget left (3 bad of 1,204 over 28d)``."""
    if status.remaining is None:
        return "no observations in the period"
    left = status.remaining
    counts = f"{status.bad} bad of {status.n:,} over {_text(status.period)}"
    if left < 0:
        return f"budget exhausted: {1 - left:.1f}x spent ({counts})"
    shown = f"{100 * left:.0f}%" if math.isfinite(left) else "n/a"
    return f"{shown} of the budget left ({counts})"
