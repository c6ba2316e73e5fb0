"""Score per contamination subset and Llama 2's Z-test (Touvron et al. 2023, App. A.6)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from contamination_testutil import store_run

from assay.data.contamination import (
    ContaminationError,
    contamination_effect,
    llama2_z,
    scores_from_run,
)
from assay.store import Store


def test_llama2_table51_z_scores_reproduce(shared_data: Path) -> None:
    vectors = json.loads((shared_data / "published_vectors.json").read_text())
    cases = vectors["llama2_table51_zscores"]["cases"]
    assert cases
    for case in cases:
        z = llama2_z(case["xbar"], case["mu"], case["n"])
        assert z == pytest.approx(case["expected_z"], abs=case["tolerance"]), case["subset"]


def test_z_is_undefined_for_empty_subsets_and_constant_scores() -> None:
    assert llama2_z(0.5, 0.5, 0) is None
    assert llama2_z(1.0, 1.0, 10) is None
    assert llama2_z(0.7, 0.5, 100) == pytest.approx(0.2 / math.sqrt(0.25 / 100))
    assert llama2_z(3.0, 2.0, 4, variance=1.0) == pytest.approx(2.0)


def test_each_subset_is_scored_against_the_whole_benchmark() -> None:
    # 10 samples: 6 clean (scores 0,0,0,1,0,1), 2 in between, 2 dirty (both right).
    overlaps = {f"s{i}": o for i, o in enumerate([0, 0, 0.1, 0.15, 0, 0.05, 0.5, 0.3, 0.9, 1.0])}
    scores = {f"s{i}": v for i, v in enumerate([0, 0, 0, 1, 0, 1, 1, 0, 1, 1])}
    effect = contamination_effect(overlaps, scores)
    assert effect.n == 10 and effect.mu == pytest.approx(0.5)
    rows = {r.subset: r for r in effect.rows}
    assert [rows[s].n for s in ("clean", "not_clean", "not_dirty", "dirty")] == [6, 4, 8, 2]
    assert rows["clean"].mean == pytest.approx(2 / 6)
    assert rows["dirty"].mean == pytest.approx(1.0)
    assert rows["dirty"].avg_overlap == pytest.approx(0.95)
    assert rows["dirty"].z == pytest.approx((1.0 - 0.5) / math.sqrt(0.25 / 2))
    assert rows["not_dirty"].z == pytest.approx((0.375 - 0.5) / math.sqrt(0.25 / 8))
    assert effect.affected is False  # |Z| of clean is below 2


def test_affected_when_every_subset_moves_by_more_than_two_standard_errors() -> None:
    overlaps = {f"c{i}": 0.0 for i in range(400)} | {f"d{i}": 0.95 for i in range(400)}
    scores = {f"c{i}": float(i % 4 == 0) for i in range(400)} | {f"d{i}": 1.0 for i in range(400)}
    effect = contamination_effect(overlaps, scores)
    assert all(abs(r.z) > 2 for r in effect.rows if r.z is not None)
    assert effect.affected is True


def test_graded_scores_use_their_own_variance_and_missing_scores_are_not_zeros() -> None:
    overlaps = {"a": 0.0, "b": 0.0, "c": 0.9, "d": 0.9, "e": 0.5}
    scores = {"a": 2.0, "b": 4.0, "c": 6.0, "d": 8.0, "e": None}
    effect = contamination_effect(overlaps, scores)
    assert effect.n == 4 and effect.n_unscored == 1
    assert effect.mu == pytest.approx(5.0) and effect.variance == pytest.approx(5.0)
    dirty = {r.subset: r for r in effect.rows}["dirty"]
    assert dirty.z == pytest.approx((7.0 - 5.0) / math.sqrt(5.0 / 2))
    with pytest.raises(ContaminationError, match="no eval sample has both"):
        contamination_effect({"x": 0.1}, {"y": 1.0})


def test_scores_from_a_stored_run_are_per_sample_means_over_epochs(tmp_path: Path) -> None:
    db = str(tmp_path / "assay.db")
    run_id = store_run(db, {"q1": [1.0, 0.0], "q2": [None, 1.0], "q3": [0.0, 0.0]})
    with Store(db) as store:
        per = scores_from_run(store, run_id)
        assert per == {("alpha", "exact"): {"q1": 0.5, "q2": 1.0, "q3": 0.0}}
        with pytest.raises(ContaminationError, match="no scored results for scorer 'judge'"):
            scores_from_run(store, run_id, scorer="judge")
