"""Self-preference (C3, C4): lineage pairs and the difference-in-differences effect."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.audit import (
    lineage_check,
    lineage_pairs,
    self_preference_check,
    welch_difference,
)
from assay.providers.lineage import LineageRegistry


def _world(
    rng: np.random.Generator,
    *,
    planted: float,
    n_own: int = 120,
    n_other: int = 180,
    leniency: float = 0.3,
    judge_noise: float = 0.8,
    other_noise: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outputs of true quality q on a 1-10 scale; the audited judge adds its leniency,
    ``planted`` on its own family's outputs, and noise; other judges (mean of two) see q
    with noise."""
    n = n_own + n_other
    own = np.zeros(n, dtype=bool)
    own[:n_own] = True
    quality = rng.uniform(2, 9, n)
    judge = quality + leniency + planted * own + rng.normal(0, judge_noise, n)
    others = quality + rng.normal(0, other_noise, n)
    return judge, others, own


def test_c4_stub_adding_one_to_own_family_is_flagged() -> None:
    # The acceptance check: a judge stub adding +1 to its own family's outputs.
    rng = np.random.default_rng(4)
    quality = rng.integers(1, 10, 200).astype(float)
    own = np.arange(200) % 3 == 0
    others = quality.copy()
    judge = quality + own * 1.0
    # a little disagreement between judges, so the interval has width
    judge = judge + rng.normal(0, 0.3, 200)
    check = self_preference_check(judge, others, own)
    assert check.verdict == "fail"
    assert check.flag == "self_preference"
    assert check.figure == pytest.approx(1.0, abs=0.1)
    assert check.low > 0
    assert check.low <= 1.0 <= check.high
    assert check.n == 200
    assert check.details["n_own"] == int(own.sum())
    assert "NaN" not in check.model_dump_json()


def test_c4_clean_stub_interval_covers_zero() -> None:
    rng = np.random.default_rng(5)
    judge, others, own = _world(rng, planted=0.0)
    check = self_preference_check(judge, others, own)
    assert check.low <= 0 <= check.high
    assert check.verdict == "pass"
    assert check.flag is None


def test_general_leniency_is_not_self_preference() -> None:
    # A judge two points more generous than its peers everywhere prefers nobody.
    rng = np.random.default_rng(6)
    judge, others, own = _world(rng, planted=0.0, leniency=2.0)
    check = self_preference_check(judge, others, own)
    assert check.verdict == "pass"
    assert check.details["judge_leniency"] == pytest.approx(2.0, abs=0.2)


def test_harsher_on_own_family_is_a_warning_not_self_preference() -> None:
    rng = np.random.default_rng(7)
    judge, others, own = _world(rng, planted=-1.5)
    check = self_preference_check(judge, others, own)
    assert check.verdict == "warn"
    assert check.flag is None
    assert check.high < 0
    assert check.figure == pytest.approx(-1.5, abs=0.3)
    assert "lower" in check.message


def test_tolerance_turns_a_small_real_effect_into_a_warning() -> None:
    rng = np.random.default_rng(8)
    judge, others, own = _world(rng, planted=0.5, n_own=2000, n_other=2000)
    strict = self_preference_check(judge, others, own, tolerance=0.1)
    lenient = self_preference_check(judge, others, own, tolerance=1.0)
    assert strict.verdict == "fail"
    assert lenient.verdict == "warn"
    assert lenient.flag is None


def test_default_tolerance_is_three_percent_of_the_range() -> None:
    judge = np.array([0.0, 10.0, 5.0, 5.0])
    check = self_preference_check(judge, judge, [True, True, False, False])
    assert check.details["tolerance"] == pytest.approx(0.3)


def test_missing_scores_are_dropped_and_small_groups_skipped() -> None:
    judge = [1.0, 2.0, math.nan, 3.0, 4.0, 5.0]
    others = [1.0, 2.0, 3.0, math.nan, 4.0, 5.0]
    own = [True, True, True, True, False, True]
    check = self_preference_check(judge, others, own)
    assert check.verdict == "skipped"
    assert check.details["dropped"] == 2
    assert check.details["n_other"] == 1


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="join them by output id"):
        self_preference_check([1, 2], [1, 2, 3], [True, False])


