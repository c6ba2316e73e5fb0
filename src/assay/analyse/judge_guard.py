"""A comparison across a changed judge (C5): said first, and no "improved" without a note.

When the judge behind a metric changed between (or within) the two runs, the metric's
difference mixes the system's change with the instrument's. ``assay gate`` already refuses
such a comparison without ``--migration-note``; the comparison itself must agree, on every
surface: its first line names the change, and the affected metrics' ``improved``,
``regressed`` and ``mixed`` verdicts are withheld (:data:`JUDGE_CHANGED`) until the caller
says how the two judges' scores relate (``migration_note``). Metrics no judge graded (exact
match, say) keep their verdicts.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from assay.core import JudgeChange, RunManifest, judge_changes
from assay.stats import IMPROVED, MIXED, REGRESSED

if TYPE_CHECKING:
    from assay.analyse.compare_types import RunComparison

#: The verdict that replaces improved / regressed / mixed for a metric graded by a judge that
#: changed, until a migration note is given.
JUDGE_CHANGED = "judge changed: verdict withheld"


def comparison_judge_changes(before: RunManifest, after: RunManifest) -> list[JudgeChange]:
    """``judge_changed`` flags between the runs and within either of them (each once)."""
    found = judge_changes(after, before) + judge_changes(before)
    seen: set[tuple[str, str, bool]] = set()
    unique = []
    for change in found:
        key = (change.judge, change.reason, change.within_run)
        if key not in seen:
            seen.add(key)
            unique.append(change)
    return unique


def _judged_scorers(manifest: RunManifest, judges: set[str]) -> set[str] | None:
    """The scorers graded by ``judges`` (``None``: every scorer, a pairwise judge run)."""
    scorers: set[str] = set()
    for judge in manifest.judges:
        if judge.name.split("[", 1)[0] not in judges:
            continue
        if judge.kind == "pairwise":
            return None
        scorers.add(judge.name.split("[", 1)[0])
    return scorers


def guard_judge_changes(
    comparison: RunComparison,
    before: RunManifest,
    after: RunManifest,
    migration_note: str | None = None,
) -> RunComparison:
    """``comparison`` with its judges' changes put first: a warning per change at the head
    of ``warnings``, and, without ``migration_note``, :data:`JUDGE_CHANGED` in place of
    improved / regressed / mixed for the metrics those judges graded."""
    changes = comparison_judge_changes(before, after)
    if not changes:
        return comparison
    names = {c.judge.split("[", 1)[0] for c in changes}
    affected = _judged_scorers(after, names)
    if affected is not None:
        affected |= _judged_scorers(before, names) or set()
    warnings = []
    for change in changes:
        text = change.describe()  # it starts with the flag ("judge_changed: judge ...")
        if migration_note:
            text += f"; compared under the migration note: {migration_note}"
        else:
            text += (
                "; improved/regressed are withheld for the metrics it graded "
                "(give --migration-note saying how its scores compare, or re-score both runs "
                "with one judge: `assay audit bridge`)"
            )
        warnings.append(text)
    metrics = comparison.metrics
    if not migration_note:
        metrics = [
            dataclasses.replace(m, verdict=JUDGE_CHANGED)
            if (affected is None or m.scorer in affected)
            and m.verdict in (IMPROVED, REGRESSED, MIXED)
            else m
            for m in metrics
        ]
    return dataclasses.replace(
        comparison,
        metrics=metrics,
        warnings=warnings + list(comparison.warnings),
        judge_changes=changes,
    )
