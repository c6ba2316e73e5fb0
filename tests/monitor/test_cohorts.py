"""E4, E5, E6 and G7 as REQUIREMENTS.md writes their acceptance checks."""

from __future__ import annotations

import numpy as np

from assay.monitor.cohorts import (
    acceptance_vs_correctness,
    coverage_gaps,
    segment_satisfaction,
    tokenizer_drift,
)


def test_e4_a_failing_intent_is_flagged_while_the_aggregate_passes() -> None:
    # CSAT averages 4.5; intent `dispute` averages 2.9. Threshold 4.0 (seed 1).
    rng = np.random.default_rng(1)
    happy = np.clip(np.round(rng.normal(4.68, 0.5, 900)), 1, 5)
    dispute = np.clip(np.round(rng.normal(2.9, 0.8, 100)), 1, 5)
    scores = np.concatenate([happy, dispute])
    segments = ["billing"] * 450 + ["shipping"] * 450 + ["dispute"] * 100
    assert abs(scores.mean() - 4.5) < 0.05
    flags = segment_satisfaction(scores, segments, threshold=4.0)
    assert [f.name for f in flags] == ["segment_fails(dispute)"]
    assert flags[0].detail["aggregate_mean"]["estimate"] >= 4.0


def test_e5_automation_bias_and_algorithm_aversion() -> None:
    # Cohort A accepts 98% unedited and 30% of accepted suggestions are wrong; cohort B
    # accepts 5% of suggestions that are 90% correct; cohort C is calibrated.
    n = 500
    a_acc = np.r_[np.ones(490), np.zeros(10)]
    a_ok = np.r_[np.zeros(147), np.ones(353)]
    b_acc = np.r_[np.ones(25), np.zeros(475)]
    b_ok = np.r_[np.ones(450), np.zeros(50)]
    c_acc = np.r_[np.ones(400), np.zeros(100)]
    c_ok = np.r_[np.ones(380), np.zeros(20), np.ones(20), np.zeros(80)]
    flags = acceptance_vs_correctness({"A": (a_acc, a_ok), "B": (b_acc, b_ok), "C": (c_acc, c_ok)})
    assert [(f.name, f.detail["cohort"]) for f in flags] == [
        ("automation_bias", "A"),
        ("algorithm_aversion", "B"),
    ]
    assert len(a_acc) == n


def test_e6_a_surface_rising_to_40_percent_with_no_eval_cases_is_a_coverage_gap() -> None:
    before = {"web": 950, "mobile": 50}
    now = {"web": 600, "mobile": 400}
    flags = coverage_gaps(before, now, {"web": 300, "mobile": 0})
    assert [f.name for f in flags] == ["coverage_gap(mobile)"]
    assert coverage_gaps(before, now, {"web": 300, "mobile": 120}) == []


def test_g7_provider_counts_11_percent_above_local_on_ja_flag_tokenizer_drift() -> None:
    rng = np.random.default_rng(7)
    local = rng.integers(50, 400, 600).astype(float)
    langs = ["ja"] * 200 + ["en"] * 400
    provider = local * np.where(np.array(langs) == "ja", 1.11, 1.0) + rng.normal(0, 2, 600)
    flags = tokenizer_drift(local, provider, langs)
    assert [f.name for f in flags] == ["tokenizer_drift(ja)=11%"]
