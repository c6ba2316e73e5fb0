import pytest

from assay.core import Output, Sample
from assay.score import NumberReader, extract_number, numeric


def grade(scorer, target, text):
    import asyncio

    return asyncio.run(scorer.score(Sample(id="1", input="q", target=target), Output(text=text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is 42.", 42.0),
        ("First 3, then 5, so the answer is $1,234.50", 1234.5),
        ("Let me compute: 12 * 3 = 36\n#### 36", 36.0),
        ("−12 degrees", -12.0),  # Unicode minus
        ("The temperature dropped to -7.5", -7.5),
        ("x = 3/4", 0.75),
        ("Avogadro: 6.02e23", 6.02e23),
        ("answer: ٤٢", 42.0),  # Arabic-Indic digits
        ("ＡＮＳＷＥＲ ４２", 42.0),  # full-width digits
        ("We have 1,2,3 items and then 10", 10.0),
        ("The total is 1,234,567 dollars", 1234567.0),
        ("\\boxed{17} (checked with 3 other methods)", 17.0),
        ("v2 of the model says 5", 5.0),
        ("answer is 3.5.", 3.5),
        ("It costs 12 500 units", 500.0),  # a plain space is not a thousands separator
    ],
)
def test_extracts_the_answer_number(text, expected):
    value, _ = extract_number(text)
    assert value == pytest.approx(expected)


def test_no_number_and_ambiguity():
    assert extract_number("") is None
    assert extract_number("no digits at all, not even one") is None
    assert extract_number("3 or 4", mode="only") == "ambiguous"
    assert extract_number("4, that is 4", mode="only")[0] == 4.0
    assert extract_number("3 then 4", mode="first")[0] == 3.0


def test_decimal_comma_percent_share_and_fractions_off():
    assert extract_number("1.234.567,5 €", reader=NumberReader(decimal=","))[0] == 1234567.5
    assert extract_number("12,5%", reader=NumberReader(decimal=",", percent="share"))[
        0
    ] == pytest.approx(0.125)
    assert extract_number("It is 45%")[0] == 45.0
    assert extract_number("3/4", reader=NumberReader(fractions=False))[0] == 4.0
    # A division by zero is not a number: nothing is read.
    assert extract_number("1/0 is undefined") is None


async def test_numeric_scorer_grades_within_tolerance():
    scorer = numeric(abs_tol=0.01)
    s = Sample(id="1", input="q", target="3.14")
    assert (await scorer.score(s, Output(text="pi is about 3.141"))).value == 1.0
    assert (await scorer.score(s, Output(text="pi is about 3.2"))).value == 0.0
    rel = numeric(rel_tol=0.05)
    s = Sample(id="1", input="q", target="1,000")
    assert (await rel.score(s, Output(text="roughly 1040"))).value == 1.0
    assert (await rel.score(s, Output(text="roughly 1060"))).value == 0.0


async def test_numeric_targets_in_any_form_and_multiple_targets():
    scorer = numeric()
    assert (
        await scorer.score(Sample(id="1", input="q", target="$2,500"), Output(text="2500"))
    ).value == 1.0
    assert (
        await scorer.score(Sample(id="1", input="q", target=["0.5", "50"]), Output(text="1/2"))
    ).value == 1.0
    share = numeric(percent="share")
    assert (
        await share.score(Sample(id="1", input="q", target="0.45"), Output(text="45%"))
    ).value == 1.0


async def test_numeric_wrong_empty_and_ungradable():
    scorer = numeric()
    wrong = await scorer.score(Sample(id="1", input="q", target="7"), Output(text="It is 8"))
    assert wrong.value == 0.0 and wrong.answer == "8" and "not 7" in wrong.explanation
    empty = await scorer.score(Sample(id="1", input="q", target="7"), Output(text=""))
    assert empty.value == 0.0 and "no number" in empty.explanation
    no_target = await scorer.score(Sample(id="1", input="q", target="Paris"), Output(text="7"))
    assert no_target.value is None and "no numeric target" in no_target.error
    missing = await scorer.score(Sample(id="1", input="q"), Output(text="7"))
    assert missing.value is None


async def test_numeric_huge_output_reads_the_final_answer():
    text = ("step 12 gives 144; " * 50_000) + "so the final answer is 1,728"
    score = await numeric().score(Sample(id="1", input="q", target="1728"), Output(text=text))
    assert score.value == 1.0


def test_numeric_rejects_bad_options():
    from assay.core import SpecError
    from assay.score import create_scorer

    with pytest.raises(SpecError, match="tolerances"):
        create_scorer("numeric", {"abs_tol": -1})
    with pytest.raises(SpecError, match="extract"):
        create_scorer("numeric", {"extract": "middle"})
