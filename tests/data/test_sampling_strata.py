"""Stratified sampling (D1) and the temporal-window bias check (D2) on a 50,000-record population."""

import math

import pytest
from sampling_testutil import population

from assay.data.sampling import (
    StrataSpec,
    allocate,
    bias_check,
    composition,
    draw_stratified,
)

SPEC = StrataSpec(("hour_of_week", "segment"), time_column="ts")


@pytest.fixture(scope="module")
def traffic():
    return population()


def test_window_only_sample_flags_temporal_bias_and_enterprise_absent(traffic):
    window = [r for r in traffic if r.values["ts"][11:13] == "03"]
    assert len(window) == 6_000  # 12% of 50,000
    sample = window[:5_000]
    report = composition(sample, traffic, SPEC)
    codes = {(f.code, f.details["rule"]) for f in report.flags if f.code != "marginal_off"}
    assert codes == {
        ("temporal_window_bias", "hour_coverage"),
        ("temporal_window_bias", "window_concentration"),
    }
    # Every marginal the window misses by more than the tolerance is named too (issue 20).
    off = {
        (f.details["variable"], f.details["value"])
        for f in report.flags
        if f.code == "marginal_off"
    }
    assert ("segment", "enterprise") in off
    assert report.hour_coverage == pytest.approx(0.12, abs=1e-9)
    assert report.segment_coverage["segment"]["enterprise"] == 0.0
    concentration = next(f for f in report.flags if f.details["rule"] == "window_concentration")
    assert concentration.details["window"] == "03:00-04:00"
    assert concentration.details["sample_share"] == 1.0


def test_stratified_sample_matches_allocation_within_one_and_is_not_flagged(traffic):
    drawn = draw_stratified(traffic, SPEC, 5_000, seed=3)
    assert len(drawn.records) == 5_000
    assert sum(a.drawn for a in drawn.allocation) == 5_000
    assert max(abs(a.drawn - a.quota) for a in drawn.allocation) < 1
    # 168 hours of week x 3 segments, minus enterprise in the seven 03:00 hours.
    assert len(drawn.allocation) == 168 * 3 - 7
    report = composition(drawn.records, traffic, SPEC)
    assert report.flags == []
    coverage = report.segment_coverage["segment"]
    assert all(abs(c - 1) < 0.02 for c in coverage.values())


def test_revenue_weights_allocate_by_revenue_share(traffic):
    spec = StrataSpec(("hour_of_week", "segment"), time_column="ts", weight="revenue")
    drawn = draw_stratified(traffic, spec, 5_000, seed=3)
    assert max(abs(a.drawn - a.quota) for a in drawn.allocation) < 1
    revenue = {"consumer": 0.0, "smb": 0.0, "enterprise": 0.0}
    for record in traffic:
        revenue[record.values["segment"]] += record.values["revenue"]
    enterprise_share = revenue["enterprise"] / sum(revenue.values())
    drawn_enterprise = sum(a.drawn for a in drawn.allocation if a.key[1] == "enterprise")
    # One seat of rounding per enterprise stratum at most.
    assert abs(drawn_enterprise - 5_000 * enterprise_share) <= 161
    assert drawn_enterprise / 5_000 > 0.5  # revenue, not traffic (10%), drives the allocation


def test_same_seed_same_sample_other_seed_differs(traffic):
    first = draw_stratified(traffic[:5_000], SPEC, 500, seed=11)
    again = draw_stratified(traffic[:5_000], SPEC, 500, seed=11)
    other = draw_stratified(traffic[:5_000], SPEC, 500, seed=12)
    ids = [r.values["id"] for r in first.records]
    assert ids == [r.values["id"] for r in again.records]
    assert ids != [r.values["id"] for r in other.records]


def test_allocate_largest_remainder_and_capacity():
    assert allocate({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}
    assert allocate({"a": 0.55, "b": 0.3, "c": 0.15}, 7) == {"a": 4, "b": 2, "c": 1}
    # a's quota (9) exceeds its 5 records: it is taken whole and b gets the rest.
    assert allocate({"a": 0.9, "b": 0.1}, 10, {"a": 5, "b": 100}) == {"a": 5, "b": 5}


@pytest.mark.parametrize("n", [1, 37, 500, 999])
def test_allocation_sums_to_n_and_stays_within_one(n):
    shares = {k: 1 / (k + 1) for k in range(40)}
    counts = allocate(shares, n)
    total = sum(shares.values())
    assert sum(counts.values()) == n
    assert all(math.fabs(counts[k] - n * shares[k] / total) < 1 for k in shares)


def test_timezone_moves_the_window(traffic):
    window = [r for r in traffic if r.values["ts"][11:13] == "03"][:2_000]
    eastern = StrataSpec(("hour_of_week",), time_column="ts", tz="America/New_York")
    flags = bias_check(window, traffic, eastern)
    # 03:00 UTC is 22:00 in New York in January.
    assert any(f.details.get("window") == "22:00-23:00" for f in flags)