def test_welch_difference_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(1)
    x, y = rng.normal(1, 1, 40), rng.normal(0, 3, 90)
    ours = welch_difference(x, y)
    ref = stats.ttest_ind(x, y, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert ours.low == pytest.approx(ci.low)
    assert ours.high == pytest.approx(ci.high)
    assert ours.p_value == pytest.approx(ref.pvalue)
    assert ours.df == pytest.approx(ref.df)


def test_welch_difference_constant_groups() -> None:
    same = welch_difference([1, 1, 1], [1, 1])
    assert (same.low, same.high, same.p_value) == (0, 0, 1.0)
    apart = welch_difference([2, 2, 2], [1, 1])
    assert apart.excludes_zero and apart.p_value == 0.0


def test_self_preference_interval_coverage_over_simulated_worlds() -> None:
    # 1000 seeded worlds with a planted effect of 0.7: the 95% interval covers it in
    # 93-97% of them; with no planted effect, the judge is flagged in at most 5%.
    rng = np.random.default_rng(2024)
    planted = 0.7
    covered = flagged_clean = 0
    worlds = 1000
    for _ in range(worlds):
        judge, others, own = _world(rng, planted=planted, n_own=40, n_other=60)
        check = self_preference_check(judge, others, own)
        covered += check.low <= planted <= check.high
        judge, others, own = _world(rng, planted=0.0, n_own=40, n_other=60)
        flagged_clean += self_preference_check(judge, others, own).verdict == "fail"
    assert 0.93 <= covered / worlds <= 0.97
    assert flagged_clean / worlds <= 0.05


def test_c3_lineage_pairs_from_the_registry() -> None:
    pairs = lineage_pairs(
        {"bot": "gpt-4o-2024-08-06", "rival": "claude-3-5-sonnet"},
        {"judge": "gpt-4o-mini"},
    )
    assert [(p.subject, p.judge, p.families) for p in pairs] == [("bot", "judge", ("openai-gpt",))]
    check = lineage_check(pairs)
    assert check.verdict == "warn"
    assert check.flag == "same_lineage_judge"
    assert "gpt-4o-mini" in check.message


def test_lineage_pairs_distilled_model_clashes_with_both_parents() -> None:
    pairs = lineage_pairs(["deepseek-r1-distill-llama-70b"], ["llama-3.1-70b", "deepseek-v3"])
    assert {p.judge for p in pairs} == {"llama-3.1-70b", "deepseek-v3"}


def test_lineage_pairs_custom_registry_and_known_families() -> None:
    registry = LineageRegistry(builtin=False).extended({"acme-*": "acme"})
    assert lineage_pairs(["acme-chat"], ["acme-judge"], registry)[0].families == ("acme",)
    assert lineage_pairs(["gpt-4o"], ["gpt-4o-mini"], registry) == []
    known = {"sys": ["sim:custom"], "my-judge": ["sim:custom"]}
    found = lineage_pairs({"sys": "x"}, {"my-judge": "y"}, registry, known_families=known)
    assert found[0].as_dict()["families"] == ["sim:custom"]
    assert lineage_check([]).verdict == "pass"


def test_the_certificate_prints_a_score_difference_as_one_not_as_a_percentage():
    # Issue 20: +0.835 on a 1-5 scale printed as "83.5%".
    from assay.cli.audit_commands import _is_rate, _signed
    from assay.core import CheckResult

    check = CheckResult(
        check="self_preference", figure=0.835, low=0.51, high=0.99, n=40, verdict="fail",
        flag="self_preference", message="", details={"method": "difference in differences"},
    )  # fmt: skip
    assert not _is_rate(check)
    assert _signed(check.figure, _is_rate(check)) == "+0.835"
