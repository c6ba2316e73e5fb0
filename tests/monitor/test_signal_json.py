"""The signals' JSON reading (``orjson`` first, ``json`` where they could differ) gives exactly
what ``json.loads`` gives: the same value, or a ValueError where it raises one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assay.monitor import signals
from assay.monitor.signals import _loads, _output_text, format_bad

CASES = [
    '{"total": 3, "currency": "EUR"}',
    '{"a": 1, "a": 2}',  # the last duplicate wins in both
    "123456789012345678901234567890",  # orjson would read a float
    "18446744073709551616",
    "-9223372036854775809",
    '{"id": 12345678901234567890123}',
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    '"\\ud800"',  # a lone surrogate
    "\ufeff1",  # a BOM
    "0.1",
    "1.0000000000000002",
    "-0",
    "-0.0",
    "5e-324",
    " [1, 2] ",
    "\t1\r\n",
    "[1,]",
    "01",
    "'a'",
    '"a\x1fb"',
    '"\\u00e9\\n\\/"',
    "",
    "   ",
    "Sure: {total: 3}",
    "I'm sorry, I can't help with that.",
    "[1] x",
]


def _reference(text: str) -> tuple[str, Any]:
    try:
        return "ok", json.loads(text)
    except ValueError:
        return "error", None


@pytest.mark.parametrize("text", CASES)
def test_loads_matches_json_loads(text: str) -> None:
    try:
        got: tuple[str, Any] = ("ok", _loads(text))
    except ValueError:
        got = ("error", None)
    expected = _reference(text)
    assert got[0] == expected[0]
    assert repr(got[1]) == repr(expected[1])  # same types too (int vs float)


OUTPUTS = [
    json.dumps([{"role": "assistant", "content": text}]) for text in CASES if text.strip()
] + [
    json.dumps([{"role": "assistant", "content": 12345678901234567890123}]),
    json.dumps([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}]),
    '[{"role": "assistant", "content": NaN}]',
    '[{"role": "user", "content": "q"}, {"content": "a"}]',
    '[{"role": null, "content": "x"}]',
    '{"content": "", "text": 1e400}',
    '{"value": 98765432109876543210}',
    "12345678901234567890",
    "not json",
]


@pytest.mark.parametrize("output_json", OUTPUTS)
def test_output_text_and_format_check_match_json(
    output_json: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _output_text(output_json)
    with monkeypatch.context() as patched:
        patched.setattr(signals, "_loads", json.loads)  # the reference: json itself
        assert text == _output_text(output_json)
    if text is not None:
        assert format_bad(text, None) == (_reference(text.strip())[0] == "error")
