import math

import pytest

from assay.score.judges import (
    VerdictError,
    label_distribution,
    parse_verdict,
    pass_fail_normaliser,
    scale_normaliser,
    winner_normaliser,
)

FIVE = scale_normaliser(1, 5)


@pytest.mark.parametrize(
    ("text", "label", "rationale"),
    [
        ('{"rationale": "good", "score": 4}', "4", "good"),
        ('Thinking...\n```json\n{"rationale": "ok", "score": "5"}\n```\nDone.', "5", "ok"),
        ('{"score": 2} trailing prose {"unrelated": 1}', "2", None),
        (
            "<rationale>Zoë's answer is fine 🙂</rationale>\n<score>3</score>",
            "3",
            "Zoë's answer is fine 🙂",
        ),
        ('draft {"score": 1} ... final {"rationale": "fixed", "score": 3}', "3", "fixed"),
        ('{"rationale": "x", "score": 4.0}', "4", "x"),
        ('{"rationale": "x", "score": "4/5"}', "4", "x"),
    ],
)
def test_reads_scores_from_json_or_tags(text, label, rationale):
    verdict = parse_verdict(text, "score", FIVE)
    assert verdict.label == label and verdict.rationale == rationale
    assert verdict.value == float(label)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "nothing"),
        ("I would give it a four.", "no 'score'"),
        ('{"rationale": "truncated', "no 'score'"),
        ('{"score": 9}', "outside the scale"),
        ('{"score": 0}', "outside the scale"),
        ('{"score": "excellent"}', "not a number"),
        ('{"score": true}', "not a number"),
        ('{"score": 4} <score>2</score>', "ambiguous"),
        ('{"score": NaN}', "outside the scale"),
    ],
)
def test_unreadable_verdicts_are_errors(text, reason):
    with pytest.raises(VerdictError, match=reason):
        parse_verdict(text, "score", FIVE)


def test_pass_fail_and_winner_labels():
    assert parse_verdict('{"verdict": "PASS"}', "verdict", pass_fail_normaliser).value == 1.0
    assert parse_verdict("<verdict>failed</verdict>", "verdict", pass_fail_normaliser).value == 0.0
    with pytest.raises(VerdictError):
        parse_verdict('{"verdict": "maybe"}', "verdict", pass_fail_normaliser)
    for raw, label in [
        ("A", "A"),
        ("Response B", "B"),
        ("[[A]]", "A"),
        ("Tie", "tie"),
        ("draw", "tie"),
    ]:
        assert winner_normaliser(raw)[0] == label
    with pytest.raises(VerdictError):
        winner_normaliser("C")


def test_span_points_at_the_value_for_logprobs():
    text = '{"rationale": "fine", "score": 4}'
    verdict = parse_verdict(text, "score", FIVE)
    assert text[verdict.span[0]] == "4"
    tagged = "<rationale>r</rationale><score> 2 </score>"
    assert tagged[parse_verdict(tagged, "score", FIVE).span[0]] == "2"


def _raw(tokens, top):
    content = [{"token": t, "logprob": 0.0, "top_logprobs": []} for t in tokens]
    for i, entries in top.items():
        content[i]["top_logprobs"] = [{"token": tok, "logprob": math.log(p)} for tok, p in entries]
    return {"choices": [{"logprobs": {"content": content}}]}


def test_label_distribution_renormalises_over_labels():
    text = '{"rationale": "fine", "score": 4}'
    tokens = ['{"', "rationale", '":', ' "', "fine", '",', ' "', "score", '":', " ", "4", "}"]
    assert "".join(tokens) == text
    raw = _raw(tokens, {10: [("4", 0.6), ("5", 0.3), ("3", 0.05), ("the", 0.05)]})
    offset = parse_verdict(text, "score", FIVE).span[0]

    def read(token):
        try:
            return FIVE(token)[0]
        except VerdictError:
            return None

    distribution, mass = label_distribution(raw, text, offset, read)
    assert distribution == pytest.approx({"4": 0.6 / 0.95, "5": 0.3 / 0.95, "3": 0.05 / 0.95})
    assert mass == pytest.approx(0.95)
    assert label_distribution(None, text, offset, read) is None
    assert label_distribution({"choices": [{"logprobs": None}]}, text, offset, read) is None
    only_other = _raw(tokens, {10: [("the", 0.9)]})
    assert label_distribution(only_other, text, offset, read) is None
