"""Privacy assurance: the sink registry and the privacy-mode conformance test (I4), and
retention conformance (I5)."""

from assay.privacy.conformance import PrivacyReport, PrivacySpec, check_privacy, load_privacy_spec
from assay.privacy.retention import RetentionReport, check_retention, retention_conformance
from assay.privacy.sinks import SinkDecl, scan_sink, variants

__all__ = [
    "PrivacyReport",
    "PrivacySpec",
    "RetentionReport",
    "SinkDecl",
    "check_privacy",
    "check_retention",
    "load_privacy_spec",
    "retention_conformance",
    "scan_sink",
    "variants",
]
