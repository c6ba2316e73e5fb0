"""Findings: what an audit reports, in one shape for every audit.

The agent, corpus and privacy audits (``assay agents …``, ``assay jobs …``, ``assay corpus …``,
``assay privacy …``) each return a report whose ``findings`` are :class:`Finding` objects: a
stable ``code`` (``retry_duplication``, ``partial_completion``, ``conflict``…), a severity
(``fail`` makes the command exit 1, ``warn`` is printed but does not), a one-line message, the
fix, ``refs`` naming what it concerns (trace and span ids, document ids, a sink, a file:line)
and ``details`` with the figures behind it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["fail", "warn"]


@dataclass(frozen=True)
class Finding:
    """One problem an audit found (see the module docstring)."""

    code: str
    message: str
    severity: Severity = "fail"
    fix: str | None = None
    refs: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "refs": [finite(r) for r in self.refs],
            "details": finite(self.details),
        }


def failed(findings: Iterable[Finding]) -> bool:
    """Whether any finding is severe enough to fail a CI check."""
    return any(f.severity == "fail" for f in findings)


def finite(value: Any) -> Any:
    """A JSON-ready copy: NaN and infinities become ``None`` (strict JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
