"""Effective number of judges of a run's panel scorers (REQUIREMENTS B5, issue 20).

A "majority of three" is worth three opinions only if the judges err independently. A panel
scorer keeps every member's grade in its score's metadata (``panel``); where the same run also
has a deterministic pass/fail scorer (``exact``, ``includes``, a regex …), that scorer says
when each member was wrong, and the members' error correlation ρ̄ gives

    n_eff = N / (1 + (N − 1)·ρ̄)         (Kish 1965; :func:`assay.stats.effective_sample_size`)

through :func:`assay.stats.effective_number_of_graders`, the function the judge audit's panel
check uses. Below 2 (below (N + 1)/2 for a two-judge panel, which can never reach 2) the run
gets the ``correlated_panel`` warning. Without a pass/fail reference no error is observable
(agreement among the judges is not independence: they may agree because they are right), so
the report says where to measure it instead (``assay audit judge`` on the panel).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Below this many independent judges a "majority of N" earns the ``correlated_panel`` warning.
MIN_EFFECTIVE = 2.0


@dataclass(frozen=True)
class PanelReport:
    """One panel scorer of one subject: its members and, when measurable, n_eff.

    ``reference`` names the pass/fail scorer the members' errors were read against (``None``
    when the run has none); ``n_items`` is the number of graded results with every member's
    grade; ``error_correlation`` is ρ̄ and ``n_eff`` the effective number of judges (NaN
    when not measurable; ``reason`` then says why).
    """

    subject: str
    scorer: str
    judges: tuple[str, ...]
    reference: str | None
    n_items: int
    error_correlation: float
    n_eff: float
    reason: str = ""

    @property
    def bound(self) -> float:
        """The n_eff below which the panel is ``correlated_panel``: 2, or (N + 1)/2 for N < 3."""
        return min(MIN_EFFECTIVE, (len(self.judges) + 1) / 2)

    @property
    def correlated(self) -> bool:
        return math.isfinite(self.n_eff) and self.n_eff < self.bound

    def describe(self) -> str:
        n = len(self.judges)
        if not math.isfinite(self.n_eff):
            return f"panel {self.scorer} ({n} judges): n_eff unknown, {self.reason}"
        text = (
            f"panel {self.scorer} ({n} judges): n_eff = {self.n_eff:.2f} "
            f"(error correlation {self.error_correlation:.2f} over {self.n_items} results, "
            f"errors read against {self.reference})"
        )
        if self.correlated:
            text = (
                f"correlated_panel: {text}; a majority of {n} is worth fewer than "
                f"{self.bound:g} independent judges"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "subject": self.subject,
            "scorer": self.scorer,
            "judges": list(self.judges),
            "reference": self.reference,
            "n_items": self.n_items,
            "error_correlation": finite(self.error_correlation),
            "n_eff": finite(self.n_eff),
            "correlated_panel": self.correlated,
            "reason": self.reason,
        }


def panel_reports(
    members: Mapping[tuple[str, str], Sequence[tuple[Any, Sequence[Mapping[str, Any]]]]],
    values: Mapping[tuple[str, Any], Mapping[str, float]],
    scorer_order: Sequence[str],
    judged: frozenset[str] = frozenset(),
) -> list[PanelReport]:
    """n_eff of every panel scorer of a run.

    ``members[(subject, scorer)]`` lists (result key, the score's ``panel`` outcomes);
    ``values[(subject, result key)]`` maps each scorer to its value on that result;
    ``scorer_order`` is the manifest's scorer order: the first scorer that is pass/fail on
    every one of those results and is not a judge (``judged`` names the judge scorers) is the
    reference. A member's error is its pass/fail grade ≠ the reference's.
    """
    panels = {scorer for _, scorer in members}
    reports = []
    for (subject, scorer), rows in sorted(members.items()):
        judges = tuple(dict.fromkeys(str(o.get("judge")) for _, outs in rows for o in outs))
        reference = _reference(subject, rows, values, scorer_order, panels | judged)
        errors, reason = [], ""
        if reference is None:
            reason = (
                "no pass/fail scorer in the run to say when a judge erred: measure it with "
                "`assay audit judge` on the panel"
            )
        else:
            for key, outs in rows:
                grades = {str(o.get("judge")): o.get("value") for o in outs if "error" not in o}
                truth = values[(subject, key)][reference]
                if all(grades.get(j) in (0.0, 1.0) for j in judges):
                    errors.append([float(grades[j] != truth) for j in judges])
            if not errors:
                reason = "its members' grades are not pass/fail"
        rho = n_eff = math.nan
        if errors and len(judges) > 1:
            import numpy as np

            from assay.stats import effective_number_of_graders, error_correlation

            matrix = np.asarray(errors, dtype=float).T
            rho = error_correlation(matrix)
            n_eff = effective_number_of_graders(matrix)
            if math.isnan(n_eff):
                reason = "fewer than two judges ever erred"
        reports.append(
            PanelReport(subject, scorer, judges, reference, len(errors), rho, n_eff, reason)
        )
    return reports


def _reference(
    subject: str,
    rows: Sequence[tuple[Any, Sequence[Mapping[str, Any]]]],
    values: Mapping[tuple[str, Any], Mapping[str, float]],
    scorer_order: Sequence[str],
    skip: set[str],
) -> str | None:
    for name in scorer_order:
        if name in skip:
            continue
        seen = [values.get((subject, key), {}).get(name) for key, _ in rows]
        if seen and all(v in (0.0, 1.0) for v in seen):
            return name
    return None
