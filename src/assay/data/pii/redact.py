"""Redaction with stable placeholders (I2): ``bob@x.com`` becomes ``<EMAIL_1>``, and the same
value becomes the same placeholder everywhere in one record.

A *record* is whatever one :class:`Placeholders` object is used for: a sample, a result, a row
of a file, or a sample together with the results produced for it (pass the same object to
:func:`redact_sample` and :func:`redact_result` to keep one numbering across both, as a stored
trace needs). Values are compared after light normalisation (email case, the separators in
card, phone and IBAN numbers), so ``4111 1111 1111 1111`` and ``4111111111111111`` are the same
card. Placeholders already in the text are left alone and never reissued, so redacting twice
changes nothing.

For the runner: call :func:`redact_result` on each :class:`~assay.core.SampleResult` (and
:func:`redact_sample` on its sample) before it is written to the store when redaction is on.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assay.core.output import Output
from assay.core.result import SampleResult
from assay.core.sample import Message, Sample
from assay.data.pii.base import Detector, Finding
from assay.data.pii.detectors import detect

_EXISTING = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")


def _identity(kind: str, value: str) -> str:
    """The normalised value two mentions of the same thing share."""
    if kind == "EMAIL":
        return value.lower()
    if kind in ("PHONE", "CARD", "IBAN", "US_SSN", "UK_NINO"):
        return "".join(c for c in value if c.isalnum()).upper()
    if kind == "IP_ADDRESS":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    return value


class Placeholders:
    """The value → placeholder table of one record: ``<TYPE_N>``, numbered per type from 1 in
    order of first appearance."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()

    def reserve(self, text: str) -> None:
        """Never hand out a placeholder that ``text`` already contains."""
        for kind, number in _EXISTING.findall(text):
            self._counts[kind] = max(self._counts[kind], int(number))

    def placeholder(self, kind: str, value: str) -> str:
        """The placeholder for ``value`` of type ``kind`` (the same one every time)."""
        key = (kind, _identity(kind, value))
        found = self._by_value.get(key)
        if found is None:
            self._counts[kind] += 1
            found = self._by_value[key] = f"<{kind}_{self._counts[kind]}>"
        return found

    def __len__(self) -> int:
        return len(self._by_value)

    def mapping(self) -> dict[str, str]:
        """Placeholder → its (normalised) value; keep it secret, it undoes the redaction."""
        return {placeholder: value for (_kind, value), placeholder in self._by_value.items()}


def redact_text(
    text: str,
    placeholders: Placeholders | None = None,
    *,
    types: Iterable[str] | None = None,
    detectors: Sequence[Detector] | None = None,
    findings: list[Finding] | None = None,
) -> tuple[str, list[Finding]]:
    """``text`` with every finding replaced by its placeholder, and the findings.

    ``findings``: what :func:`detect` (with these ``types`` and ``detectors``) found in
    ``text`` already, if it was scanned (:func:`~assay.data.pii.detectors.detect_each` scans
    many texts in one pass); ``text`` is then not scanned again.
    """
    placeholders = placeholders if placeholders is not None else Placeholders()
    placeholders.reserve(text)
    if findings is None:
        findings = detect(text, types=types, detectors=detectors)
    if not findings:
        return text, findings
    pieces: list[str] = []
    position = 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(placeholders.placeholder(finding.type, finding.value))
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces), findings


_SECRET_KEYS = re.compile(
    r"(?i)^(?:.*(?:api[_\-]?key|apikey|secret|password|passwd|access[_\-]?key|private[_\-]?key"
    r"|auth[_\-]?token|access[_\-]?token|refresh[_\-]?token|client[_\-]?secret)|authorization)$"
)


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    """Whether ``key`` names a secret (cached: records repeat a few keys many times)."""
    return _SECRET_KEYS.match(key) is not None


