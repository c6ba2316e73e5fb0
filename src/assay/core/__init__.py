"""The shared vocabulary of assay: samples, outputs, scores, results, manifests, hashes, errors.

Pure data: no I/O and no imports from the rest of assay, so any tool can depend on it.
"""

from assay.core.certificate import (
    BLOCKING_FLAGS,
    CheckResult,
    JudgeCertificate,
    anchor_fingerprint,
    judge_key,
)
from assay.core.errors import (
    AssayError,
    CassetteMissError,
    ConfigError,
    DatasetError,
    ProviderError,
    SpecError,
    StaleFixtureError,
    StoreError,
    SubjectError,
)
from assay.core.hashing import canonical_json, content_hash, text_hash
from assay.core.manifest import (
    DatasetManifest,
    EnvironmentManifest,
    JudgeChange,
    JudgeManifest,
    ManifestChange,
    RunManifest,
    ScorerManifest,
    SubjectManifest,
    diff_manifests,
    judge_changes,
)
from assay.core.output import ModelRequest, Output, Usage
from assay.core.result import SampleResult, Score
from assay.core.sample import Message, Provenance, Sample

__all__ = [
    "BLOCKING_FLAGS",
    "AssayError",
    "CassetteMissError",
    "CheckResult",
    "ConfigError",
    "DatasetError",
    "DatasetManifest",
    "EnvironmentManifest",
    "JudgeCertificate",
    "JudgeChange",
    "JudgeManifest",
    "ManifestChange",
    "Message",
    "ModelRequest",
    "Output",
    "Provenance",
    "ProviderError",
    "RunManifest",
    "Sample",
    "SampleResult",
    "Score",
    "ScorerManifest",
    "SpecError",
    "StaleFixtureError",
    "StoreError",
    "SubjectError",
    "SubjectManifest",
    "Usage",
    "anchor_fingerprint",
    "canonical_json",
    "content_hash",
    "diff_manifests",
    "judge_changes",
    "judge_key",
    "text_hash",
]
