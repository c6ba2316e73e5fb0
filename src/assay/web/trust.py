"""Trust context for the pages: which judge certificate stands behind a run's judge numbers.

A run's manifest records every judge that produced its scores (:class:`~assay.core.JudgeManifest`:
model, prompt hash, parameters). :func:`assay.analyse.judges.certificate_for` finds the newest
stored certificate of that judge config (the same lookup ``assay compare`` and ``assay gate``
use), and a :class:`Badge` says in a few words whether it passed, which defects it found, or
that the judge was never audited. Pages show the badge wherever a judge's numbers appear, so a
win rate is never read without its judge's standing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.core import JudgeCertificate, RunManifest
from assay.store import Store


@dataclass(frozen=True)
class Badge:
    """One judge of a run and its certificate standing.

    ``judge`` is the judge's name in the manifest (the scorer or judge subject: ``quality``,
    ``quality[1]`` for a panel's second member), ``scorer`` that name without the panel index
    (the column its numbers appear in). ``tone`` is ``good`` (a clean certificate), ``bad`` (a
    failed check), or ``unknown`` (never audited); ``status`` the words shown: ``passes``,
    ``fails position, length bias``, ``no certificate``.
    """

    judge: str
    scorer: str
    model: str
    judge_key: str
    status: str
    tone: str
    certificate_id: str | None = None
    url: str | None = None
    flags: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    warnings: int = 0
    audited_at: str | None = None

    @property
    def title(self) -> str:
        """A one-line explanation for a tooltip."""
        if self.certificate_id is None:
            return (
                f"judge {self.judge} ({self.model}) has no audit certificate: "
                "run `assay audit judge` to measure its biases"
            )
        extra = f", {self.warnings} warning(s)" if self.warnings else ""
        return (
            f"judge {self.judge} ({self.model}): certificate {self.certificate_id} of "
            f"{self.audited_at} {self.status}{extra}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "scorer": self.scorer,
            "model": self.model,
            "judge_key": self.judge_key,
            "status": self.status,
            "tone": self.tone,
            "certificate_id": self.certificate_id,
            "url": self.url,
            "flags": list(self.flags),
            "blocking": list(self.blocking),
            "warnings": self.warnings,
            "audited_at": self.audited_at,
            "title": self.title,
        }


def describe_flags(flags: Sequence[str]) -> str:
    """Certificate flags in words, sharing a trailing "bias": ``["position_bias",
    "length_bias", "gameable"]`` → ``"position, length bias, gameable"``."""
    words = [f.replace("_", " ") for f in flags]
    biased = [k for k, w in enumerate(words) if w.endswith(" bias")]
    for k in biased[:-1]:
        words[k] = words[k][: -len(" bias")]
    return ", ".join(words)


def badge_for(judge: Any, certificate: JudgeCertificate | None) -> Badge:
    """The badge of one manifest judge with the certificate that describes it (or none)."""
    from assay.core import judge_key

    key = judge_key(judge.model, judge.prompt_hash, judge.params)
    scorer = judge.name.split("[")[0]
    if certificate is None:
        return Badge(judge.name, scorer, judge.model, key, "no certificate", "unknown")
    flags = certificate.flags
    return Badge(
        judge=judge.name,
        scorer=scorer,
        model=judge.model,
        judge_key=key,
        status=f"fails {describe_flags(flags)}" if flags else "passes",
        tone="bad" if flags else "good",
        certificate_id=certificate.id,
        url=f"/certificates/{certificate.id}",
        flags=list(flags),
        blocking=list(certificate.blocking_flags),
        warnings=sum(c.verdict == "warn" for c in certificate.checks),
        audited_at=f"{certificate.created_at:%Y-%m-%d}",
    )


def manifest_badges(manifest: RunManifest, certificates: Sequence[JudgeCertificate]) -> list[Badge]:
    """One badge per judge of ``manifest`` (in manifest order), matched to ``certificates``
    the way :func:`assay.analyse.judges.certificate_for` matches them: same judge key, else
    the newest certificate of the same model."""
    from assay.analyse.judges import certificate_for

    return [badge_for(j, certificate_for(j, certificates)) for j in manifest.judges]


def judge_badges(store: Store, run_id: str, manifest: RunManifest | None = None) -> list[Badge]:
    """The certificate badges of the judges that produced run ``run_id``'s judge scores; an
    empty list for a run without judges (``manifest``: the run's, when the caller has read it)."""
    manifest = manifest or store.get_manifest(run_id)
    if not manifest.judges:
        return []
    return manifest_badges(manifest, store.list_certificates())


def badges_by_scorer(badges: Sequence[Badge]) -> dict[str, list[Badge]]:
    """Badges grouped by the scorer column their judge's numbers appear in."""
    out: dict[str, list[Badge]] = {}
    for b in badges:
        out.setdefault(b.scorer, []).append(b)
    return out
