"""The CI gate: pass a candidate run only if nothing regressed and every threshold holds.

A gate is a list of checks over a :class:`~assay.analyse.compare.RunComparison`:

* one *regression* check per metric (subject pair × scorer): it fails when the metric's
  verdict is ``regressed`` or ``mixed: slice regression`` — so a change that wins on
  aggregate while one slice drops significantly (or beyond that slice's MDE) is stopped
  (REQUIREMENTS B9) — unless every such drop is smaller than ``margin``;
* one *threshold* check per ``--min SCORER=VALUE``: the candidate's mean for that scorer
  must be at least VALUE, for every subject compared;
* one *judge* check per judge that graded either run and has an audit certificate: it fails
  when the judge's newest certificate is ``gameable`` or ``drifted`` (C1, C5-C6), unless the
  user accepts the risk with a written reason (kept in the check's message);
* one *judge change* check per ``judge_changed`` flag of the two runs (C5: a judge whose
  resolved snapshot, fingerprint or model moved within or between the runs): scores in two
  judges' currencies do not compare, so it fails unless a migration note says why they may
  (e.g. the ``assay audit bridge`` that measured the exchange rate). The regression check of
  a metric that judge graded fails too, its verdict withheld (``judge changed: verdict
  withheld``), rather than pass on a difference in two currencies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assay.analyse.compare import INSTRUMENT_DRIFT, MetricComparison, RunComparison
from assay.analyse.human_corrected import HumanCorrected
from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.analyse.judges import JudgeFlag, JudgeStanding
from assay.core import AssayError
from assay.stats import FAILING


@dataclass(frozen=True)
class GateCheck:
    """One check: ``kind`` is ``regression`` or ``threshold``; ``message`` says why it failed
    (or what it found when it passed)."""

    name: str
    kind: str
    passed: bool
    message: str


@dataclass(frozen=True)
class GateResult:
    """Every check of a gate over one comparison; it passes when all checks pass."""

    comparison: RunComparison
    checks: list[GateCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]


def _pts(x: float, binary_scale: bool) -> str:
    return f"{100 * x:+.1f} pts" if binary_scale else f"{x:+.3g}"


def _regression_check(metric: MetricComparison, margin: float) -> GateCheck:
    name = f"{metric.subject}/{metric.scorer}"
    agg = metric.aggregate
    scale01 = min(agg.mean_a, agg.mean_b) >= 0 and max(agg.mean_a, agg.mean_b) <= 1
    summary = (
        f"overall {_pts(agg.difference, scale01)} "
        f"[{_pts(agg.interval.low, scale01)}, {_pts(agg.interval.high, scale01)}], "
        f"{agg.verdict}"
    )
    if metric.verdict == INSTRUMENT_DRIFT:
        drift = metric.drift or {}
        return GateCheck(
            name,
            "regression",
            False,
            f"{INSTRUMENT_DRIFT}: every {drift.get('slice_key', 'slice')} moved by about the "
            f"same amount, the control set included ({drift.get('reason', '')}); re-score "
            f"with a pinned judge before trusting {summary}",
        )
    if metric.verdict == JUDGE_CHANGED:
        # No PASS for a difference measured by two judges: the verdict is withheld (C5).
        return GateCheck(
            name,
            "judge",
            False,
            f"{summary}: the judge that graded it changed (see the judge change check)",
        )
    if metric.verdict not in FAILING:
        return GateCheck(name, "regression", True, summary)
    if metric.verdict == "regressed":
        if -agg.difference < margin:
            return GateCheck(name, "regression", True, f"{summary} (within the margin)")
        return GateCheck(
            name, "regression", False, f"regressed: {summary}, p_adj = {agg.p_adjusted:.3g}"
        )
    slices = [s for s in metric.regressed_slices if -s.difference >= margin]
    if not slices:
        return GateCheck(name, "regression", True, f"{summary}; slice drops within the margin")
    parts = [
        f"{s.group} {_pts(s.difference, scale01)} "
        f"[{_pts(s.interval.low, scale01)}, {_pts(s.interval.high, scale01)}], "
        f"p_adj = {s.p_adjusted:.3g}, MDE = {_pts(s.mde, scale01).lstrip('+')}"
        for s in slices
    ]
    return GateCheck(
        name,
        "regression",
        False,
        f"mixed: slice regression: {'; '.join(parts)} (while {summary})",
    )


def _corrected_check(
    metric: MetricComparison,
    corrected: HumanCorrected,
    comparison: RunComparison,
    margin: float,
    non_inferior: bool,
) -> GateCheck:
    """With human labels the gate decides on the prediction-powered difference (issue 13,
    item 1): it fails when the PPI interval lies below −``margin`` (a regression, two-sided
    at α), or, with ``--non-inferior``, unless its one-sided 1 − α bound lies above −margin.
    The judge's own figure is shown beside it."""
    from scipy.special import ndtri

    s = comparison.settings
    r = corrected.result
    agg = metric.aggregate
    scale01 = min(agg.mean_a, agg.mean_b) >= 0 and max(agg.mean_a, agg.mean_b) <= 1
    est, se = r.ppi.estimate, r.ppi.standard_error
    judge = f"judge alone {_pts(agg.difference, scale01)}"
    shown = (
        f"human-corrected (PPI) {_pts(est, scale01)} [{_pts(r.ppi.low, scale01)}, "
        f"{_pts(r.ppi.high, scale01)}], n_eff {r.effective_n['ppi']:.0f}; {judge}"
    )
    name = f"{metric.subject}/{metric.scorer} (human-corrected)"
    if non_inferior:
        assert s.margin is not None
        bound = est - float(ndtri(1 - s.alpha)) * se
        ok = bound > -s.margin
        verdict = "non-inferior" if ok else "not shown non-inferior"
        return GateCheck(
            name,
            "non-inferiority",
            ok,
            f"{verdict} at margin {_pts(s.margin, scale01).lstrip('+')}: one-sided bound "
            f"{_pts(bound, scale01)}; {shown}",
        )
    regressed = r.ppi.high < 0 and -est >= margin
    return GateCheck(
        name, "regression", not regressed, ("regressed: " if regressed else "") + shown
    )


