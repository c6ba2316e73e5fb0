"""The confound guard (B6): randomization attributes must not reach the prompt.

An experiment that assigns arms by an attribute (``user_tier``, ``region`` …) measures the arm
only if the model cannot see that attribute: a prompt template that renders ``{{ user_tier }}``
leaks the assignment into the treatment, and any difference between arms is then confounded
with the attribute itself ("in-band leakage"). :func:`check_in_band_leakage` refuses such an
eval; :func:`covariate_balance` reports whether the arms differ in their covariates, which a
sound randomization makes unlikely.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.core import Sample, SpecError


class InBandLeakageError(SpecError):
    """Raised when a prompt template uses a declared assignment/randomization attribute."""

    code = "in_band_leakage"

    def render(self) -> str:
        return "in_band_leakage: " + super().render()


def leaking_variables(
    templates: dict[str, set[str]], assignment: Iterable[str]
) -> dict[str, list[str]]:
    """Per subject, the assignment attributes its template variables use."""
    attrs = {a.removeprefix("metadata.") for a in assignment}
    out = {}
    for subject, variables in templates.items():
        hits = sorted(variables & attrs)
        if hits:
            out[subject] = hits
    return out


def check_in_band_leakage(ev: Any, assignment: Sequence[str], *, where: str = "probe") -> None:
    """Refuse ``ev`` when any subject's prompt template renders an assignment attribute.

    Rule: the template's placeholder names (``{{ x }}`` and ``{{ metadata.x }}``, user and
    system message) intersected with the declared attributes must be empty."""
    if not assignment:
        return
    templates = {s.name: set(s.prompt.variables) for s in ev.subjects if getattr(s, "prompt", None)}
    leaks = leaking_variables(templates, assignment)
    if leaks:
        subject, attrs = next(iter(leaks.items()))
        raise InBandLeakageError(
            f"subject {subject!r}'s prompt template uses assignment attribute(s) "
            f"{', '.join(attrs)}: the arm would be confounded with what the model sees",
            where=where,
            fix=f"remove {{{{ {attrs[0]} }}}} from the prompt, or do not randomize on it",
        )


@dataclass(frozen=True)
class CovariateBalance:
    """One covariate across arms: the statistic, its p-value or size, and whether it is
    imbalanced."""

    covariate: str
    kind: str  # "categorical" (chi-square test) or "numeric" (standardized mean difference)
    statistic: float
    p_value: float | None
    imbalanced: bool
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "covariate": self.covariate,
            "kind": self.kind,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "imbalanced": self.imbalanced,
            "n": self.n,
        }


def covariate_balance(
    samples: Sequence[Sample],
    arm_key: str,
    covariates: Sequence[str] | None = None,
    *,
    alpha: float = 0.05,
    smd_threshold: float = 0.1,
) -> list[CovariateBalance]:
    """Balance of each metadata covariate across the arms in ``metadata[arm_key]``.

    Numeric covariates: the largest absolute standardized mean difference between any two arms,
    |m_a − m_b| / √((s_a² + s_b²)/2), imbalanced above ``smd_threshold`` (0.1, Austin 2009,
    "Balance diagnostics for comparing the distribution of baseline covariates", Stat Med 28).
    Categorical covariates: Pearson's chi-square test of independence of arm and covariate,
    imbalanced when p < ``alpha`` divided by the number of covariates (Bonferroni).
    Covariates with one level, or arms with fewer than 2 samples, are skipped."""
    from scipy import stats as sps

    arms = [str(s.metadata.get(arm_key)) for s in samples if arm_key in s.metadata]
    if len(set(arms)) < 2:
        raise SpecError(
            f"covariate balance needs at least two arms in metadata key {arm_key!r}",
            where="arm_key",
            fix="name the metadata key that holds each sample's arm",
        )
    keys = (
        list(covariates)
        if covariates is not None
        else sorted({k for s in samples for k in s.metadata} - {arm_key, "probe_item"})
    )
    out: list[CovariateBalance] = []
    per_test_alpha = alpha / max(1, len(keys))
    for key in keys:
        rows = [
            (str(s.metadata[arm_key]), s.metadata.get(key))
            for s in samples
            if arm_key in s.metadata and s.metadata.get(key) is not None
        ]
        if not rows:
            continue
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for _, v in rows)
        if numeric:
            by_arm: dict[str, list[float]] = {}
            for arm, v in rows:
                by_arm.setdefault(arm, []).append(float(v))  # type: ignore[arg-type]
            stats = [(sum(x) / len(x), _var(x)) for x in by_arm.values() if len(x) >= 2]
            smd = 0.0
            for i in range(len(stats)):
                for j in range(i + 1, len(stats)):
                    pooled = math.sqrt((stats[i][1] + stats[j][1]) / 2)
                    if pooled > 0:
                        smd = max(smd, abs(stats[i][0] - stats[j][0]) / pooled)
            out.append(CovariateBalance(key, "numeric", smd, None, smd > smd_threshold, len(rows)))
        else:
            counts = Counter((arm, str(v)) for arm, v in rows)
            arm_levels = sorted({a for a, _ in counts})
            levels = sorted({v for _, v in counts})
            if len(levels) < 2 or len(arm_levels) < 2:
                continue
            table = [[counts.get((a, v), 0) for v in levels] for a in arm_levels]
            chi2, p, _, _ = sps.chi2_contingency(table, correction=False)
            out.append(
                CovariateBalance(
                    key, "categorical", float(chi2), float(p), p < per_test_alpha, len(rows)
                )
            )
    return out


def _var(x: list[float]) -> float:
    m = sum(x) / len(x)
    return sum((v - m) ** 2 for v in x) / (len(x) - 1)
