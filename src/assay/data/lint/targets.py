"""Exact-string targets on long free-form answers (A5).

``exact`` (and ``includes``) compare the output with the target as a string. That is right for
a number, a label or a short name, and wrong for a target of several sentences: no model
reproduces a paragraph word for word, so the sample fails whatever the answer's quality, and
the metric measures phrasing luck. A sample is flagged when the eval grades it with an
exact-string scorer (kind ``exact`` or ``includes``, from the spec, else from the stored runs'
manifests) and one of its targets has more than ``long_target_words`` words.
"""

from __future__ import annotations

from assay.data.lint.context import CheckSkipped, LintContext
from assay.data.lint.report import Smell

EXACT_STRING_KINDS = frozenset({"exact", "includes"})


def _scorer_kinds(ctx: LintContext) -> tuple[set[str], str]:
    if ctx.spec is not None and ctx.spec.scorer_kinds:
        return set(ctx.spec.scorer_kinds), ctx.spec.source
    if ctx.outcomes is not None and ctx.outcomes.runs:
        kinds = {k for run in ctx.outcomes.runs for k in run.scorer_kinds.values()}
        return kinds, "the stored runs"
    raise CheckSkipped("no spec and no stored run says how the samples are scored")


def check_long_exact_targets(ctx: LintContext) -> list[Smell]:
    """``exact_match_long_target``: rules in the module docstring."""
    kinds, source = _scorer_kinds(ctx)
    exact = sorted(kinds & EXACT_STRING_KINDS)
    if not exact:
        return []
    limit = ctx.settings.long_target_words
    long_ones = []
    for sample in ctx.dataset:
        words = max((len(t.split()) for t in sample.targets), default=0)
        if words > limit:
            long_ones.append(ctx.row(sample, f"{words} words"))
    if not long_ones:
        return []
    return [
        Smell(
            code="exact_match_long_target",
            severity="warning",
            message=f"{len(long_ones)} sample(s) have targets longer than {limit} words but are "
            f"graded by exact-string scorer(s) {', '.join(exact)} (per {source})",
            fix="grade free-form answers with a rubric judge or a reference-guided scorer, or "
            "shorten the target to the fact that must appear",
            rows=tuple(long_ones),
            details={"scorers": exact, "long_target_words": limit},
        )
    ]
