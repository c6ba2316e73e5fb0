"""Splitting a ratio between two states into the factors its drivers contribute (Shapley)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from itertools import combinations
from typing import Any


def shapley_factors(
    f: Callable[[Mapping[str, Any]], float],
    base: Mapping[str, Any],
    target: Mapping[str, Any],
) -> dict[str, float]:
    """Each driver's multiplicative share of f(target) / f(base).

    With drivers N (the keys of ``base``), f(S) the value with the drivers in S at their
    ``target`` values and the rest at ``base``, driver i's Shapley value on the log scale is
    φᵢ = Σ_{S ⊆ N∖{i}} |S|!·(|N| − |S| − 1)!/|N|! · [log f(S ∪ {i}) − log f(S)], and its factor
    exp(φᵢ). The factors multiply to the whole ratio exactly (efficiency), a driver that does
    not change has factor 1, and the answer does not depend on the order the drivers are
    listed in. Values may be of any type f accepts (a tuple of prices, say). Source: Shapley
    (1953); as a decomposition procedure, Shorrocks (2013), J. Econ. Inequality 11:99. f must
    be positive. 2^|N| evaluations (64 for six drivers).
    """
    names = list(base)
    n = len(names)
    cache: dict[frozenset[str], float] = {}

    def value(subset: frozenset[str]) -> float:
        if subset not in cache:
            point = {k: (target[k] if k in subset else base[k]) for k in names}
            result = f(point)
            if not result > 0:
                raise ValueError(f"f must be positive, got {result} at {point}")
            cache[subset] = math.log(result)
        return cache[subset]

    factors: dict[str, float] = {}
    for name in names:
        others = [k for k in names if k != name]
        phi = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                s = frozenset(subset)
                phi += weight * (value(s | {name}) - value(s))
        factors[name] = math.exp(phi)
    return factors
