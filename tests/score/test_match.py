import pytest

from assay.core import Output, Sample, SpecError
from assay.score import create_scorer, exact, includes


def s(target):
    return Sample(id="1", input="q", target=target)


async def test_exact_default_ignores_case_and_whitespace_only():
    scorer = exact()
    assert (await scorer.score(s("Paris"), Output(text="  paris "))).value == 1.0
    assert (await scorer.score(s("Paris"), Output(text="Paris."))).value == 0.0


async def test_exact_squad_normalisation():
    scorer = exact(ignore_punctuation=True, ignore_articles=True)
    assert (await scorer.score(s("the Eiffel Tower"), Output(text="Eiffel tower!"))).value == 1.0


async def test_any_of_several_targets_and_includes():
    assert (await exact().score(s(["4", "four"]), Output(text="Four"))).value == 1.0
    score = await includes().score(s("42"), Output(text="The answer is 42."))
    assert score.value == 1.0 and "42" in score.explanation
    assert (await includes().score(s("42"), Output(text="41"))).value == 0.0


async def test_missing_target_is_ungraded_not_zero():
    score = await exact().score(Sample(id="1", input="q"), Output(text="x"))
    assert score.value is None and "no target" in score.error


def test_registry_errors_suggest_names():
    with pytest.raises(SpecError, match="did you mean 'exact'"):
        create_scorer("exakt")
    with pytest.raises(SpecError, match="bad options"):
        create_scorer("exact", {"ignore_caps": True})
