"""A comparison across a changed judge (C5): said first, and no "improved" without a note.

When the judge behind a metric changed between (or within) the two runs, the metric's
difference mixes the system's change with the instrument's. ``assay gate`` already refuses
such a comparison without ``--migration-note``; the comparison itself must agree, on every
surface: its first line names the change, and the affected metrics' ``improved``,
``regressed``, ``mixed`` and ``no detectable difference`` verdicts are withheld
(:data:`JUDGE_CHANGED`) until the caller says how the two judges' scores relate
(``migration_note``). The label is set here, on the metric and on each of its groups (the
aggregate and every slice, their non-inferiority verdicts too), so the terminal table,
``--markdown``, ``--json``, the web page and the gate all read the same withheld label; the
figures (difference, interval, p, MDE) are kept. Metrics no judge graded (exact match, say)
keep their verdicts.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from assay.core import JudgeChange, RunManifest, judge_changes
from assay.stats import IMPROVED, MIXED, NO_DIFFERENCE, REGRESSED

if TYPE_CHECKING:
    from assay.analyse.compare_types import GroupComparison, MetricComparison, RunComparison

#: The verdict that replaces improved / regressed / mixed / no detectable difference for a
#: metric graded by a judge that changed, and for each of its groups, until a migration note
#: is given.
JUDGE_CHANGED = "judge changed: verdict withheld"

#: The verdicts a changed judge withholds: each reads the difference as the system's, when
#: part (or all) of it may be the judge's. ``underpowered`` says only that the comparison
#: could not tell, and the C6 ``instrument drift suspected`` already blames the instrument.
WITHHELD = frozenset({IMPROVED, REGRESSED, MIXED, NO_DIFFERENCE})


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
    improved / regressed / mixed / no detectable difference for the metrics those judges
    graded and for each of their groups (:func:`_withhold`)."""
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
                f"; the verdicts of the metrics it graded read {JUDGE_CHANGED!r} "
                "(give --migration-note saying how its scores compare, or re-score both runs "
                "with one judge: `assay audit bridge`)"
            )
        warnings.append(text)
    metrics = comparison.metrics
    if not migration_note:
        metrics = [_withhold(m) if affected is None or m.scorer in affected else m for m in metrics]
    return dataclasses.replace(
        comparison,
        metrics=metrics,
        warnings=warnings + list(comparison.warnings),
        judge_changes=changes,
    )


def _withhold_group(group: GroupComparison) -> GroupComparison:
    """``group`` with :data:`JUDGE_CHANGED` in place of its verdict and of its non-inferiority
    (or equivalence) verdict, when a margin gave one; its figures unchanged."""
    return dataclasses.replace(
        group,
        verdict=JUDGE_CHANGED if group.verdict in WITHHELD else group.verdict,
        margin_verdict=None if group.margin_verdict is None else JUDGE_CHANGED,
    )


def _withhold(metric: MetricComparison) -> MetricComparison:
    """``metric`` with its verdict and every group's withheld (:data:`WITHHELD`)."""
    return dataclasses.replace(
        metric,
        verdict=JUDGE_CHANGED if metric.verdict in WITHHELD else metric.verdict,
        aggregate=_withhold_group(metric.aggregate),
        slices=[_withhold_group(s) for s in metric.slices],
    )
