"""Malformed inputs from reliability testing (issue 20, section 9): each is refused with a
DatasetError/SpecError naming the file and line, and the CLI exits 2, never with a traceback.
A property-based fuzz test keeps the loaders honest on arbitrary bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from assay.cli import app
from assay.core import AssayError, DatasetError
from assay.data import load_dataset
from assay.run.yamlfile import parse_yaml

HERE = Path(__file__).parent / "malformed"

SPEC = (
    "name: mal\ndataset: {path: DATA}\nsubjects:\n  - name: bot\n    model: sim/atlas-large\n"
    "scorers: [exact]\n"
)


def _run(tmp_path: Path, data: Path) -> tuple[int, str]:
    spec = tmp_path / "eval.yaml"
    spec.write_text(SPEC.replace("DATA", str(data)))
    result = CliRunner().invoke(app, ["run", str(spec), "--db", str(tmp_path / "a.db")])
    text = result.output + (str(result.exception) if result.exception else "")
    return (2 if isinstance(result.exception, AssayError) else result.exit_code), text


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("inf-number.jsonl", "inf-number.jsonl:1"),
        ("inf-in-metadata.jsonl", "inf-in-metadata.jsonl:1: malformed JSON: 1e999 is too large"),
        ("lone-surrogate.jsonl", "lone-surrogate.jsonl:1: a lone surrogate escape (\\ud800)"),
        ("control-char.yaml", "control-char.yaml:2: malformed YAML: control character #x0001"),
        ("duplicate-keys-data.yaml", "duplicate-keys-data.yaml:7: duplicate key 'input' (first on"),
    ],
)
def test_malformed_data_files_exit_2_with_the_line(tmp_path: Path, name: str, message: str) -> None:
    code, text = _run(tmp_path, HERE / name)
    assert code == 2 and message in text, text
    assert "Traceback" not in text


def test_json_nested_100000_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"id": "a", "input": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(DatasetError, match=r"deep.jsonl:1: malformed JSON: nested too deeply"):
        load_dataset(path)
    array = tmp_path / "deep.json"
    array.write_text("[" + "[" * 100_000 + "]" * 100_000 + "]")
    with pytest.raises(DatasetError, match="nested too deeply"):
        load_dataset(array)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_data_file_linked_to_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    link = tmp_path / "data.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(DatasetError, match="not a regular file"):
        load_dataset(link)


def test_duplicate_keys_in_a_spec_name_both_lines() -> None:
    with pytest.raises(AssayError) as error:
        parse_yaml((HERE / "duplicate-keys.yaml").read_text(), "duplicate-keys.yaml")
    assert "duplicate-keys.yaml:2: duplicate key 'name' (first on line 1)" in str(error.value)
    nested = "subjects:\n  - name: a\n    model: x\n    model: y\n"
    with pytest.raises(AssayError, match=r"s.yaml:4 \(subjects\[0\]\): duplicate key 'model'"):
        parse_yaml(nested, "s.yaml")


def test_aliases_inside_params_are_read_and_a_bomb_there_is_refused(tmp_path: Path) -> None:
    fine = parse_yaml("params: &p {temperature: 0, stop: &s [a, b], more: {x: *s}}\nq: *p\n", "f")
    assert fine.data["q"]["more"] == {"x": ["a", "b"]}
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    bomb = "\n".join(levels) + "\nparams: {p: *a7}\n"
    with pytest.raises(AssayError, match="refused YAML"):
        parse_yaml(bomb, "bomb.yaml")


def test_deeply_nested_yaml_spec_is_refused() -> None:
    with pytest.raises(AssayError, match="nested too deeply"):
        parse_yaml("params: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    ),
    suffix=st.sampled_from([".jsonl", ".json", ".yaml", ".csv"]),
)
def test_loaders_fail_only_with_a_located_dataset_error(
    tmp_path: Path, body: bytes, suffix: str
) -> None:
    """Arbitrary bytes either load or raise a DatasetError that names the file; nothing else
    (no UnicodeError, RecursionError, yaml or csv exception) escapes."""
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(body)
    try:
        load_dataset(path)
    except DatasetError as error:
        assert str(path) in (error.where or ""), error
        assert error.fix


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_spec_parser_fails_only_with_a_spec_error(text: str) -> None:
    try:
        parse_yaml(text, "fuzz.yaml")
    except AssayError as error:
        assert (error.where or "").startswith("fuzz.yaml"), error
