"""Do 95% intervals cover the truth 95% of the time? Checked over thousands of seeded worlds
whose true difference is known (design doc: "The simulated world").

In each world two systems answer items whose difficulty is drawn from a known distribution
(an item-response model: P(correct) = sigmoid(ability − difficulty)), so the true difference
of their expected pass rates, E_d[σ(θ_B − d) − σ(θ_A − d)], is computed by Gauss-Hermite
quadrature. Coverage is the share of worlds whose interval contains it.
"""

import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit

from assay.stats import paired_bootstrap_interval, paired_difference

NODES, WEIGHTS = hermegauss(80)
WEIGHTS = WEIGHTS / WEIGHTS.sum()


def expected_pass_rate(ability, difficulty_variance):
    """E[sigmoid(ability − d)] for d ~ N(0, difficulty_variance), per world."""
    ability = np.asarray(ability, dtype=float)
    spread = math.sqrt(difficulty_variance) * NODES
    return (expit(ability[:, None] + spread[None, :]) * WEIGHTS).sum(axis=1)


def coverage(intervals, truth):
    low = np.array([i.low for i in intervals])
    high = np.array([i.high for i in intervals])
    return float(np.mean((low <= truth) & (truth <= high)))


def test_paired_t_intervals_cover_the_true_difference_95_percent_of_the_time():
    worlds, n, d_var = 4000, 200, 1.25
    rng = np.random.default_rng(2024)
    ability_a = rng.normal(0.5, 0.8, worlds)
    ability_b = ability_a + rng.normal(0.15, 0.3, worlds)
    truth = expected_pass_rate(ability_b, d_var) - expected_pass_rate(ability_a, d_var)
    difficulty = rng.normal(0, math.sqrt(d_var), (worlds, n))
    a = (rng.random((worlds, n)) < expit(ability_a[:, None] - difficulty)).astype(float)
    b = (rng.random((worlds, n)) < expit(ability_b[:, None] - difficulty)).astype(float)
    results = [paired_difference(a[w], b[w]) for w in range(worlds)]
    assert 0.94 <= coverage([r.interval for r in results], truth) <= 0.96
    # Pairing is what makes these intervals short: the shared difficulty correlates the runs.
    assert np.mean([r.se_reduction for r in results]) > 0.05


def test_paired_bootstrap_intervals_cover_about_95_percent():
    worlds, n, d_var = 1500, 200, 1.25
    rng = np.random.default_rng(99)
    ability_a = rng.normal(0.5, 0.8, worlds)
    ability_b = ability_a + rng.normal(0.15, 0.3, worlds)
    truth = expected_pass_rate(ability_b, d_var) - expected_pass_rate(ability_a, d_var)
    difficulty = rng.normal(0, math.sqrt(d_var), (worlds, n))
    a = (rng.random((worlds, n)) < expit(ability_a[:, None] - difficulty)).astype(float)
    b = (rng.random((worlds, n)) < expit(ability_b[:, None] - difficulty)).astype(float)
    intervals = [
        paired_bootstrap_interval(a[w], b[w], n_resamples=2000, seed=w) for w in range(worlds)
    ]
    # 1,500 worlds: binomial standard error of a 95% coverage is 0.56 points.
    assert 0.935 <= coverage(intervals, truth) <= 0.965


def test_clustered_intervals_cover_under_planted_within_cluster_correlation():
    # 30 clusters of 20 items: items share a cluster difficulty, and B's gain over A varies by
    # cluster (sd 1 on the logit scale). Treating the 600 items as independent is then wrong.
    worlds, n_clusters, size, tau = 4000, 30, 20, 1.0
    rng = np.random.default_rng(7)
    ability_a = rng.normal(0.5, 0.8, worlds)
    ability_b = ability_a + rng.normal(0.15, 0.3, worlds)
    cluster = np.repeat(np.arange(n_clusters), size)
    difficulty = rng.normal(0, 1, (worlds, n_clusters))[:, cluster] + rng.normal(
        0, 0.5, (worlds, cluster.size)
    )
    gain = rng.normal(0, tau, (worlds, n_clusters))[:, cluster]
    # true difference over the population of clusters and items (d ~ N(0, 1.25), gain ~ N(0, τ²))
    truth = expected_pass_rate(ability_b, 1.25 + tau**2) - expected_pass_rate(ability_a, 1.25)
    a = (rng.random(difficulty.shape) < expit(ability_a[:, None] - difficulty)).astype(float)
    b = (rng.random(difficulty.shape) < expit(ability_b[:, None] + gain - difficulty)).astype(float)
    results = [paired_difference(a[w], b[w], clusters=cluster) for w in range(worlds)]
    clustered = coverage([r.clustered_interval for r in results], truth)
    naive = coverage([r.interval for r in results], truth)
    assert 0.94 <= clustered <= 0.96
    assert naive < 0.85  # visibly under-covers
    uncorrected = [
        paired_difference(
            a[w], b[w], clusters=cluster, finite_cluster_correction=False
        ).clustered_interval
        for w in range(worlds)
    ]
    assert coverage(uncorrected, truth) < clustered  # C/(C-1) buys back part of the shortfall


@pytest.mark.slow
def test_paired_intervals_cover_in_the_simulated_provider_world():
    # The same check through assay's sim provider: its item difficulties are hashed standard
    # normals, its answers correct with probability sigmoid(ability − difficulty).
    from assay.core import Message, ModelRequest
    from assay.providers.sim import SimProvider

    worlds, n = 2000, 100
    rng = np.random.default_rng(31)
    ability_a = rng.normal(0.6, 0.6, worlds)
    ability_b = ability_a + rng.normal(0.2, 0.3, worlds)
    truth = expected_pass_rate(ability_b, 1.0) - expected_pass_rate(ability_a, 1.0)
    messages = (Message(role="user", content="Q"),)
    # The same requests in every world; only the world (seed, abilities) changes.
    requests = {
        system: [
            ModelRequest(model=system, messages=messages, context={"sample_id": f"q{i}"})
            for i in range(n)
        ]
        for system in ("a", "b")
    }
    intervals = []
    for w in range(worlds):
        world = SimProvider(
            world_seed=w,
            systems={
                "a": {"family": "sim", "ability": float(ability_a[w])},
                "b": {"family": "sim", "ability": float(ability_b[w])},
            },
        )
        answers = {
            system: [float(world.simulate(r).metadata["sim"]["correct"]) for r in requests[system]]
            for system in ("a", "b")
        }
        intervals.append(paired_difference(answers["a"], answers["b"]).interval)
    assert 0.94 <= coverage(intervals, truth) <= 0.96
