"""Canonical JSON and content hashes.

Ids of anything with content are the SHA-256 of its canonical JSON: keys sorted, no
insignificant whitespace, UTF-8, and floats written by Python's shortest round-trip repr, so
the same content always hashes the same whatever file format or process it came from. This is
the RFC 8785 (JSON Canonicalization Scheme) idea restricted to the values assay stores.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

#: Value types that are their own canonical JSON form (exact types: not subclasses).
CANONICAL_TYPES = frozenset((str, int, bool, type(None)))

#: :func:`canonical_json` of a value already in the form ``_normalise`` gives (exact ``str``,
#: ``int``, ``bool`` and ``None``, finite floats but whole ones below 2**53, lists, dicts with
#: ``str`` keys),
#: without that pass: ``json.dumps(value, sort_keys=True, separators=(",", ":"),
#: ensure_ascii=False)`` with its encoder built once (``json.dumps`` builds a new one on every
#: call that passes options).
encode_normal = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _normalise(value: Any) -> Any:
    # Exact-type fast paths first: this runs for every value of every sample that is hashed.
    kind = type(value)
    if kind in CANONICAL_TYPES:
        return value
    if kind is dict:
        return {str(k): _normalise(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_normalise(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("NaN and infinity have no canonical JSON form")
        # 1.0 and 1 are the same number; hash them the same.
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if hasattr(value, "model_dump"):
        return _normalise(value.model_dump(mode="json"))
    return value


def canonical_json(value: Any) -> str:
    """Serialise ``value`` to canonical JSON (sorted keys, compact separators, UTF-8 text)."""
    return encode_normal(_normalise(value))


def content_hash(value: Any, *, length: int = 64) -> str:
    """SHA-256 hex digest of ``canonical_json(value)``, optionally truncated to ``length``."""
    digest = hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
    return digest[:length]


def text_hash(text: str, *, length: int = 64) -> str:
    """SHA-256 hex digest of a text (a prompt template, a rubric)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
