"""``sample_hash`` (what ``Sample.content_hash``, the dataset's per-sample hashes and the store's
``content_hash`` column use) writes the canonical JSON of plain samples by hand; it must give
exactly ``content_hash(sample.content())``, the generic definition, for every kind of sample."""

from __future__ import annotations

import hashlib
import itertools
import json
from enum import Enum
from typing import Any

import pytest

from assay.core import Message, Provenance, Sample, canonical_json, content_hash
from assay.core.hashing import encode_normal
from assay.core.sample import sample_content, sample_hash


# Not a StrEnum: its str() is "Colour.RED", not its value, so the generic path (str(key))
# writes a key unlike the fast path would.
class Colour(str, Enum):  # noqa: UP042
    RED = "red"


class Label(str):
    pass


TEXTS = [
    "plain",
    "",
    " ",
    "ünïcödé ☃ \U0001f600",
    'quote " back \\ slash',
    "\n\t\r\x00\x1f\x7f",
    "\u2028\u2029",
]
INPUTS: list[Any] = [
    *TEXTS,
    (Message(role="user", content="hi ☃"),),
    (Message(role="system", content=""), Message(role="user", content='"x"')),
]
TARGETS: list[Any] = [None, "t", "", "ü\n", ("a", "b"), (), ("",)]
CLUSTERS: list[Any] = [None, "doc-1", "", "ç☃"]
METADATA: list[dict[str, Any]] = [
    {},
    {"slice": "a"},
    {"b": 1, "a": True, "c": None, "d": False, "e": 0, "f": -7, "g": 2**70},
    {"ü": "", "A": '\u2028\x00"\\', "a": "x", "Z": "é"},
    {"x": 0.5},
    {"x": 1.0, "y": -0.0, "z": 2.0**60},
    {"nested": {"b": [1, 2.0, "x"], "a": None}},
    {"list": [True, None, "s"]},
    {"colour": Colour.RED},
    {"label": Label("l")},
]


def _generic(sample: Sample) -> str:
    return content_hash(sample.content())


def _all_samples() -> list[Sample]:
    combos = itertools.product(INPUTS, TARGETS, CLUSTERS, METADATA)
    return [
        Sample(
            id=f"id-{i}-é" if i % 5 == 0 else f"q{i}", input=inp, target=t, metadata=m, cluster=c
        )
        for i, (inp, t, c, m) in enumerate(combos)
    ]


def test_sample_hash_equals_the_generic_hash_of_every_kind_of_sample() -> None:
    samples = _all_samples()
    assert len(samples) > 1000
    for sample in samples:
        assert sample.content_hash() == _generic(sample), sample
    # The hashes tell the samples apart (the hand-written JSON drops nothing).
    assert len({s.content_hash() for s in samples}) == len(samples)


def test_the_hand_written_json_is_the_canonical_json() -> None:
    # sample_hash's fast path hashes this text; spelled out here for one plain sample.
    sample = Sample(id="q1", input="2+2? ☃", target="4", metadata={"b": 1, "a": True}, cluster="d")
    text = '{"cluster":"d","id":"q1","input":"2+2? ☃","metadata":{"a":true,"b":1},"target":"4"}'
    assert canonical_json(sample.content()) == text
    assert sample.content_hash() == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_values_outside_the_fast_path_take_the_generic_one() -> None:
    """Fields that bypassed validation (``from_checked``) and are subclasses of ``str``, or
    keys that are not text, are written as the generic path writes them."""
    odd: list[Sample] = []
    cases: tuple[tuple[Any, Any, Any, Any, dict[Any, Any]], ...] = (
        (Label("q1"), "x", None, None, {}),
        ("q1", Label("x"), None, None, {}),
        ("q1", "x", Label("t"), None, {}),
        ("q1", "x", None, Label("c"), {}),
        ("q1", "x", None, None, {Colour.RED: 1}),
        ("q1", "x", None, None, {Label("k"): 1}),
        ("q1", "x", None, None, {1: "one"}),
        ("q1", "x", None, None, {"k": Colour.RED}),
    )
    for id_, input_, target, cluster, metadata in cases:
        odd.append(Sample.from_checked(id_, input_, target, metadata, cluster, Provenance()))
    for sample in odd:
        assert sample.content_hash() == _generic(sample)
    # A str-Enum key is written by its str() in the generic path ("Colour.RED"), not its value.
    assert odd[4].content_hash() != Sample(id="q1", input="x", metadata={"red": 1}).content_hash()


def test_sample_content_is_the_sample_s_content() -> None:
    sample = Sample(id="a", input=[{"role": "user", "content": "u"}], target=["x", "y"])
    fields = (sample.id, sample.input, sample.target, sample.metadata, sample.cluster)
    assert sample_content(*fields) == sample.content()
    assert sample.content()["input"] == [{"role": "user", "content": "u"}]
    assert sample.content()["target"] == ["x", "y"]
    assert sample_hash(*fields) == content_hash(sample.content())


def test_encode_normal_is_json_dumps_with_the_canonical_options() -> None:
    values: list[Any] = [{"b": [1, "é", None], "a": {"z": True, "y": 0.5}}, [], "x", 3, None]
    for value in values:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert encode_normal(value) == expected


def test_non_finite_floats_still_refused() -> None:
    sample = Sample.from_checked("q", "x", None, {"x": float("nan")}, None, Provenance())
    with pytest.raises(ValueError, match="NaN"):
        sample.content_hash()
