"""A judge's calibration certificate (C1-C9): the audit's checks, each with its figure,
interval and verdict.

The audit (``assay.audit``) produces certificates; the store keeps them; ``compare`` and
``gate`` consult them. A certificate belongs to one judge *config*: the requested model, the
resolved snapshot(s), the prompt template hash and the parameters, summarised by
:attr:`JudgeCertificate.judge_key` so that a run's judge (its
:class:`~assay.core.JudgeManifest`) finds the certificate that describes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.core.hashing import content_hash

#: A check's outcome: ``pass`` (no defect found), ``warn`` (a defect below the blocking bound,
#: or evidence too thin to decide), ``fail`` (a defect: the check's ``flag`` is raised), or
#: ``skipped`` (the check could not run; ``message`` says why).
CheckVerdict = Literal["pass", "warn", "fail", "skipped"]

#: Flags that make ``assay gate`` refuse a comparison graded by the judge unless the user
#: accepts the risk with a reason.
BLOCKING_FLAGS: frozenset[str] = frozenset({"gameable", "drifted"})


class CheckResult(BaseModel):
    """One audit check.

    ``figure`` is the measured quantity (a rate, an effect, a kappa…) with its interval
    ``[low, high]`` over ``n`` units (pairs, samples, labels); ``flag`` names the defect a
    ``fail`` raises (``gameable``, ``position_bias``, ``length_bias``, ``self_preference``,
    ``drifted``, ``low_human_agreement``, ``correlated_panel``); ``details`` holds the
    check-specific numbers (per canary, per slice, per rater…).
    """

    model_config = ConfigDict(extra="forbid")

    check: str
    figure: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    verdict: CheckVerdict
    flag: str | None = None
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def anchor_fingerprint(
    resolved_models: Sequence[str] | str | None,
    anchor_scores: Mapping[str, float],
    *,
    decimals: int = 4,
    length: int = 16,
) -> str:
    """The judge's fingerprint (C5): a content hash of its resolved snapshot(s) and its score
    vector on the anchor set.

    Hashed: the sorted distinct resolved model names (an alias that resolves to a new
    snapshot changes the fingerprint even when no score moves) and ``{anchor id: score}``
    with every score rounded to ``decimals`` places (4 by default: a temperature-0 judge
    reproduces its verdicts exactly, and a logprob-weighted score that jitters in the last
    bits of a float is not a changed instrument; a real change of a 0-1 or 1-10 score moves
    the fourth decimal). A missing (None or NaN) score hashes as null. Returns the first
    ``length`` hex digits of the SHA-256 of the canonical JSON
    (:func:`assay.core.content_hash`), so anchor order and float formatting do not matter.
    """
    if isinstance(resolved_models, str):
        models = [resolved_models]
    else:
        models = sorted({str(m) for m in resolved_models or () if m})
    scores: dict[str, float | None] = {}
    for anchor, score in anchor_scores.items():
        value = None if score is None else float(score)
        scores[str(anchor)] = (
            None if value is None or not math.isfinite(value) else round(value, decimals) + 0.0
        )
    return content_hash({"resolved_models": models, "anchor_scores": scores}, length=length)


def judge_key(model: str, prompt_hash: str, params: dict[str, Any] | None = None) -> str:
    """The identity of a judge config: a hash of its requested model, prompt template hash and
    parameters (the resolved snapshot is recorded beside it, since an alias may move)."""
    return content_hash({"model": model, "prompt_hash": prompt_hash, "params": params or {}})[:16]


class JudgeCertificate(BaseModel):
    """The audit's record of one judge config at one time (see the module docstring).

    ``flags`` are the flags of the failed checks, deduplicated in check order; an empty list is
    a clean certificate. ``anchor_scores`` is the judge's score vector on the anchor set (by
    anchor id), and ``fingerprint`` its hash together with the resolved snapshot (C5).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    judge: str
    judge_key: str
    model: str
    resolved_models: list[str] = Field(default_factory=list)
    system_fingerprints: list[str] = Field(default_factory=list)
    prompt_hash: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    kind: str | None = None
    family: list[str] = Field(default_factory=list)
    created_at: datetime
    assay_version: str = ""
    checks: list[CheckResult] = Field(default_factory=list)
    anchor_scores: dict[str, float] = Field(default_factory=dict)
    fingerprint: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)

    @property
    def flags(self) -> list[str]:
        """The defects found (flags of failed checks), in check order, without repeats."""
        seen: list[str] = []
        for check in self.checks:
            if check.verdict == "fail" and check.flag and check.flag not in seen:
                seen.append(check.flag)
        return seen

    @property
    def blocking_flags(self) -> list[str]:
        """The flags that make ``assay gate`` refuse (``gameable``, ``drifted``)."""
        return [f for f in self.flags if f in BLOCKING_FLAGS]

    @property
    def status(self) -> str:
        """``clean`` or the flags, comma-separated."""
        return ", ".join(self.flags) or "clean"

    def check(self, name: str) -> CheckResult | None:
        """The check called ``name``, if it ran."""
        return next((c for c in self.checks if c.check == name), None)
