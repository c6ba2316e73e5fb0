import json
import math

import numpy as np
import pytest

from assay.analyse import CompareSettings, compare_runs, gate, pair_subjects
from assay.core import AssayError
from assay.stats import IMPROVED, MIXED, REGRESSED, UNDERPOWERED

from .conftest import binary_pair, write_run


def _ids(n, prefix="s"):
    return [f"{prefix}{i:04d}" for i in range(n)]


def test_runs_are_joined_by_sample_id_not_row_position(store):
    rng = np.random.default_rng(0)
    ids = _ids(100)
    a_vals = dict(zip(ids, rng.random(100).round(2).tolist(), strict=True))
    # Run B lacks s0000-s0002 (so every later row sits at another position) and has two extra.
    b_ids = [*ids[3:], "extra1", "extra2"]
    b_vals = {i: (a_vals.get(i, 0.5) + 0.1) for i in b_ids}
    write_run(store, "A", {("m", "judge"): a_vals})
    write_run(store, "B", {("m", "judge"): b_vals}, minutes=1)
    c = compare_runs(store, "A", "B")
    m = c.metrics[0]
    assert m.only_a == ["s0000", "s0001", "s0002"] and m.only_b == ["extra1", "extra2"]
    assert m.aggregate.n == 97
    assert m.aggregate.difference == pytest.approx(0.1)  # every shared sample improved by 0.1
    positional = np.mean(list(b_vals.values())[:97]) - np.mean(list(a_vals.values())[:97])
    assert not math.isclose(positional, 0.1, abs_tol=1e-3)
    assert any("left out" in w for w in c.warnings)


def test_subjects_pair_by_single_subject_by_name_or_explicitly():
    assert pair_subjects(["gpt"], ["claude"]) == [("gpt", "claude")]
    assert pair_subjects(["x", "y"], ["y", "z", "x"]) == [("x", "x"), ("y", "y")]
    assert pair_subjects(["x", "y"], ["p", "q"], [("y", "p")]) == [("y", "p")]
    with pytest.raises(AssayError, match="share no subject"):
        pair_subjects(["x", "y"], ["p", "q"])
    with pytest.raises(AssayError, match="run B has no subject 'nope'"):
        pair_subjects(["x"], ["p"], [("x", "nope")])


def _three_slice_runs(store, deltas, n=600, rho=0.7, seed=1, **kwargs):
    rng = np.random.default_rng(seed)
    a_vals, b_vals, meta = {}, {}, {}
    for topic, (p_a, p_b) in deltas.items():
        a, b = binary_pair(rng, n, p_a, p_b, rho)
        for i in range(n):
            sid = f"{topic}-{i:04d}"
            a_vals[sid], b_vals[sid] = float(a[i]), float(b[i])
            meta[sid] = {"topic": topic}
    write_run(store, "A", {("bot", "exact"): a_vals}, metadata=meta, slices=("topic",), **kwargs)
    write_run(
        store,
        "B",
        {("bot", "exact"): b_vals},
        metadata=meta,
        slices=("topic",),
        minutes=1,
        **kwargs,
    )
    return a_vals, b_vals


def test_an_aggregate_win_with_a_significant_slice_regression_is_mixed_and_fails_the_gate(store):
    # REQUIREMENTS B9 and the gate acceptance.
    _three_slice_runs(store, {"math": (0.60, 0.72), "code": (0.70, 0.60), "chat": (0.75, 0.85)})
    c = compare_runs(store, "A", "B")
    m = c.metrics[0]
    assert m.aggregate.difference > 0 and m.aggregate.verdict == IMPROVED
    by_group = {g.group: g for g in m.slices}
    assert by_group["topic=code"].verdict == REGRESSED
    assert by_group["topic=code"].interval.high < 0
    assert by_group["topic=math"].verdict == IMPROVED
    assert m.verdict == MIXED and c.verdict == MIXED
    assert [s.group for s in m.regressed_slices] == ["topic=code"]
    result = gate(c)
    assert not result.passed
    (failure,) = result.failures
    assert "mixed: slice regression" in failure.message and "topic=code" in failure.message


