"""Analyses: pure functions of what is in the store. Surfaces render what these return."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay._lazy import export_lazily

# Each analysis is imported on first use: `assay show` needs the run summary, not the
# comparison, export or audit machinery.
_EXPORTS: dict[str, str] = {
    "CompareSettings": "assay.analyse.compare",
    "GroupComparison": "assay.analyse.compare",
    "MetricComparison": "assay.analyse.compare",
    "RunComparison": "assay.analyse.compare",
    "compare_runs": "assay.analyse.compare",
    "default_runs": "assay.analyse.compare",
    "pair_subjects": "assay.analyse.compare",
    "compare_scores": "assay.analyse.compare_data",
    "FORMATS": "assay.analyse.export",
    "export_run": "assay.analyse.export",
    "result_rows": "assay.analyse.export",
    "GateCheck": "assay.analyse.gate",
    "GateResult": "assay.analyse.gate",
    "gate": "assay.analyse.gate",
    "JudgeFlag": "assay.analyse.judges",
    "JudgeStanding": "assay.analyse.judges",
    "PairwiseReport": "assay.analyse.judges",
    "certificate_for": "assay.analyse.judges",
    "is_pairwise_run": "assay.analyse.judges",
    "judge_flags": "assay.analyse.judges",
    "judge_standings": "assay.analyse.judges",
    "pairwise_report": "assay.analyse.judges",
    "PairedPlan": "assay.analyse.plan",
    "ProportionPlan": "assay.analyse.plan",
    "VariancePlan": "assay.analyse.plan",
    "plan_from_runs": "assay.analyse.plan",
    "plan_paired": "assay.analyse.plan",
    "plan_proportions": "assay.analyse.plan",
    "FlakySample": "assay.analyse.precision",
    "MetricPrecision": "assay.analyse.precision",
    "run_precision": "assay.analyse.precision",
    "RagSplitReport": "assay.analyse.rag",
    "ValiditySplit": "assay.analyse.rag",
    "split_by_kb_validity": "assay.analyse.rag",
    "ReplayReport": "assay.analyse.replay",
    "compare_replay": "assay.analyse.replay",
    "RunScores": "assay.analyse.scores",
    "load_scores": "assay.analyse.scores",
    "MetricSummary": "assay.analyse.summary",
    "RunSummary": "assay.analyse.summary",
    "SubjectCounts": "assay.analyse.summary",
    "summarise_run": "assay.analyse.summary",
    "ManifestChange": "assay.core",
    "diff_manifests": "assay.core",
}

__all__ = [
    "FORMATS",
    "CompareSettings",
    "FlakySample",
    "GateCheck",
    "GateResult",
    "GroupComparison",
    "JudgeFlag",
    "JudgeStanding",
    "ManifestChange",
    "MetricComparison",
    "MetricPrecision",
    "MetricSummary",
    "PairedPlan",
    "PairwiseReport",
    "ProportionPlan",
    "RagSplitReport",
    "ReplayReport",
    "RunComparison",
    "RunScores",
    "RunSummary",
    "SubjectCounts",
    "ValiditySplit",
    "VariancePlan",
    "certificate_for",
    "compare_replay",
    "compare_runs",
    "compare_scores",
    "default_runs",
    "diff_manifests",
    "export_run",
    "gate",
    "is_pairwise_run",
    "judge_flags",
    "judge_standings",
    "load_scores",
    "pair_subjects",
    "pairwise_report",
    "plan_from_runs",
    "plan_paired",
    "plan_proportions",
    "result_rows",
    "run_precision",
    "split_by_kb_validity",
    "summarise_run",
]

export_lazily(__name__, _EXPORTS, __all__)

if TYPE_CHECKING:
    from assay.analyse.compare import (
        CompareSettings,
        GroupComparison,
        MetricComparison,
        RunComparison,
        compare_runs,
        default_runs,
        pair_subjects,
    )
    from assay.analyse.compare_data import compare_scores
    from assay.analyse.export import FORMATS, export_run, result_rows
    from assay.analyse.gate import GateCheck, GateResult, gate
    from assay.analyse.judges import (
        JudgeFlag,
        JudgeStanding,
        PairwiseReport,
        certificate_for,
        is_pairwise_run,
        judge_flags,
        judge_standings,
        pairwise_report,
    )
    from assay.analyse.plan import (
        PairedPlan,
        ProportionPlan,
        VariancePlan,
        plan_from_runs,
        plan_paired,
        plan_proportions,
    )
    from assay.analyse.precision import FlakySample, MetricPrecision, run_precision
    from assay.analyse.rag import RagSplitReport, ValiditySplit, split_by_kb_validity
    from assay.analyse.replay import ReplayReport, compare_replay
    from assay.analyse.scores import RunScores, load_scores
    from assay.analyse.summary import MetricSummary, RunSummary, SubjectCounts, summarise_run
    from assay.core import ManifestChange, diff_manifests
