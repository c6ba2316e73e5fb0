"""The MDE of a t test takes t quantiles on the test's degrees of freedom (Bloom 1995).

``assay compare`` reports, beside a paired t (n − 1 df) or a CR2 test (Bell-McCaffrey df,
below 10 clusters from the clusters alone), the true difference the row's test detects with
80% power. The z multiplier 2.80 promises that power only for a z test; with few degrees of
freedom the test rejects far less often at that difference. These tests simulate worlds whose
true mean difference is the MDE of the true standard error, run the very test ``assay compare``
chooses (:func:`~assay.analyse.paired_estimators.estimate_group`), and count rejections.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from assay.analyse.paired_estimators import estimate_group
from assay.stats import minimum_detectable_effect
from assay.stats.clustered_small import bell_mccaffrey_df

ALPHA, POWER = 0.05, 0.8
WORLDS = 4000
# A rejection rate near 80% from 4,000 worlds has a standard error of √(0.8·0.2/4000) = 0.0063.
SIM_SE = math.sqrt(POWER * (1 - POWER) / WORLDS)


def _bloom_shortfall(df: float) -> float:
    """How far below ``POWER`` a t test on ``df`` degrees of freedom falls at Bloom's MDE.

    Bloom's multiplier treats the statistic under the alternative as a shifted central t; it
    is a noncentral t (noncentrality t_{1−α/2,ν} + t_{1−β,ν}), whose power is a little
    lower: 79.5% at ν = 5, 78.9% at ν = 3.7, 77.1% at ν = 2.2."""
    from scipy.stats import nct, t

    critical = t.ppf(1 - ALPHA / 2, df)
    ncp = critical + t.ppf(POWER, df)
    return POWER - float(nct.sf(critical, df, ncp) + nct.cdf(-critical, df, ncp))


def _rejection_rate(
    draw: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray | None]],
    delta: float,
    worlds: int,
    seed: int,
) -> float:
    """Share of ``worlds`` in which the chosen test rejects at α when the differences are
    ``delta`` plus ``draw``'s noise (and its clusters, if any)."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(worlds):
        noise, clusters = draw(rng)
        a = np.zeros(noise.size)
        est = estimate_group(
            a, delta + noise, clusters, False, confidence=1 - ALPHA, alpha=ALPHA, min_clusters=10
        )
        rejected += est.p_value < ALPHA
    return rejected / worlds


def _check_power(
    draw: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray | None]],
    true_se: float,
    df: float,
    seed: int,
) -> tuple[float, float]:
    t_rate = _rejection_rate(
        draw, minimum_detectable_effect(true_se, alpha=ALPHA, power=POWER, df=df), WORLDS, seed
    )
    z_rate = _rejection_rate(
        draw, minimum_detectable_effect(true_se, alpha=ALPHA, power=POWER), WORLDS // 2, seed + 1
    )
    # The window: 80% less Bloom's own shortfall (exact for a t test, from the noncentral t),
    # ± 3 simulation standard errors (0.019).
    low = POWER - _bloom_shortfall(df) - 3 * SIM_SE
    assert low <= t_rate <= POWER + 3 * SIM_SE, (t_rate, df)
    # The z multiplier falls far short of the stated power: more than 10 of its (larger, with
    # half the worlds) standard errors below the window.
    assert z_rate < low - 10 * math.sqrt(2) * SIM_SE, (z_rate, df)
    return t_rate, z_rate


def test_bloom_multiplier_matches_published_quantiles() -> None:
    # Bloom (1995): 2.8 standard errors for large samples at α = .05 two-sided and 80% power.
    assert minimum_detectable_effect(1.0, df=1e7) == pytest.approx(2.80, abs=5e-3)
    assert minimum_detectable_effect(1.0, df=1e7) == pytest.approx(
        minimum_detectable_effect(1.0), abs=1e-6
    )
    # Student's t table: t_{.975,10} = 2.228, t_{.80,10} = 0.879, t_{.95,10} = 1.812.
    assert minimum_detectable_effect(1.0, df=10) == pytest.approx(2.228 + 0.879, abs=1e-3)
    assert minimum_detectable_effect(1.0, df=10, two_sided=False) == pytest.approx(
        1.812 + 0.879, abs=1e-3
    )
    # t_{.975,5} = 2.571, t_{.80,5} = 0.920; and the multiplier scales the standard error.
    assert minimum_detectable_effect(0.5, df=5) == pytest.approx(0.5 * (2.571 + 0.920), abs=1e-3)
    multipliers = [minimum_detectable_effect(1.0, df=v) for v in (1.8, 3, 5, 10, 30, 1000)]
    assert multipliers == sorted(multipliers, reverse=True)
    assert multipliers[-1] > minimum_detectable_effect(1.0)


def test_degrees_of_freedom_are_checked() -> None:
    with pytest.raises(ValueError, match="df"):
        minimum_detectable_effect(1.0, df=0)
    with pytest.raises(ValueError, match="alpha"):
        minimum_detectable_effect(1.0, alpha=1.0, df=5)
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_effect(1.0, power=0.0, df=5)
    assert math.isnan(minimum_detectable_effect(1.0, df=math.nan))
    assert math.isnan(minimum_detectable_effect(math.nan, df=5))


def test_paired_t_with_six_samples_has_the_stated_power_at_its_mde() -> None:
    n, sigma = 6, 1.0

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, None]:
        return rng.normal(0.0, sigma, n), None

    noise, _ = draw(np.random.default_rng(0))
    est = estimate_group(
        np.zeros(n), noise, None, False, confidence=0.95, alpha=ALPHA, min_clusters=10
    )
    assert est.test == "paired-t" and est.df == n - 1
    t_rate, z_rate = _check_power(draw, sigma / math.sqrt(n), est.df, seed=6)
    # Expected from the noncentral t: 79.5% at Bloom's MDE, 61.5% at the z one.
    assert t_rate - z_rate > 0.12


@pytest.mark.parametrize(
    ("sizes", "seed"),
    [
        ((20, 30, 40, 50), 4),  # 4 uneven clusters: ν = 2.2, like the demo's slices
        ((15, 20, 25, 30, 35, 40), 5),  # 6 clusters: ν = 3.7
    ],
)
def test_cr2_with_few_clusters_has_the_stated_power_at_its_mde(
    sizes: tuple[int, ...], seed: int
) -> None:
    # Per-sample differences: a cluster effect (sd τ) and sample noise (sd σ). Below 10
    # clusters `assay compare` takes CR2 with degrees of freedom from the clusters alone.
    tau, sigma = 1.0, 1.0
    counts = np.array(sizes)
    n = int(counts.sum())
    codes = np.repeat(np.arange(counts.size), counts)
    # The true standard error of the mean: Var = Σ_c (n_c²τ² + n_cσ²) / n².
    true_se = math.sqrt(float(np.sum(counts**2 * tau**2 + counts * sigma**2))) / n

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(0.0, tau, counts.size)[codes] + rng.normal(0.0, sigma, n), codes

    noise, clusters = draw(np.random.default_rng(0))
    est = estimate_group(
        np.zeros(n), noise, clusters, False, confidence=0.95, alpha=ALPHA, min_clusters=10
    )
    assert est.test == "clustered-cr2" and est.n_clusters == counts.size
    assert est.df == pytest.approx(bell_mccaffrey_df(counts, 1.0))
    assert est.df is not None and est.df < counts.size - 1
    t_rate, z_rate = _check_power(draw, true_se, est.df, seed=seed)
    assert t_rate - z_rate > 0.2
