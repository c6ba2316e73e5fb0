"""Judge drift (C5-C7): fingerprint, anchor drift, the instrument-drift signature, the bridge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.audit import (
    SliceDelta,
    anchor_drift_check,
    anchor_fingerprint,
    exchange_rate,
    instrument_drift,
)
from assay.stats import paired_difference

# -- C5: fingerprint ------------------------------------------------------------------------


def test_fingerprint_is_stable_under_order_and_float_jitter() -> None:
    scores = {"a1": 7.0, "a2": 0.8333333333, "a3": 3.0}
    base = anchor_fingerprint(["judge-2024-08-06"], scores)
    jittered = {"a3": 3.0000000001, "a1": 7, "a2": 0.83333333339}
    assert anchor_fingerprint(["judge-2024-08-06"], jittered) == base
    assert len(base) == 16


def test_fingerprint_moves_with_snapshot_or_score() -> None:
    scores = {"a1": 7.0, "a2": 5.0}
    base = anchor_fingerprint(["judge-2024-08-06"], scores)
    assert anchor_fingerprint(["judge-2024-11-20"], scores) != base
    assert anchor_fingerprint(["judge-2024-08-06"], {"a1": 7.0, "a2": 6.0}) != base
    assert anchor_fingerprint(["judge-2024-08-06"], {"a1": 7.0}) != base
    # snapshot order and repeats do not matter; a bare string is one snapshot
    assert anchor_fingerprint(["b", "a", "a"], scores) == anchor_fingerprint(["a", "b"], scores)
    assert anchor_fingerprint("a", scores) == anchor_fingerprint(["a"], scores)
    # a missing score is recorded as such, not as zero
    assert anchor_fingerprint("a", {"x": math.nan}) != anchor_fingerprint("a", {"x": 0.0})


# -- C5: anchor drift ---------------------------------------------------------------------


def _anchors(n: int = 60, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {f"anchor-{i}": float(rng.integers(1, 11)) for i in range(n)}


def test_identical_anchor_scores_pass() -> None:
    scores = _anchors()
    check = anchor_drift_check(scores, dict(scores))
    assert check.verdict == "pass"
    assert (check.figure, check.low, check.high) == (0.0, 0.0, 0.0)
    assert check.details["anchors_changed"] == 0


def test_lenient_judge_on_anchors_is_drifted() -> None:
    before = _anchors()
    rng = np.random.default_rng(1)
    after = {a: s + 0.6 + rng.normal(0, 0.5) for a, s in before.items()}
    check = anchor_drift_check(before, after)
    assert check.verdict == "fail"
    assert check.flag == "drifted"
    assert check.low <= 0.6 <= check.high
    assert check.low > 0
    top = check.details["changed"]
    assert len(top) == 10
    assert "NaN" not in check.model_dump_json()
    assert abs(top[0]["change"]) >= abs(top[-1]["change"])


def test_anchor_drift_lists_ids_in_one_run_only_and_tolerance() -> None:
    before = _anchors(20)
    after = {a: s + 0.1 for a, s in before.items() if a != "anchor-0"}
    after["anchor-new"] = 4.0
    check = anchor_drift_check(before, after)
    assert check.details["only_previous"] == ["anchor-0"]
    assert check.details["only_current"] == ["anchor-new"]
    assert check.n == 19
    # +0.1 everywhere is systematic but under the default tolerance (3% of range ~ 0.27)
    assert check.verdict == "warn"
    assert anchor_drift_check(before, after, tolerance=0.05).verdict == "fail"


def test_anchor_drift_single_changed_anchor_is_not_drift() -> None:
    before = _anchors(30)
    after = dict(before)
    after["anchor-3"] += 3
    check = anchor_drift_check(before, after)
    assert check.verdict == "pass"
    assert check.details["changed"][0]["anchor"] == "anchor-3"


def test_anchor_drift_needs_two_shared_anchors() -> None:
    check = anchor_drift_check({"a": 1.0, "b": 2.0}, {"a": 1.0, "c": 2.0})
    assert check.verdict == "skipped"
    assert check.details["only_current"] == ["c"]


def test_anchor_drift_interval_coverage_over_simulated_worlds() -> None:
    # 1000 seeded worlds: anchors of varied difficulty re-scored with noise, shifted by a
    # planted 0.3; the 95% interval covers it in 93-97%; a clean judge is flagged in <= 5%.
    rng = np.random.default_rng(77)
    planted, worlds, n = 0.3, 1000, 40
    covered = flagged = 0
    ids = [f"a{i}" for i in range(n)]
    for _ in range(worlds):
        truth = rng.uniform(1, 10, n)
        before = dict(zip(ids, truth + rng.normal(0, 0.6, n), strict=True))
        after = dict(zip(ids, truth + planted + rng.normal(0, 0.6, n), strict=True))
        check = anchor_drift_check(before, after)
        covered += check.low <= planted <= check.high
        clean = dict(zip(ids, truth + rng.normal(0, 0.6, n), strict=True))
        flagged += anchor_drift_check(before, clean).verdict == "fail"
    assert 0.93 <= covered / worlds <= 0.97
    assert flagged / worlds <= 0.05


# -- C6: instrument drift -----------------------------------------------------------------


def _slice_delta(name: str, before: np.ndarray, after: np.ndarray) -> SliceDelta:
    diff = paired_difference(before, after)
    return SliceDelta(name, diff.difference, diff.interval.low, diff.interval.high, diff.n)


def _run_pair(lift: dict[str, float], seed: int, n: int = 200) -> list[SliceDelta]:
    """Per-slice 0-100 scores of the same samples in two runs; run 2 adds ``lift``."""
    rng = np.random.default_rng(seed)
    out = []
    for name, delta in lift.items():
        quality = rng.uniform(30, 90, n)
        before = quality + rng.normal(0, 5, n)
        after = quality + delta + rng.normal(0, 5, n)
        out.append(_slice_delta(name, before, after))
    return out


SLICES = ["reasoning", "coding", "citations", "summaries", "control"]


def test_c6_uniform_lift_including_control_is_instrument_drift() -> None:
    slices = _run_pair({s: 6.0 for s in SLICES}, seed=3)
    report = instrument_drift(slices, control={"control"})
    assert report.suspected
    assert report.label == "instrument drift suspected"
    assert report.direction == 1
    assert report.q_p_value > 0.05
    assert report.pooled == pytest.approx(6.0, abs=1.0)
    check = report.to_check()
    assert check.verdict == "fail"
    assert check.flag == "drifted"
    assert "instrument drift suspected" in check.message
    assert "NaN" not in check.model_dump_json()


def test_c6_real_improvement_in_two_slices_with_flat_control_is_not_drift() -> None:
    lift = {"reasoning": 6.0, "coding": 6.0, "citations": 0.0, "summaries": 0.0, "control": 0}
    report = instrument_drift(_run_pair(lift, seed=4), control=["control"])
    assert not report.suspected
    assert report.label == "consistent with a real change"
    assert "reasoning" in report.reason and "coding" in report.reason
    assert report.to_check().verdict == "pass"


def test_uneven_lift_everywhere_is_not_the_uniform_signature() -> None:
    lift = {"reasoning": 2.0, "coding": 15.0, "citations": 4.0, "summaries": 9.0, "control": 3}
    report = instrument_drift(_run_pair(lift, seed=5), control=["control"])
    assert not report.suspected
    assert report.label == "control set moved"
    assert report.i2 > 0.5
    assert report.to_check().verdict == "warn"


def test_control_moving_alone_is_reported() -> None:
    lift = {"reasoning": 0.0, "coding": 0.0, "control": 6.0}
    report = instrument_drift(_run_pair(lift, seed=6), control=["control"])
    assert not report.suspected
    assert report.label == "control set moved"


def test_without_a_control_slice_the_detector_abstains() -> None:
    report = instrument_drift(_run_pair({s: 6.0 for s in SLICES[:4]}, seed=7), control=["ctl"])
    assert not report.suspected
    assert report.label == "no control set"
    assert report.as_dict()["control"] == ["ctl"]


def test_deterministic_uniform_lift_zero_width_intervals() -> None:
    slices = [SliceDelta(s, 6.0, 6.0, 6.0, 50) for s in SLICES]
    assert instrument_drift(slices, control=["control"]).suspected
    slices[0] = SliceDelta("reasoning", 9.0, 9.0, 9.0, 50)
    assert not instrument_drift(slices, control=["control"]).suspected


def test_slice_without_interval_blocks_the_signature() -> None:
    slices = [SliceDelta(s, 6.0, 5.0, 7.0, 50) for s in SLICES]
    slices[1] = SliceDelta("coding", 6.0, math.nan, math.nan, 1)
    report = instrument_drift(slices, control=["control"])
    assert not report.suspected
    assert report.label == "control set moved"
    assert "NaN" not in report.to_check().model_dump_json()


def test_slice_delta_standard_error_from_interval() -> None:
    d = SliceDelta("x", 1.0, 1.0 - 1.959964, 1.0 + 1.959964, 10)
    assert d.standard_error == pytest.approx(1.0, rel=1e-5)
    assert d.direction == 0 and not d.excludes_zero


# -- C7: the exchange rate ----------------------------------------------------------------


def _bridge_world(seed: int, n_per: int = 60) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Old and new judge stubs scoring the same overlap set 1-10; they differ only on
    ``citations``, where the new judge is 1.5 points stricter."""
    rng = np.random.default_rng(seed)
    names = ["reasoning", "citations", "verbosity", "safety"]
    slices = [name for name in names for _ in range(n_per)]
    quality = rng.integers(1, 11, len(slices)).astype(float)
    old = quality.copy()
    new = quality - 1.5 * np.array([s == "citations" for s in slices])
    new = np.clip(new, 1, 10)
    return old, new, slices


