"""Every bad row stops the load with a DatasetError naming the exact place and a fix."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_testutil import write_csv, write_jsonl, write_parquet

from assay.core import DatasetError
from assay.data import FieldMap, dataset_from_records, load_dataset


def load_error(path: Path, **kwargs: object) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_dataset(path, **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert error.fix, "every DatasetError must say how to fix it"
    assert str(error).startswith(f"{error.where}: ")
    return error


def lines(path: Path, *text: str) -> Path:
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


# -- malformed files ----------------------------------------------------------------------


def test_malformed_jsonl_names_line_and_json_error(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "data.jsonl",
        '{"id": "q1", "input": "a"}',
        "",
        '{"id": "q2", "input": "b"',
        '{"id": "q3", "input": "c"}',
    )
    error = load_error(path)
    assert error.where == f"{path}:3"
    assert error.message == "malformed JSON: Expecting ',' delimiter (column 26)"
    assert "one complete JSON object" in error.fix


def test_jsonl_nan_is_rejected(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.jsonl", '{"id": "a", "input": "x", "score": NaN}')
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert "NaN is not valid JSON" in error.message
    assert "null" in error.fix


def test_malformed_json_array_names_line(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "data.json",
        "[",
        '  {"id": "q1", "input": "a"},',
        '  {"id": "q2" "input": "b"}',
        "]",
    )
    error = load_error(path)
    assert error.where == f"{path}:3"
    assert error.message.startswith("malformed JSON: Expecting ',' delimiter")


def test_json_top_level_must_be_a_list(tmp_path: Path) -> None:
    path = lines(tmp_path / "data.json", '{"samples": []}')
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == "the top level is an object, not a list of samples"


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "data.yaml",
        "- id: q1",
        "  input: a",
        "- id: q2",
        '  input: "unterminated',
        "- id: q3",
    )
    error = load_error(path)
    assert error.where is not None and error.where.startswith(f"{path}:")
    assert error.message.startswith("malformed YAML")


def test_yaml_root_must_be_a_list(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.yaml", "name: x", "rows: []")
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == "the top level is a mapping without a 'samples' key"


def test_csv_row_with_too_many_cells(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.csv", "id,input", "q1,hello", "q2,hello, world")
    error = load_error(path)
    assert error.where == f"{path}:3"
    assert error.message == "row has 3 cells but the header has 2 columns"
    assert "quote" in error.fix


def test_csv_duplicate_header(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.csv", "id,input,input", "q1,a,b")
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == "column 'input' appears twice in the header"


def test_parquet_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_text("not parquet")
    error = load_error(path)
    assert error.where == str(path)
    assert error.message.startswith("cannot read Parquet file")


# -- rows that are not objects ------------------------------------------------------------


def test_jsonl_row_that_is_not_an_object(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.jsonl", '{"id": "a", "input": "x"}', "[1, 2]")
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message == "row is a list, not an object"


def test_json_array_item_that_is_not_an_object(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.json", '[{"id": "a", "input": "x"},', ' "oops"]')
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message == "row is a string, not an object"


def test_yaml_row_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = lines(tmp_path / "d.yaml", "samples:", "  - id: a", "    input: x", "  - just text")
    error = load_error(path)
    assert error.where == f"{path}:4"
    assert error.message == "row is a string, not an object"


# -- input -------------------------------------------------------------------------------


def test_missing_input_names_field_columns_and_mapping(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": "a", "input": "x"}, {"id": "b", "question": "Why?", "answer": "Because"}],
    )
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message == "input field 'input' is missing (columns present: id, question, answer)"
    assert error.fix == "map the input column in the spec, e.g. `fields: {input: question}`"


def test_missing_input_in_csv_header_fails_on_first_record(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["qid", "prompt"], [["1", "hello"]])
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert "columns present: qid, prompt" in error.message
    assert "`fields: {input: prompt}`" in error.fix


def test_null_input(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": None}])
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message.startswith("input field 'input' is null")


@pytest.mark.parametrize(
    ("value", "kind"),
    [(5, "a number"), (2.5, "a number"), (True, "a boolean"), ({"a": 1}, "an object")],
)
def test_input_of_wrong_type(tmp_path: Path, value: object, kind: str) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"id": "a", "input": "ok"}, {"id": "b", "input": value}]
    )
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message.startswith(
        f"input 'input' must be text or a list of {{role, content}} messages, got {kind}"
    )


def test_blank_input(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["id", "input"], [["a", "x"], ["b", "  "]])
    error = load_error(path)
    assert error.where == f"{path}:3"
    assert error.message == "input 'input' is empty"


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "input is an empty list of messages"),
        (
            [{"role": "bot", "content": "hi"}],
            "input message 0 has role 'bot'; expected one of assistant, system, tool, user",
        ),
        ([{"role": "user", "content": 3}], "input message 0 content must be text, got a number"),
        (["hi"], "input message 0 is a string, not a {role, content} object"),
        (
            [{"role": "user", "content": "a", "name": "x"}],
            "input message 0 has unexpected keys 'name'",
        ),
    ],
)
def test_bad_chat_input(tmp_path: Path, messages: list[object], message: str) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": messages}])
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == message


# -- ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_empty_id_in_jsonl(tmp_path: Path, blank: str | None) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"id": "a", "input": "x"}, {"id": blank, "input": "y"}]
    )
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message == "empty id in column 'id'"


def test_empty_id_in_csv_names_physical_line(tmp_path: Path) -> None:
    # The first record spans lines 2-3 (a quoted line break), so the second starts on line 4.
    path = write_csv(tmp_path / "d.csv", ["id", "input"], [["a", "two\nlines"], ["", "y"]])
    error = load_error(path)
    assert error.where == f"{path}:4"
    assert error.message == "empty id in column 'id'"


def test_id_of_wrong_type(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": ["a"], "input": "x"}])
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == "id must be text or an integer, got a list (['a'])"


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    write_jsonl(
        path,
        [{"id": f"q{i}", "input": "x"} for i in (1, 2, 7, 4)] + [{"id": "q7", "input": "again"}],
    )
    error = load_error(path)
    assert error.where == f"{path}:5"
    assert error.message == f"duplicate id 'q7' (first seen at {path}:3)"
    assert error.fix == "give every row a unique id"


def test_duplicate_id_relative_path_reads_like_the_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(
        Path("data.jsonl"),
        [{"id": "q1", "input": "a"}, {"id": "q7", "input": "b"}, {"id": "q7", "input": "c"}],
    )
    error = load_error(Path("data.jsonl"))
    assert str(error).startswith("data.jsonl:3: duplicate id 'q7' (first seen at data.jsonl:2)")


def test_duplicate_id_int_and_text_are_the_same_id(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": 7, "input": "a"}, {"id": "7", "input": "b"}])
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message == f"duplicate id '7' (first seen at {path}:1)"


def test_duplicate_id_in_csv_and_yaml_and_parquet(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "d.csv", ["id", "input"], [["a", "x"], ["b", "y"], ["a", "z"]])
    error = load_error(csv_path)
    assert (error.where, error.message) == (
        f"{csv_path}:4",
        f"duplicate id 'a' (first seen at {csv_path}:2)",
    )
    yaml_path = lines(tmp_path / "d.yaml", "- id: a", "  input: x", "- id: a", "  input: y")
    error = load_error(yaml_path)
    assert (error.where, error.message) == (
        f"{yaml_path}:3",
        f"duplicate id 'a' (first seen at {yaml_path}:1)",
    )
    pq_path = write_parquet(
        tmp_path / "d.parquet", [{"id": "a", "input": "x"}, {"id": "a", "input": "y"}]
    )
    error = load_error(pq_path)
    assert (error.where, error.message) == (
        f"{pq_path}:row 2",
        f"duplicate id 'a' (first seen at {pq_path}:row 1)",
    )


def test_duplicate_generated_ids_explain_identical_rows(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"input": "x"}, {"input": "y"}, {"input": "x"}])
    error = load_error(path)
    assert error.where == f"{path}:3"
    assert error.message.startswith("duplicate id 's")
    assert f"(first seen at {path}:1): the two rows have identical content" in error.message


def test_id_present_in_some_rows_only(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x"}, {"input": "y"}])
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message == f"row has no 'id' field, but other rows have one (e.g. {path}:1)"


def test_id_missing_in_first_rows_only(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"input": "x"}, {"input": "y"}, {"id": "c", "input": "z"}]
    )
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == f"row has no 'id' field, but other rows have one (e.g. {path}:3)"


# -- other columns -----------------------------------------------------------------------


def test_target_of_wrong_type(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x", "target": {"a": 1}}])
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == "target 'target' must be text or a list of texts, got an object"


def test_invalid_row_provenance(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": "a", "input": "x"}, {"id": "b", "input": "y", "provenance": {"origin": "stolen"}}],
    )
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message.startswith("invalid provenance: origin: Input should be")


def test_unknown_provenance_field_in_csv(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv", ["id", "input", "provenance"], [["a", "x", '{"licence_": "MIT"}']]
    )
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert "licence_: Extra inputs are not permitted" in error.message


def test_invalid_dataset_provenance(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x"}])
    error = load_error(path, provenance={"consent_status": "maybe"})
    assert error.where == str(path)
    assert error.message.startswith("invalid dataset provenance: consent_status")


def test_metadata_column_must_be_an_object(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x", "metadata": [1]}])
    error = load_error(path)
    assert error.where == f"{path}:1"
    assert error.message == "column 'metadata' must hold an object, got a list"


def test_invalid_json_in_csv_provenance_cell(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["id", "input", "provenance"], [["a", "x", "{oops"]])
    error = load_error(path)
    assert error.where == f"{path}:2"
    assert error.message.startswith("column 'provenance' does not hold valid JSON")


def test_explicit_mapping_to_a_column_that_does_not_exist(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x", "answer": "y"}])
    error = load_error(path, fields={"target": "answr"})
    assert error.where == str(path)
    assert error.message == "target column 'answr' is not in any row (columns: answer, id, input)"
    error = load_error(path, fields={"metadata": ["topic"]})
    assert error.message.startswith("metadata column 'topic' is not in any row")


def test_invalid_field_mapping(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "x"}])
    error = load_error(path, fields={"inptu": "question"})
    assert error.where == str(path)
    assert error.message.startswith("invalid field mapping: inptu: Extra inputs are not permitted")
    error = load_error(path, fields={"input": "q", "target": "q"})
    assert "column 'q' is mapped to both input and target" in error.message


# -- whole files -------------------------------------------------------------------------


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("hello")
    error = load_error(path)
    assert error.where == str(path)
    assert error.message == "unknown dataset format '.txt'"
    assert ".jsonl" in error.fix and ".parquet" in error.fix


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    error = load_error(path)
    assert error.where == str(path)
    assert error.message == "dataset file not found"


def test_directory(tmp_path: Path) -> None:
    error = load_error(tmp_path)
    assert error.where == str(tmp_path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("d.jsonl", ""),
        ("d.jsonl", "\n  \n"),
        ("d.json", "[]"),
        ("d.csv", "id,input\n"),
        ("d.yaml", "[]\n"),
        ("d.yaml", "samples: []\n"),
        ("d.yaml", ""),
    ],
)
def test_empty_dataset(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    error = load_error(path)
    assert error.where == str(path)
    assert error.message == "the dataset has no samples"


def test_empty_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(
        pa.table({"id": pa.array([], pa.string()), "input": pa.array([], pa.string())}), path
    )
    error = load_error(path)
    assert (error.where, error.message) == (str(path), "the dataset has no samples")


def test_parquet_bad_row_names_row_number(tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "d.parquet", [{"id": "a", "input": "x"}, {"id": "b", "input": None}]
    )
    error = load_error(path)
    assert error.where == f"{path}:row 2"
    assert error.message.startswith("input field 'input' is null")


def test_first_error_stops_the_load(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a"}, {"id": ""}, "x"])
    error = load_error(path)
    assert error.where == f"{path}:1"


# -- inline records ----------------------------------------------------------------------


def test_records_errors_use_given_locations() -> None:
    records = [{"id": "a", "input": "x"}, {"id": "a", "input": "y"}]
    with pytest.raises(DatasetError) as info:
        dataset_from_records(
            records, name="inline", source="eval.yaml", locations=["eval.yaml:14", "eval.yaml:17"]
        )
    assert info.value.where == "eval.yaml:17"
    assert info.value.message == "duplicate id 'a' (first seen at eval.yaml:14)"


def test_records_errors_without_locations() -> None:
    with pytest.raises(DatasetError) as info:
        dataset_from_records([{"id": "a", "input": "x"}, {"id": "b"}], name="inline")
    assert info.value.where == "inline:item 2"
    with pytest.raises(DatasetError) as info:
        dataset_from_records([], name="inline")
    assert (info.value.where, info.value.message) == ("inline", "the dataset has no samples")


def test_records_location_count_must_match() -> None:
    with pytest.raises(ValueError, match="locations"):
        dataset_from_records([{"input": "x"}], name="n", locations=[])


def test_limit_must_be_positive(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"input": "x"}])
    with pytest.raises(ValueError):
        load_dataset(path, limit=0)


def test_field_map_accepts_instance_and_rejects_conflicts() -> None:
    assert FieldMap.coerce(FieldMap(input="q")).input == "q"
    with pytest.raises(DatasetError):
        FieldMap.coerce({"metadata": ["id"]})


def test_error_message_is_json_safe(tmp_path: Path) -> None:
    # The rendered error is one line a CLI can print.
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": 1}])
    error = load_error(path)
    assert "\n" not in str(error)
    json.dumps(str(error))
