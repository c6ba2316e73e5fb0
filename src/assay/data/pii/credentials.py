"""Detectors for API keys, tokens and private keys (type ``SECRET``).

Most credentials announce themselves with a documented prefix (``sk-``, ``AKIA``, ``ghp_``,
``xoxb-``, ``eyJ`` for a JWT, a PEM ``BEGIN … PRIVATE KEY`` line); those are matched by shape.
Others only show up as a value assigned to a name like ``api_key`` or ``password``: those are
accepted when the value looks random (length, mixed character classes, Shannon entropy) and is
not an obvious placeholder (``<your-key>``, ``xxxx``, ``${TOKEN}``, ``os.environ[...]``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter

from assay.data.pii.base import PatternDetector, Validator


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def looks_random(value: str, *, min_length: int = 16, min_entropy: float = 3.0) -> bool:
    """Whether ``value`` looks like a generated secret rather than a word or an identifier."""
    if len(value) < min_length or _classes(value) < 2:
        return False
    return shannon_entropy(value) >= min_entropy


#: Values that stand in for a secret. Words count only standing alone (``YOUR_KEY``,
#: ``sk-your-key``), not inside random text, where "dummy" turns up by chance.
_PLACEHOLDER = re.compile(
    r"(?i)x{4,}|\*{3,}|\.{3}|"
    r"(?<![a-z])(?:your|example|placeholder|changeme|dummy|redacted|sample|insert|replace)"
    r"(?![a-z])|^<|>$|^\$|^%|^\{|\}$|^null$|^none$|^true$|^false$|environ|getenv"
)


def _keyed(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    key = match.group("key").lower()
    value = match.group("value")
    if _PLACEHOLDER.search(value):
        return None
    if re.search(r"pass|pwd", key):
        # Passwords are short and human-made: accept any non-placeholder with two classes.
        if len(value) < 8 or _classes(value) < 2:
            return None
    elif not looks_random(value):
        return None
    return match.span("value")


def _jwt(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    header = match.group(0).split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(decoded, dict) or not ({"alg", "typ", "kid", "enc"} & decoded.keys()):
        return None
    return match.span(0)


def _random_body(start_group: str) -> Validator:
    def validate(match: re.Match[str], _text: str) -> tuple[int, int] | None:
        body = match.group(start_group)
        if _PLACEHOLDER.search(body) or not looks_random(body, min_length=20, min_entropy=3.2):
            return None
        # Generated keys mix letters and digits; "sk-this-is-not-a-real-key" does not.
        if not (any(c.isdigit() for c in body) and any(c.isalpha() for c in body)):
            return None
        return match.span(0)

    return validate


def _detectors() -> tuple[PatternDetector, ...]:
    key_names = (
        r"(?:api[_\-]?key|apikey|secret|token|passw(?:or)?d|pwd|access[_\-]?key|private[_\-]?key"
        r"|client[_\-]?secret|auth[_\-]?key|credentials?|bearer)"
    )
    keyed = re.compile(
        r"(?i)(?<![\w])(?P<key>[\w.\-]*" + key_names + r"[\w.\-]*)[\"']?\s*(?::=|=>|:|=)\s*"
        r"(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;()\[\]{}<>]{6,})(?P=quote)"
    )
    bearer = re.compile(r"(?i)\bauthorization\s*:\s*bearer\s+(?P<value>[A-Za-z0-9._~+/\-]{16,}=*)")
    return (
        PatternDetector(
            "SECRET",
            "private_key",
            re.compile(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"
            ),
            priority=100,
            keywords=("private key",),
        ),
        PatternDetector(
            "SECRET",
            "anthropic_key",
            re.compile(r"(?<![\w\-])sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{32,}"),
            priority=99,
            keywords=("sk-ant-",),
        ),
        PatternDetector(
            "SECRET",
            "openai_key",
            re.compile(
                r"(?<![\w\-])sk-(?:(?:proj|svcacct|admin|None)-)?(?P<body>[A-Za-z0-9_\-]{20,})"
                r"(?![\w\-])"
            ),
            _random_body("body"),
            priority=98,
            keywords=("sk-",),
        ),
        PatternDetector(
            "SECRET",
            "aws_access_key_id",
            re.compile(
                r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA)"
                r"[A-Z0-9]{16}(?![A-Za-z0-9])"
            ),
            priority=98,
            keywords=(
                "akia",
                "asia",
                "abia",
                "acca",
                "aida",
                "aroa",
                "aipa",
                "anpa",
                "anva",
                "agpa",
            ),
        ),
        PatternDetector(
            "SECRET",
            "github_token",
            re.compile(
                r"(?<![\w])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,250})(?!\w)"
            ),
            priority=98,
            keywords=("gh", "github_pat_"),
        ),
        PatternDetector(
            "SECRET",
            "slack_token",
            re.compile(r"(?<![\w\-])xox[abposre]-[A-Za-z0-9]+(?:-[A-Za-z0-9]+){1,5}(?![\w\-])"),
            _random_body_slack,
            priority=98,
            keywords=("xox",),
        ),
        PatternDetector(
            "SECRET",
            "slack_webhook",
            re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
            priority=98,
            keywords=("hooks.slack.com",),
        ),
        PatternDetector(
            "SECRET",
            "google_api_key",
            re.compile(r"(?<![\w\-])AIza[0-9A-Za-z_\-]{35}(?![\w\-])"),
            priority=98,
            keywords=("aiza",),
        ),
        PatternDetector(
            "SECRET",
            "stripe_key",
            re.compile(r"(?<![\w])(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}(?!\w)"),
            priority=98,
            keywords=("_live_", "_test_"),
        ),
        PatternDetector(
            "SECRET",
            "jwt",
            re.compile(
                r"(?<![\w\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
                r"(?![\w\-])"
            ),
            _jwt,
            priority=97,
            keywords=("eyj",),
        ),
        PatternDetector(
            "SECRET", "bearer_token", bearer, _bearer, priority=96, keywords=("bearer",)
        ),
        PatternDetector(
            "SECRET",
            "assigned_secret",
            keyed,
            _keyed,
            priority=95,
            keywords=("key", "secret", "token", "pass", "pwd", "credential", "bearer"),
            # Every match has an assignment (":", "=", ":=" or "=>"); a text without one skips
            # the pattern, whose leading [\w.-]* backtracks through every word.
            prefilter=re.compile(r"[:=]"),
        ),
    )


def _random_body_slack(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    body = match.group(0)[5:]
    if _PLACEHOLDER.search(body) or len(body.replace("-", "")) < 20:
        return None
    return match.span(0)


def _bearer(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    value = match.group("value")
    if _PLACEHOLDER.search(value) or not looks_random(value, min_length=16, min_entropy=3.0):
        return None
    return match.span("value")


SECRET_DETECTORS = _detectors()