def test_a_clean_improvement_passes_the_gate_and_thresholds_are_checked(store):
    _three_slice_runs(store, {"math": (0.60, 0.70), "code": (0.70, 0.72), "chat": (0.75, 0.82)})
    c = compare_runs(store, "A", "B")
    assert c.metrics[0].verdict == IMPROVED
    assert gate(c).passed
    failing = gate(c, thresholds={"exact": 0.95})
    assert not failing.passed and failing.failures[0].kind == "threshold"
    assert gate(c, thresholds={"exact": 0.5}).passed
    with pytest.raises(AssayError, match="no compared metric is named 'f1'"):
        gate(c, thresholds={"f1": 0.5})


def test_requirement_b2_100_items_82_to_85_is_underpowered_with_the_mde_shown(store):
    a = [1.0] * 82 + [0.0] * 18
    b = list(a)
    for i in (82, 83, 84, 85, 86):
        b[i] = 1.0
    for i in (0, 1):
        b[i] = 0.0
    ids = _ids(100)
    write_run(store, "A", {("m", "exact"): dict(zip(ids, a, strict=True))})
    write_run(store, "B", {("m", "exact"): dict(zip(ids, b, strict=True))}, minutes=1)
    g = compare_runs(store, "A", "B").metrics[0].aggregate
    assert (g.mean_a, g.mean_b) == (0.82, 0.85)
    assert g.test == "mcnemar-exact" and (g.a_only, g.b_only) == (2, 5)
    assert g.p_value == pytest.approx(0.453125)
    assert g.interval.low < 0 < g.interval.high
    assert g.verdict == UNDERPOWERED and g.mde > 0.03


def test_p_values_are_corrected_across_slices(store):
    _three_slice_runs(store, {"math": (0.60, 0.66), "code": (0.70, 0.67), "chat": (0.75, 0.79)})
    holm = compare_runs(store, "A", "B", settings=CompareSettings(correction="holm")).metrics[0]
    bh = compare_runs(store, "A", "B", settings=CompareSettings(correction="bh")).metrics[0]
    none = compare_runs(store, "A", "B", settings=CompareSettings(correction="none")).metrics[0]
    for h, b, n in zip(holm.slices, bh.slices, none.slices, strict=True):
        assert n.p_adjusted == n.p_value
        assert b.p_value <= b.p_adjusted <= h.p_adjusted + 1e-12
    smallest = min(holm.slices, key=lambda g: g.p_value)
    assert smallest.p_adjusted == pytest.approx(min(1.0, 3 * smallest.p_value))


