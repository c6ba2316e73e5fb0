import textwrap

import pytest

from assay.core import ConfigError, SpecError
from assay.run import eval_from_yaml_text, load_eval

BASE = """\
name: t
dataset:
  samples:
    - {id: a, input: "1+1?", target: "2", slice: x}
    - {id: b, input: "2+2?", target: "4", slice: y}
subjects:
  - name: s
    model: sim/atlas-large
scorers: [exact]
"""


def build(text, tmp_path=None):
    return eval_from_yaml_text(
        textwrap.dedent(text), base_dir=tmp_path or ".", filename="eval.yaml"
    )


def test_inline_spec_builds_an_eval():
    ev = build(BASE + "slices: [slice]\nepochs: 2\nseed: 3\n")
    assert ev.name == "t" and len(ev.dataset) == 2 and ev.epochs == 2 and ev.seed == 3
    assert [s.name for s in ev.subjects] == ["s"] and [s.name for s in ev.scorers] == ["exact"]
    assert ev.n_planned == 4


@pytest.mark.parametrize(
    "text,where,message",
    [
        ("name: t\ndataset: [\n", "eval.yaml:", "invalid YAML"),
        (BASE + "epoch: 2\n", "eval.yaml:10 (epoch)", "unknown key 'epoch'"),
        (BASE.replace("name: t\n", ""), "eval.yaml:1 (name)", "missing required key 'name'"),
        (
            BASE.replace("sim/atlas-large", "opneai/gpt-4o"),
            "eval.yaml:8 (subjects[0].model)",
            "unknown provider 'opneai'",
        ),
        (
            BASE.replace("sim/atlas-large", "gpt-4o"),
            "eval.yaml:8 (subjects[0].model)",
            "does not name a provider",
        ),
        (BASE.replace("[exact]", "[exakt]"), "eval.yaml:9 (scorers[0])", "unknown scorer 'exakt'"),
        (BASE + "slices: [topic]\n", "eval.yaml:10 (slices)", "slice key 'topic'"),
        (
            BASE.replace(
                "    model: sim/atlas-large\n", "    model: sim/atlas-large\n    outputs: o.jsonl\n"
            ),
            "eval.yaml:7 (subjects[0])",
            "exactly one of",
        ),
        (BASE + "epochs: 0\n", "eval.yaml:10 (epochs)", "greater than or equal to 1"),
    ],
)
def test_spec_errors_name_the_line_and_key(text, where, message):
    with pytest.raises(SpecError) as info:
        build(text)
    assert info.value.where.startswith(where), info.value.where
    assert message in str(info.value)


def test_unknown_sim_system_and_missing_key_variable(monkeypatch):
    with pytest.raises(ConfigError, match="atlas-huge"):
        build(BASE.replace("atlas-large", "atlas-huge"))
    monkeypatch.delenv("ASSAY_TEST_NO_SUCH_KEY", raising=False)
    text = BASE.replace("sim/atlas-large", "mine/gpt-4o") + (
        "providers:\n  mine: {type: openai, base_url: 'http://127.0.0.1:9/v1', api_key_env: ASSAY_TEST_NO_SUCH_KEY}\n"
    )
    with pytest.raises(ConfigError, match="ASSAY_TEST_NO_SUCH_KEY"):
        build(text)


def test_files_resolve_relative_to_the_spec(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"id": "a", "input": "hi", "target": "x"}\n')
    (tmp_path / "p.txt").write_text("Say: {{ input }}")
    (tmp_path / "eval.yaml").write_text(
        "name: t\ndataset: {path: data.jsonl}\nsubjects:\n  - {name: s, model: sim/atlas-large, prompt: p.txt}\n"
    )
    ev = load_eval(tmp_path / "eval.yaml")
    assert ev.subjects[0].prompt.user == "Say: {{ input }}"
    assert ev.dataset.sample_ids == ["a"]


def test_missing_dataset_file_names_the_spec_line(tmp_path):
    (tmp_path / "eval.yaml").write_text(
        "name: t\ndataset:\n  path: nope.jsonl\nsubjects:\n  - {name: s, model: sim/atlas-large}\n"
    )
    with pytest.raises(SpecError) as info:
        load_eval(tmp_path / "eval.yaml")
    assert info.value.where.endswith("eval.yaml:3 (dataset.path)")


def test_inline_samples_with_limit_and_yaml_12_scalars():
    ev = build(
        BASE.replace("scorers: [exact]\n", "scorers: [exact]\n")
        .replace("  samples:\n", "  limit: 1\n  samples:\n")
        .replace('target: "2"', "target: no")
    )
    assert len(ev.dataset) == 1 and ev.dataset.samples[0].target == "no"
