"""One MDE story (issue 20, 5): every MDE names its design, and the planner gives the figure
`assay compare` will report."""

from __future__ import annotations

import pytest

from assay.analyse import compare_runs

from .conftest import write_run


def test_plan_from_runs_names_its_design_and_gives_compares_clustered_mde(store):
    # Issue 20 (one MDE story): plan --pairs-from's MDE is paired and unclustered; when the
    # runs declare a cluster key it also gives the clustered MDE, which is compare's figure.
    import numpy as np

    from assay.analyse import plan_from_runs

    rng = np.random.default_rng(20)
    ids = [f"s{i:03d}" for i in range(240)]
    topic = {i: f"t{k % 24}" for k, i in enumerate(ids)}
    shift = {f"t{c}": rng.normal(0, 0.2) for c in range(24)}
    a = {i: float(rng.random() < 0.7) for i in ids}
    b = {i: float(rng.random() < 0.7 + shift[topic[i]]) for i in ids}
    metadata = {i: {"topic": topic[i]} for i in ids}
    ra = write_run(store, "ca", {("bot", "exact"): a}, metadata=metadata, cluster_key="topic")
    rb = write_run(
        store, "cb", {("bot", "exact"): b}, metadata=metadata, cluster_key="topic", minutes=1
    )
    plan = plan_from_runs(store, ra, rb, delta=0.03)
    comparison = compare_runs(store, ra, rb)
    assert plan.cluster_key == "topic" and plan.n_clusters == 24
    assert plan.clustered_mde == comparison.metrics[0].aggregate.mde
    assert plan.clustered_mde > plan.mde_at_current_n  # clustering costs power here


def test_compare_mde_takes_t_quantiles_on_the_degrees_of_freedom_of_the_rows_test(store):
    # Bloom (1995): a t test on ν degrees of freedom detects (t_{1−α/2,ν} + t_{1−β,ν})·SE with
    # 80% power, not 2.80·SE. compare's row and plan --pairs-from give that figure: CR2 on
    # 5 uneven clusters (ν from the clusters alone), the paired t on n − 1; McNemar's exact
    # test keeps the normal multiplier.
    import numpy as np

    from assay.analyse import plan_from_runs
    from assay.stats import minimum_detectable_effect
    from assay.stats.clustered_small import bell_mccaffrey_df

    rng = np.random.default_rng(21)
    ids = [f"s{i:03d}" for i in range(150)]
    topic = {i: f"t{min(k // 20, 4)}" for k, i in enumerate(ids)}  # sizes 20, 20, 20, 20, 70
    shift = {f"t{c}": rng.normal(0, 0.1) for c in range(5)}
    a = {i: float(rng.uniform()) for i in ids}
    b = {i: float(np.clip(a[i] + shift[topic[i]] + rng.normal(0, 0.1), 0, 1)) for i in ids}
    metadata = {i: {"topic": topic[i]} for i in ids}
    ra = write_run(store, "ka", {("bot", "score"): a}, metadata=metadata, cluster_key="topic")
    rb = write_run(
        store, "kb", {("bot", "score"): b}, metadata=metadata, cluster_key="topic", minutes=1
    )
    clustered = compare_runs(store, ra, rb).metrics[0].aggregate
    nu = bell_mccaffrey_df([20, 20, 20, 20, 70], 1.0)
    assert clustered.test == "clustered-cr2" and clustered.n_clusters == 5 and nu < 4
    expected = minimum_detectable_effect(clustered.se_clustered, df=nu)
    assert clustered.mde == pytest.approx(expected, rel=1e-9)
    assert clustered.mde > 1.5 * minimum_detectable_effect(clustered.se_clustered)
    assert plan_from_runs(store, ra, rb, delta=0.03).clustered_mde == clustered.mde

    few = ids[:12]
    pa = write_run(store, "pa", {("bot", "score"): {i: a[i] for i in few}}, minutes=2)
    pb = write_run(store, "pb", {("bot", "score"): {i: b[i] for i in few}}, minutes=3)
    paired = compare_runs(store, pa, pb).metrics[0].aggregate
    assert paired.test == "paired-t"
    assert paired.mde == pytest.approx(minimum_detectable_effect(paired.se_paired, df=11))

    ma = write_run(store, "ma", {("bot", "exact"): {i: float(a[i] > 0.5) for i in ids}}, minutes=4)
    mb = write_run(store, "mb", {("bot", "exact"): {i: float(b[i] > 0.5) for i in ids}}, minutes=5)
    exact = compare_runs(store, ma, mb).metrics[0].aggregate
    assert exact.test == "mcnemar-exact"
    assert exact.mde == pytest.approx(minimum_detectable_effect(exact.se_paired))
