"""Many candidates (issue 13, item 2): the model confidence set keeps the tied best, rank
intervals cover the true ranks, and pairwise comparisons keep family-wise errors at α."""

import numpy as np
import pytest

from assay.analyse.rank import Candidate, rank_candidates
from assay.stats.ranking import model_confidence_set, rank_distribution


def test_the_confidence_set_keeps_both_tied_best_candidates():
    # 5 candidates on 500 items, true pass rates 80, 80, 74, 72, 70%. 200 worlds, seed 31:
    # both best in the set in 95.5% of worlds (measured); the worst dropped in 92.5%.
    rng = np.random.default_rng(31)
    p = np.array([0.80, 0.80, 0.74, 0.72, 0.70])
    both = worst_dropped = 0
    worlds = 200
    for w in range(worlds):
        x = (rng.random((500, 5)) < p).astype(float)
        mcs = model_confidence_set(x, size=0.05, n_resamples=500, seed=w)
        both += {0, 1} <= set(mcs.included)
        worst_dropped += 4 in mcs.excluded
    assert both / worlds >= 0.95
    assert worst_dropped / worlds >= 0.9


def test_rank_intervals_cover_all_true_ranks_jointly():
    # Distinct true means 0.62 … 0.78 (4-point steps), 400 items, 300 worlds, seed 32:
    # every candidate's true rank inside its interval in 100% of worlds (the max-|t| band
    # is simultaneous, so joint coverage ≥ 95% is the guarantee); mean width 2.3 ranks.
    rng = np.random.default_rng(32)
    p = np.array([0.62, 0.66, 0.70, 0.74, 0.78])
    true_rank = np.array([5, 4, 3, 2, 1])
    covered = 0
    worlds = 300
    widths = []
    for w in range(worlds):
        x = (rng.random((400, 5)) < p).astype(float)
        r = rank_distribution(x, n_resamples=500, seed=w)
        covered += np.all((r.rank_low <= true_rank) & (true_rank <= r.rank_high))
        widths.append(np.mean(r.rank_high - r.rank_low))
    assert covered / worlds >= 0.95
    assert np.mean(widths) < 2.5  # informative, not [1, 5] everywhere


def test_rank_distribution_sums_to_one_and_nested_bootstrap_uses_epochs():
    rng = np.random.default_rng(3)
    x = (rng.random((300, 4, 3)) < np.array([0.5, 0.6, 0.7, 0.8])[None, :, None]).astype(float)
    x[0, 0, 2] = np.nan  # a missing epoch
    r = rank_distribution(x, n_resamples=400, seed=1)
    assert r.nested and np.allclose(r.distribution.sum(axis=1), 1)
    assert np.allclose(r.distribution.sum(axis=0), 1)
    assert r.p_best.sum() == pytest.approx(1) and np.argmax(r.p_best) == 3
    assert r.expected_rank[3] < r.expected_rank[0]


class _Scores:
    """The two methods of RunScores that ranking reads."""

    def __init__(self, values):
        self.values = values
        self.scorers = ["exact"]

    def per_sample(self, subject, scorer):
        return self.values[subject]


def _candidates(x):
    ids = [f"s{i}" for i in range(x.shape[0])]
    return [
        (
            Candidate(f"c{j}", "run", f"c{j}"),
            _Scores({f"c{j}": {i: [float(v)] for i, v in zip(ids, x[:, j], strict=True)}}),
        )
        for j in range(x.shape[1])
    ]


def test_family_wise_false_positives_stay_at_alpha_with_no_true_differences():
    # 5 equal candidates (70%), 300 items, 300 worlds, seed 33: any Holm-significant pair
    # in 2.0% of worlds (measured; McNemar's exact test is conservative).
    rng = np.random.default_rng(33)
    any_false = 0
    worlds = 300
    for w in range(worlds):
        x = (rng.random((300, 5)) < 0.7).astype(float)
        r = rank_candidates(_candidates(x), n_resamples=200, seed=w).rankings[0]
        any_false += any(p.p_adjusted < 0.05 for p in r.pairs)
    assert any_false / worlds <= 0.05


def test_the_verdict_names_what_can_be_dropped():
    rng = np.random.default_rng(4)
    x = (rng.random((800, 4)) < np.array([0.85, 0.84, 0.6, 0.5])).astype(float)
    r = rank_candidates(_candidates(x), n_resamples=500).rankings[0]
    assert set(r.keep) == {"c0", "c1"} and set(r.drop) == {"c2", "c3"}
    assert r.verdict.startswith("drop c2, c3; keep c0, c1")
    assert [p.b for p in r.versus_baseline] == ["c1", "c2", "c3"]
    assert r.versus_baseline[2].interval.high < 0 and r.versus_baseline[2].p_adjusted < 0.05
