"""Prompt mistakes are caught before the run, naming the spec line (issue 20, 6 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.core import SpecError
from assay.run import eval_from_yaml_text

SPEC = """\
name: t
dataset:
  samples:
    - {{id: a, input: "What is 2+2?", target: "4", topic: maths}}
    - {{id: b, input: "What is 3+2?", target: "5", topic: maths, tone: dry}}
subjects:
  - name: s
    model: sim/atlas-small
    prompt: {prompt}
scorers: [exact]
"""


def _build(prompt: str, base: Path):  # type: ignore[no-untyped-def]
    return eval_from_yaml_text(SPEC.format(prompt=prompt), base_dir=base, filename="eval.yaml")


def test_a_typo_in_a_template_variable_names_it_the_ones_available_and_the_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(SpecError) as caught:
        _build('"Q: {{ inptu }}"', tmp_path)
    message = str(caught.value)
    assert message.startswith("eval.yaml:9 (subjects[0].prompt)")
    assert "{{ inptu }} is not a field of the dataset" in message
    assert "did you mean {{ input }}?" in message
    assert "available: {{ input }}, {{ topic }}" in message
    assert caught.value.exit_code == 2


def test_a_variable_only_some_samples_have_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"\{\{ tone \}\} is missing from 1 of 2 samples"):
        _build('"{{ tone }}: {{ input }}"', tmp_path)
    assert _build('"{{ topic }}: {{ input }}"', tmp_path).subjects[0].prompt.variables == {
        "topic",
        "input",
    }


def test_a_variable_in_a_prompt_file_names_the_file_line_too(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("Be brief.\nQ: {{ qestion }}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"\{\{ qestion \}\} \(.*p\.txt:2\)"):
        _build("p.txt", tmp_path)


@pytest.mark.parametrize("value", ["prompt_v1", "prompts/v1.txt", "v1.md"])
def test_a_missing_prompt_file_is_an_error_not_the_prompt(tmp_path: Path, value: str) -> None:
    with pytest.raises(SpecError) as caught:
        _build(value, tmp_path)
    message = str(caught.value)
    assert message.startswith("eval.yaml:9 (subjects[0].prompt): prompt file not found")
    assert "`prompt: |`" in message and "{{ input }}" in message  # how to go inline


def test_inline_prompts_still_work(tmp_path: Path) -> None:
    for value in ('"Answer briefly: {{ input }}"', '"Just answer."', "|\n      Translate\n"):
        ev = _build(value, tmp_path)
        assert ev.subjects[0].prompt.source == "eval.yaml:9 (subjects[0].prompt)"
    (tmp_path / "prompt_v1").write_text("{{ input }}?", encoding="utf-8")
    assert _build("prompt_v1", tmp_path).subjects[0].prompt.user == "{{ input }}?"
