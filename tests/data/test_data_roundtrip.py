"""Loading each format, writing it back, and getting the same samples and content hash."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_testutil import qa_rows, write_csv, write_jsonl, write_parquet, write_yaml

from assay.core import Message, Provenance, Sample, content_hash
from assay.data import Dataset, FieldMap, dataset_from_records, load_dataset, write_dataset

WRITE_FORMATS = ["jsonl", "csv", "parquet"]

RICH_RECORDS: list[dict[str, Any]] = [
    {
        "id": "chat-1",
        "input": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": 'Capital of France, "quoted", with, commas?\nTwo lines.'},
        ],
        "target": ["Paris", "paris"],
        "slice": "geo",
        "difficulty": 0.25,
        "n_hops": 2,
        "verified": True,
        "cluster": "doc-9",
        "provenance": {
            "origin": "incident",
            "source_ref": "TICKET-12",
            "collected_at": "2024-03-01T12:00:00Z",
            "parent_ids": ["p1", "p2"],
        },
    },
    {
        "id": "text-2",
        "input": "Say [hello] — ünïcødé ✓",
        "target": "hello",
        "slice": "chat",
        "difficulty": 3,  # an int in a column that is otherwise float
        "metadata": {"tags": ["a", "b"], "nested": {"k": 1.5}, "zip": "02134", "flag": "true"},
        "provenance": {"licence": "CC-BY-4.0"},
    },
    {
        "id": "text-3",
        "input": "No target, no cluster",
        "n_hops": 10**15,
        "verified": False,
        "metadata": {"input": "a metadata key named like a column", "empty": ""},
    },
]


def rich_dataset() -> Dataset:
    return dataset_from_records(RICH_RECORDS, name="rich", source="inline")


def test_records_become_the_expected_samples() -> None:
    dataset = rich_dataset()
    first, second, third = dataset
    assert first.input == (
        Message(role="system", content="Answer briefly."),
        Message(role="user", content=RICH_RECORDS[0]["input"][1]["content"]),
    )
    assert first.target == ("Paris", "paris")
    assert first.metadata == {"slice": "geo", "difficulty": 0.25, "n_hops": 2, "verified": True}
    assert first.cluster == "doc-9"
    assert first.provenance.origin == "incident"
    assert first.provenance.collected_at == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    assert first.provenance.parent_ids == ("p1", "p2")
    assert second.metadata["zip"] == "02134" and second.metadata["flag"] == "true"
    assert second.metadata["tags"] == ["a", "b"]
    assert third.target is None and third.cluster is None
    assert third.metadata == {
        "n_hops": 10**15,
        "verified": False,
        "input": "a metadata key named like a column",
        "empty": "",
    }


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_round_trip_keeps_samples_and_hash(tmp_path: Path, fmt: str) -> None:
    dataset = rich_dataset()
    path = tmp_path / f"out.{fmt}"
    write_dataset(dataset, path)
    loaded = load_dataset(path)
    assert loaded.name == "out" and loaded.source == str(path)
    assert loaded.sample_ids == dataset.sample_ids
    for before, after in zip(dataset, loaded, strict=True):
        assert after.content() == before.content()
        assert after.provenance == before.provenance
    assert loaded.content_hash == dataset.content_hash


def test_all_formats_give_the_same_hash_and_a_second_trip_is_identical(tmp_path: Path) -> None:
    dataset = rich_dataset()
    hashes = set()
    for fmt in WRITE_FORMATS:
        write_dataset(dataset, tmp_path / f"a.{fmt}")
        once = load_dataset(tmp_path / f"a.{fmt}")
        write_dataset(once, tmp_path / f"b.{fmt}")
        twice = load_dataset(tmp_path / f"b.{fmt}")
        hashes |= {once.content_hash, twice.content_hash}
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()
    assert hashes == {dataset.content_hash}


def test_csv_layout_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_dataset(rich_dataset(), path)
    header = path.read_text(encoding="utf-8").splitlines()[0]
    # Scalar metadata gets columns ("02134" stays text in CSV, so it gets one too); nested
    # values, ambiguous text ("true", "") and reserved names go to the JSON "metadata" column.
    assert header == (
        "id,input,target,cluster,slice,difficulty,n_hops,verified,zip,metadata,provenance"
    )


def test_parquet_uses_native_types(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    write_dataset(rich_dataset(), path)
    schema = pq.read_schema(path)
    assert schema.field("input").type == pa.string()  # mixed text and chat: JSON text
    assert schema.field("target").type == pa.string()  # mixed list and text: JSON text
    assert schema.field("difficulty").type == pa.float64()
    assert schema.field("n_hops").type == pa.int64()
    assert schema.field("verified").type == pa.bool_()
    assert json.loads(schema.metadata[b"assay.json_columns"]) == ["input", "target"]

    chats = dataset_from_records(
        [{"id": "a", "input": [{"role": "user", "content": "x"}], "target": ["1", "2"]}], name="c"
    )
    write_dataset(chats, path)
    schema = pq.read_schema(path)
    assert schema.field("input").type == pa.list_(
        pa.struct([("role", pa.string()), ("content", pa.string())])
    )
    assert schema.field("target").type == pa.list_(pa.string())
    assert load_dataset(path).content_hash == chats.content_hash


def test_write_unknown_extension_and_atomicity(tmp_path: Path) -> None:
    from assay.core import DatasetError

    with pytest.raises(DatasetError) as info:
        write_dataset(rich_dataset(), tmp_path / "out.xlsx")
    assert info.value.where == str(tmp_path / "out.xlsx")
    write_dataset(rich_dataset(), tmp_path / "deep" / "dir" / "out.jsonl")
    assert sorted(p.name for p in (tmp_path / "deep" / "dir").iterdir()) == ["out.jsonl"]


def test_csv_refuses_text_it_cannot_hold(tmp_path: Path) -> None:
    from assay.core import DatasetError

    dataset = dataset_from_records(
        [{"id": "a", "input": '[{"role": "user", "content": "looks like chat"}]'}], name="x"
    )
    with pytest.raises(DatasetError, match="reads back from CSV as a chat"):
        write_dataset(dataset, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    write_dataset(dataset, tmp_path / "x.jsonl")  # JSONL holds it fine
    assert load_dataset(tmp_path / "x.jsonl").content_hash == dataset.content_hash


# -- the same user rows in every format ----------------------------------------------------


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_all_formats(tmp_path: Path, rows: list[dict[str, Any]]) -> list[Path]:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    paths = [
        write_jsonl(tmp_path / "d.jsonl", rows),
        write_csv(
            tmp_path / "d.csv", columns, [[csv_cell(r.get(c)) for c in columns] for r in rows]
        ),
        write_yaml(tmp_path / "d.yaml", rows),
    ]
    (tmp_path / "d.json").write_text(json.dumps(rows, indent=2))
    paths.append(tmp_path / "d.json")
    parquet_rows = [
        {
            **r,
            "id": str(r["id"]) if "id" in r else None,
            "target": csv_cell(r.get("target")) or None,
        }
        for r in rows
    ]
    if all("id" not in r for r in rows):
        parquet_rows = [{k: v for k, v in r.items() if k != "id"} for r in parquet_rows]
    paths.append(write_parquet(tmp_path / "d.parquet", parquet_rows))
    return paths


def test_same_rows_same_hash_in_every_format(tmp_path: Path) -> None:
    rows = qa_rows()
    paths = write_all_formats(tmp_path, rows)
    datasets = [load_dataset(p) for p in paths]
    assert len({d.content_hash for d in datasets}) == 1
    jsonl = datasets[0]
    assert jsonl.sample_ids == ["7", "q2", "q3"]
    assert jsonl.get("7").target == "4"  # a number target is text
    assert jsonl.get("7").metadata == {"slice": "math", "difficulty": 0.5, "n": 3}
    csv_sample = datasets[1].get("q2")
    assert csv_sample.metadata == {"slice": "geo", "hard": True, "difficulty": 1.0}
    assert type(datasets[1].get("7").metadata["n"]) is int
    assert type(datasets[1].get("7").metadata["difficulty"]) is float


def test_row_order_does_not_change_the_hash(tmp_path: Path) -> None:
    rows = qa_rows()
    a = load_dataset(write_jsonl(tmp_path / "a.jsonl", rows))
    b = load_dataset(write_jsonl(tmp_path / "b.jsonl", rows[::-1]))
    assert a.content_hash == b.content_hash
    assert a.sample_ids != b.sample_ids
    changed = [dict(rows[0], target=5), *rows[1:]]
    assert load_dataset(write_jsonl(tmp_path / "c.jsonl", changed)).content_hash != a.content_hash


def test_provenance_is_not_content(tmp_path: Path) -> None:
    rows = qa_rows()
    plain = load_dataset(write_jsonl(tmp_path / "a.jsonl", rows))
    tagged = load_dataset(tmp_path / "a.jsonl", provenance={"origin": "synthetic"})
    assert plain.content_hash == tagged.content_hash


def test_generated_ids_are_stable_across_formats(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "id"} for r in qa_rows()]
    paths = write_all_formats(tmp_path, rows)
    datasets = [load_dataset(p) for p in paths]
    ids = datasets[0].sample_ids
    assert all(d.sample_ids == ids for d in datasets)
    assert len({d.content_hash for d in datasets}) == 1
    first = datasets[0][0]
    content = first.content()
    del content["id"]
    assert first.id == "s" + content_hash(content)[:12]
    assert all(i.startswith("s") and len(i) == 13 for i in ids)


def test_generated_ids_when_id_mapping_is_none(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "x", "input": "a"}])
    dataset = load_dataset(path, fields={"id": None})
    assert dataset[0].id.startswith("s")
    # With no id mapping, a column named "id" is ordinary metadata.
    assert dataset[0].metadata == {"id": "x"}


# -- field mapping -----------------------------------------------------------------------


def test_renamed_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        ["qid", "question", "answer", "topic", "doc", "difficulty"],
        [
            ["1", "Why?", "Because", "misc", "d1", "2"],
            ["2", "How?", '["So", "Thus"]', "misc", "d1", ""],
        ],
    )
    fields = FieldMap(id="qid", input="question", target="answer", cluster="doc")
    dataset = load_dataset(path, fields=fields, name="renamed")
    assert dataset.name == "renamed"
    assert dataset.sample_ids == ["1", "2"]
    assert dataset[0].input == "Why?"
    assert dataset[1].target == ("So", "Thus")
    assert dataset[0].cluster == "d1"
    assert dataset[0].metadata == {"topic": "misc", "difficulty": 2}
    assert dataset[1].metadata == {"topic": "misc"}  # empty cells are left out


def test_explicit_metadata_list(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"id": "a", "input": "x", "topic": "t", "noise": 1, "metadata": {"extra": True}},
            {"id": "b", "input": "y", "noise": 2},
        ],
    )
    dataset = load_dataset(path, fields={"metadata": ["topic"]})
    assert dataset.get("a").metadata == {"topic": "t", "extra": True}
    assert dataset.get("b").metadata == {}


def test_cluster_mapping_off_makes_it_metadata(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x", "cluster": "c"}])
    assert load_dataset(path)[0].cluster == "c"
    sample = load_dataset(path, fields={"cluster": None})[0]
    assert sample.cluster is None and sample.metadata == {"cluster": "c"}


def test_chat_input_from_yaml_and_csv(tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    yaml_path = tmp_path / "d.yaml"
    yaml_path.write_text(
        "samples:\n"
        "  - id: a\n"
        "    input:\n"
        "      - {role: system, content: s}\n"
        "      - {role: user, content: u}\n"
        "    target: [x, y]\n"
        "    when: 2024-01-02\n"
    )
    csv_path = write_csv(
        tmp_path / "d.csv",
        ["id", "input", "target", "when"],
        [["a", json.dumps(messages), '["x", "y"]', "2024-01-02"]],
    )
    from_yaml, from_csv = load_dataset(yaml_path)[0], load_dataset(csv_path)[0]
    assert from_yaml == from_csv
    assert from_yaml.metadata == {"when": "2024-01-02"}  # YAML dates stay text, as in CSV
    assert from_yaml.messages[0] == Message(role="system", content="s")


def test_csv_text_that_only_looks_like_json_stays_text(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        ["id", "input", "target", "note"],
        [["a", "[1, 2, 3] sorted?", "[1, 2, 3]", "[not json"], ["b", "x", "", "007"]],
    )
    a, b = load_dataset(path)
    assert a.input == "[1, 2, 3] sorted?" and a.target == "[1, 2, 3]"
    assert a.metadata == {"note": "[not json"}
    assert b.target is None and b.metadata == {"note": "007"}


def test_parquet_foreign_file_with_native_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "input": pa.array(
                [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "yo"}]]
            ),
            "target": pa.array([["a"], None], pa.list_(pa.string())),
            "score": pa.array([0.5, float("nan")]),
            "when": pa.array([dt.date(2024, 1, 2), None]),
        }
    )
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    a, b = load_dataset(path)
    assert (a.id, b.id) == ("1", "2")
    assert a.target == ("a",) and b.target is None
    assert a.metadata == {"score": 0.5, "when": "2024-01-02"}
    assert b.metadata == {}  # NaN and null are "no value"


def test_provenance_defaults_overridden_per_row(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "input": "x"},
        {"id": "b", "input": "y", "provenance": {"origin": "incident", "source_ref": "INC-1"}},
        {"id": "c", "input": "z", "provenance": {"licence": None}},  # null keeps the default
    ]
    defaults = {"origin": "sampled", "licence": "CC-BY-4.0", "collector": "ops"}
    for path in (
        write_jsonl(tmp_path / "d.jsonl", rows),
        write_csv(
            tmp_path / "d.csv",
            ["id", "input", "provenance"],
            [
                [r["id"], r["input"], json.dumps(r["provenance"]) if "provenance" in r else ""]
                for r in rows
            ],
        ),
        write_yaml(tmp_path / "d.yaml", rows),
    ):
        dataset = load_dataset(path, provenance=defaults)
        a, b, c = (dataset.get(i).provenance for i in "abc")
        assert a == Provenance(origin="sampled", licence="CC-BY-4.0", collector="ops")
        assert b == Provenance(
            origin="incident", source_ref="INC-1", licence="CC-BY-4.0", collector="ops"
        )
        assert c == a


def test_records_with_defaults_and_locations() -> None:
    dataset = dataset_from_records(
        [{"input": "x", "target": 1}, {"input": "y"}],
        name="inline",
        source="eval.yaml",
        locations=["eval.yaml:3", "eval.yaml:5"],
        provenance={"origin": "authored", "annotator_id": "me"},
        fields={"target": "target"},
    )
    assert dataset.name == "inline" and dataset.source == "eval.yaml"
    assert dataset[0].target == "1"
    assert all(s.provenance.annotator_id == "me" for s in dataset)


def test_limit_reads_only_the_first_rows(tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "input": "x"} for i in range(10)]
    rows.append("not a row")  # never reached
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    assert load_dataset(path, limit=3).sample_ids == ["q0", "q1", "q2"]


def test_loaded_samples_are_ordinary_validated_samples(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", qa_rows())
    for sample in load_dataset(path):
        assert Sample.model_validate(sample.model_dump()) == sample
