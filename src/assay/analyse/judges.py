"""Judge analyses: the flags a run's judges raise, and what a pairwise judge run found.

Both are pure functions of what is stored: flags read the manifests (C5 ``judge_changed``, C3
``same_lineage_judge``, recorded when the run was made with the lineage table in force then);
the pairwise report reads the judge run's stored verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.core import JudgeCertificate, JudgeManifest, RunManifest, judge_changes, judge_key
from assay.stats import Interval, mean_interval
from assay.store import Store


@dataclass(frozen=True)
class JudgeFlag:
    """A warning about a run's judges: ``judge_changed`` or ``same_lineage_judge``."""

    flag: str
    judge: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "judge": self.judge, "message": self.message, **self.details}


def judge_flags(manifest: RunManifest, previous: RunManifest | None = None) -> list[JudgeFlag]:
    """The judge flags of a run (and against ``previous``, when comparing two runs)."""
    flags = [
        JudgeFlag(
            "judge_changed",
            change.judge,
            change.describe(),
            {
                "reason": change.reason,
                "within_run": change.within_run,
                "before": change.before,
                "after": change.after,
            },
        )
        for change in judge_changes(manifest, previous)
    ]
    for judge in manifest.judges:
        if judge.same_lineage:
            flags.append(
                JudgeFlag(
                    "same_lineage_judge",
                    judge.name,
                    f"same_lineage_judge: judge {judge.name!r} ({judge.model}, "
                    f"{', '.join(judge.family)}) grades {', '.join(judge.same_lineage)} "
                    "from the same family",
                    {"family": judge.family, "graded": judge.same_lineage},
                )
            )
    return flags


@dataclass(frozen=True)
class PairwiseReport:
    """A pairwise judge run in numbers.

    ``wins_a``/``wins_b``/``ties`` count combined verdicts, ``errors`` pairs with no verdict
    (a failed call or an unparseable reply: never counted as a tie). ``preference_b`` is b's
    win rate with ties counted half, with its interval over pairs. ``consistency`` is the share
    of pairs whose two orders agreed; ``first_shown_wins`` the share of single-order verdicts
    that picked whichever output was shown first, among those that picked one (0.5 for a judge
    without position bias).
    """

    run_id: str
    a: str
    b: str
    judges: list[str]
    n_pairs: int
    wins_a: int
    wins_b: int
    ties: int
    errors: int
    preference_b: Interval
    consistency: float | None
    first_shown_wins: float | None
    n_single_verdicts: int

    def as_dict(self) -> dict[str, Any]:
        i = self.preference_b
        return {
            "run_id": self.run_id,
            "a": self.a,
            "b": self.b,
            "judges": self.judges,
            "n_pairs": self.n_pairs,
            "wins_a": self.wins_a,
            "wins_b": self.wins_b,
            "ties": self.ties,
            "errors": self.errors,
            "preference_b": {"estimate": i.estimate, "low": i.low, "high": i.high, "n": i.n},
            "consistency": self.consistency,
            "first_shown_wins": self.first_shown_wins,
            "n_single_verdicts": self.n_single_verdicts,
        }


def is_pairwise_run(manifest: RunManifest) -> bool:
    """Whether the run is a pairwise judge run."""
    return any(s.kind == "pairwise_judge" for s in manifest.subjects)


def pairwise_report(store: Store, run_id: str) -> PairwiseReport:
    """Summarise a stored pairwise judge run (see :class:`PairwiseReport`)."""
    manifest = store.get_manifest(run_id)
    subject = next((s for s in manifest.subjects if s.kind == "pairwise_judge"), None)
    if subject is None:
        raise ValueError(f"run {run_id} is not a pairwise judge run")
    sides = subject.config.get("sides", {})
    counts = {"a": 0, "b": 0, "tie": 0}
    errors = 0
    preferences: list[float] = []
    consistent: list[float] = []
    first = decided = 0
    for result in store.iter_results(run_id, subject.name):
        verdict = result.output.metadata.get("pairwise") if result.output is not None else None
        if not isinstance(verdict, dict) or "error" in verdict:
            errors += 1
            continue
        counts[verdict["winner"]] += 1
        preferences.append(float(verdict["preference"]))
        if verdict.get("consistency") is not None:
            consistent.append(float(verdict["consistency"]))
        for judge in verdict.get("judges", []):
            for single in judge.get("verdicts", []):
                label = single.get("label")
                if label in ("A", "B"):
                    decided += 1
                    first += label == "A"
    judges = [j.model for j in manifest.judges if j.name.split("[")[0] == subject.name]
    return PairwiseReport(
        run_id=run_id,
        a=str(sides.get("a", "a")),
        b=str(sides.get("b", "b")),
        judges=judges,
        n_pairs=len(preferences) + errors,
        wins_a=counts["a"],
        wins_b=counts["b"],
        ties=counts["tie"],
        errors=errors,
        preference_b=mean_interval(preferences),
        consistency=sum(consistent) / len(consistent) if consistent else None,
        first_shown_wins=first / decided if decided else None,
        n_single_verdicts=decided,
    )


@dataclass(frozen=True)
class JudgeStanding:
    """A run's judge and the newest certificate that describes it (``None``: never audited)."""

    judge: str
    model: str
    certificate: JudgeCertificate | None

    @property
    def blocking(self) -> list[str]:
        return self.certificate.blocking_flags if self.certificate is not None else []

    def describe(self) -> str:
        if self.certificate is None:
            return f"judge {self.judge!r} ({self.model}) has no audit certificate"
        return (
            f"judge {self.judge!r} ({self.model}): certificate {self.certificate.id} "
            f"({self.certificate.created_at:%Y-%m-%d}) is {self.certificate.status}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "model": self.model,
            "certificate": self.certificate.id if self.certificate else None,
            "status": self.certificate.status if self.certificate else "unaudited",
            "blocking": self.blocking,
        }


def certificate_for(
    judge: JudgeManifest, certificates: Sequence[JudgeCertificate]
) -> JudgeCertificate | None:
    """The newest certificate of ``judge``'s config: same judge key (model, prompt hash,
    parameters) first, else the newest certificate of the same requested model, since an audit
    measures the model behind a judge whichever assay prompt it was given."""
    key = judge_key(judge.model, judge.prompt_hash, judge.params)
    newest = sorted(certificates, key=lambda c: c.created_at, reverse=True)
    exact = next((c for c in newest if c.judge_key == key), None)
    return exact or next((c for c in newest if c.model == judge.model), None)


def judge_standings(store: Store, *manifests: RunManifest) -> list[JudgeStanding]:
    """The certificate standing of every judge of the given runs (one entry per model)."""
    certificates = store.list_certificates()
    seen: dict[str, JudgeStanding] = {}
    for manifest in manifests:
        for judge in manifest.judges:
            if judge.model in seen:
                continue
            seen[judge.model] = JudgeStanding(
                judge.name, judge.model, certificate_for(judge, certificates)
            )
    return list(seen.values())
