"""PII stopped at the door (I1, I2): every span is redacted before its first write.

Placeholders are ``<EMAIL_1>``-style, as in the offline half (:mod:`assay.data.pii.redact`), and
stable within a trace: the same address is ``<EMAIL_1>`` in the prompt, the retrieved chunk and
the tool arguments, even when the spans of one trace arrive in different batches at different
receivers. That needs shared state, so the numbering lives in the store
(``trace_placeholders``), keyed by a keyed hash of the value — HMAC-SHA256 with the store's
redaction key (``ASSAY_REDACTION_KEY``, or a random key kept in ``store_settings``) — never by
the value. The writer loads a batch's numbering and writes new numbers in the same transaction
as the spans (:mod:`assay.trace.ingest`).

User ids that are themselves personal data (an email as the user id) become a pseudonym
``user-<hash>`` stable across traces, so per-user analyses still work.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from typing import Any

from assay.data.pii import detect
from assay.data.pii.base import Finding
from assay.data.pii.detectors import detect_each
from assay.data.pii.redact import Placeholders, _identity, _secret_key, redact_value
from assay.trace.model import SpanEvent, SpanRecord


class TracePlaceholders(Placeholders):
    """The placeholder table of one trace, seeded from and adding to the store's numbering.

    ``known`` maps ``(kind, value_hash)`` to the number already given in this trace; new
    assignments are collected in :attr:`new` for the writer to store.
    """

    def __init__(self, trace_id: str, key: bytes, known: dict[tuple[str, str], int]) -> None:
        super().__init__()
        self.trace_id = trace_id
        self._key = key
        self._known = dict(known)
        self.new: list[dict[str, Any]] = []
        for (kind, _hash), number in known.items():
            self._counts[kind] = max(self._counts[kind], number)

    def value_hash(self, kind: str, value: str) -> str:
        message = f"{kind}\x00{_identity(kind, value)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def placeholder(self, kind: str, value: str) -> str:
        digest = self.value_hash(kind, value)
        number = self._known.get((kind, digest))
        if number is None:
            self._counts[kind] += 1
            number = self._counts[kind]
            self._known[(kind, digest)] = number
            self.new.append(
                {"trace_id": self.trace_id, "kind": kind, "value_hash": digest, "number": number}
            )
        return f"<{kind}_{number}>"


def pseudonym(key: bytes, user_id: str | None) -> str | None:
    """``user_id`` unchanged when it holds no PII; otherwise ``user-<16 hex>`` (keyed hash)."""
    if not user_id or not detect(user_id):
        return user_id
    digest = hmac.new(key, f"user\x00{user_id.strip().lower()}".encode(), hashlib.sha256)
    return f"user-{digest.hexdigest()[:16]}"


#: Attributes that name things rather than carry text (models, providers, operations, SDK and
#: service identity): never in the span's detection pass, and scanned (in a second joined pass)
#: only when the span has something to redact. A model called
#: ``gpt-4o-mini-2024-07-18`` would otherwise wake every digit detector on every span.
NOT_TEXT_KEYS = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.system",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.response.finish_reasons",
        "llm.model_name",
        "llm.provider",
        "llm.system",
        "openinference.span.kind",
        "otel.scope.name",
        "service.name",
        "service.version",
        "service.instance.id",
        "telemetry.sdk.language",
        "telemetry.sdk.name",
        "telemetry.sdk.version",
    }
)


def _strings(
    value: Any, out: list[str], key: str | None = None, names: list[str] | None = None
) -> bool:
    """Append every string inside ``value`` to ``out`` (those under :data:`NOT_TEXT_KEYS` to
    ``names`` when given, else nowhere); True when one sits under a key named like a secret
    (``api_key``, ``password`` …), which redaction replaces whole."""
    if isinstance(value, str):
        out.append(value)
        return key is not None and _secret_key(key) and bool(value.strip())
    secret = False
    if isinstance(value, dict):
        for k, v in value.items():
            if k in NOT_TEXT_KEYS:
                if names is not None:
                    _strings(v, names, None, names)
                continue
            secret |= _strings(v, out, str(k), names)
    elif isinstance(value, (list, tuple)):
        for v in value:
            secret |= _strings(v, out, None, names)
    return secret


def _span_strings(span: SpanRecord) -> tuple[list[str], list[str], bool]:
    """The strings of ``span`` that decide whether it is redacted, the strings under
    :data:`NOT_TEXT_KEYS` (redacted with the rest when it is), and whether a string sits under a
    secret's key (then the span is redacted whatever the detectors find)."""
    texts: list[str] = []
    names: list[str] = []
    secret = _strings(span.input, texts, None, names) | _strings(span.output, texts, None, names)
    secret |= _strings(span.attributes, texts, None, names)
    secret |= _strings(span.resource, texts, None, names)
    secret |= _strings([span.status_message, span.name], texts, None, names)
    for doc in span.retrievals:
        secret |= _strings(doc.content, texts, None, names)
    for call in span.tool_calls:
        secret |= _strings(
            [call.arguments, call.result, call.error, call.idempotency_key], texts, None, names
        )
    for evaluation in span.evaluations:
        secret |= _strings(evaluation.explanation, texts, None, names)
    for event in span.events:
        secret |= _strings(event.body, texts, None, names)
        secret |= _strings(event.attributes, texts, None, names)
    return texts, names, secret


