import numpy as np
import pytest

from assay.analyse import plan_from_runs, plan_proportions, run_precision
from assay.core import AssayError
from assay.stats import paired_sample_size

from .conftest import write_run


def test_plan_proportions_answers_about_2400_per_arm_and_the_mde():
    plan = plan_proportions(0.82, 0.85, n=100)
    assert plan.n_per_arm == 2402
    assert plan.mde_at_n == pytest.approx(0.1265, abs=5e-4)
    with pytest.raises(AssayError, match="nothing to plan"):
        plan_proportions(0.82)
    with pytest.raises(AssayError):
        plan_proportions(0.82, 0.82)


def test_plan_from_runs_estimates_omega_squared_and_noise_from_epochs(store):
    rng = np.random.default_rng(4)
    n, k = 1500, 4
    ids = [f"q{i}" for i in range(n)]
    p_a = rng.beta(4, 2, n)
    p_b = np.clip(p_a + rng.normal(0.03, 0.15, n), 0.01, 0.99)
    a = {i: (rng.random(k) < p_a[j]).astype(float).tolist() for j, i in enumerate(ids)}
    b = {i: (rng.random(k) < p_b[j]).astype(float).tolist() for j, i in enumerate(ids)}
    write_run(store, "A", {("m", "exact"): a})
    write_run(store, "B", {("m", "exact"): b}, minutes=1)
    plan = plan_from_runs(store, "A", "B", delta=0.03, budget=6000, cost_per_sample=2)
    v = plan.variance
    assert v.separable and v.epochs_a == v.epochs_b == k
    true_omega2 = np.var(p_b - p_a, ddof=1)
    true_within = np.mean(p_a * (1 - p_a)) + np.mean(p_b * (1 - p_b))
    assert v.omega2 == pytest.approx(true_omega2, rel=0.25)
    assert v.within_variance == pytest.approx(true_within, rel=0.05)
    assert plan.epochs == k
    assert plan.n_required == paired_sample_size(
        0.03, v.omega2, within_variance=v.within_variance, epochs=k
    )
    assert plan.unpaired_n_per_arm > plan.n_required  # pairing is worth it
    assert plan.epoch_plan is not None and plan.epoch_plan.best.epochs >= 1
    assert 0 < plan.power_at_current_n < 1


def test_plan_from_runs_needs_shared_samples_and_a_difference(store):
    write_run(store, "A", {("m", "exact"): {"a": 1.0, "b": 0.0}})
    write_run(store, "B", {("m", "exact"): {"c": 1.0, "d": 0.0}}, minutes=1)
    with pytest.raises(AssayError, match="share 0 graded samples"):
        plan_from_runs(store, "A", "B", delta=0.03)
    with pytest.raises(AssayError, match="non-zero"):
        plan_from_runs(store, "A", "B", delta=0.0)


def test_precision_lists_flaky_samples_and_splits_the_variance(store):
    scores = {f"s{i}": [1.0, 1.0, 1.0, 1.0, 1.0] for i in range(20)}
    scores["s3"] = [1.0, 1.0, 1.0, 0.0, 0.0]  # right 3 of 5 (REQUIREMENTS B4)
    scores["s7"] = [0.0, 0.0, 0.0, 0.0, 1.0]
    meta = {sid: {"topic": "x" if int(sid[1:]) < 10 else "y"} for sid in scores}
    clusters = {sid: f"doc{int(sid[1:]) % 5}" for sid in scores}
    write_run(
        store, "R", {("m", "exact"): scores}, metadata=meta, clusters=clusters, slices=("topic",)
    )
    rows = run_precision(store, "R", n_resamples=500)
    overall = next(r for r in rows if r.group == "all")
    assert [(f.sample_id, f.mean, f.n_answers) for f in overall.flaky] == [
        ("s3", 0.6, 5),
        ("s7", 0.2, 5),
    ]
    assert overall.epochs.n_flaky == 2 and overall.epochs.mean_epochs == 5
    assert overall.default.estimate == pytest.approx((18 + 0.6 + 0.2) / 20)
    assert overall.n_clusters == 5 and overall.clustered.method == "clustered"
    assert overall.bootstrap_percentile.method == "cluster-bootstrap-percentile"
    assert overall.bootstrap_bca.low <= overall.default.estimate <= overall.bootstrap_bca.high
    assert {r.group for r in rows} == {"all", "topic=x", "topic=y"}


def test_intervals_on_a_rate_stay_within_0_and_1(store):
    # B4 (issue 20): pass/fail answered over 5 epochs gives per-sample rates such as 0.8; a t
    # or clustered interval on those crossed 100% (102%) near a perfect score.
    scores = {f"s{i}": [1.0] * 5 for i in range(6)}
    scores["s0"] = [1.0, 1.0, 1.0, 1.0, 0.0]
    clusters = {sid: f"doc{int(sid[1:]) % 3}" for sid in scores}
    write_run(store, "B", {("m", "exact"): scores}, clusters=clusters)
    (row,) = run_precision(store, "B", n_resamples=200)
    from assay.stats import clustered_interval, t_interval

    means = np.array([np.mean(v) for v in scores.values()])
    assert t_interval(means).high > 1  # what was shown before
    assert clustered_interval(means, np.array(list(clusters.values()))).high > 1
    for interval in (row.default, row.clustered):
        assert 0.0 <= interval.low <= interval.estimate <= interval.high == 1.0
    assert row.default.estimate == pytest.approx(29 / 30)
    # `assay show` (the run summary) uses the same bounded interval.
    from assay.analyse import summarise_run

    shown = summarise_run(store, "B").metric("m", "exact")
    assert shown.interval.high == 1.0 and shown.interval.low >= 0.0
    # A score that is not a rate is left alone.
    write_run(
        store, "S", {("m", "judge"): {f"s{i}": [2.0, 9.0][i % 2 : i % 2 + 1] for i in range(4)}}
    )
    (scale,) = run_precision(store, "S", n_resamples=0)
    assert scale.default.high > 1
