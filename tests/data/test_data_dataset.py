"""The Dataset container and the CSV cell rules."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from assay.core import DatasetError, DatasetManifest, Sample, content_hash
from assay.data import Dataset, dataset_from_records
from assay.data.cells import (
    cell_round_trips,
    infer_cell,
    parse_text_input,
    parse_text_target,
    to_cell,
)


def make() -> Dataset:
    return dataset_from_records(
        [
            {"id": "b", "input": "x", "slice": "math", "level": 1},
            {"id": "a", "input": "y", "slice": "geo", "level": 2},
            {"id": "c", "input": "z", "slice": "math"},
        ],
        name="toy",
        source="toy.jsonl",
    )


def test_container_protocol() -> None:
    dataset = make()
    assert len(dataset) == 3
    assert [s.id for s in dataset] == ["b", "a", "c"] == dataset.sample_ids
    assert dataset[0].id == "b" and dataset[-1].id == "c"
    assert dataset.get("a").input == "y"
    assert "a" in dataset and "zz" not in dataset
    with pytest.raises(KeyError):
        dataset.get("zz")
    with pytest.raises(IndexError):
        dataset[3]
    # A read-only sequence, built sample by sample as it is read (not a held tuple).
    assert isinstance(dataset.samples, Sequence) and len(dataset.samples) == 3
    assert [s.id for s in dataset.samples[1:]] == ["a", "c"]
    with pytest.raises(TypeError):
        dataset.samples[0] = dataset[1]  # type: ignore[index]
    assert "toy" in repr(dataset)


def test_content_hash_is_sorted_hashes_of_samples() -> None:
    dataset = make()
    expected = content_hash([dataset.get(i).content_hash() for i in ("a", "b", "c")])
    assert dataset.content_hash == expected
    reordered = Dataset("other", reversed(dataset.samples))
    assert reordered.content_hash == dataset.content_hash


def test_slice_counts() -> None:
    dataset = make()
    assert dataset.slice_counts("slice") == {"geo": 1, "math": 2}
    assert dataset.slice_counts("level") == {"1": 1, "2": 1}  # samples without it not counted
    assert dataset.slice_counts("absent") == {}


def test_manifest() -> None:
    dataset = make()
    manifest = dataset.manifest()
    assert isinstance(manifest, DatasetManifest)
    assert manifest.name == "toy" and manifest.source == "toy.jsonl"
    assert manifest.content_hash == dataset.content_hash
    assert manifest.n_samples == 3 and manifest.sample_ids == ["b", "a", "c"]


def test_filter_and_head_return_datasets() -> None:
    dataset = make()
    math_only = dataset.filter(lambda s: s.slice_value("slice") == "math")
    assert isinstance(math_only, Dataset)
    assert math_only.sample_ids == ["b", "c"] and math_only.name == "toy"
    assert math_only.content_hash != dataset.content_hash
    assert dataset.head(2).sample_ids == ["b", "a"]
    assert dataset.head(10).sample_ids == dataset.sample_ids
    assert dataset[1:].sample_ids == ["a", "c"]
    with pytest.raises(ValueError):
        dataset.head(-1)


def test_duplicate_samples_are_rejected() -> None:
    sample = Sample(id="a", input="x")
    with pytest.raises(DatasetError) as info:
        Dataset("d", [sample, Sample(id="b", input="y"), sample])
    assert info.value.message == "duplicate id 'a' (samples 0 and 2)"


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("", None),
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("0.5", 0.5),
        ("-1.5e-05", -1.5e-05),
        ("1e+16", 1e16),
        ("true", True),
        ("FALSE", False),
        ("007", "007"),
        ("1.", "1."),
        (".5", ".5"),
        ("+3", "+3"),
        ("1_000", "1_000"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("yes", "yes"),
        ("١٢", "١٢"),  # non-ASCII digits stay text
        (" 5", " 5"),
        ("9" * 5000, "9" * 5000),
    ],
)
def test_infer_cell(cell: str, value: object) -> None:
    inferred = infer_cell(cell)
    assert inferred == value and type(inferred) is type(value)


@pytest.mark.parametrize(
    "value", [0, -3, 2**70, 0.1, 1.0, -0.0, 5e-324, 1.7976931348623157e308, True, False, "x", "0a"]
)
def test_to_cell_round_trips(value: object) -> None:
    assert cell_round_trips(value)
    back = infer_cell(to_cell(value))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", ["7", "true", "", "1.5", None, [1], {"a": 1}, math.inf])
def test_values_that_do_not_survive_a_text_cell(value: object) -> None:
    assert not cell_round_trips(value)


def test_parse_text_input_and_target() -> None:
    assert parse_text_input('[{"role": "user", "content": "x"}]') == [
        {"role": "user", "content": "x"}
    ]
    assert parse_text_input("[1, 2]") == "[1, 2]"
    assert parse_text_input("[]") == "[]"
    assert parse_text_input("plain") == "plain"
    assert parse_text_target("") is None
    assert parse_text_target('["a", "b"]') == ["a", "b"]
    assert parse_text_target("[1]") == "[1]"
    assert parse_text_target("[broken") == "[broken"
