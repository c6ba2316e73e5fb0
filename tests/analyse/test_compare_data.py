"""``assay.compare_scores``: the ``assay compare`` verdict from plain data, no store."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import assay
from assay.core import AssayError
from assay.stats import mcnemar_exact_counts


def _b3_pairs() -> tuple[list[int], list[int]]:
    """REQUIREMENTS B3: 100 paired pass/fail outcomes, 10 discordant pairs all favouring B."""
    a = [1] * 60 + [0] * 10 + [0] * 30
    b = [1] * 60 + [1] * 10 + [0] * 30
    return a, b


def test_arrays_give_mcnemar_on_pass_fail_scores() -> None:
    a, b = _b3_pairs()
    result = assay.compare_scores(a, b)
    agg = result.metrics[0].aggregate
    assert agg.test == "mcnemar-exact"
    assert agg.n == 100
    assert agg.difference == pytest.approx(0.10)
    assert (agg.a_only, agg.b_only) == (0, 10)
    assert agg.p_value == pytest.approx(mcnemar_exact_counts(0, 10).p_value)
    assert agg.p_value == pytest.approx(0.002, abs=0.0005)  # B3's published figure
    assert result.changes == []
    assert result.to_dict()["metrics"][0]["groups"][0]["n"] == 100


def test_dataframes_join_by_id_and_match_the_arrays() -> None:
    rng = np.random.default_rng(3)
    n = 240
    a = (rng.random(n) < 0.7).astype(int)
    b = (rng.random(n) < 0.8).astype(int)
    topic = rng.choice(["billing", "login", "refunds"], n)
    by_array = assay.compare_scores(a, b, slices={"topic": topic}, names=("v1", "v2"))
    frame_a = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "correct": a, "topic": topic})
    frame_b = frame_a.assign(correct=b).sample(frac=1.0, random_state=1)  # another row order
    by_frame = assay.compare_scores(
        frame_a, frame_b, score="correct", slices=["topic"], names=("v1", "v2")
    )
    for x, y in zip(by_array.metrics[0].groups, by_frame.metrics[0].groups, strict=True):
        assert (x.group, x.n, x.verdict, x.test) == (y.group, y.n, y.verdict, y.test)
        assert x.difference == pytest.approx(y.difference)
        assert x.p_adjusted == pytest.approx(y.p_adjusted)
    assert [g.group for g in by_frame.metrics[0].slices] == [
        "topic=billing",
        "topic=login",
        "topic=refunds",
    ]
    assert by_frame.metrics[0].scorer == "correct"


def test_one_sided_ids_are_left_out_and_repeated_rows_are_epochs() -> None:
    a = pd.DataFrame({"id": ["x", "y", "z", "w"], "score": [0.2, 0.4, 0.6, 0.1]})
    b = pd.DataFrame({"id": ["x", "x", "y", "z", "v"], "score": [0.4, 0.6, 0.5, 0.9, 1.0]})
    result = assay.compare_scores(a, b)
    m = result.metrics[0]
    assert m.only_a == ["w"] and m.only_b == ["v"]
    assert m.aggregate.n == 3
    assert m.aggregate.test == "paired-t"
    # x's two answers in B average to 0.5: differences 0.3, 0.1, 0.3.
    assert m.aggregate.difference == pytest.approx((0.3 + 0.1 + 0.3) / 3)
    assert m.epochs_b == pytest.approx(4 / 3)


def test_mappings_and_missing_scores() -> None:
    a = {"q1": 1, "q2": 0, "q3": None, "q4": 1}
    b = {"q1": 1, "q2": 1, "q3": 1, "q4": math.nan}
    m = assay.compare_scores(a, b).metrics[0]
    assert m.aggregate.n == 2  # q3 and q4 are ungraded on one side, never zeros
    assert m.only_a == ["q4"] and m.only_b == ["q3"]


def test_clusters_use_the_clustered_test() -> None:
    rng = np.random.default_rng(5)
    doc = np.repeat(np.arange(30), 8)
    a = rng.normal(0, 1, doc.size)
    b = a + 0.3 + rng.normal(0, 0.5, 30)[doc]
    agg = assay.compare_scores(a, b, cluster=[f"d{d}" for d in doc]).metrics[0].aggregate
    assert agg.n_clusters == 30
    assert agg.test.startswith("clustered")


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([1, 0], [1, 0, 1], {"ids": ["a", "b"]}, "ids has 2 entries for 3 scores"),
        ([1, "yes"], [1, 0], {}, "is not a number"),
        (pd.DataFrame({"key": [1]}), pd.DataFrame({"key": [1]}), {}, "no id column 'id'"),
        (
            pd.DataFrame({"id": [1], "score": [1]}),
            pd.DataFrame({"id": [1], "score": [1]}),
            {"slices": ["topic"]},
            "no column 'topic'",
        ),
        ([1, 0], [1, 0], {"slices": {"topic": ["x"]}}, "has 1 labels for 2 scores"),
        ([1, 0], [1, 0], {"slices": ["topic"]}, "slices maps a key to labels"),
    ],
)
def test_bad_input_names_what_is_wrong(a, b, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssayError, match=message):
        assay.compare_scores(a, b, **kwargs)
