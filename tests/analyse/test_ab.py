"""Per-sample A/B pairs: classification with epochs, filters and orders, the word diff, and the
narrow SQL reads behind the compare page's grid (on SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import pytest
from tests.analyse.conftest import write_run
from tests.store.conftest import backend  # noqa: F401  (SQLite and PostgreSQL)

from assay.analyse import ab, compare_runs
from assay.analyse.scores import load_scores


def pair(a: tuple[float, ...], b: tuple[float, ...], binary: bool = True) -> ab.ScorePair:
    return ab.ScorePair(a, b, binary)


@pytest.mark.parametrize(
    ("a", "b", "kind", "counts"),
    [
        ((0.0, 0.0, 1.0), (1.0, 1.0, 0.0), "fixed", ("1/3", "2/3")),
        ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0), "broken", ("2/3", "1/3")),
        ((1.0, 1.0, 0.0), (1.0, 1.0, 1.0), "moved", ("2/3", "3/3")),
        ((0.0, 1.0), (1.0, 1.0), "fixed", ("1/2", "2/2")),  # split is not passing
        ((1.0, 0.0, 1.0), (1.0, 1.0, 0.0), "unchanged", ("2/3", "2/3")),
        ((1.0,), (0.0,), "broken", ("1/1", "0/1")),
        ((1.0,), (), "ungraded", ("1/1", "—")),
    ],
)
def test_pass_fail_pairs_are_classified_by_the_majority_of_epochs(a, b, kind, counts):
    p = pair(a, b)
    assert p.kind == kind
    assert (p.count("a"), p.count("b")) == counts


def test_a_scorer_without_a_pass_line_is_fixed_when_its_mean_rises():
    assert pair((3.0, 5.0), (6.0, 6.0), binary=False).kind == "fixed"
    assert pair((6.0,), (5.5,), binary=False).kind == "broken"
    assert pair((4.0, 6.0), (5.0, 5.0), binary=False).kind == "unchanged"
    assert pair((4.0, 6.0), (5.0, 5.0), binary=False).count("a") == "5"
    assert math.isclose(pair((0.2, 0.4), (0.5,), binary=False).delta, 0.2)


def _pairs() -> list[ab.SamplePair]:
    a = ab.EpochScores(
        {"ok": {"s1": [0, 0, 1], "s2": [1, 1, 1], "s3": [1, 1, 0], "s4": [1, 1, 1]}},
        {"s1", "s2", "s3", "s4", "s5"},
    )
    b = ab.EpochScores(
        {"ok": {"s1": [1, 1, 1], "s2": [0, 0, 0], "s3": [1, 1, 1], "s4": [1, 1, 1]}},
        {"s1", "s2", "s3", "s4"},
    )
    return ab.sample_pairs(a, b, ["ok"])


def test_filters_and_orders_of_the_grid():
    pairs = _pairs()
    assert [p.sample_id for p in pairs] == ["s1", "s2", "s3", "s4"]  # s5 is only in A
    assert ab.kind_counts(pairs, "ok") == {
        "fixed": 1,
        "broken": 1,
        "moved": 1,
        "unchanged": 1,
        "ungraded": 0,
        "changed": 3,
        "all": 4,
    }
    ids = lambda ps: [p.sample_id for p in ps]  # noqa: E731
    assert ids(ab.select_pairs(pairs, "ok", "changed", "change")) == ["s2", "s1", "s3"]
    assert ids(ab.select_pairs(pairs, "ok", "all", "worst")) == ["s2", "s4", "s3", "s1"]
    assert ids(ab.select_pairs(pairs, "ok", "all", "best")) == ["s1", "s3", "s4", "s2"]
    assert ids(ab.select_pairs(pairs, "ok", "fixed", "id")) == ["s1"]
    assert ab.flips(pairs, "ok") == (["s1"], ["s2"])
    with pytest.raises(ValueError, match="unknown filter"):
        ab.select_pairs(pairs, "ok", "flipped")
    with pytest.raises(ValueError, match="unknown order"):
        ab.select_pairs(pairs, "ok", "all", "random")


def test_word_diff_marks_changed_words_and_gives_both_texts_back():
    a = "The answer is 42, I think."
    b = "The answer is 43, I am sure."
    parts = ab.word_diff(a, b)
    assert "".join(p.text for p in parts if p.op != "insert") == a
    assert "".join(p.text for p in parts if p.op != "delete") == b
    assert [(p.op, p.text) for p in parts if p.op != "equal"] == [
        ("delete", "42"),
        ("insert", "43"),
        ("delete", "think"),
        ("insert", "am sure"),
    ]
    assert ab.word_diff(None, "new") == [ab.DiffPart("insert", "new")]
    assert ab.word_diff("same", "same") == [ab.DiffPart("equal", "same")]


def test_a_very_long_output_is_diffed_by_lines():
    a = "\n".join(f"line {k} " + "word " * 10 for k in range(600))
    b = a.replace("line 300 ", "line three hundred ")
    parts = ab.word_diff(a, b)
    changed = [p for p in parts if p.op != "equal"]
    assert len(changed) == 2 and changed[0].text.startswith("line 300 ")
    assert "".join(p.text for p in parts if p.op != "insert") == a


def test_the_grid_reads_the_same_scores_as_the_comparison(backend):  # noqa: F811
    """Epochs > 1: the narrow read agrees with load_scores, and a sample that flips by the
    majority of its epochs is found (the page once said no sample could flip)."""
    store = backend.open()
    write_run(
        store,
        "A",
        {
            ("m", "ok"): {"s1": [0.0, 0.0, 1.0], "s2": [1.0, 1.0, 1.0], "s3": [1.0, 0.0, 1.0]},
            ("m", "len"): {"s1": [3.0, 5.0, 4.0], "s2": [2.0, 2.0, 2.0], "s3": [1.0, 1.0, 1.0]},
        },
        errors={"m": ["s4"]},
    )
    write_run(
        store,
        "B",
        {
            ("m", "ok"): {"s1": [1.0, 1.0, 0.0], "s2": [1.0, 0.0, 0.0], "s3": [1.0, 1.0, 1.0]},
            ("m", "len"): {"s1": [4.0, 4.0, 4.0], "s2": [3.0, 3.0, 3.0], "s3": [1.0, 1.0, 1.0]},
        },
        errors={"m": ["s4"]},
        minutes=5,
    )
    ea, eb = ab.load_epoch_scores(store, [("A", "m"), ("B", "m")])
    for side, run_id in ((ea, "A"), (eb, "B")):
        scores = load_scores(store, run_id)
        for scorer in ("ok", "len"):
            assert side.values[scorer] == scores.per_sample("m", scorer)
        assert side.errors == {"s4": 1}
    pairs = ab.sample_pairs(ea, eb, ["ok", "len"])
    assert [p.sample_id for p in pairs] == ["s1", "s2", "s3", "s4"]
    assert [p.kind("ok") for p in pairs] == ["fixed", "broken", "moved", "ungraded"]
    assert [p.kind("len") for p in pairs] == ["unchanged", "fixed", "unchanged", "ungraded"]
    assert pairs[0].scores["ok"].count("a") == "1/3"
    # The comparison averages epochs first: its paired difference is the mean of ours.
    comparison = compare_runs(store, "A", "B", scorers=["ok"])
    graded = [p.delta("ok") for p in pairs if p.kind("ok") != "ungraded"]
    assert math.isclose(comparison.metrics[0].aggregate.difference, sum(graded) / len(graded))

    outputs_a, outputs_b = ab.pair_outputs(store, [("A", "m"), ("B", "m")], ["s1", "s4"])
    assert [e["epoch"] for e in outputs_a["s1"]] == [0, 1, 2]
    assert [s["scorer"] for s in outputs_a["s1"][0]["scores"]] == ["ok", "len"]
    assert outputs_b["s4"][0]["error_class"] == "server_error"
    assert set(ab.pair_samples(store, ["A", "B"], ["s1", "zz"])) == {"s1"}
    totals = ab.usage_totals(store, "A")
    assert (totals["calls"], totals["errors"]) == (10, 1)
