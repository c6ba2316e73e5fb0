"""``_cluster_codes`` on small non-negative integer labels (the codes ``assay compare`` passes)
counts values instead of sorting them; the codes must be exactly ``np.unique``'s inverse."""

from __future__ import annotations

import numpy as np
import pytest

from assay.stats.clustered import _cluster_codes


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.intp])
def test_codes_equal_unique_inverse(dtype: type) -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(1, 80))
        labels = rng.integers(0, int(rng.integers(1, 400)), n).astype(dtype)
        if np.dtype(dtype).kind == "i" and rng.random() < 0.2:
            labels[int(rng.integers(n))] = -3  # negative: the sort path
        codes, k = _cluster_codes(labels, n)
        distinct, inverse = np.unique(labels, return_inverse=True)
        assert codes.dtype == np.intp
        np.testing.assert_array_equal(codes, inverse.reshape(-1))
        assert k == distinct.size


def test_compact_codes_are_returned_as_a_copy() -> None:
    labels = np.array([2, 0, 1, 1, 0], np.intp)
    codes, k = _cluster_codes(labels, 5)
    assert k == 3
    np.testing.assert_array_equal(codes, labels)
    codes[0] = 9
    assert labels[0] == 2


def test_a_subset_of_codes_is_renumbered() -> None:
    codes, k = _cluster_codes(np.array([7, 3, 7, 12]), 4)
    np.testing.assert_array_equal(codes, [1, 0, 1, 2])
    assert k == 3
