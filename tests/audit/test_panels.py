"""Judge panels (C9, B5): error correlation and the effective number of judges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.audit import panel_check, panel_errors
from assay.stats import effective_number_of_graders


def _shared_failures(n_items: int = 1000, seed: int = 0) -> np.ndarray:
    """Three judges, each wrong on 20% of items; 70% of each judge's failures are failures
    all three share, the other 30% its own."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_items)
    shared, own = int(0.14 * n_items), int(0.06 * n_items)
    errors = np.zeros((n_items, 3))
    errors[order[:shared]] = 1
    for j in range(3):
        errors[order[shared + j * own : shared + (j + 1) * own], j] = 1
    return errors


def test_c9_identical_errors_on_70_percent_of_failures() -> None:
    errors = _shared_failures()
    assert errors.mean(axis=0) == pytest.approx([0.2, 0.2, 0.2])
    check = panel_check(errors, judges=["a", "b", "c"])
    assert check.details["error_correlation"] > 0.6
    assert check.figure < 1.5
    assert check.figure == pytest.approx(effective_number_of_graders(errors.T))
    assert check.verdict == "warn"
    assert check.flag == "correlated_panel"
    assert check.low <= check.figure <= check.high
    assert check.high < 2
    assert set(check.details["pairwise_error_correlation"]) == {"a~b", "a~c", "b~c"}
    # the majority is wrong exactly on the shared failures
    assert check.details["majority_error_rate"] == pytest.approx(0.14)
    assert "NaN" not in check.model_dump_json()


def test_b5_rho_point_six_is_worth_one_point_three_six() -> None:
    # Equicorrelated errors with rho = 0.6: latent-factor construction.
    rng = np.random.default_rng(1)
    n = 5000
    common = rng.normal(size=n)
    latent = np.sqrt(0.6) * common[:, None] + np.sqrt(0.4) * rng.normal(size=(n, 3))
    check = panel_check(latent, n_resamples=200)
    assert check.details["error_correlation"] == pytest.approx(0.6, abs=0.02)
    assert check.figure == pytest.approx(1.36, abs=0.03)
    assert check.verdict == "warn"


def test_independent_judges_pass() -> None:
    rng = np.random.default_rng(2)
    errors = (rng.random((800, 3)) < 0.2).astype(float)
    check = panel_check(errors)
    assert check.verdict == "pass"
    assert check.flag is None
    assert check.figure > 2.5
    assert check.low <= 3.0 <= check.high or check.high > 2.5


def test_labels_and_gold() -> None:
    gold = ["A", "B", "A", "A", "B", "B", "A", "B"] * 25
    flip = {"A": "B", "B": "A"}
    same_mistakes = [flip[g] if i % 4 == 0 else g for i, g in enumerate(gold)]
    labels = [[m, m, g] for m, g in zip(same_mistakes, gold, strict=True)]
    labels[5][2] = flip[gold[5]]  # judge z errs once, alone
    errors = panel_errors(labels, gold)
    assert errors[:, 0].sum() == 50 and errors[:, 2].sum() == 1
    check = panel_check(labels, gold, judges=["x", "y", "z"])
    assert check.details["error_rates"] == {"x": 0.25, "y": 0.25, "z": 0.005}
    # x and y are perfectly correlated, z nearly independent: mean rho ~ 0.31, n_eff ~ 1.86
    assert check.details["pairwise_error_correlation"]["x~y"] == pytest.approx(1.0)
    assert check.details["error_correlation"] == pytest.approx((1 - 2 * 0.0409) / 3, abs=0.01)
    assert check.figure == pytest.approx(1.86, abs=0.01)
    assert check.verdict == "warn"
    assert check.details["label_alpha"] is not None


def test_two_judge_panel_bound_and_missing_items() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(500) < 0.3).astype(float)
    b = np.where(rng.random(500) < 0.9, a, 1 - a)
    errors = np.column_stack([a, b])
    errors[0, 1] = math.nan
    check = panel_check(errors)
    assert check.details["dropped_items"] == 1
    assert check.details["min_effective"] == 1.5
    assert check.verdict == "warn"


def test_panel_check_skips_without_errors_or_judges() -> None:
    assert panel_check(np.zeros((50, 3))).verdict == "skipped"
    assert panel_check(np.zeros((50, 1))).verdict == "skipped"
    with pytest.raises(ValueError, match="judge names"):
        panel_check(np.zeros((5, 2)), judges=["only-one"])
    with pytest.raises(ValueError, match="one gold label per item"):
        panel_errors([[1, 1]], [1, 0])
