"""The judge audit: a battery of checks that treats an LLM judge as a measuring instrument and
records a calibration certificate (:class:`~assay.core.JudgeCertificate`) per judge config.

Pure check functions (arrays in, :class:`~assay.core.CheckResult` out) live in one module per
family of defects; :mod:`assay.audit.battery` runs a judge through them and stores the
certificate.
"""

# --- pure checks: canaries (C1), position bias, length bias (C2) ---------------------------
from assay.audit.canaries import (
    CANARIES,
    DEFAULT_DELIMITERS,
    INJECTION_CANARIES,
    STRUCTURAL_FLAGS,
    canary_check,
    canary_outputs,
    defence_check,
    pad_text,
    structural_flags,
    template_delimiters_in,
)
from assay.audit.length import length_check, verbosity_check
from assay.audit.position import bias_verdict, identical_pair_check, position_checks

__all__ = [
    "CANARIES",
    "DEFAULT_DELIMITERS",
    "INJECTION_CANARIES",
    "STRUCTURAL_FLAGS",
    "bias_verdict",
    "canary_check",
    "canary_outputs",
    "defence_check",
    "identical_pair_check",
    "length_check",
    "pad_text",
    "position_checks",
    "structural_flags",
    "template_delimiters_in",
    "verbosity_check",
]
# --- end of the canary/position/length block -------------------------------------------------

# --- pure checks: self-preference (C3, C4), drift (C5-C7), humans (C8), panels (C9, B5) -----
from assay.audit.drift import (
    ExchangeRate,
    InstrumentDriftReport,
    SliceDelta,
    SliceRate,
    anchor_drift_check,
    anchor_fingerprint,
    exchange_rate,
    instrument_drift,
)
from assay.audit.humans import (
    DriftAttribution,
    HumanLabel,
    PeriodAgreement,
    RaterAgreement,
    RaterPeriod,
    Shift,
    agreement_by_period,
    agreement_by_rater,
    attribute_drift,
    human_agreement_check,
    labels_by_period,
    load_human_labels,
    period_of,
)
from assay.audit.panels import panel_check, panel_errors
from assay.audit.self_preference import (
    LineagePair,
    WelchDifference,
    lineage_check,
    lineage_pairs,
    self_preference_check,
    welch_difference,
)

__all__ += [
    "DriftAttribution",
    "ExchangeRate",
    "HumanLabel",
    "InstrumentDriftReport",
    "LineagePair",
    "PeriodAgreement",
    "RaterAgreement",
    "RaterPeriod",
    "Shift",
    "SliceDelta",
    "SliceRate",
    "WelchDifference",
    "agreement_by_period",
    "agreement_by_rater",
    "anchor_drift_check",
    "anchor_fingerprint",
    "attribute_drift",
    "exchange_rate",
    "human_agreement_check",
    "instrument_drift",
    "labels_by_period",
    "lineage_check",
    "lineage_pairs",
    "load_human_labels",
    "panel_check",
    "panel_errors",
    "period_of",
    "self_preference_check",
    "welch_difference",
]
# --- end of the self-preference/drift/humans/panels block -----------------------------------
