"""A "billion laughs" YAML is refused fast, by the one loader every YAML goes through."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assay.core import DatasetError, SpecError
from assay.data import load_dataset
from assay.data.readers import MAX_ALIAS_EXPANSION
from assay.run.yamlfile import load_yaml, parse_yaml


def _laughs(levels: int, indent: str = "      ") -> str:
    """Nested anchors, nine aliases wide: level k expands to 9^(k+1) strings."""
    lines = [f'{indent}l0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"{indent}l{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines)


def _spec(levels: int) -> str:
    return (
        "name: bomb\ndataset:\n  samples: [{id: a, input: x}]\nsubjects:\n  - name: s\n"
        "    model: sim/atlas-small\n    params:\n" + _laughs(levels) + "\nscorers: [exact]\n"
    )


def test_a_seven_level_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_spec(7), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_yaml(path)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5
    message = str(caught.value)
    assert f"{path}:" in message  # names the file and line
    assert "billion laughs" in message and "anchors" in message


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError, match="recursive alias"):
        parse_yaml("params: &p {x: [1, *p]}\n", "spec.yaml")


def test_ordinary_anchors_still_work() -> None:
    doc = parse_yaml(
        "base: &base {temperature: 0, max_tokens: 64}\n"
        "subjects:\n  - {name: a, params: *base}\n  - {name: b, params: *base}\n",
        "spec.yaml",
    )
    assert doc.data["subjects"][1]["params"] == {"temperature": 0, "max_tokens": 64}
    # Four levels (9^5 = 59,049 strings) stay under the cap.
    assert MAX_ALIAS_EXPANSION > 9**5
    parse_yaml("x:\n" + _laughs(4, "  ") + "\n", "spec.yaml")


def test_a_yaml_dataset_goes_through_the_same_cap(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text(
        "anchors:\n" + _laughs(7, "  ") + "\nsamples:\n  - {id: a, input: *a7}\n",
        encoding="utf-8",
    )
    start = time.perf_counter()
    with pytest.raises(DatasetError, match="billion laughs"):
        load_dataset(path)
    assert time.perf_counter() - start < 1.0
