import pytest

from assay.core import Output, Sample, SpecError
from assay.score import create_scorer, format_check, length, regex

S = Sample(id="1", input="q", target="Paris")


async def test_length_bounds_in_chars_words_and_lines():
    scorer = length(max_words=5, min_chars=3)
    ok = await scorer.score(S, Output(text="Paris is the capital."))
    assert ok.value == 1.0 and ok.metadata["counts"] == {"chars": 21, "words": 4, "lines": 1}
    long = await scorer.score(S, Output(text="word " * 6))
    assert long.value == 0.0 and "6 words > max_words 5" in long.explanation
    empty = await scorer.score(S, Output(text=""))
    assert empty.value == 0.0 and "0 chars < min_chars 3" in empty.explanation
    # Characters are code points: an emoji and an accented letter count one each.
    assert (await length(max_chars=2).score(S, Output(text="é🙂"))).value == 1.0
    huge = await length(max_lines=100).score(S, Output(text="line\n" * 1_000_000))
    assert huge.value == 0.0 and huge.metadata["counts"]["lines"] == 1_000_000


def test_length_rejects_nonsense():
    with pytest.raises(SpecError, match="at least one bound"):
        create_scorer("length", {})
    with pytest.raises(SpecError, match="above"):
        create_scorer("length", {"min_words": 9, "max_words": 2})
    with pytest.raises(SpecError, match="unknown bound"):
        create_scorer("length", {"max_tokens": 9})


async def test_format_checks():
    bullets = format_check(bullet_list=True, no_markdown=True)
    assert (await bullets.score(S, Output(text="- one\n- two\n\n• three"))).value == 1.0
    fail = await bullets.score(S, Output(text="- one\nnot a bullet\n**bold**"))
    assert fail.value == 0.0 and set(fail.metadata["failed"]) == {"bullet_list", "no_markdown"}
    assert (await bullets.score(S, Output(text=""))).value == 0.0  # an empty list is no list
    framed = format_check(starts_with="Answer:", ends_with=".", ignore_case=True, single_line=True)
    assert (await framed.score(S, Output(text="  answer: Paris.  "))).value == 1.0
    assert (await framed.score(S, Output(text="Answer: Paris.\nMore"))).value == 0.0
    words = format_check(contains=["Paris"], not_contains="I think")
    assert (await words.score(S, Output(text="Paris"))).value == 1.0
    assert (await words.score(S, Output(text="I think Paris"))).metadata["failed"] == [
        "not_contains 'I think'"
    ]
    assert (await format_check(lowercase=True).score(S, Output(text="ünïcode ok"))).value == 1.0
    assert (await format_check(uppercase=True).score(S, Output(text="ÜNÏ"))).value == 1.0
    assert (await format_check(numbered_list=True).score(S, Output(text="1. a\n2) b"))).value == 1.0


def test_format_needs_a_known_check():
    with pytest.raises(SpecError, match="at least one check"):
        create_scorer("format", {})
    with pytest.raises(SpecError, match="unknown check"):
        create_scorer("format", {"haiku": True})


async def test_regex_against_a_pattern_or_the_targets():
    scorer = regex(pattern=r"\b\d{3}-\d{4}\b")
    hit = await scorer.score(S, Output(text="call 555-1234 now"))
    assert hit.value == 1.0 and hit.answer == "555-1234"
    assert (await scorer.score(S, Output(text=""))).value == 0.0
    from_target = regex(ignore_case=True)
    assert (await from_target.score(S, Output(text="it is PARIS"))).value == 1.0
    full = regex(pattern=r"[A-Z][a-z]+", full=True)
    assert (await full.score(S, Output(text=" Paris\n"))).value == 1.0
    assert (await full.score(S, Output(text="Paris, France"))).value == 0.0
    forbidden = regex(pattern=r"(?i)as an ai", negate=True)
    assert (await forbidden.score(S, Output(text="As an AI, I can't"))).value == 0.0
    assert (await forbidden.score(S, Output(text="Sure: Paris"))).value == 1.0
    unicode = regex(pattern=r"Zoë\s+Ünal")
    assert (await unicode.score(S, Output(text="by Zoë  Ünal"))).value == 1.0
    huge = await scorer.score(S, Output(text="x" * 2_000_000 + " 555-0000"))
    assert huge.value == 1.0


async def test_regex_bad_patterns():
    with pytest.raises(SpecError, match="not a valid regular expression"):
        create_scorer("regex", {"pattern": "(unclosed"})
    bad_target = await regex().score(Sample(id="1", input="q", target="(x"), Output(text="x"))
    assert bad_target.value is None and "not a valid" in bad_target.error
    no_target = await regex().score(Sample(id="1", input="q"), Output(text="x"))
    assert no_target.value is None
