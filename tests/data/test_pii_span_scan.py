"""One detection pass per traced span: ``detect_each`` finds exactly what ``detect`` finds text by
text, and the receiver's redactor scans a span's strings once, PII or not."""

from __future__ import annotations

import copy
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from assay.data.pii import PatternDetector, detect, redact_value
from assay.data.pii.detectors import JOIN, detect_each
from assay.trace.model import SpanEvent, SpanRecord, ToolCall
from assay.trace.redact import SpanRedactor, TracePlaceholders

KEY = b"k" * 32

#: Pieces that sit at a text's edges on purpose: a secret's key at the end of one text and a
#: value at the start of the next, an unterminated private key, an IP after "version", digits
#: either side of a join, the join itself inside a text.
FRAGMENTS = [
    "mail bob@example.com please",
    "call +44 20 7946 0958 today",
    "(415) 555-2671",
    "card 4111 1111 1111 1111",
    "4111111111111111",
    "IBAN GB82 WEST 1234 5698 7654 32",
    "SSN 123-45-6789, ssn: 078-05-1120, ssn 219 09 9999",
    "my ssn is",
    "NINO AB 12 34 56 C",
    "server 192.168.10.42 and fe80::1ff:fe23:4567:890a",
    "version",
    "10.0.0.1",
    "api_key=",
    "sN8f2kQ9xLm4Zp7Rt1Vw",
    "password: ",
    "hunter2Hunter!",
    "token:",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA",
    "-----END RSA PRIVATE KEY-----",
    "authorization: bearer",
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv",
    "123",
    "456789",
    "+",
    "33 1 23 45 67 89",
    "01 23 45 67 89",
    JOIN,
    "\x00",
    "\n",
    " ",
    "",
    "plain words with nothing to find",
    "order 2024-07-18 id 55512",
]


def texts(rng: random.Random) -> list[str]:
    return [
        "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 4)))
        for _ in range(rng.randint(0, 8))
    ]


@pytest.mark.parametrize("seed", range(40))
def test_detect_each_is_detect_text_by_text(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        batch = texts(rng)
        assert detect_each(batch) == [detect(text) for text in batch]


def test_detect_each_edges() -> None:
    assert detect_each([]) == []
    assert detect_each(["", ""]) == [[], []]
    # A value after a secret's key in the next text, digits on both sides of the join.
    for batch in (
        ["api_key=", "sN8f2kQ9xLm4Zp7Rt1Vw"],
        ["4111 1111", "1111 1111"],
        ["version", "10.0.0.1"],
        ["-----BEGIN RSA PRIVATE KEY-----\nMIIE", "mail bob@example.com"],
        ["x" + JOIN + "bob@example.com"],
    ):
        assert detect_each(batch) == [detect(text) for text in batch]
    assert detect_each(["a", "mail bob@x.com", "b"], types=["PHONE"]) == [[], [], []]


def span(**fields: Any) -> SpanRecord:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return SpanRecord(
        trace_id="t1", span_id="s1", name="chat", start_time=now, end_time=now, **fields
    )


def pii_span() -> SpanRecord:
    history = [
        {"role": "user", "content": "I am bob@example.com, card 4111 1111 1111 1111"},
        {"role": "assistant", "content": "Thanks. Call +44 20 7946 0958 if needed."},
        {"role": "user", "content": "again: BOB@example.com"},
    ]
    return span(
        input=history,
        output="Noted, bob@example.com.",
        attributes={"gen_ai.request.model": "gpt-4o-mini", "app.note": "version 10.0.0.1"},
        tool_calls=[
            ToolCall(position=0, source="request", tool="lookup", arguments={"email": "a@b.co"})
        ],
        events=[
            SpanEvent(
                trace_id="t1",
                span_id="s1",
                name="log",
                time=datetime(2026, 1, 1, tzinfo=UTC),
                source="log",
                body="reach me on (415) 555-2671",
            )
        ],
    )


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How many texts each default detector was asked to scan (each scan starts with its
    keyword and prefilter check)."""
    counts: Counter[str] = Counter()
    may_match = PatternDetector.may_match

    def counting(
        self: PatternDetector, text: str, seen: dict[re.Pattern[str], bool] | None = None
    ) -> bool:
        counts[self.name] += 1
        return may_match(self, text, seen)

    monkeypatch.setattr(PatternDetector, "may_match", counting)
    yield counts


@pytest.mark.parametrize("make", [pii_span, lambda: span(input="nothing here", output="ok")])
def test_a_span_is_scanned_once(scans: Counter[str], make: Callable[[], SpanRecord]) -> None:
    record = make()
    record.attributes = {k: v for k, v in record.attributes.items() if k != "gen_ai.request.model"}
    SpanRedactor(KEY, {}).span(record)
    assert scans and set(scans.values()) == {1}


def test_naming_attributes_are_one_more_pass_only_when_redacting(scans: Counter[str]) -> None:
    SpanRedactor(KEY, {}).span(pii_span())
    assert set(scans.values()) == {2}  # the span's strings, then the naming attributes
    scans.clear()
    SpanRedactor(KEY, {}).span(span(input="nothing", attributes={"gen_ai.system": "openai"}))
    assert set(scans.values()) == {1}


def test_span_redaction_is_the_string_by_string_redaction() -> None:
    record = pii_span()
    expected = copy.deepcopy(record)
    table = TracePlaceholders("t1", KEY, {})
    expected.input = redact_value(expected.input, table)[0]
    expected.output = redact_value(expected.output, table)[0]
    expected.attributes = redact_value(expected.attributes, table)[0]
    expected.tool_calls[0].arguments = redact_value(expected.tool_calls[0].arguments, table)[0]
    expected.events[0].body = redact_value(expected.events[0].body, table)[0]
    redactor = SpanRedactor(KEY, {})
    redactor.span(record)
    assert record == expected
    assert record.input[2]["content"] == "again: <EMAIL_1>"
    assert record.events[0].body == "reach me on <PHONE_2>"
    assert redactor.counts == Counter({"EMAIL": 4, "CARD": 1, "PHONE": 2})
    assert redactor.new_rows() == table.new


def test_an_event_without_its_span_is_redacted_in_one_pass(scans: Counter[str]) -> None:
    event = SpanEvent(
        trace_id="t1",
        span_id=None,
        name="log",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        source="log",
        body={"message": "mail bob@example.com", "api_key": "plain"},
        attributes={"gen_ai.system": "openai", "note": "call (415) 555-2671"},
    )
    expected = copy.deepcopy(event)
    table = TracePlaceholders("t1", KEY, {})
    expected.body = redact_value(expected.body, table)[0]
    expected.attributes = redact_value(expected.attributes, table)[0]
    scans.clear()
    SpanRedactor(KEY, {}).event(event)
    assert set(scans.values()) == {1}
    assert event == expected
    assert event.body == {"message": "mail <EMAIL_1>", "api_key": "<SECRET_1>"}


@pytest.mark.parametrize(
    "text",
    [
        "S\u017fN 219 09 9998",
        "soc\u0130al security number: 219099998",
        "SOC\u0131AL SECURITY 219099998",
    ],
)
def test_the_labelled_ssn_keywords_miss_no_case_insensitive_label(text: str) -> None:
    """re's case-insensitive match takes letters lower() does not map to the label's."""
    assert [f.type for f in detect(text)] == ["US_SSN"]