def _non_inferiority_check(metric: MetricComparison, comparison: RunComparison) -> GateCheck:
    """``--non-inferior``: the aggregate's margin verdict (issue 13, item 7) must be
    ``non-inferior`` (or ``equivalent`` with ``--equivalence``)."""
    settings = comparison.settings
    if settings.margin is None:
        raise AssayError(
            "a non-inferiority gate needs a comparison computed with a margin",
            where="--non-inferior",
        )
    agg = metric.aggregate
    scale01 = min(agg.mean_a, agg.mean_b) >= 0 and max(agg.mean_a, agg.mean_b) <= 1
    bound = agg.margin_interval
    level = 100 * (1 - 2 * settings.alpha)
    shown = (
        f"{_pts(agg.difference, scale01)} [{_pts(bound.low, scale01)}, "
        f"{_pts(bound.high, scale01)}] ({level:.0f}% CI, {bound.method})"
        if bound is not None
        else "no interval"
    )
    label = metric.margin_verdict or "not shown non-inferior"
    what = "equivalence" if settings.equivalence else "non-inferiority"
    ok = label in ("non-inferior", "equivalent")
    return GateCheck(
        f"{metric.subject}/{metric.scorer} {what}",
        "non-inferiority",
        ok,
        f"{label} at margin {_pts(settings.margin, scale01).lstrip('+')}: {shown}",
    )