class _Walker:
    """Redacts every string inside JSON-like values, with one placeholder table."""

    def __init__(
        self,
        placeholders: Placeholders,
        types: Iterable[str] | None,
        detectors: Sequence[Detector] | None,
        known: Mapping[str, list[Finding]] | None = None,
    ) -> None:
        self.placeholders = placeholders
        self.types = set(types) if types is not None else None
        self.detectors = detectors
        self.known = known
        self.located: list[tuple[str, Finding]] = []

    @property
    def findings(self) -> list[Finding]:
        return [finding for _path, finding in self.located]

    def text(self, value: str, path: str = "$") -> str:
        redacted, found = redact_text(
            value,
            self.placeholders,
            types=self.types,
            detectors=self.detectors,
            findings=self.known.get(value) if self.known is not None else None,
        )
        self.located.extend((path, f) for f in found)
        return redacted

    def value(self, value: Any, path: str = "", key: str | None = None) -> Any:
        if isinstance(value, str):
            if (
                key is not None
                and _secret_key(key)
                and value.strip()
                and (self.types is None or "SECRET" in self.types)
                and not _EXISTING.fullmatch(value.strip())
            ):
                # A value stored under a secret's name is a secret whatever it looks like.
                finding = Finding("SECRET", 0, len(value), value, "secret_field")
                self.located.append((path or "$", finding))
                return self.placeholders.placeholder("SECRET", value)
            return self.text(value, path or "$")
        if isinstance(value, dict):
            return {
                k: self.value(v, f"{path}.{k}" if path else str(k), str(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return tuple(self.value(v, f"{path}[{i}]") for i, v in enumerate(value))
        return value


def redact_value(
    value: Any,
    placeholders: Placeholders | None = None,
    *,
    types: Iterable[str] | None = None,
    detectors: Sequence[Detector] | None = None,
    known: Mapping[str, list[Finding]] | None = None,
) -> tuple[Any, list[Finding]]:
    """Redact every string inside a JSON-like value (dicts, lists, strings); a string under a
    key such as ``api_key``, ``password`` or ``authorization`` is replaced whole.

    ``known`` maps strings already scanned (with these ``types`` and ``detectors``) to their
    findings; those are not scanned again, any other string is."""
    walker = _Walker(
        placeholders if placeholders is not None else Placeholders(), types, detectors, known
    )
    return walker.value(value), walker.findings


def redact_record(
    value: Any,
    placeholders: Placeholders | None = None,
    *,
    types: Iterable[str] | None = None,
    detectors: Sequence[Detector] | None = None,
) -> tuple[Any, list[tuple[str, Finding]]]:
    """Like :func:`redact_value`, with each finding's field path (``messages[0].content``)."""
    walker = _Walker(placeholders if placeholders is not None else Placeholders(), types, detectors)
    return walker.value(value), walker.located


def redact_sample(
    sample: Sample,
    *,
    placeholders: Placeholders | None = None,
    types: Iterable[str] | None = None,
) -> Sample:
    """A copy of ``sample`` with PII redacted from its input (text or every message), targets
    and metadata. The id, cluster and provenance are left as they are (they are keys and
    bookkeeping, which must keep joining)."""
    walker = _Walker(placeholders if placeholders is not None else Placeholders(), types, None)
    if isinstance(sample.input, str):
        new_input: str | tuple[Message, ...] = walker.text(sample.input)
    else:
        new_input = tuple(
            Message(role=m.role, content=walker.text(m.content)) for m in sample.input
        )
    target = sample.target
    if isinstance(target, str):
        target = walker.text(target)
    elif isinstance(target, tuple):
        target = tuple(walker.text(t) for t in target)
    metadata = walker.value(sample.metadata)
    if not walker.findings:
        return sample
    return sample.model_copy(update={"input": new_input, "target": target, "metadata": metadata})


def redact_output(
    output: Output, *, placeholders: Placeholders | None = None, types: Iterable[str] | None = None
) -> Output:
    """A copy of ``output`` with PII redacted from its text, raw provider body and metadata."""
    walker = _Walker(placeholders if placeholders is not None else Placeholders(), types, None)
    text = walker.text(output.text)
    raw = walker.value(output.raw) if output.raw is not None else None
    metadata = walker.value(output.metadata)
    if not walker.findings:
        return output
    return output.model_copy(update={"text": text, "raw": raw, "metadata": metadata})


def redact_result(
    result: SampleResult,
    *,
    placeholders: Placeholders | None = None,
    types: Iterable[str] | None = None,
) -> SampleResult:
    """A copy of a result, redacted before it is stored: the output (text, raw body,
    metadata), every score's extracted answer, explanation, error and metadata, and the
    result's error message. Sample id, subject and numbers are untouched."""
    placeholders = placeholders if placeholders is not None else Placeholders()
    walker = _Walker(placeholders, types, None)
    output = result.output
    if output is not None:
        output = redact_output(output, placeholders=placeholders, types=types)
    scores = [
        score.model_copy(
            update={
                "answer": walker.text(score.answer) if score.answer is not None else None,
                "explanation": (
                    walker.text(score.explanation) if score.explanation is not None else None
                ),
                "error": walker.text(score.error) if score.error is not None else None,
                "metadata": walker.value(score.metadata),
            }
        )
        for score in result.scores
    ]
    error = walker.text(result.error) if result.error is not None else None
    return result.model_copy(update={"output": output, "scores": scores, "error": error})