def test_clustered_errors_are_used_when_there_are_enough_clusters(store):
    rng = np.random.default_rng(3)
    ids = _ids(400)
    cluster = {i: f"doc{k // 10}" for k, i in enumerate(ids)}  # 40 documents of 10 questions
    doc_effect = rng.normal(0, 0.3, 40)
    a = {i: float(rng.random() < 0.6) for i in ids}
    b = {i: float(rng.random() < 0.6 + doc_effect[k // 10]) for k, i in enumerate(ids)}
    write_run(store, "A", {("m", "exact"): a}, clusters=cluster)
    write_run(store, "B", {("m", "exact"): b}, clusters=cluster, minutes=1)
    g = compare_runs(store, "A", "B").metrics[0].aggregate
    # Issue 13 (8): CR2 with Bell-McCaffrey degrees of freedom replaced CR1 with C − 1.
    assert g.test == "clustered-cr2" and g.n_clusters == 40
    assert g.interval.method == "clustered-cr2" and g.se_clustered > g.se_paired
    few = (
        compare_runs(store, "A", "B", settings=CompareSettings(min_clusters=50))
        .metrics[0]
        .aggregate
    )
    # Below min_clusters the clusters are still honoured, with conservative degrees of freedom
    # (issue 13: treating clustered samples as independent understated the error).
    assert few.test == "clustered-cr2" and "degrees of freedom from the clusters alone" in few.note
    # Equal cluster sizes: both working models give C − 1 = 39 degrees of freedom.
    assert few.interval.low == pytest.approx(g.interval.low, abs=1e-3)


def test_epochs_are_averaged_per_sample_before_comparing(store):
    ids = _ids(30)
    a = {i: [1.0, 0.0, 1.0] for i in ids}  # 2/3 per sample
    b = {i: [1.0, 1.0, 1.0] if k % 2 else [1.0, 0.0, 1.0] for k, i in enumerate(ids)}
    write_run(store, "A", {("m", "exact"): a})
    write_run(store, "B", {("m", "exact"): b}, minutes=1)
    m = compare_runs(store, "A", "B").metrics[0]
    assert m.epochs_a == m.epochs_b == 3
    g = m.aggregate
    assert g.n == 30 and not g.binary and g.test == "paired-t"
    assert g.difference == pytest.approx(0.5 * (1 / 3))


def test_errored_samples_are_left_out_and_reported(store):
    ids = _ids(50)
    write_run(store, "A", {("m", "exact"): {i: 1.0 for i in ids}})
    write_run(
        store, "B", {("m", "exact"): {i: 1.0 for i in ids[5:]}}, errors={"m": ids[:5]}, minutes=1
    )
    m = compare_runs(store, "A", "B").metrics[0]
    assert m.only_a == ids[:5] and m.aggregate.n == 45
    g = m.aggregate
    # No variation at all: the MDE falls back to the rule-of-three bound instead of 0.
    assert g.p_value == 1.0 and g.mde > 0 and "no variation" in g.note


def test_a_constant_shift_with_rounding_noise_counts_as_no_variation(store):
    # B adds 0.7 to every graded score: the differences vary only by floating-point rounding
    # (an SE of ~1e-17), which must not claim an MDE of ~0.
    ids = _ids(40)
    a = {i: 1 + (k % 5) / 10 for k, i in enumerate(ids)}
    write_run(store, "A", {("m", "rubric"): a})
    write_run(store, "B", {("m", "rubric"): {i: v + 0.7 for i, v in a.items()}}, minutes=1)
    g = compare_runs(store, "A", "B").metrics[0].aggregate
    assert "no variation" in (g.note or "") and g.mde > 0.01


def test_comparison_is_deterministic_and_json_ready(store):
    _three_slice_runs(store, {"math": (0.60, 0.66), "code": (0.70, 0.67)})
    first = compare_runs(store, "A", "B").to_dict()
    again = compare_runs(store, "A", "B").to_dict()
    assert json.dumps(first, allow_nan=False) == json.dumps(again, allow_nan=False)
    row = first["metrics"][0]["groups"][0]
    assert {
        "difference",
        "interval",
        "mde",
        "verdict",
        "se_reduction",
        "correlation",
        "p_adjusted",
    } <= set(row)
    assert first["changes"] == []  # identical manifests apart from ids and times


def test_pairing_helps_when_the_runs_are_correlated(store):
    _three_slice_runs(store, {"math": (0.60, 0.62)}, rho=0.9)
    g = compare_runs(store, "A", "B").metrics[0].aggregate
    assert g.correlation > 0.7 and g.se_reduction > 0.4
    assert g.bootstrap is not None and g.bootstrap.low < g.difference < g.bootstrap.high
    assert g.permutation_p == pytest.approx(g.p_value, abs=0.05)


def test_unknown_scorer_is_a_usage_error(store):
    _three_slice_runs(store, {"math": (0.6, 0.6)})
    with pytest.raises(AssayError, match="scorer 'f1' is not in both runs"):
        compare_runs(store, "A", "B", scorers=["f1"])


def test_gate_margin_tolerates_small_but_significant_regressions(store):
    _three_slice_runs(store, {"math": (0.60, 0.72), "code": (0.70, 0.60), "chat": (0.75, 0.85)})
    c = compare_runs(store, "A", "B")
    drop = -next(s for s in c.metrics[0].slices if s.group == "topic=code").difference
    assert not gate(c, margin=drop - 0.01).passed
    tolerant = gate(c, margin=drop + 0.01)
    assert tolerant.passed and "within the margin" in tolerant.checks[0].message
    with pytest.raises(AssayError, match="margin"):
        gate(c, margin=-0.1)


def test_runs_without_shared_samples_cannot_be_compared(store):
    write_run(store, "A", {("m", "exact"): {"a": 1.0}})
    write_run(store, "B", {("m", "exact"): {"b": 1.0}}, minutes=1)
    with pytest.raises(AssayError, match="share no graded sample"):
        compare_runs(store, "A", "B")
