"""A loaded dataset is held compactly and the one-pass path holds no samples (issue 20).

Memory is measured with ``tracemalloc`` (Python allocations, not RSS, so the bounds do not
depend on the allocator or on what else the process holds); ``benchmarks/dataset_memory.py``
measures the RSS of a 1.5-million-row load.
"""

from __future__ import annotations

import json
import random
import tracemalloc
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

import assay.data.dataset as dataset_module
from assay.core import DatasetError, Message, Provenance, Sample, content_hash
from assay.data import Dataset, load_dataset
from assay.data.dataset import TextColumn, append_index, first_duplicate, order_by_id
from assay.data.loader import iter_samples

N_ROWS = 20_000
SLICES = ("arithmetic", "units", "sequences")


def write_rows(path: Path, n: int = N_ROWS) -> Path:
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            a, b = rng.randrange(100), rng.randrange(100)
            row = {
                "id": f"q{i:06d}",
                "input": f"What is {a} + {b}?",
                "target": str(a + b),
                "metadata": {"slice": SLICES[i % 3]},
            }
            fh.write(json.dumps(row) + "\n")
    return path


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_a_loaded_dataset_holds_under_twice_the_file(tmp_path: Path, traced: None) -> None:
    path = write_rows(tmp_path / "big.jsonl")
    size = path.stat().st_size
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    dataset = load_dataset(path)
    held, peak = tracemalloc.get_traced_memory()
    assert len(dataset) == N_ROWS
    # About 1.1x held and 1.4x at the peak; the validated samples held 14x.
    assert held - before < 2 * size, f"held {(held - before) / size:.2f}x the file"
    assert peak - before < 3 * size, f"peak {(peak - before) / size:.2f}x the file"
    tracemalloc.reset_peak()
    digest = dataset.content_hash
    assert tracemalloc.get_traced_memory()[1] - held < 0.5 * size  # hashed in one pass
    assert len(digest) == 64


def test_iter_samples_holds_only_the_ids(tmp_path: Path, traced: None) -> None:
    path = write_rows(tmp_path / "big.jsonl")
    size = path.stat().st_size
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    assert sum(1 for _ in iter_samples(path)) == N_ROWS
    peak = tracemalloc.get_traced_memory()[1] - before
    # The ids (70 bytes a row here) and, at the end, sorting them for the duplicate check
    # (16 bytes a row and a run of SORT_RUN ids at a time); 700 a row with the samples held.
    assert peak < 1.25 * size, f"peak {peak / size:.2f}x the file"

    # Taking a few samples reads a few rows, not the file.
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    samples = iter_samples(path)
    first = [next(samples) for _ in range(5)]
    assert tracemalloc.get_traced_memory()[1] - before < 0.05 * size
    samples.close()
    assert [s.id for s in first] == [f"q{i:06d}" for i in range(5)]


def test_iter_samples_gives_what_load_dataset_gives(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "small.jsonl", 50)
    assert list(iter_samples(path)) == list(load_dataset(path))
    assert [s.id for s in iter_samples(path, limit=3)] == ["q000000", "q000001", "q000002"]


