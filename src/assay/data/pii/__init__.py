"""PII detection and redaction (I1-I3).

>>> from assay.data.pii import detect, redact_text
>>> redact_text("mail bob@x.com, again bob@x.com")[0]
'mail <EMAIL_1>, again <EMAIL_1>'

Detectors are regular expressions with validators (Luhn for cards, mod 97 for IBANs, issuing
rules for US SSNs and UK NINOs, address syntax for IPs, documented prefixes and entropy for
secrets); :func:`detect` takes your own detectors too. :func:`redact_sample` and
:func:`redact_result` redact assay's models (the runner calls ``redact_result`` before storing a
result when redaction is on); :func:`scan_file`, :func:`redact_file` and :func:`pii_gate` work on
JSONL, CSV, Parquet and text files of any size.
"""

from assay.data.pii.base import Detector, Finding, PatternDetector
from assay.data.pii.checksums import (
    card_valid,
    iban_valid,
    luhn_valid,
    uk_nino_valid,
    us_ssn_valid,
)
from assay.data.pii.credentials import looks_random, shannon_entropy
from assay.data.pii.detectors import DEFAULT_DETECTORS, PII_TYPES, detect
from assay.data.pii.files import (
    PiiFinding,
    PiiGateError,
    PiiReport,
    pii_gate,
    redact_file,
    scan_file,
)
from assay.data.pii.redact import (
    Placeholders,
    redact_output,
    redact_record,
    redact_result,
    redact_sample,
    redact_text,
    redact_value,
)

__all__ = [
    "DEFAULT_DETECTORS",
    "PII_TYPES",
    "Detector",
    "Finding",
    "PatternDetector",
    "PiiFinding",
    "PiiGateError",
    "PiiReport",
    "Placeholders",
    "card_valid",
    "detect",
    "iban_valid",
    "looks_random",
    "luhn_valid",
    "pii_gate",
    "redact_file",
    "redact_output",
    "redact_record",
    "redact_result",
    "redact_sample",
    "redact_text",
    "redact_value",
    "scan_file",
    "shannon_entropy",
    "uk_nino_valid",
    "us_ssn_valid",
]
