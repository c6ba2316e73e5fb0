"""Slices too small to detect a useful effect (A5, B1).

A per-slice number on 30 samples moves by ±15 points between two equally good models; reading
a slice regression off it is reading noise. For each slice (metadata keys from ``--slice``, the
spec, the stored runs' manifests, and ``slice`` itself when samples carry it) and each label,
the minimum detectable effect is the one ``assay plan --n`` reports:
:func:`assay.stats.two_proportion_mde` at the slice's n, α and power (two-sided), around the
slice's pass rate in the newest stored run (0.5, the worst case, without one), towards a drop
when that rate is above one half (the direction a regression check needs). The slice is flagged
``underpowered_slice`` when that MDE exceeds ``useful_effect`` (default 5 points); the smell
says how many samples the slice would need (:func:`assay.stats.two_proportion_sample_size`).
Its message gives the MDE in percentage points ("MDE 9.5 pts"), as ``assay compare`` and
``assay plan`` do; ``details["mde"]`` keeps it as a fraction.
A ``control`` slice is not checked: controls catch pipeline faults, not model differences.

Which design the MDE assumes, said in every smell (``details["design"]``): with two stored
runs of the same eval that share pass/fail scores for the slice's samples, the **paired**
design ``assay compare`` uses — (z₁₋α/₂ + z_power)·√(ω²/n), ω² the variance of the
per-sample differences between the two newest runs (Miller 2024, §4; ``assay plan
--pairs-from``), unclustered. Otherwise the **unpaired** two-proportion design, which is
conservative for a rerun on the same samples; it is the honest bound when nothing is known
about the runs' correlation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from assay.core.sample import Sample
from assay.data.lint.context import CheckSkipped, LintContext
from assay.data.lint.coverage import CONTROL_LABEL
from assay.data.lint.report import Smell
from assay.stats import (
    paired_minimum_detectable_effect,
    paired_sample_size,
    two_proportion_mde,
    two_proportion_sample_size,
)

WORST_CASE_RATE = 0.5
#: Pass rates are kept this far inside (0, 1): the power formulas are undefined at the edges.
_EDGE = 0.02


def slice_keys(ctx: LintContext) -> tuple[str, ...]:
    """Every metadata key treated as a slice (order: settings, spec, runs, ``slice``)."""
    keys: list[str] = list(ctx.settings.slices)
    if ctx.spec is not None:
        keys += ctx.spec.slices
    if ctx.outcomes is not None:
        for run in ctx.outcomes.runs:
            keys += run.slices
    if any("slice" in s.metadata for s in ctx.dataset):
        keys.append("slice")
    return tuple(dict.fromkeys(keys))


def _newest_rates(ctx: LintContext, key: str) -> dict[str, float]:
    """Slice label → pass rate in the newest stored run (all subjects, pass/fail scorers)."""
    if ctx.outcomes is None or not ctx.outcomes.runs:
        return {}
    newest = ctx.outcomes.runs[0]
    values: dict[str, list[float]] = defaultdict(list)
    for (_subject, scorer), by_sample in newest.scores.items():
        if scorer not in ctx.outcomes.binary_scorers:
            continue
        for sample_id, value in by_sample.items():
            if sample_id in ctx.dataset:
                label = ctx.dataset.get(sample_id).slice_value(key)
                if label is not None:
                    values[label].append(value)
    return {label: sum(v) / len(v) for label, v in values.items()}


def _run_pair(ctx: LintContext) -> tuple[Any, Any, tuple[str, str]] | None:
    """The two newest stored runs of one eval with a shared pass/fail (subject, scorer), for
    the paired design; ``None`` when there is no such pair."""
    if ctx.outcomes is None:
        return None
    runs = ctx.outcomes.runs  # newest first
    for i, newer in enumerate(runs):
        for older in runs[i + 1 :]:
            if older.name != newer.name:
                continue
            for key in newer.scores:
                if key[1] in ctx.outcomes.binary_scorers and key in older.scores:
                    return older, newer, key
    return None


def _paired_mde(
    pair: tuple[Any, Any, tuple[str, str]], members: list[Sample], alpha: float, power: float
) -> tuple[float, int, float] | str:
    """(MDE, n, ω²) of a paired comparison on the slice's samples both runs graded, or why
    there is none (the reason the unpaired design is used instead)."""
    older, newer, key = pair
    a, b = older.scores[key], newer.scores[key]
    diffs = [b[s.id] - a[s.id] for s in members if s.id in a and s.id in b]
    n = len(diffs)
    if n < 2:
        return f"runs {older.run_id} and {newer.run_id} share {n} graded sample(s) of it"
    mean = sum(diffs) / n
    omega2 = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    if omega2 == 0:
        # No discordant sample yet: the data say nothing about ω².
        return f"runs {older.run_id} and {newer.run_id} agree on every sample of it"
    mde = paired_minimum_detectable_effect(n, omega2, alpha=alpha, power=power)
    return mde, n, omega2


def _pts(rate: float) -> str:
    """A change in pass rate in percentage points, as ``assay compare`` prints it."""
    return f"{100 * rate:.1f} pts"


def _needed(p0: float, effect: float, alpha: float, power: float, decrease: bool) -> int | None:
    p1 = p0 - effect if decrease else p0 + effect
    if not 0 < p1 < 1:
        return None
    return two_proportion_sample_size(p0, p1, alpha=alpha, power=power)


def check_slice_power(ctx: LintContext) -> list[Smell]:
    """``underpowered_slice``: rules in the module docstring."""
    keys = slice_keys(ctx)
    if not keys:
        raise CheckSkipped("no slice keys: give --slice KEY or a spec with slices:")
    settings = ctx.settings
    smells: list[Smell] = []
    for key in keys:
        groups: dict[str, list[Sample]] = defaultdict(list)
        for sample in ctx.dataset:
            label = sample.slice_value(key)
            if label is not None:
                groups[label].append(sample)
        observed = _newest_rates(ctx, key)
        pair = _run_pair(ctx)
        for label in sorted(groups):
            if label == CONTROL_LABEL:
                continue  # controls detect pipeline faults; nobody compares models on them
            members = groups[label]
            n = len(members)
            rate = observed.get(label)
            p0 = WORST_CASE_RATE if rate is None else min(max(rate, _EDGE), 1 - _EDGE)
            decrease = p0 > 0.5
            paired = (
                _paired_mde(pair, members, settings.alpha, settings.power)
                if pair
                else "no two stored runs to pair"
            )
            if not isinstance(paired, str):
                mde, n_paired, omega2 = paired
                design = (
                    f"paired design from runs {pair[0].run_id} and {pair[1].run_id}"  # type: ignore[index]
                    f" ({n_paired} shared samples, ω² = {omega2:.3g}), unclustered"
                )
                needed: int | None = paired_sample_size(
                    settings.useful_effect, omega2, alpha=settings.alpha, power=settings.power
                )
            else:
                mde = two_proportion_mde(
                    p0,
                    n,
                    alpha=settings.alpha,
                    power=settings.power,
                    direction="decrease" if decrease else "increase",
                )
                design = f"unpaired two-proportion design ({paired}), unclustered"
                needed = _needed(
                    p0, settings.useful_effect, settings.alpha, settings.power, decrease
                )
            if not math.isnan(mde) and mde <= settings.useful_effect:
                continue
            # Points, as `assay compare` and `assay plan` give an MDE (issue 20, one MDE story).
            seen = "no change is detectable" if math.isnan(mde) else f"MDE {_pts(mde)}"
            smells.append(
                Smell(
                    code="underpowered_slice",
                    severity="warning",
                    message=f"slice {key}={label} has {n} sample(s): {seen} "
                    f"(at α={settings.alpha}, power {settings.power:.0%}; {design}), "
                    f"{'not even' if math.isnan(mde) else 'more than'} the "
                    f"{_pts(settings.useful_effect)} worth detecting",
                    fix=(
                        f"grow the slice to about {needed} samples"
                        if needed is not None
                        else "grow the slice"
                    )
                    + ", merge it with a neighbour, or do not read per-slice verdicts off it",
                    rows=ctx.rows(members),
                    details={
                        "slice_key": key,
                        "slice_value": label,
                        "n": n,
                        "pass_rate": p0,
                        "pass_rate_observed": rate is not None,
                        "mde": None if math.isnan(mde) else round(mde, 4),
                        "design": "unpaired" if isinstance(paired, str) else "paired",
                        "clustered": False,
                        "useful_effect": settings.useful_effect,
                        "n_needed": needed,
                    },
                )
            )
    return smells
