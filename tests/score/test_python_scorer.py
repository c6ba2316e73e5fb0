import textwrap

import pytest

from assay.core import Output, Sample, SpecError
from assay.run import eval_from_yaml_text, run_async
from assay.score import ScorerContext, create_scorer
from assay.store import Store

CHECKS = """
from assay.core import Score


def exact_length(sample, output):
    return len(output.text) == len(sample.target)


def with_reason(sample, output):
    return 0.25, "a quarter"


def as_mapping(sample, output):
    return {"value": 2, "answer": output.text[:3], "metadata": {"k": 1}}


def as_score(sample, output):
    return Score(scorer="ignored", value=0.5, explanation="own score")


async def slow(sample, output):
    return 1


def cannot(sample, output):
    return None


def broken(sample, output):
    raise KeyError("boom")


def wrong_type(sample, output):
    return "yes"


def not_finite(sample, output):
    return float("nan")
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "mychecks_scoring.py").write_text(textwrap.dedent(CHECKS))
    return tmp_path


def build(project, ref):
    return create_scorer("python", ref, context=ScorerContext(base_dir=project))


S = Sample(id="1", input="q", target="Paris")


async def test_every_return_form(project):
    assert (
        await build(project, "mychecks_scoring:exact_length").score(S, Output(text="Rome!"))
    ).value == 1.0
    reason = await build(project, "mychecks_scoring:with_reason").score(S, Output(text=""))
    assert reason.value == 0.25 and reason.explanation == "a quarter"
    mapping = await build(project, "mychecks_scoring:as_mapping").score(S, Output(text="ünïcode"))
    assert mapping.value == 2.0 and mapping.answer == "ünï" and mapping.metadata == {"k": 1}
    own = await build(project, "mychecks_scoring:as_score").score(S, Output(text="x"))
    assert own.scorer == "as_score" and own.value == 0.5
    assert (await build(project, "mychecks_scoring:slow").score(S, Output(text="x"))).value == 1.0


async def test_failures_are_errors_never_zeros(project):
    for ref, message in [
        ("cannot", "could not grade"),
        ("broken", "KeyError"),
        ("wrong_type", "returned str"),
        ("not_finite", "nan"),
    ]:
        score = await build(project, f"mychecks_scoring:{ref}").score(S, Output(text="x"))
        assert score.value is None and message in score.error, ref


def test_bad_references(project):
    with pytest.raises(SpecError, match="module:function"):
        build(project, "no_colon")
    with pytest.raises(SpecError, match="cannot import"):
        build(project, "mychecks_scoring:missing")
    with pytest.raises(SpecError, match="cannot import"):
        build(project, "no_such_module_xyz:f")


def test_version_follows_the_source(project):
    a = build(project, "mychecks_scoring:exact_length")
    b = build(project, "mychecks_scoring:broken")
    assert a.version.startswith("py-") and a.version != b.version
    assert a.config == {"function": "mychecks_scoring:exact_length"}


async def test_python_scorer_from_a_spec_relative_to_its_folder(tmp_path):
    (tmp_path / "grading_rules_mod.py").write_text(
        "def starts_upper(sample, output):\n    return output.text[:1].isupper()\n"
    )
    ev = eval_from_yaml_text(
        "name: py\ndataset:\n  samples:\n    - {id: a, input: x, target: Paris}\n"
        "subjects:\n  - {name: s, model: sim/atlas-large}\n"
        "scorers:\n  - {python: 'grading_rules_mod:starts_upper'}\n"
        "  - python: {function: 'grading_rules_mod:starts_upper', name: upper2}\n",
        base_dir=tmp_path,
    )
    store = Store(str(tmp_path / "a.db"))
    outcome = await run_async(ev, db=store)
    [result] = list(store.iter_results(outcome.run_id))
    assert [s.scorer for s in result.scores] == ["starts_upper", "upper2"]
    assert all(s.value in (0.0, 1.0) for s in result.scores)
    store.close()
