"""The shared vocabulary of assay: samples, outputs, scores, results, manifests, hashes, errors.

Pure data: no I/O and no imports from the rest of assay, so any tool can depend on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay._lazy import export_lazily

# Public names and the module that defines each, imported on first use: the command line
# needs AssayError long before it needs pydantic (the models), and `assay --help` needs
# neither.
_EXPORTS: dict[str, str] = {
    "BLOCKING_FLAGS": "assay.core.certificate",
    "CheckResult": "assay.core.certificate",
    "JudgeCertificate": "assay.core.certificate",
    "anchor_fingerprint": "assay.core.certificate",
    "judge_key": "assay.core.certificate",
    "AssayError": "assay.core.errors",
    "CassetteMissError": "assay.core.errors",
    "ConfigError": "assay.core.errors",
    "DatasetError": "assay.core.errors",
    "ProviderError": "assay.core.errors",
    "SpecError": "assay.core.errors",
    "StaleFixtureError": "assay.core.errors",
    "StoreError": "assay.core.errors",
    "SubjectError": "assay.core.errors",
    "canonical_json": "assay.core.hashing",
    "content_hash": "assay.core.hashing",
    "text_hash": "assay.core.hashing",
    "DatasetManifest": "assay.core.manifest",
    "EnvironmentManifest": "assay.core.manifest",
    "JudgeChange": "assay.core.manifest",
    "JudgeManifest": "assay.core.manifest",
    "ManifestChange": "assay.core.manifest",
    "RunManifest": "assay.core.manifest",
    "ScorerManifest": "assay.core.manifest",
    "SubjectManifest": "assay.core.manifest",
    "diff_manifests": "assay.core.manifest",
    "judge_changes": "assay.core.manifest",
    "ModelRequest": "assay.core.output",
    "Output": "assay.core.output",
    "Usage": "assay.core.output",
    "SampleResult": "assay.core.result",
    "Score": "assay.core.result",
    "Message": "assay.core.sample",
    "Provenance": "assay.core.sample",
    "Sample": "assay.core.sample",
}

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


export_lazily(__name__, _EXPORTS, __all__)

if TYPE_CHECKING:
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
