"""Format details: line numbers, encodings, YAML scalars, CSV quirks, and load speed."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from data_testutil import write_jsonl

from assay.core import DatasetError, Message
from assay.data import dataset_from_records, load_dataset


def where_of(path: Path) -> str | None:
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    return info.value.where


def test_yaml_rows_keep_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "# a comment\n"
        "samples:\n"
        "  - id: a\n"
        "    input: x\n"
        "\n"
        "  - id: b\n"
        "    input: |\n"
        "      multi\n"
        "      line\n"
        "  - id: c\n"
        "    question: where is the input?\n"
    )
    assert where_of(path) == f"{path}:10"


def test_yaml_uses_yaml_1_2_scalars(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "- id: 010\n"
        "  input: Is the sky green?\n"
        "  target: no\n"
        "  on_call: yes\n"
        "  ok: true\n"
        "  n: 12\n"
        "  x: 1.5\n"
        "  day: 2024-01-02\n"
        "  hex: 0x1F\n"
    )
    sample = load_dataset(path)[0]
    assert sample.id == "010"  # not the octal 8
    assert sample.target == "no"  # not False
    assert sample.metadata == {
        "on_call": "yes",
        "ok": True,
        "n": 12,
        "x": 1.5,
        "day": "2024-01-02",
        "hex": "0x1F",
    }


def test_yaml_syntax_error_names_where_the_construct_started(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text('- id: a\n  input: "never closed\n- id: b\n  input: y\n')
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.where == f"{path}:5"
    assert info.value.message == (
        "malformed YAML: found unexpected end of stream "
        "(while scanning a quoted scalar started on line 2)"
    )


def test_json_array_rows_report_the_line_they_start_on(tmp_path: Path) -> None:
    rows = [{"id": "a", "input": "x"}, {"id": "b", "input": "y"}, {"id": "b", "input": "z"}]
    path = tmp_path / "d.json"
    path.write_text(json.dumps(rows, indent=2))
    # indent=2 puts each object over 4 lines after the opening "[" line.
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.where == f"{path}:10"
    assert info.value.message == f"duplicate id 'b' (first seen at {path}:6)"


def test_csv_multiline_records_crlf_blank_lines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(
        "\ufeffid,input,,note\r\n"
        'a,"line one\r\nline two",0,\r\n'
        "\r\n"
        ",,,\r\n"
        'b,"x",1,"multi\nline"\r\n'
        "c,,2,\r\n".encode()
    )
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    # Header 1, record a 2-3, blank 4, empty row 5, record b 6-7, record c 8.
    assert info.value.where == f"{path}:8"
    assert info.value.message == "input 'input' is empty"
    path.write_bytes(path.read_bytes().replace(b"c,,2,", b"c,z,2,"))
    a, b, c = load_dataset(path)
    assert a.id == "a" and a.input == "line one\r\nline two"
    assert a.metadata == {}  # the unnamed column is ignored, the empty note left out
    assert b.metadata == {"note": "multi\nline"}
    assert c.input == "z" and c.metadata == {}


def test_csv_unterminated_quote_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('id,input\na,"open\nb,x\n')
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.where == f"{path}:2"
    assert info.value.message == "malformed CSV: unexpected end of data"


def test_jsonl_bom_and_uppercase_extension(tmp_path: Path) -> None:
    path = tmp_path / "D.JSONL"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "input": "x"}).encode() + b"\n")
    assert load_dataset(path).sample_ids == ["a"]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"id": "a", "input": "x"}\n{"id": "b", "input": "caf\xe9"}\n')
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.where == f"{path}:2"
    assert info.value.message.startswith("not UTF-8 text")


@pytest.mark.parametrize("suffix", [".ndjson", ".yml"])
def test_other_extensions(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    if suffix == ".ndjson":
        write_jsonl(path, [{"id": "a", "input": "x"}])
    else:
        path.write_text("- id: a\n  input: x\n")
    assert load_dataset(path).sample_ids == ["a"]


def test_metadata_column_merges_under_top_level_columns(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": "a", "input": "x", "k": 1, "metadata": {"k": 0, "j": 2, "gone": None}}],
    )
    assert load_dataset(path)[0].metadata == {"k": 1, "j": 2}


def test_records_accept_python_values() -> None:
    dataset = dataset_from_records(
        [
            {
                "input": (Message(role="user", content="hi"),),
                "target": ("a", 1),
                "when": dt.date(2024, 1, 2),
                "pair": (1, 2),
                3: "int key",
            }
        ],
        name="py",
    )
    sample = dataset[0]
    assert sample.input == (Message(role="user", content="hi"),)
    assert sample.target == ("a", "1")
    assert sample.metadata == {"when": "2024-01-02", "pair": [1, 2], "3": "int key"}


def test_records_reject_values_without_json_form() -> None:
    with pytest.raises(DatasetError) as info:
        dataset_from_records([{"input": "x", "blob": b"\x00"}], name="py")
    assert info.value.where == "py:item 1"
    assert info.value.message == "column 'blob' holds a bytes value, which assay cannot store"
    with pytest.raises(DatasetError, match="no JSON form"):
        dataset_from_records([{"input": "x", "m": {"v": float("inf")}}], name="py")


@pytest.mark.slow
def test_loading_100k_rows_is_fast(tmp_path: Path) -> None:
    """100,000 JSONL rows load in a small multiple of the time json.loads alone takes.

    CPU time against a baseline measured in the same process, so a busy machine does not make
    the test flaky.
    """
    path = tmp_path / "big.jsonl"
    with open(path, "w") as fh:
        for i in range(100_000):
            row: dict[str, object] = {
                "id": f"q{i}",
                "input": f"What is {i} + {i % 7}?",
                "target": str(i + i % 7),
                "slice": "abc"[i % 3],
                "difficulty": (i % 10) / 10,
            }
            if i % 3 == 0:
                row["input"] = [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": f"What is {i}?"},
                ]
            fh.write(json.dumps(row) + "\n")
    start = time.process_time()
    with open(path, "rb") as fh:
        baseline_rows = [json.loads(line) for line in fh]
    baseline = time.process_time() - start
    del baseline_rows
    start = time.process_time()
    dataset = load_dataset(path)
    elapsed = time.process_time() - start
    assert len(dataset) == 100_000
    assert elapsed < max(8 * baseline, 1.0), (elapsed, baseline)
