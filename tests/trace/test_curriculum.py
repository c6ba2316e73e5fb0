"""The curated-set composition audit (D7) and category shares, as pure functions."""

from __future__ import annotations

import json

import pytest
from scipy.stats import chi2_contingency, fisher_exact

from assay.core import AssayError
from assay.data.curriculum import (
    MISSING,
    audit_curated,
    category_shares,
    is_hedge,
    normalise_category,
    read_categories,
)

PRODUCTION = {"refund": 330, "shipping": 290, "plan_question": 260, "clarification_needed": 120}


def test_hedge_names_match_whole_words_of_the_category():
    assert is_hedge("clarification_needed") and is_hedge("Clarification-Needed")
    assert is_hedge("should_refuse") and is_hedge("refusal") and is_hedge("out of scope")
    assert not is_hedge("refund") and not is_hedge("clarifications_faq")
    assert normalise_category(" Out-of Scope ") == "out_of_scope"
    assert is_hedge("need_more_info", ["need_more_info"]) and not is_hedge("refusal", ["x"])


def test_shares_carry_wilson_intervals():
    [big, small] = category_shares({"a": 82, "b": 18})
    assert (big.category, big.count, big.share) == ("a", 82, 0.82)
    # statsmodels' Wilson interval for 82/100: 73.3%–88.3% (the docstring example)
    assert big.low == pytest.approx(0.7333, abs=1e-4) and big.high == pytest.approx(
        0.8829, abs=1e-4
    )
    assert small.share == pytest.approx(0.18)


def test_curated_set_without_clarification_is_a_curriculum_trap():
    """D7: production shows 12% clarification-needed inputs; the curated set has none."""
    curated = {"refund": 110, "shipping": 100, "plan_question": 90}
    report = audit_curated(curated, PRODUCTION)
    [flag] = report.flags
    assert flag.code == "curriculum_trap"
    assert flag.details["categories"] == ["clarification_needed"]
    assert flag.details["production_hedge_share"] == pytest.approx(0.12)
    assert flag.details["curated_hedge_share"] == 0.0
    clar = next(c for c in report.categories if c.category == "clarification_needed")
    assert clar.hedge and clar.under_represented
    assert (clar.curated.count, clar.curated.share) == (0, 0.0)
    assert clar.production.share == pytest.approx(0.12)
    assert clar.production.low < 0.12 < clar.production.high
    assert clar.difference == pytest.approx(-0.12)
    expected_less = fisher_exact([[0, 300], [120, 880]], alternative="less").pvalue
    assert clar.p_under == pytest.approx(expected_less)
    table = [[110, 100, 90, 0], [330, 290, 260, 120]]
    g = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    chi2 = chi2_contingency(table, correction=False)
    # categories are listed by production share: refund, shipping, plan_question, clarification
    assert [c.category for c in report.categories] == [
        "refund",
        "shipping",
        "plan_question",
        "clarification_needed",
    ]
    assert report.test.g == pytest.approx(g.statistic)
    assert report.test.g_p_value == pytest.approx(g.pvalue)
    assert report.test.chi2 == pytest.approx(chi2.statistic)
    assert report.test.dof == 3


def test_a_curated_set_with_production_like_hedging_is_not_flagged():
    curated = {"refund": 100, "shipping": 90, "plan_question": 80, "Clarification Needed": 35}
    report = audit_curated(curated, PRODUCTION)
    assert report.flags == [] and report.notes == []
    clar = next(c for c in report.categories if c.hedge)
    assert clar.curated.count == 35  # matched across spellings
    assert report.test.g_p_value > 0.05


def test_too_small_a_curated_set_is_noted_not_flagged():
    report = audit_curated({"refund": 6, "shipping": 6}, PRODUCTION)
    assert report.flags == []
    assert any("too few to tell" in note for note in report.notes)


def test_refusals_do_not_hide_missing_clarification():
    production = {"refund": 700, "clarification_needed": 150, "should_refuse": 150}
    curated = {"refund": 300, "should_refuse": 100}
    report = audit_curated(curated, production)
    assert report.hedge_total.curated.share == pytest.approx(0.25)
    assert not report.hedge_total.under_represented
    [flag] = report.flags
    assert flag.details["categories"] == ["clarification_needed"]


def test_missing_categories_are_set_apart():
    report = audit_curated({"refund": 10, MISSING: 5}, {"refund": 10, MISSING: 3})
    assert (report.curated_missing, report.production_missing) == (5, 3)
    assert [c.category for c in report.categories] == ["refund"]
    assert report.test is None  # one category: nothing to test


def test_read_categories_from_columns_metadata_and_csv(tmp_path):
    jsonl = tmp_path / "ft.jsonl"
    rows = [
        {"messages": [], "intent": "refund"},
        {"messages": [], "metadata": {"intent": "refusal"}},
        {"messages": []},
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert read_categories(jsonl, "intent") == {"refund": 1, "refusal": 1, MISSING: 1}
    csv = tmp_path / "ft.csv"
    csv.write_text('prompt,meta\nhi,"{""label"": {""intent"": ""hedge""}}"\n')
    assert read_categories(csv, "meta.label.intent") == {"hedge": 1}


def test_read_categories_errors_name_the_place(tmp_path):
    path = tmp_path / "ft.jsonl"
    path.write_text('{"intent": "a"}\n[1, 2]\n')
    with pytest.raises(AssayError) as info:
        read_categories(path, "intent")
    assert info.value.where == f"{path}:2"
    path.write_text('{"label": "a", "text": "x"}\n')
    with pytest.raises(AssayError) as info:
        read_categories(path, "intent")
    assert "no row has the field 'intent'" in info.value.message
    assert "label, text" in info.value.fix
