"""RAG samples whose knowledge-base references are stale (A5, F1).

A RAG sample's target was written from its gold documents (metadata ``gold_docs``: id →
content hash, :mod:`assay.data.kb_pinning`). When the corpus given with ``--kb`` no longer has
one of them (``gold_missing``) or has a different text (``gold_changed``), the target may be
wrong for the current knowledge base: a model answering from the new documents is marked
wrong. Missing gold documents are an ``error`` (the answer cannot be grounded at all), changed
ones a ``warning`` (re-check the target).
"""

from __future__ import annotations

from assay.data.lint.context import CheckSkipped, LintContext
from assay.data.lint.report import Smell


def check_kb(ctx: LintContext) -> list[Smell]:
    """``stale_kb_reference``: one smell per status (rules in the module docstring)."""
    report = ctx.kb
    if report is None:
        raise CheckSkipped("no knowledge-base corpus given: --kb CORPUS")
    if report.counts()["unpinned"] == len(report.samples):
        raise CheckSkipped("no sample pins gold documents (metadata gold_docs)")
    smells = []
    for status, severity, what in (
        ("gold_missing", "error", "are gone from"),
        ("gold_changed", "warning", "changed in"),
    ):
        stale = [s for s in report if s.status == status]
        if not stale:
            continue
        rows = tuple(
            ctx.row(s.sample_id, f"{status}: {', '.join(s.missing or s.changed)}") for s in stale
        )
        smells.append(
            Smell(
                code="stale_kb_reference",
                severity=severity,  # type: ignore[arg-type]
                message=f"{len(stale)} RAG sample(s) cite gold documents that {what} the "
                "knowledge base",
                fix="re-author those targets against the current documents and re-pin them "
                "(`assay data kb-check` lists them), or score them apart from valid samples",
                rows=rows,
                details={"status": status},
            )
        )
    return smells
