"""Judge independence (C3): does a judge share a model lineage with what it grades?

Judges are found on an eval's scorers and subjects (anything with ``judge_endpoints()``);
the graded systems are its model subjects and, for a pairwise judge run, the systems whose
outputs make up the pairs (a judge subject's ``graded`` list). Families come from the lineage
registry, asking the provider first (the simulated world knows its own families).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.core import JudgeManifest
from assay.providers.lineage import LineageRegistry, default_registry, model_families


@dataclass(frozen=True)
class LineageWarning:
    """``same_lineage_judge``: judge ``judge`` (model ``judge_model``) grades ``subject``
    (model ``subject_model``) and both belong to ``families``."""

    judge: str
    judge_model: str
    subject: str
    subject_model: str
    families: tuple[str, ...]

    flag = "same_lineage_judge"

    def describe(self) -> str:
        return (
            f"same_lineage_judge: judge {self.judge!r} ({self.judge_model}) grades "
            f"{self.subject!r} ({self.subject_model}); both are {', '.join(self.families)}"
        )


def _graded(ev: Any, registry: LineageRegistry) -> list[tuple[str, str, frozenset[str]]]:
    graded = []
    for subject in ev.subjects:
        model = getattr(subject, "model", None)
        if isinstance(model, str) and hasattr(subject, "provider"):
            families = model_families(model, subject.provider, registry)
            graded.append((subject.name, model, families))
        graded.extend(getattr(subject, "graded", []) or [])
    return graded


def _judges(ev: Any) -> list[tuple[str, Any]]:
    found = []
    for thing in (*ev.scorers, *ev.subjects):
        endpoints = getattr(thing, "judge_endpoints", None)
        if callable(endpoints):
            found.extend(endpoints())
    return found


def lineage_warnings(ev: Any) -> list[LineageWarning]:
    """Every (judge, graded system) pair of ``ev`` that shares a family."""
    registry = getattr(ev, "lineage", None) or default_registry()
    graded = _graded(ev, registry)
    warnings = []
    for owner, endpoint in _judges(ev):
        families = model_families(endpoint.model, endpoint.provider, registry)
        for subject, model, subject_families in graded:
            shared = families & subject_families
            if shared:
                warnings.append(
                    LineageWarning(owner, endpoint.ref, subject, model, tuple(sorted(shared)))
                )
    return warnings


def judge_manifests(ev: Any) -> list[JudgeManifest]:
    """The manifest entries of every judge in ``ev``, with family and same-lineage models."""
    registry = getattr(ev, "lineage", None) or default_registry()
    graded = _graded(ev, registry)
    manifests: list[JudgeManifest] = []
    for thing in (*ev.scorers, *ev.subjects):
        entries = getattr(thing, "judge_manifests", None)
        owners = getattr(thing, "judge_endpoints", None)
        if not callable(entries) or not callable(owners):
            continue
        for manifest, (_owner, endpoint) in zip(entries(), owners(), strict=True):
            families = model_families(endpoint.model, endpoint.provider, registry)
            same = [model for _s, model, fam in graded if fam & families]
            manifests.append(
                manifest.model_copy(
                    update={"family": sorted(families), "same_lineage": list(dict.fromkeys(same))}
                )
            )
    return manifests