def gate(
    comparison: RunComparison,
    *,
    thresholds: Mapping[str, float] | None = None,
    margin: float = 0.0,
    judges: Sequence[JudgeStanding] = (),
    accept_judge_risk: str | None = None,
    judge_changes: Sequence[JudgeFlag] = (),
    migration_note: str | None = None,
    non_inferior: bool = False,
    corrected: Mapping[tuple[str, str], HumanCorrected] | None = None,
) -> GateResult:
    """Run the gate's checks (see the module docstring).

    ``thresholds`` maps a scorer name to the lowest acceptable mean of the candidate (run B).
    ``margin`` (metric units, default 0) tolerates regressions smaller than it, however
    significant: with 100,000 samples a 0.2-point drop is real but may not matter.
    A scorer not among the compared metrics is a usage error (:class:`AssayError`).
    ``judges`` are the certificate standings of the runs' judges
    (:func:`~assay.analyse.judge_standings`); ``accept_judge_risk`` is the reason a user gives
    for gating on a judge marked ``gameable`` or ``drifted`` anyway.
    """
    if accept_judge_risk is not None and not accept_judge_risk.strip():
        raise AssayError(
            "accepting a judge's risk needs a reason",
            where="--accept-judge-risk",
            fix='say why, e.g. --accept-judge-risk "canary fixed in prompt v3, re-audit pending"',
        )
    if margin < 0:
        raise AssayError("the margin must be 0 or more", where="--margin")
    corrected = corrected or {}
    checks = [
        _corrected_check(m, corrected[(m.subject, m.scorer)], comparison, margin, non_inferior)
        if (m.subject, m.scorer) in corrected
        else _regression_check(m, margin)
        for m in comparison.metrics
    ]
    if non_inferior:
        checks += [
            _non_inferiority_check(m, comparison)
            for m in comparison.metrics
            if (m.subject, m.scorer) not in corrected
        ]
    compared = {m.scorer for m in comparison.metrics}
    for scorer, minimum in (thresholds or {}).items():
        if scorer not in compared:
            raise AssayError(
                f"no compared metric is named {scorer!r}",
                where="--min",
                fix=f"use one of: {', '.join(sorted(compared)) or '(none)'}",
            )
        for m in comparison.metrics:
            if m.scorer != scorer:
                continue
            mean = m.aggregate.mean_b
            ok = not math.isnan(mean) and mean >= minimum
            checks.append(
                GateCheck(
                    f"{m.subject}/{scorer} >= {minimum:g}",
                    "threshold",
                    ok,
                    f"candidate mean {mean:.4g} {'>=' if ok else '<'} {minimum:g}",
                )
            )
    if migration_note is not None and not migration_note.strip():
        raise AssayError(
            "a migration note cannot be empty",
            where="--migration-note",
            fix='say how the scores compare, e.g. --migration-note "bridge run X: +0.2 on '
            'citations only, history converted"',
        )
    for flag in judge_changes:
        name = f"judge change {flag.judge}"
        if migration_note:
            checks.append(
                GateCheck(name, "judge", True, f"{flag.message}; migration note: {migration_note}")
            )
        else:
            checks.append(
                GateCheck(
                    name,
                    "judge",
                    False,
                    f"{flag.message}: the two runs were graded in different currencies "
                    "(measure the exchange rate with `assay audit bridge`, then pass "
                    "--migration-note NOTE)",
                )
            )
    for standing in judges:
        if standing.certificate is None:
            continue
        name = f"judge {standing.model}"
        if not standing.blocking:
            checks.append(GateCheck(name, "judge", True, standing.describe()))
        elif accept_judge_risk:
            checks.append(
                GateCheck(
                    name,
                    "judge",
                    True,
                    f"{standing.describe()}; risk accepted: {accept_judge_risk.strip()}",
                )
            )
        else:
            checks.append(
                GateCheck(
                    name,
                    "judge",
                    False,
                    f"{standing.describe()}: its scores cannot be trusted for a gate "
                    f"(re-audit with `assay audit judge`, or pass --accept-judge-risk REASON)",
                )
            )
    return GateResult(comparison, checks)
