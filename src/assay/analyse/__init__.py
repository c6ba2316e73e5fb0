"""Analyses: pure functions of what is in the store. Surfaces render what these return."""

from assay.analyse.compare import (
    CompareSettings,
    GroupComparison,
    MetricComparison,
    RunComparison,
    compare_runs,
    compare_scores,
    default_runs,
    pair_subjects,
)
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
from assay.analyse.plan import PairedPlan, ProportionPlan, plan_from_runs, plan_proportions
from assay.analyse.precision import FlakySample, MetricPrecision, run_precision
from assay.analyse.rag import RagSplitReport, ValiditySplit, split_by_kb_validity
from assay.analyse.replay import ReplayReport, compare_replay
from assay.analyse.scores import RunScores, load_scores
from assay.analyse.summary import MetricSummary, RunSummary, SubjectCounts, summarise_run
from assay.core import ManifestChange, diff_manifests

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
    "plan_proportions",
    "result_rows",
    "run_precision",
    "split_by_kb_validity",
    "summarise_run",
]
