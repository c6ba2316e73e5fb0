import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import (
    agreement_table,
    cohens_kappa,
    cohens_kappa_table,
    krippendorff_alpha,
    pairwise_agreement,
)

LLMBAR_SUBSETS = [
    "Natural",
    "Adversarial/GPTInst",
    "Adversarial/GPTOut",
    "Adversarial/Manual",
    "Adversarial/Neighbor",
]


@pytest.mark.parametrize("subset", LLMBAR_SUBSETS)
def test_cohens_kappa_between_presentation_orders_reproduces_llmbar(shared_data, subset):
    # LLMBar ran GPT-4 on every pair in both orders; its kappa_agreement is Cohen's kappa
    # between the two orders' verdicts and "equal" their raw agreement (position consistency).
    folder = shared_data / "llmbar" / subset / "GPT-4"
    results = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    published = json.loads((folder / "statistics.json").read_text(encoding="utf-8"))
    first, swapped = [], []
    for item in results:
        verdicts = {k: v for r in item["results"] for k, v in r.items()}
        first.append(verdicts["swap = False"]["winner"])
        swapped.append(verdicts["swap = True"]["winner"])
    kappa = cohens_kappa(first, swapped)
    assert kappa.kappa == pytest.approx(published["kappa_agreement"], abs=1e-12)
    agree, total = published["equal"].split(" = ")[0].split(" / ")
    consistency = pairwise_agreement(first, swapped)
    assert consistency.with_ties == pytest.approx(int(agree) / int(total))
    assert kappa.low < kappa.kappa < kappa.high


def test_weighted_kappa_matches_its_definition():
    t = np.array([[10, 3, 1], [2, 12, 4], [0, 3, 9]], dtype=float)
    p = t / t.sum()
    k = 3
    w = 1 - (np.subtract.outer(np.arange(k), np.arange(k)) ** 2) / (k - 1) ** 2
    po = (w * p).sum()
    pe = (w * np.outer(p.sum(1), p.sum(0))).sum()
    result = cohens_kappa_table(t, weights="quadratic")
    assert result.kappa == pytest.approx((po - pe) / (1 - pe), rel=1e-12)
    assert result.observed == pytest.approx(po) and result.expected == pytest.approx(pe)


def test_agreement_table_from_labels_skips_missing_ratings():
    table, cats = agreement_table(
        ["pass", "fail", None, "pass"], ["pass", "pass", "fail", math.nan]
    )
    assert cats == ["fail", "pass"]
    assert table.tolist() == [[0, 1], [0, 1]]
    with pytest.raises(ValueError):
        agreement_table(["a"], ["a", "b"])


def test_kappa_of_perfect_agreement_is_one_and_of_a_single_category_is_undefined():
    assert cohens_kappa([1, 2, 3, 1], [1, 2, 3, 1]).kappa == pytest.approx(1.0)
    assert math.isnan(cohens_kappa(["a", "a"], ["a", "a"]).kappa)


def test_krippendorff_alpha_for_two_raters_by_hand():
    # Two raters, no missing data: every unit adds its ordered pair (c, k) and (k, c) to the
    # coincidence matrix, so α = 1 − (n − 1)·(2·#disagreeing units) / (n² − Σ n_c²), n = 2·units.
    a = [1, 1, 2, 2, 3, 1, 2, 3, 3, 1]
    b = [1, 2, 2, 2, 3, 1, 1, 3, 2, 1]
    n = 2 * len(a)
    disagreements = (
        sum(x != y for x, y in zip(a, b, strict=True)) * 2
    )  # each pair counted both ways
    counts = np.bincount(a + b)[1:]
    expected = (n * n - (counts**2).sum()) / (n - 1)
    assert krippendorff_alpha([a, b]) == pytest.approx(1 - disagreements / expected)


def test_krippendorff_alpha_handles_missing_data_and_degenerate_input():
    full = [[1, 2, 3, 3], [1, 2, 3, 3]]
    assert krippendorff_alpha(full) == pytest.approx(1.0)
    # a unit rated once cannot be paired and does not count
    assert krippendorff_alpha([[1, 2, 3, 3, 1], [1, 2, 3, 3, None]]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))
    assert math.isnan(krippendorff_alpha([[1, None], [None, 2]]))
    with pytest.raises(ValueError, match="numeric"):
        krippendorff_alpha([["x", "y"], ["x", "x"]], "interval")
    assert krippendorff_alpha([["x", "y", "y"], ["x", "x", "y"]], "nominal") < 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=6, max_size=6),
        min_size=2,
        max_size=4,
    )
)
def test_krippendorff_alpha_is_invariant_to_rater_order_and_bounded(rows):
    for level in ("nominal", "ordinal", "interval", "ratio"):
        alpha = krippendorff_alpha(rows, level)
        if math.isnan(alpha):
            continue
        assert alpha <= 1 + 1e-12
        assert krippendorff_alpha(rows[::-1], level) == pytest.approx(alpha, abs=1e-12)
    # nominal alpha ignores the labels' names
    relabelled = [[None if v is None else 10 * v + 3 for v in r] for r in rows]
    a, b = krippendorff_alpha(rows), krippendorff_alpha(relabelled)
    assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


def test_mt_bench_agreement_with_and_without_ties():
    a = ["A", "B", "tie", "A", "B", "tie"]
    b = ["A", "A", "tie", "tie", "B", "A"]
    r = pairwise_agreement(a, b)
    assert r.with_ties == pytest.approx(3 / 6) and r.n_with_ties == 6
    assert r.without_ties == pytest.approx(2 / 3) and r.n_without_ties == 3


def test_random_judges_agree_a_third_with_ties_and_half_without():
    # Zheng et al. 2023, Table 5: a random judge's agreement is 33% (S1) and 50% (S2).
    rng = np.random.default_rng(0)
    votes = np.array(["A", "B", "tie"])
    r = pairwise_agreement(list(rng.choice(votes, 30_000)), list(rng.choice(votes, 30_000)))
    assert r.with_ties == pytest.approx(1 / 3, abs=0.01)
    assert r.without_ties == pytest.approx(1 / 2, abs=0.015)