def test_limit_reads_no_further(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "input": "x"}\n{"id": "b", "input": "y"}\n{not json\n')
    assert load_dataset(path, limit=2).sample_ids == ["a", "b"]
    with pytest.raises(DatasetError, match="malformed JSON") as exc:
        load_dataset(path)
    assert exc.value.where == f"{path}:3"


def test_a_repeated_id_is_reported_where_it_repeats_first(tmp_path: Path) -> None:
    rows: list[object] = [
        {"id": "a", "input": "x"},
        {"id": "b", "input": "x"},
        {"id": "c", "input": "x"},
        {"id": "b", "input": "y"},  # line 4: the first repeat
        {"id": "a", "input": "y"},  # line 5
        {"id": "b", "input": "z"},
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    for load in (load_dataset, lambda p: list(iter_samples(p))):
        with pytest.raises(DatasetError, match=r"duplicate id 'b' \(first seen at .*:2\)") as exc:
            load(path)
        assert exc.value.where == f"{path}:4"


@pytest.mark.parametrize(
    ("inputs", "message", "line"),
    [
        (("x", "y", ""), "duplicate id 'a'", 2),  # the repeat comes first
        (("x", "", "y"), "is empty", 2),  # the bad row comes first
    ],
)
def test_errors_come_in_file_order(
    tmp_path: Path, inputs: tuple[str, str, str], message: str, line: int
) -> None:
    ids = ("a", "a", "c") if message.startswith("duplicate") else ("a", "c", "a")
    rows: list[object] = [{"id": i, "input": x} for i, x in zip(ids, inputs, strict=True)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(DatasetError, match=message) as exc:
        load_dataset(path)
    assert exc.value.where == f"{path}:{line}"


def test_repeated_content_without_ids(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"input": "x"}, {"input": "y"}, {"input": "x"}])
    with pytest.raises(DatasetError, match="identical content") as exc:
        load_dataset(path)
    assert exc.value.where == f"{path}:3"


def varied_samples() -> list[Sample]:
    chat = (Message(role="system", content="be brief"), Message(role="user", content="hi"))
    return [
        Sample(id="z", input="plain", target="1", metadata={"n": 1}),
        Sample(id="y", input="plain", target="1", metadata={"n": 1.0}),  # not the int 1
        Sample(id="x", input="plain", target="1", metadata={"n": True}),
        Sample(id="w", input="plain", metadata={"n": -0.0, "tags": ["a", "b"]}),
        Sample(id="v", input=chat, target=("a", "b"), cluster="doc1"),
        Sample(id="u", input="ünïcödé ✓ \U0001f600", target=None, metadata={"d": {"k": 1}}),
        Sample(
            id="t",
            input="x",
            provenance=Provenance(origin="incident", source_ref="T-1"),
            metadata={"slice": "a", "level": 2},
        ),
        Sample(id="s", input="x", metadata={"level": 2, "slice": "a"}),  # other key order
    ]


def test_samples_come_back_as_they_went_in() -> None:
    samples = varied_samples()
    dataset = Dataset("d", samples)
    assert list(dataset) == samples
    for sample, again in zip(samples, dataset, strict=True):
        assert type(again.metadata.get("n")) is type(sample.metadata.get("n"))
        assert list(again.metadata) == list(sample.metadata)
        assert again.provenance == sample.provenance
    assert str(dataset.get("w").metadata["n"]) == "-0.0"
    assert dataset.get("v").cluster == "doc1" and dataset.get("z").cluster is None
    assert [s.id for s in dataset[2:5]] == ["x", "w", "v"]
    assert dataset.head(2).sample_ids == ["z", "y"]
    assert dataset.filter(lambda s: s.target == "1").sample_ids == ["z", "y", "x"]
    assert dataset.filter(lambda s: s.cluster is not None)[0] == samples[4]


def test_changing_a_read_sample_does_not_change_the_dataset(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.jsonl", 6)
    dataset = load_dataset(path)
    dataset[0].metadata["slice"] = "changed"
    assert dataset[0].metadata == {"slice": "arithmetic"}
    assert dataset[3].metadata == {"slice": "arithmetic"}  # shares the mapping with sample 0


def test_content_hash_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_module, "SORT_RUN", 3)  # several sorted runs to merge
    samples = varied_samples()
    dataset = Dataset("d", reversed(samples))
    ordered = sorted(samples, key=lambda s: s.id)
    assert dataset.content_hash == content_hash([s.content_hash() for s in ordered])
    columns = dataset._columns
    assert [columns.content_hash(i) for i in range(len(dataset))] == [
        s.content_hash() for s in dataset
    ]
    assert all(dataset.get(s.id) == s for s in samples)
    assert "v" in dataset and "zz" not in dataset and 3 not in dataset


def test_order_and_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_module, "SORT_RUN", 4)
    rng = random.Random(3)
    ids = [f"id{rng.randrange(40)}" for _ in range(30)]
    order = order_by_id(ids)
    assert list(order) == sorted(range(len(ids)), key=ids.__getitem__)
    seen: dict[str, int] = {}
    expected = None
    for position, sample_id in enumerate(ids):
        if sample_id in seen:
            expected = (seen[sample_id], position)
            break
        seen[sample_id] = position
    assert first_duplicate(ids, order) == expected
    assert first_duplicate(["a", "b"], order_by_id(["a", "b"])) is None
    assert len(order_by_id([])) == 0


def test_text_column_round_trips() -> None:
    texts = ["", "plain", "ünïcödé", "\U0001f600 emoji", "lone \ud800 surrogate", "last"]
    column = TextColumn()
    for text in texts:
        column.append(text)
    assert list(column) == texts
    assert column[-1] == "last" and column[1:3] == texts[1:3]
    with pytest.raises(IndexError):
        column[len(texts)]


def test_indexes_widen_when_they_must() -> None:
    numbers = append_index(array("I"), 7)
    assert numbers.typecode == "I"
    numbers = append_index(numbers, 2**40)
    assert numbers.typecode == "q" and list(numbers) == [7, 2**40]
