import pytest

from assay.core import Output, Sample, SpecError
from assay.score import choice, create_scorer

CAPITALS = ["Paris", "London", "Rome", "Berlin"]


def mc(target, choices=CAPITALS):
    return Sample(id="1", input="Capital of Italy?", target=target, metadata={"choices": choices})


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("C", "C"),
        ("(c)", "C"),
        ("**C.**", "C"),
        ("The answer is (C).", "C"),
        ("A cat sat on the mat. Answer: C", "C"),  # the article "A" is not a choice
        ("Not A, the answer is C", "C"),  # the conclusion counts
        ("Options: (A) x (B) y. The correct answer is C", "C"),
        ("I would pick **C**", "C"),
        ("C) Rome", "C"),
        ("I think it is Rome.", "C"),  # the text of exactly one choice
        ("the answer is (c)", "C"),
    ],
)
async def test_reads_the_chosen_letter(text, letter):
    score = await choice().score(mc("C"), Output(text=text))
    assert score.answer == letter and score.value == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Answer: a prime number",  # lower-case article after a marker
        "A) Paris\nB) London\nC) Rome",  # restating the options is ambiguous
        "Rome or Paris",  # two choice texts
        "É",
        "🙂" * 1000,
    ],
)
async def test_no_readable_choice_grades_zero_not_a_guess(text):
    score = await choice().score(mc("C"), Output(text=text))
    assert score.value == 0.0 and score.answer is None


async def test_targets_as_letter_index_or_text_and_custom_letters():
    assert (await choice().score(mc("2"), Output(text="C"))).value == 1.0
    assert (await choice().score(mc("Rome"), Output(text="(C)"))).value == 1.0
    assert (await choice().score(mc("B"), Output(text="(C)"))).value == 0.0
    # Letters beyond the number of choices are not choices.
    assert (await choice().score(mc("C"), Output(text="E"))).value == 0.0
    tf = choice(letters="TF", match_text=False)
    sample = Sample(id="1", input="True or false?", target="F")
    assert (await tf.score(sample, Output(text="Answer: F"))).value == 1.0


async def test_target_that_is_not_a_choice_is_ungradable():
    score = await choice().score(mc("Madrid"), Output(text="C"))
    assert score.value is None and "names no choice" in score.error


def test_bad_letters_rejected():
    with pytest.raises(SpecError, match="capital letters"):
        create_scorer("choice", {"letters": "a1"})
    with pytest.raises(SpecError, match="repeat"):
        create_scorer("choice", {"letters": "ABA"})