def test_c7_bridge_shows_a_delta_only_for_citations() -> None:
    old, new, slices = _bridge_world(seed=1)
    rate = exchange_rate(old, new, slices)
    assert rate.changed_slices == ["citations"]
    citations = rate.rate("citations")
    assert citations.delta < -1.0
    assert citations.high < 0
    for name in ("reasoning", "verbosity", "safety"):
        other = rate.rate(name)
        assert other.delta == 0.0
        assert not other.changed
        assert other.slope == pytest.approx(1.0) and other.intercept == pytest.approx(0.0)
    check = rate.to_check()
    assert check.verdict == "warn"
    assert "citations" in check.message
    assert "NaN" not in check.model_dump_json()
    assert check.details["changed_slices"] == ["citations"]


def test_c7_bridge_with_noisy_judges() -> None:
    rng = np.random.default_rng(9)
    slices = [s for s in ("reasoning", "citations", "verbosity") for _ in range(150)]
    quality = rng.uniform(1, 10, len(slices))
    is_citation = np.array([s == "citations" for s in slices])
    old = quality + rng.normal(0, 0.5, len(slices))
    new = quality - 1.0 * is_citation + rng.normal(0, 0.5, len(slices))
    rate = exchange_rate(old, new, slices)
    assert rate.changed_slices == ["citations"]
    citations = rate.rate("citations")
    assert citations.low <= -1.0 <= citations.high
    # the line converts an old citations score into the new currency
    assert rate.convert("citations", 6.0) == pytest.approx(5.0, abs=0.3)
    assert rate.convert("reasoning", 6.0) == pytest.approx(6.0, abs=0.3)


def test_exchange_rate_edge_cases() -> None:
    old = [5.0, 5.0, 5.0, math.nan, 2.0]
    new = [6.0, 6.0, 6.0, 1.0, 3.0]
    rate = exchange_rate(old, new, ["a", "a", "a", "a", None], correction="none")
    assert rate.dropped == 1 and rate.unsliced == 1
    a = rate.rate("a")
    # constant old scores: no line, the offset converts
    assert math.isnan(a.slope)
    assert a.convert(5.0) == 6.0
    assert a.changed  # +1 on every item: a zero-width interval away from 0
    assert rate.overall.n == 4
    assert rate.as_dict()["slices"][0]["slope"] is None
    with pytest.raises(KeyError):
        rate.rate("nope")
    with pytest.raises(ValueError, match="differ in length"):
        exchange_rate([1.0], [1.0, 2.0], ["a"])
