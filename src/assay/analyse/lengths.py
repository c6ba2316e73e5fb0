"""Output lengths per route and model, and the ``max_tokens`` cap they call for (H1).

Outputs stopped by their cap (finish reason ``length``; Anthropic's ``max_tokens``, Gemini's
``MAX_TOKENS``) are right-censored at the cap, so the length distribution is a Kaplan–Meier
estimate (:mod:`assay.stats.survival`), never the cap taken as a length.

The recommendation rule (:class:`CapRule`, defaults from REQUIREMENTS.md H1): the estimated p99
times 1.2, rounded up; if the estimated share of outputs longer than that exceeds the guard
(0.5%), the smallest cap whose estimated truncation meets the guard instead (the (1 − guard)
quantile). When the current cap hides the quantile (too many outputs were cut to see it), the
report says so and recommends raising the cap rather than guessing.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.analyse.trace_frame import TrafficWindow, dialect_of, fetch_columns, param, window_sql
from assay.stats.intervals import wilson_interval
from assay.stats.quantiles import adequacy_warnings, percentile_label
from assay.stats.survival import censored_quantiles, exceedance, smallest_cap
from assay.store import Store

LENGTH_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999)
#: Finish reasons that mean "stopped at the cap" (OpenAI, Anthropic, Gemini).
CAP_REASONS = ("length", "max_tokens", "MAX_TOKENS")


@dataclass(frozen=True)
class CapRule:
    """``max_tokens`` = ⌈margin × the ``quantile`` of lengths⌉, unless that would truncate more
    than ``guard`` of outputs, in which case the (1 − guard) quantile."""

    quantile: float = 0.99
    margin: float = 1.2
    guard: float = 0.005

    def describe(self) -> str:
        return (
            f"{percentile_label(self.quantile)} × {self.margin:g}, or the smallest cap whose "
            f"estimated truncation is ≤ {100 * self.guard:g}% when that truncates more"
        )


@dataclass
class LengthGroup:
    """Lengths of one route × requested model."""

    route: str | None
    model: str | None
    n: int
    truncated: int
    current_cap: int | None
    caps_seen: dict[int, int]
    quantiles: list[dict[str, Any]]
    truncation_current: dict[str, float | None]
    recommended_cap: int | None
    truncation_recommended: dict[str, float | None]
    action: str
    reason: str
    warnings: list[str] = field(default_factory=list)
    histogram: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "model": self.model,
            "n": self.n,
            "truncated": self.truncated,
            "current_cap": self.current_cap,
            "caps_seen": {str(k): v for k, v in self.caps_seen.items()},
            "quantiles": self.quantiles,
            "truncation_current": self.truncation_current,
            "recommended_cap": self.recommended_cap,
            "truncation_recommended": self.truncation_recommended,
            "action": self.action,
            "reason": self.reason,
            "warnings": self.warnings,
            "histogram": self.histogram,
        }


def _none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _histogram(lengths: np.ndarray, censored: np.ndarray, bins: int = 30) -> dict[str, list[float]]:
    """Log-spaced bins from 1 token to the longest output: counts of finished and cut outputs."""
    top = max(2.0, float(lengths.max()) if lengths.size else 2.0)
    edges = np.unique(np.round(np.geomspace(1.0, top * 1.0001, bins + 1)))
    done, _ = np.histogram(lengths[~censored], edges)
    cut, _ = np.histogram(lengths[censored], edges)
    return {"edges": edges.tolist(), "finished": done.tolist(), "cut": cut.tolist()}


def recommend_cap(
    lengths: np.ndarray,
    censored: np.ndarray,
    current_cap: int | None,
    rule: CapRule = CapRule(),
    confidence: float = 0.95,
) -> tuple[int | None, dict[str, float | None], str, str]:
    """(recommended cap, its estimated truncation, action, reason) under ``rule``."""
    (base,) = censored_quantiles(lengths, censored, [rule.quantile], confidence)
    if math.isnan(base.estimate):
        return (
            None,
            {"share": None, "low": None, "high": None},
            "raise",
            f"{base.label} is hidden by the current cap ({int(censored.sum())} of "
            f"{lengths.size} outputs were cut): raise the cap to measure it",
        )
    candidate = math.ceil(rule.margin * base.estimate - 1e-9)
    cut = exceedance(lengths, censored, candidate, confidence)
    reason = f"{base.label} = {base.estimate:g} × {rule.margin:g}"
    if math.isnan(cut.share) or cut.share > rule.guard:
        guarded = smallest_cap(lengths, censored, rule.guard)
        if math.isnan(guarded):
            return (
                None,
                {"share": None, "low": None, "high": None},
                "raise",
                f"{reason} would truncate more than {100 * rule.guard:g}% and the "
                "smallest cap meeting the guard is hidden by the current cap: raise the cap "
                "to measure it",
            )
        candidate = math.ceil(guarded)
        cut = exceedance(lengths, censored, candidate, confidence)
        if math.isnan(cut.share):
            return (
                None,
                {"share": None, "low": None, "high": None},
                "raise",
                f"{reason} would truncate more than {100 * rule.guard:g}%, and what the "
                "current cap cut cannot be estimated past it: raise the cap to measure it",
            )
        reason = (
            f"{reason} would truncate more than {100 * rule.guard:g}%; "
            f"the smallest cap meeting the guard is {candidate:g}"
        )
    truncation = {"share": _none(cut.share), "low": _none(cut.low), "high": _none(cut.high)}
    if current_cap is None:
        action = "set"
    elif candidate < current_cap:
        action = "lower"
    elif candidate > current_cap:
        action = "raise"
    else:
        action = "keep"
    return candidate, truncation, action, reason


def length_group(
    route: str | None,
    model: str | None,
    lengths: np.ndarray,
    censored: np.ndarray,
    caps: np.ndarray,
    *,
    rule: CapRule = CapRule(),
    quantiles: tuple[float, ...] = LENGTH_QUANTILES,
    confidence: float = 0.95,
) -> LengthGroup:
    """The report of one route × model from its arrays (pure: the tests call it directly)."""
    lengths = np.asarray(lengths, dtype=float)
    censored = np.asarray(censored, dtype=bool)
    seen = Counter(int(c) for c in np.asarray(caps) if c >= 0)
    current = seen.most_common(1)[0][0] if seen else None
    n, cut = int(lengths.size), int(censored.sum())
    estimates = censored_quantiles(lengths, censored, quantiles, confidence)
    observed = wilson_interval(cut, n, confidence)
    recommended, at_recommended, action, reason = recommend_cap(
        lengths, censored, current, rule, confidence
    )
    warnings = adequacy_warnings(n, quantiles)
    if len(seen) > 1:
        warnings.append("several_caps_in_use")
    return LengthGroup(
        route=route,
        model=model,
        n=n,
        truncated=cut,
        current_cap=current,
        caps_seen=dict(sorted(seen.items())),
        quantiles=[e.as_dict() for e in estimates],
        truncation_current={
            "share": _none(observed.estimate),
            "low": _none(observed.low),
            "high": _none(observed.high),
        },
        recommended_cap=recommended,
        truncation_recommended=at_recommended,
        action=action,
        reason=reason,
        warnings=warnings,
        histogram=_histogram(lengths, censored),
    )


@dataclass
class LengthReport:
    window: TrafficWindow
    rule: CapRule
    groups: list[LengthGroup]

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_dict(),
            "rule": self.rule.describe(),
            "groups": [g.as_dict() for g in self.groups],
        }


def length_report(
    store: Store,
    window: TrafficWindow = TrafficWindow(),
    *,
    rule: CapRule = CapRule(),
    quantiles: tuple[float, ...] = LENGTH_QUANTILES,
    confidence: float = 0.95,
    min_calls: int = 20,
) -> LengthReport:
    """Output-length percentiles and a ``max_tokens`` recommendation per route × requested
    model, over the LLM spans of the traces in ``window`` (groups with fewer than
    ``min_calls`` calls are left out)."""
    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    for k, reason in enumerate(CAP_REASONS):
        params[f"cap{k}"] = f'%"{reason}"%'
    cap_test = " OR ".join(
        f"s.finish_reasons_json LIKE {param(dialect, f'cap{k}')}" for k in range(len(CAP_REASONS))
    )
    # Lengths are integers and caps few: the database counts each (route, model, length, cut,
    # cap) once, so a million calls come back as a few thousand rows.
    model = "COALESCE(s.model_requested, s.model_resolved)"
    cut = f"CASE WHEN {cap_test} THEN 1 ELSE 0 END"
    sql = (
        f"SELECT t.route, {model}, s.output_tokens, {cut}, s.request_max_tokens, COUNT(*) "
        "FROM spans s JOIN traces t ON t.id = s.trace_id "
        "WHERE s.kind = 'llm' AND s.output_tokens IS NOT NULL"
        + "".join(f" AND {c}" for c in clauses)
        + f" GROUP BY t.route, {model}, s.output_tokens, {cut}, s.request_max_tokens"
    )
    cols = fetch_columns(
        store,
        sql,
        params,
        [
            ("route", "s"),
            ("model", "s"),
            ("length", "f"),
            ("cut", "i"),
            ("cap", "i"),
            ("count", "i"),
        ],
    )
    groups: list[LengthGroup] = []
    if len(cols):
        key = cols["route"].astype(np.int64) * (len(cols.vocab["model"]) + 2) + cols["model"]
        for k in np.unique(key):
            rows = np.flatnonzero(key == k)
            counts = cols["count"][rows]
            if counts.sum() < min_calls:
                continue
            first = rows[0]
            groups.append(
                length_group(
                    cols.text("route", int(cols["route"][first])),
                    cols.text("model", int(cols["model"][first])),
                    np.repeat(cols["length"][rows], counts),
                    np.repeat(cols["cut"][rows] == 1, counts),
                    np.repeat(cols["cap"][rows], counts),
                    rule=rule,
                    quantiles=quantiles,
                    confidence=confidence,
                )
            )
    groups.sort(key=lambda g: (-g.n, g.route or "", g.model or ""))
    return LengthReport(window, rule, groups)
