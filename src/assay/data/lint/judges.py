"""A judge of the same model family as a subject it grades (A5, C3).

Models prefer text that reads like their own (self-preference bias, Panickssery et al. 2024),
so a judge from the grader's own lineage inflates that subject's scores. The finding comes from
the spec (``--spec``: the lineage registry applied to its judges and model subjects, exactly as
``assay run`` checks before starting) and from the stored runs' manifests, which recorded the
check's result when each run was made (``same_lineage`` on a judge entry).
"""

from __future__ import annotations

from typing import Any

from assay.data.lint.context import CheckSkipped, LintContext, SpecFacts
from assay.data.lint.report import Smell


def spec_facts(ev: Any, source: str = "spec") -> SpecFacts:
    """The :class:`SpecFacts` of an :class:`assay.run.Eval`: scorer kinds, slices and the
    judge-lineage warnings of :func:`assay.score.judges.lineage_warnings`."""
    # Imported here: assay.score imports assay.data, so a module-level import would be circular.
    from assay.score.judges.independence import lineage_warnings

    kinds = tuple(getattr(s, "kind", None) or s.name for s in ev.scorers)
    lineage = tuple(
        (w.judge, w.judge_model, w.subject, w.subject_model, tuple(w.families))
        for w in lineage_warnings(ev)
    )
    return SpecFacts(
        scorer_kinds=kinds, slices=tuple(ev.slices), same_lineage=lineage, source=source
    )


def check_judge_lineage(ctx: LintContext) -> list[Smell]:
    """``same_lineage_judge``, one smell per judge: rules in the module docstring."""
    have_runs = ctx.outcomes is not None and bool(ctx.outcomes.runs)
    if ctx.spec is None and not have_runs:
        raise CheckSkipped("no spec and no stored run names the judges")
    findings: dict[str, dict[str, Any]] = {}
    if ctx.spec is not None:
        for judge, model, subject, subject_model, families in ctx.spec.same_lineage:
            entry = findings.setdefault(judge, {"model": model, "graded": {}, "from": set()})
            entry["graded"][subject_model] = {"subject": subject, "families": list(families)}
            entry["from"].add(ctx.spec.source)
    if ctx.outcomes is not None:
        for run in ctx.outcomes.runs:
            for judge, model, same in run.judges_same_lineage:
                entry = findings.setdefault(judge, {"model": model, "graded": {}, "from": set()})
                for subject_model in same:
                    entry["graded"].setdefault(subject_model, {"subject": None, "families": []})
                entry["from"].add(f"run {run.run_id}")
    smells = []
    for judge, entry in sorted(findings.items()):
        graded = entry["graded"]
        smells.append(
            Smell(
                code="same_lineage_judge",
                severity="warning",
                message=f"judge {judge!r} ({entry['model']}) is of the same model family as "
                f"what it grades: {', '.join(sorted(graded))}",
                fix="judge with a model from another family (or a panel across families), or "
                "audit self-preference with `assay judge` before trusting the scores",
                details={
                    "judge": judge,
                    "judge_model": entry["model"],
                    "graded": [{"model": m, **v} for m, v in sorted(graded.items())],
                    "found_in": sorted(entry["from"]),
                },
            )
        )
    return smells
