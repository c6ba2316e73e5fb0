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


@pytest.fixture
def connected(cluster):
    """This process connected to the cluster (kept between tests: connecting costs seconds);
    executors given the cluster's address then reuse the connection and leave it open."""
    import ray

    if not ray.is_initialized():
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    return cluster


@pytest.fixture
def disconnected(cluster):
    """No connection yet: the code under test must open (and close) its own."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    return cluster
