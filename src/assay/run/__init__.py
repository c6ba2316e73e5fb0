"""The engine: subjects × samples × epochs into the store, paced, retried, cached, resumable."""

from assay.run.accounting import Accounting, PriceTable
from assay.run.cache import CacheOnlyProvider, cache_namespace
from assay.run.evaluation import Eval
from assay.run.gateway import CallPolicy, Gateway
from assay.run.prompt import PromptTemplate
from assay.run.recording import record_to, replay_from
from assay.run.replay import StoredOutputsSubject, replay_eval
from assay.run.runner import (
    Progress,
    Runner,
    RunOptions,
    RunOutcome,
    build_manifest,
    new_run_id,
    run,
    run_async,
    spec_hash,
)
from assay.run.spec import EvalSpec, eval_from_spec, eval_from_yaml_text, load_eval, parse_spec
from assay.run.subjects import (
    CallableSubject,
    HttpSubject,
    ModelSubject,
    PrecomputedSubject,
    Subject,
)

__all__ = [
    "Accounting",
    "CacheOnlyProvider",
    "CallPolicy",
    "CallableSubject",
    "Eval",
    "EvalSpec",
    "Gateway",
    "HttpSubject",
    "ModelSubject",
    "PrecomputedSubject",
    "PriceTable",
    "Progress",
    "PromptTemplate",
    "RunOptions",
    "RunOutcome",
    "Runner",
    "StoredOutputsSubject",
    "Subject",
    "build_manifest",
    "cache_namespace",
    "eval_from_spec",
    "eval_from_yaml_text",
    "load_eval",
    "new_run_id",
    "parse_spec",
    "record_to",
    "replay_eval",
    "replay_from",
    "run",
    "run_async",
    "spec_hash",
]
