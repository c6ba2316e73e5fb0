"""Position bias checks: LLMBar's published statistics reproduced exactly, hand-made cases and
seeded simulated judges (interval coverage, false alarms on a clean judge)."""

import json
import math

import numpy as np
import pytest

from assay.audit.position import bias_verdict, identical_pair_check, position_checks

LLMBAR_SUBSETS = [
    "Natural",
    "Adversarial/GPTInst",
    "Adversarial/GPTOut",
    "Adversarial/Manual",
    "Adversarial/Neighbor",
]


def _by_name(checks):
    return {c.check: c for c in checks}


def _count(published: str) -> tuple[int, int]:
    k, n = published.split(" = ")[0].split(" / ")
    return int(k), int(n)


def _llmbar_verdicts(folder):
    """GPT-4's verdicts in output terms. With ``swap = True`` the outputs were shown in the
    other order, so the judge's slot answer "Output (a)" names output_2: the slot label is
    mapped back here (and checked against the file's own ``winner``, which is in output
    terms already)."""
    results = json.loads((folder / "GPT-4" / "result.json").read_text(encoding="utf-8"))
    first, second, gold = [], [], []
    for item in results:
        verdicts = {k: v for r in item["results"] for k, v in r.items()}
        for swap, out in (("swap = False", first), ("swap = True", second)):
            completion = verdicts[swap]["completion"][0].strip()
            slot = {"Output (a)": 0, "Output (b)": 1}[completion]
            shown = ("b", "a") if swap == "swap = True" else ("a", "b")
            label = shown[slot]
            assert label == {"1": "a", "2": "b"}[verdicts[swap]["winner"]]
            out.append(label)
        gold.append({1: "a", 2: "b"}[item["label"]])
    return first, second, gold


@pytest.mark.parametrize("subset", LLMBAR_SUBSETS)
def test_llmbar_accuracy_consistency_and_kappa_are_reproduced_exactly(shared_data, subset):
    folder = shared_data / "llmbar" / subset
    published = json.loads((folder / "GPT-4" / "statistics.json").read_text(encoding="utf-8"))
    dataset = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    first, second, gold = _llmbar_verdicts(folder)
    assert len(first) == len(dataset)
    checks = _by_name(position_checks(first, second, gold))

    acc_first = checks["position_accuracy_first_order"]
    acc_second = checks["position_accuracy_second_order"]
    consistency = checks["position_consistency"]
    assert (acc_first.details["correct"], acc_first.n) == _count(published["correct_False"])
    assert (acc_second.details["correct"], acc_second.n) == _count(published["correct_True"])
    assert (acc_second.details["correct_both"], acc_second.n) == _count(published["correct_both"])
    agree, total = _count(published["equal"])
    assert (consistency.details["consistent"], consistency.n) == (agree, total)
    assert consistency.figure == agree / total
    for check, key in ((acc_first, "correct_False"), (acc_second, "correct_True")):
        k, n = _count(published[key])
        assert check.figure == k / n
        assert check.low < check.figure < check.high or check.figure == 1.0

    kappa = checks["position_kappa"]
    assert kappa.figure == pytest.approx(published["kappa_agreement"], abs=1e-12)
    without_gold = _by_name(position_checks(first, second))["position_kappa"]
    assert without_gold.figure == kappa.figure and without_gold.n == kappa.n
    assert kappa.low < kappa.figure < kappa.high
    # The upstream per-order kappas were computed on mismatched encodings: not reproduced.
    assert abs(kappa.figure - published["kappa_False"]) > 0.3

    # GPT-4 on LLMBar shows no position bias worth flagging.
    assert checks["position_first_rate"].verdict == "pass"
    assert checks["position_first_rate"].flag is None


def test_counts_rates_and_classes_by_hand():
    # pair 0: consistent a; 1: consistent b; 2: favours first (a first → a, b first → b);
    # 3: favours second; 4: tie then a; 5: error in the second order.
    first = ["a", "b", "a", "b", "tie", "a"]
    second = ["a", "b", "b", "a", "a", None]
    checks = _by_name(position_checks(first, second))
    c = checks["position_consistency"]
    assert (c.n, c.figure) == (5, 2 / 5)
    assert c.details["favour_first"] == 1 and c.details["favour_second"] == 1
    assert c.details["inconsistent_with_tie"] == 1
    assert c.details["second_order_errors"] == 1
    f = checks["position_first_rate"]
    # decided verdicts: order 1: a,b,a,b,a (a is first-shown) → first picks 3 of 5;
    # order 2: a,b,b,a,a (b is first-shown) → first picks 2 of 5. Total 5 of 10.
    assert (f.details["picked_first"], f.n, f.details["ties"]) == (5, 10, 1)
    assert f.figure == pytest.approx(5 / 10)
    s = checks["position_second_rate"]
    assert s.figure == pytest.approx(5 / 10)
    assert s.low == pytest.approx(1 - f.high) and s.high == pytest.approx(1 - f.low)
    # Kappa compares the two orders with each other: no gold needed. Pairs with both
    # verdicts: (a,a) (b,b) (a,b) (b,a) (tie,a): observed 2/5; marginals first a2 b2 tie1,
    # second a3 b2 tie0, so expected (2·3 + 2·2 + 1·0)/25 = 0.4 and kappa = 0.
    k = checks["position_kappa"]
    assert k.n == 5 and k.figure == pytest.approx(0.0, abs=1e-12)
    assert k.details["observed"] == pytest.approx(0.4)