def _scan(texts: list[str], names: list[str], secret: bool) -> dict[str, list[Finding]] | None:
    """Every string's findings, by string, from one detection pass over ``texts`` joined, or
    ``None`` when there is nothing to redact (no finding and no ``secret``); ``names`` are
    scanned, in a second joined pass, only when there is.

    Most spans hold no PII, and running the ~25 detectors once per span instead of once per
    string (a span has dozens) is what keeps the receiver within its CPU budget
    (benchmarks/trace_ingest.py). The same pass gives the findings redaction replaces, so a
    span with PII is scanned once too, not once joined and again string by string.
    """
    findings = detect_each(texts)
    if not secret and not any(findings):
        return None
    known = dict(zip(texts, findings, strict=True))
    rest = [name for name in names if name not in known]
    known.update(zip(rest, detect_each(rest), strict=True))
    return known


def span_may_hold_pii(span: SpanRecord) -> bool:
    """Whether redaction can change ``span`` (one detection pass over all its strings)."""
    texts, _names, secret = _span_strings(span)
    return secret or any(detect_each(texts))


class SpanRedactor:
    """Redacts spans and events in place, one :class:`TracePlaceholders` per trace; counts
    findings per type for the batch's redaction report (never the values)."""

    def __init__(self, key: bytes, known: dict[str, dict[tuple[str, str], int]]) -> None:
        self._key = key
        self._known = known
        self.tables: dict[str, TracePlaceholders] = {}
        self.counts: Counter[str] = Counter()
        self._pseudonyms: dict[str, str] = {}

    def _pseudonym(self, value: str | None, kind: str) -> str | None:
        if not value:
            return value
        found = self._pseudonyms.get(value)
        if found is None:
            found = self._pseudonyms[value] = pseudonym(self._key, value) or value
        if found != value:
            self.counts[kind] += 1
        return found

    def _table(self, trace_id: str) -> TracePlaceholders:
        table = self.tables.get(trace_id)
        if table is None:
            table = TracePlaceholders(trace_id, self._key, self._known.get(trace_id, {}))
            self.tables[trace_id] = table
        return table

    def _value(self, value: Any, table: TracePlaceholders, known: dict[str, list[Finding]]) -> Any:
        if value is None or isinstance(value, (int, float, bool)):
            return value
        redacted, findings = redact_value(value, table, known=known)
        for finding in findings:
            self.counts[finding.type] += 1
        return redacted

    def span(self, span: SpanRecord) -> None:
        span.user_id = self._pseudonym(span.user_id, "USER_ID")
        span.session_id = self._pseudonym(span.session_id, "SESSION_ID")
        known = _scan(*_span_strings(span))
        if known is None:
            return
        table = self._table(span.trace_id)
        span.input = self._value(span.input, table, known)
        span.output = self._value(span.output, table, known)
        span.attributes = self._value(span.attributes, table, known)
        span.resource = self._value(span.resource, table, known)
        span.status_message = self._value(span.status_message, table, known)
        span.name = self._value(span.name, table, known)
        for doc in span.retrievals:
            doc.content = self._value(doc.content, table, known)
        for call in span.tool_calls:
            call.arguments = self._value(call.arguments, table, known)
            call.result = self._value(call.result, table, known)
            call.error = self._value(call.error, table, known)
            call.idempotency_key = self._value(call.idempotency_key, table, known)
        for evaluation in span.evaluations:
            evaluation.explanation = self._value(evaluation.explanation, table, known)
        for event in span.events:
            self._event(event, known)

    def event(self, event: SpanEvent) -> None:
        """Redact an event that arrived without its span (always, in one detection pass)."""
        texts: list[str] = []
        _strings([event.body, event.attributes], texts, None, texts)
        self._event(event, dict(zip(texts, detect_each(texts), strict=True)))

    def _event(self, event: SpanEvent, known: dict[str, list[Finding]]) -> None:
        table = self._table(event.trace_id)
        event.body = self._value(event.body, table, known)
        event.attributes = self._value(event.attributes, table, known)

    def new_rows(self) -> list[dict[str, Any]]:
        return [row for table in self.tables.values() for row in table.new]
