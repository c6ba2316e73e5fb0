"""One local Ray cluster for the Ray tests of this folder: a head node and one worker node on
this machine (one CPU each), started once and shut down after the last of them."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        head.add_node(num_cpus=1)
        head.wait_for_nodes()
        yield head
    finally:
        if ray.is_initialized():
            ray.shutdown()
        head.shutdown()
