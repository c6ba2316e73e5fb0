"""What the audit battery takes (:class:`AuditConfig`) and what it returns (:class:`AuditResult`).

The battery itself is :func:`assay.audit.battery.audit_judge`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core import JudgeCertificate
from assay.providers.lineage import LineageRegistry
from assay.score import ScorerContext


@dataclass
class AuditConfig:
    """What to audit and how.

    ``judge`` is a judge reference (``<provider>/<model>``) or a panel (a list); ``runs`` the
    sides whose outputs the probes are built from (the first is the baseline). ``bound`` is
    the canary win rate above which the judge is ``gameable`` (C1: 10%); ``reference_judges``
    are judges of other families whose pointwise scores the self-preference check compares
    with; ``n_anchors`` baseline outputs form the anchor set; ``humans`` is a CSV/JSONL file of
    human labels (sample, rater, label, time) on the baseline's samples.

    ``confidence`` is the level of every check's interval. A certificate makes about six
    decisions that can raise a flag, so at 99% each (Bonferroni: 0.05 / 6 ≈ 0.0083) a clean
    judge gets a clean certificate at least 95% of the time.
    """

    judge: str | list[str]
    runs: Sequence[str]
    context: ScorerContext | None = None
    lineage: LineageRegistry | None = None
    name: str | None = None
    max_samples: int = 200
    canaries: Sequence[str] | None = None
    bound: float = 0.10
    reference_judges: Sequence[str] = ()
    scale: int = 10
    n_anchors: int = 50
    humans: Path | None = None
    style: str = "json"
    params: dict[str, Any] | None = None
    seed: int = 0
    concurrency: int = 16
    cache: bool = True
    confidence: float = 0.99

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.judge if isinstance(self.judge, str) else "+".join(self.judge)


@dataclass
class AuditResult:
    """The certificate and the runs that produced it."""

    certificate: JudgeCertificate
    pairwise_run_id: str
    pointwise_run_id: str | None
    n_samples: int
    warnings: list[str] = field(default_factory=list)
