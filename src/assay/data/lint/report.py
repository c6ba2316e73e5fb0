"""What ``assay data lint`` finds: smells, the rows each concerns, and the report holding them.

A :class:`Smell` is one finding: a stable ``code`` users filter on (``near_duplicate``,
``museum`` …), a ``severity``, a message saying what is wrong, a ``fix`` saying what to do, the
rows it concerns (sample id and ``file:line`` where the dataset came from a file) and
check-specific ``details``. A :class:`LintReport` holds every smell plus the checks that ran and
the ones that could not (with the reason: no store, no spec, no corpus), so a clean report is
never mistaken for a report that checked nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def severity_at_least(severity: Severity, floor: Severity) -> bool:
    """Whether ``severity`` is ``floor`` or worse (``info`` < ``warning`` < ``error``)."""
    return _RANK[severity] >= _RANK[floor]


@dataclass(frozen=True)
class SmellRow:
    """One sample a smell concerns: its id, ``file:line`` when known, and a short note."""

    sample_id: str
    where: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"sample_id": self.sample_id, "where": self.where, "note": self.note}


@dataclass(frozen=True)
class Smell:
    """One finding of one check (see the module docstring)."""

    code: str
    severity: Severity
    message: str
    fix: str
    rows: tuple[SmellRow, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_ids(self) -> list[str]:
        """The ids of the rows, in order."""
        return [r.sample_id for r in self.rows]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (the ``--json`` form of one smell)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "rows": [r.as_dict() for r in self.rows],
            "details": self.details,
        }


@dataclass(frozen=True)
class CheckStatus:
    """Whether one family of checks ran; ``reason`` says why not when it did not."""

    check: str
    ran: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"check": self.check, "ran": self.ran, "reason": self.reason}


@dataclass(frozen=True)
class LintReport:
    """Every smell found in one dataset, worst first, and which checks ran."""

    dataset: str
    source: str | None
    n_samples: int
    content_hash: str
    smells: tuple[Smell, ...]
    checks: tuple[CheckStatus, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def codes(self) -> list[str]:
        """The distinct smell codes found, in report order."""
        return list(dict.fromkeys(s.code for s in self.smells))

    def by_code(self, code: str) -> list[Smell]:
        """The smells with ``code``."""
        return [s for s in self.smells if s.code == code]

    def counts(self) -> dict[str, int]:
        """Smells per severity (every severity, zeros included)."""
        counts = Counter(s.severity for s in self.smells)
        return {s: counts.get(s, 0) for s in SEVERITIES}

    def worst(self) -> Severity | None:
        """The highest severity found, or ``None`` for a clean report."""
        if not self.smells:
            return None
        return max((s.severity for s in self.smells), key=_RANK.__getitem__)

    def fails(self, floor: Severity = "warning") -> bool:
        """Whether any smell is at ``floor`` or worse (what ``--strict`` exits 1 on)."""
        return any(severity_at_least(s.severity, floor) for s in self.smells)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` form: dataset, settings, checks, counts and smells."""
        return {
            "dataset": {
                "name": self.dataset,
                "source": self.source,
                "n_samples": self.n_samples,
                "content_hash": self.content_hash,
            },
            "settings": self.settings,
            "checks": [c.as_dict() for c in self.checks],
            "counts": self.counts(),
            "smells": [s.as_dict() for s in self.smells],
        }
