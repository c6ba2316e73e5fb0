"""LLM judges: scorers that call a model (pointwise, reference-guided, pairwise, panels).

Judge calls go through the run's :meth:`~assay.run.Runner.call_model` (the runner binds each
judge before the run), so they are cached, paced and retried like every other call, and the
snapshots that answered are recorded in the manifest (C5).
"""

from assay.score.judges.base import JudgeCore, NotBoundError, aggregate_values
from assay.score.judges.endpoint import DirectCaller, JudgeEndpoint, ModelCaller
from assay.score.judges.independence import LineageWarning, judge_manifests, lineage_warnings
from assay.score.judges.logprobs import label_distribution
from assay.score.judges.pairwise import (
    PairwiseJudge,
    PairwiseJudgeSubject,
    PairwisePreference,
    PositionConsistency,
    pairwise_consistency,
    pairwise_preference,
)
from assay.score.judges.pointwise import PointwiseJudge, rubric
from assay.score.judges.prompts import JudgePrompt
from assay.score.judges.verdict import (
    Verdict,
    VerdictError,
    parse_verdict,
    pass_fail_normaliser,
    scale_normaliser,
    winner_normaliser,
)

__all__ = [
    "DirectCaller",
    "JudgeCore",
    "JudgeEndpoint",
    "JudgePrompt",
    "LineageWarning",
    "ModelCaller",
    "NotBoundError",
    "PairwiseJudge",
    "PairwiseJudgeSubject",
    "PairwisePreference",
    "PointwiseJudge",
    "PositionConsistency",
    "Verdict",
    "VerdictError",
    "aggregate_values",
    "judge_manifests",
    "label_distribution",
    "lineage_warnings",
    "pairwise_consistency",
    "pairwise_preference",
    "parse_verdict",
    "pass_fail_normaliser",
    "rubric",
    "scale_normaliser",
    "winner_normaliser",
]
