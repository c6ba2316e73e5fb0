"""WildBench v2: per-system WB-Scores reproduced from per-task judge scores."""

import csv
import json
from collections import defaultdict

import numpy as np
import pytest

from assay.stats import (
    estimate_paired_variance,
    mean_interval,
    paired_difference,
    paired_sample_size,
)


@pytest.fixture
def wildbench(shared_data):
    scores = defaultdict(dict)
    with (shared_data / "wildbench" / "item_scores.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            scores[r["model"]][r["session_id"]] = float(r["score"])
    published = json.loads(
        (shared_data / "wildbench" / "published_score.json").read_text(encoding="utf-8")
    )
    return scores, published


def test_wb_scores_reproduce_the_published_values(wildbench):
    scores, published = wildbench
    checked = 0
    for model, by_task in scores.items():
        if model not in published:  # Phi-3-mini-128k-instruct has item scores but no published row
            continue
        values = np.array(list(by_task.values()))
        interval = mean_interval(values)
        assert interval.method == "t"  # 1-10 scores: not pass/fail
        assert interval.estimate == pytest.approx(published[model]["score"], rel=1e-14)
        assert np.mean(2 * (values - 5)) == pytest.approx(
            published[model]["adjusted_score"], rel=1e-14
        )
        assert len(values) == published[model]["total"]
        checked += 1
    assert checked == 7


def test_paired_comparison_and_power_on_1_to_10_scores(wildbench):
    scores, _ = wildbench
    a, b = scores["reka-flash-20240226"], scores["reka-core-20240501"]
    shared = sorted(set(a) & set(b))
    assert len(shared) >= 1020
    x = np.array([a[i] for i in shared])
    y = np.array([b[i] for i in shared])
    result = paired_difference(x, y)
    assert result.difference == pytest.approx(y.mean() - x.mean())
    assert result.interval.low > 0  # reka-core beats reka-flash on the same tasks
    assert result.correlation > 0.3 and result.se_reduction > 0.1
    # Plan the next comparison from these two runs: detecting a 0.2-point gain needs n samples
    # with n·δ² = (z+z)²·ω², the variance of the observed differences here.
    idx = np.arange(len(shared))
    v = estimate_paired_variance(x, idx, y, idx)
    assert v.omega2 == pytest.approx(np.var(y - x, ddof=1))
    n = paired_sample_size(0.2, v.omega2)
    assert n == pytest.approx(2.8016**2 * v.omega2 / 0.04, rel=0.01)
