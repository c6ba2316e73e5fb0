"""Eval smells (A5): what makes an eval set's numbers untrustworthy before any model runs.

>>> from assay.data import lint_dataset
>>> report = lint_dataset("qa.jsonl", store=store, spec=load_eval("eval.yaml"))
>>> report.fails("warning")  # what `assay data lint --strict` exits 1 on

One module per family of checks: :mod:`.duplicates` (exact and MinHash/LSH near duplicates),
:mod:`.outcomes` (saturated suite and samples, never-passed samples, from stored runs),
:mod:`.targets` (exact-string scorers on long targets), :mod:`.slices` (slices too small for a
useful effect), :mod:`.coverage` (no production-origin samples, no control set),
:mod:`.judges` (judge of a subject's model family) and :mod:`.kb` (stale RAG references).
"""

from assay.data.lint.context import LintSettings, SpecFacts, sample_locations
from assay.data.lint.coverage import is_control
from assay.data.lint.judges import spec_facts
from assay.data.lint.lint import SMELL_CODES, lint_dataset
from assay.data.lint.outcomes import RunOutcomes, run_outcomes
from assay.data.lint.report import CheckStatus, LintReport, Severity, Smell, SmellRow

__all__ = [
    "SMELL_CODES",
    "CheckStatus",
    "LintReport",
    "LintSettings",
    "RunOutcomes",
    "Severity",
    "Smell",
    "SmellRow",
    "SpecFacts",
    "is_control",
    "lint_dataset",
    "run_outcomes",
    "sample_locations",
    "spec_facts",
]
