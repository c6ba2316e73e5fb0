"""One MDE story (issue 20, 5): every MDE names its design, and the planner gives the figure
`assay compare` will report."""

from __future__ import annotations

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