def test_a_judge_that_always_picks_the_first_shown_output_fails():
    n = 60
    first, second = ["a"] * n, ["b"] * n
    checks = _by_name(position_checks(first, second))
    assert checks["position_consistency"].figure == 0.0
    f = checks["position_first_rate"]
    assert (f.verdict, f.flag, f.figure) == ("fail", "position_bias", 1.0)
    assert f.low > 0.9
    assert checks["position_second_rate"].flag == "position_bias"


def test_bias_rule_needs_both_conditions():
    assert bias_verdict(0.7, 0.6, 0.8, 0.05) == (
        "fail",
        ["interval_excludes_half", "beyond_tolerance"],
    )
    assert bias_verdict(0.53, 0.51, 0.55, 0.05) == ("warn", ["interval_excludes_half"])
    assert bias_verdict(0.7, 0.45, 0.9, 0.05) == ("warn", ["beyond_tolerance"])
    assert bias_verdict(0.52, 0.45, 0.6, 0.05) == ("pass", [])


def test_bad_input_is_rejected_and_empty_input_is_skipped():
    with pytest.raises(ValueError, match="differ in length"):
        position_checks(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="verdicts must be"):
        position_checks(["A first"], ["a"])
    with pytest.raises(ValueError, match="gold labels"):
        position_checks(["a"], ["a"], ["tie"])
    checks = _by_name(position_checks([None, "tie"], [None, "tie"]))
    assert checks["position_first_rate"].verdict == "skipped"
    assert checks["position_consistency"].n == 1
    assert all(c.verdict == "skipped" for c in position_checks([None], [None]))


def test_identical_pair_names_a_judge_that_favours_the_first_slot():
    biased = identical_pair_check(["A"] * 30 + ["tie"] * 60 + [None] * 5)
    assert (biased.verdict, biased.flag) == ("fail", "position_bias")
    assert biased.figure == pytest.approx(30 / 90) and biased.n == 90
    assert biased.low < biased.figure < biased.high
    assert biased.details["errors"] == 5 and biased.details["tie_rate"] == pytest.approx(60 / 90)
    fair = identical_pair_check(["a"] * 20 + ["b"] * 20 + ["tie"] * 50)
    assert (fair.verdict, fair.flag) == ("pass", None)
    assert fair.details["first_share_of_decided"] == 0.5
    assert identical_pair_check(["tie"] * 10).verdict == "pass"
    assert identical_pair_check([None]).verdict == "skipped"
    with pytest.raises(ValueError):
        identical_pair_check(["first"])
    slots = identical_pair_check(["first"] * 3, first_label="first", second_label="second")
    assert slots.details["first"] == 3


# -- simulated judges -------------------------------------------------------------------------


def _simulate(rng, n_pairs, position_bias, skill=1.5, margin=0.6):
    """A sim judge in the image of assay's sim judges: the pair's quality gap g (b − a) is
    normal; in each order the judge sees d = skill·g (sign by order) + noise; when |d| < margin
    it picks the first-shown output with probability ``position_bias`` and otherwise ties."""
    g = rng.normal(0, 1, n_pairs)
    out = []
    for first_is_a in (True, False):
        d = skill * g * (-1 if first_is_a else 1) + rng.normal(0, 1, n_pairs)  # >0: first better
        unsure = np.abs(d) < margin
        biased = rng.random(n_pairs) < position_bias
        first_label, second_label = ("a", "b") if first_is_a else ("b", "a")
        verdict = np.where(d > 0, first_label, second_label).astype(object)
        verdict[unsure & biased] = first_label
        verdict[unsure & ~biased] = "tie"
        out.append(list(verdict))
    return out


def _true_first_rate(position_bias, skill=1.5, margin=0.6):
    rng = np.random.default_rng(12345)
    n = 2_000_000
    g = rng.normal(0, 1, n)
    d = skill * g + rng.normal(0, 1, n)
    unsure = np.abs(d) < margin
    p_first = np.where(unsure, position_bias, (d > 0).astype(float))
    p_decided = np.where(unsure, position_bias, 1.0)
    return float(p_first.mean() / p_decided.mean())


@pytest.mark.parametrize("position_bias", [0.0, 0.9])
def test_first_rate_interval_covers_the_true_rate_at_the_stated_level(position_bias):
    truth = _true_first_rate(position_bias)
    rng = np.random.default_rng(2024)
    worlds, covered, flagged = 1000, 0, 0
    for _ in range(worlds):
        first, second = _simulate(rng, 150, position_bias)
        check = _by_name(position_checks(first, second))["position_first_rate"]
        covered += check.low <= truth <= check.high
        flagged += check.verdict == "fail"
    assert 0.93 <= covered / worlds <= 0.97
    if position_bias == 0.0:  # a clean judge: true rate exactly 0.5
        assert truth == pytest.approx(0.5, abs=1e-3)
        assert flagged / worlds <= 0.05
    else:
        assert truth > 0.6
        assert flagged / worlds > 0.9


def test_consistency_interval_covers_the_true_rate():
    rng = np.random.default_rng(7)
    # Truth of consistency for the sim judge, by a large simulation.
    big_first, big_second = _simulate(np.random.default_rng(99), 400_000, 0.3)
    truth = float(np.mean(np.array(big_first) == np.array(big_second)))
    worlds, covered = 1000, 0
    for _ in range(worlds):
        first, second = _simulate(rng, 120, 0.3)
        c = _by_name(position_checks(first, second))["position_consistency"]
        covered += c.low <= truth <= c.high
    assert 0.93 <= covered / worlds <= 0.97
    assert not math.isnan(truth)
