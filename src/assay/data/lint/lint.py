"""``lint_dataset``: run every eval-smell check on one dataset and gather the report."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from assay.data.dataset import Dataset
from assay.data.kb_pinning import KbCheckReport, kb_check
from assay.data.lint.context import (
    CheckSkipped,
    LintContext,
    LintSettings,
    SpecFacts,
    sample_locations,
)
from assay.data.lint.coverage import check_control_set, check_museum
from assay.data.lint.duplicates import check_duplicates
from assay.data.lint.judges import check_judge_lineage, spec_facts
from assay.data.lint.kb import check_kb
from assay.data.lint.outcomes import check_run_outcomes, run_outcomes
from assay.data.lint.report import SEVERITIES, CheckStatus, LintReport, Smell
from assay.data.lint.slices import check_slice_power, slice_keys
from assay.data.lint.targets import check_long_exact_targets
from assay.data.loader import load_dataset

if TYPE_CHECKING:
    from assay.data.fields import FieldMap
    from assay.store import Store

Check = Callable[[LintContext], list[Smell]]

#: Every check, in report order, with the smell codes it can raise.
CHECKS: tuple[tuple[str, tuple[str, ...], Check], ...] = (
    ("duplicates", ("exact_duplicate", "near_duplicate"), check_duplicates),
    ("run_outcomes", ("saturated", "saturated_samples", "never_passed"), check_run_outcomes),
    ("exact_match_targets", ("exact_match_long_target",), check_long_exact_targets),
    ("slice_power", ("underpowered_slice",), check_slice_power),
    ("museum", ("museum",), check_museum),
    ("control_set", ("no_control_set",), lambda ctx: check_control_set(ctx, slice_keys(ctx))),
    ("judge_lineage", ("same_lineage_judge",), check_judge_lineage),
    ("kb", ("stale_kb_reference",), check_kb),
)
SMELL_CODES: tuple[str, ...] = tuple(code for _, codes, _ in CHECKS for code in codes)


def lint_dataset(
    dataset: Dataset | str | os.PathLike[str],
    *,
    settings: LintSettings | None = None,
    store: Store | None = None,
    spec: Any = None,
    kb: Mapping[str, str] | KbCheckReport | None = None,
    fields: FieldMap | dict[str, Any] | None = None,
    locations: Mapping[str, str] | None = None,
) -> LintReport:
    """Every eval smell of ``dataset`` (A5), worst first.

    ``dataset``: a :class:`Dataset`, or a file path (loaded with ``fields``; every smell then
    names its rows' ``file:line``; pass ``locations`` to give them for a Dataset).
    ``store``: an :class:`assay.store.Store` whose recent runs of the dataset feed the
    saturation, never-passed, scorer and judge checks. ``spec``: an :class:`assay.run.Eval`
    (or :class:`SpecFacts`) naming scorers, slices and judges. ``kb``: a corpus as
    :func:`assay.data.kb_pinning.read_corpus` returns it, or a ready ``kb_check`` report.
    A check without the input it needs is listed as not run, with the reason. Unknown codes in
    ``settings.skip`` raise ``ValueError``.
    """
    settings = settings or LintSettings()
    unknown = sorted(settings.skip - set(SMELL_CODES))
    if unknown:
        raise ValueError(f"unknown smell code(s) {', '.join(unknown)}; known: {SMELL_CODES}")
    if not isinstance(dataset, Dataset):
        path = dataset
        dataset = load_dataset(path, fields=fields)
        if locations is None:
            locations = sample_locations(path, dataset)
    facts = spec if isinstance(spec, SpecFacts) or spec is None else spec_facts(spec)
    kb_report = kb if kb is None or isinstance(kb, KbCheckReport) else kb_check(dataset, kb)
    ctx = LintContext(
        dataset=dataset,
        settings=settings,
        locations=dict(locations or {}),
        outcomes=None if store is None else run_outcomes(store, dataset, runs=settings.runs),
        spec=facts,
        kb=kb_report,
        store_reason="no store given: --db or ASSAY_DB" if store is None else None,
    )
    smells: list[Smell] = []
    statuses: list[CheckStatus] = []
    for name, codes, check in CHECKS:
        if set(codes) <= settings.skip:
            statuses.append(CheckStatus(name, False, "skipped (--skip)"))
            continue
        try:
            found = check(ctx)
        except CheckSkipped as skipped:
            statuses.append(CheckStatus(name, False, str(skipped)))
            continue
        statuses.append(CheckStatus(name, True))
        smells += [s for s in found if s.code not in settings.skip]
    order = {s: -i for i, s in enumerate(SEVERITIES)}
    smells.sort(key=lambda s: order[s.severity])  # stable: check order within a severity
    return LintReport(
        dataset=dataset.name,
        source=dataset.source,
        n_samples=len(dataset),
        content_hash=dataset.content_hash,
        smells=tuple(smells),
        checks=tuple(statuses),
        settings=settings.as_dict(),
    )
