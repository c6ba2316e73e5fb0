"""Speed of assay's statistics against their budgets (issue 5), on one core.

- a paired bootstrap of the mean difference, 10,000 resamples of 100,000 pairs, both for
  continuous scores (100,000 distinct differences: the grouped path) and pass/fail scores
  (three distinct differences: the exact path); budget 2 s;
- clustered standard errors of a mean over 1,000,000 samples in 10,000 clusters; budget 0.5 s;
- the AlpacaEval length-controlled GLM refit (5-fold cross-validation over 10 penalties) for
  one system: 805 items plus the two gamed baselines' 1,610 rows; budget 2 s.

Beside each, a baseline measured in the same run (absolute times are noise on shared
machines): resampling by index as scipy.stats.bootstrap does it (timed on 100 resamples and
scaled to 10,000), and statsmodels' cluster-robust OLS on the same million samples.
Each figure is the median of ``--repeat`` runs. The last line is the slowest ratio of a
measured time to its budget (below 1 passes).

    python benchmarks/stats_speed.py
    python benchmarks/stats_speed.py --repeat 5
"""

from __future__ import annotations

import os

# One core, as the budgets say: pin the BLAS/OpenMP pools before numpy loads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from assay.stats import (  # noqa: E402
    GamedBaseline,
    clustered_standard_error,
    length_controlled_win_rate,
    paired_bootstrap_interval,
)

BUDGETS = {
    "paired bootstrap (continuous)": 2.0,
    "paired bootstrap (pass/fail)": 2.0,
    "clustered standard errors": 0.5,
    "length-controlled refit": 2.0,
}


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _lc_data(rng: np.random.Generator) -> tuple[dict[str, object], list[GamedBaseline]]:
    n = 805
    ids = np.arange(n)
    difficulty = dict(zip(ids.tolist(), rng.normal(size=n).tolist(), strict=True))
    baseline = rng.lognormal(7.5, 0.6, n)
    model = baseline * np.exp(rng.normal(-0.3, 0.5, n))
    gap = baseline - model
    logit = -1.8 * np.tanh(gap / gap.std(ddof=1)) + 0.9 * np.array(list(difficulty.values())) - 1.5
    preference = 1 / (1 + np.exp(-logit))
    gamed = []
    for shift in (0.3, -0.6):
        gamed_length = baseline * np.exp(rng.normal(shift, 0.3, n))
        g_gap = baseline - gamed_length
        g_pref = 1 / (1 + np.exp(1.6 * np.tanh(g_gap / g_gap.std(ddof=1))))
        gamed.append(GamedBaseline(g_pref, baseline, gamed_length, ids))
    kwargs = {
        "preference": preference,
        "model_length": model,
        "baseline_length": baseline,
        "item_ids": ids,
        "difficulty": difficulty,
    }
    return kwargs, gamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results: dict[str, float] = {}

    n_pairs, n_resamples = 100_000, 10_000
    a = rng.normal(0.6, 0.2, n_pairs)
    b = a + rng.normal(0.01, 0.15, n_pairs)
    results["paired bootstrap (continuous)"] = _median_time(
        lambda: paired_bootstrap_interval(a, b, n_resamples=n_resamples, method="bca"), args.repeat
    )
    a01 = (rng.random(n_pairs) < 0.8).astype(float)
    b01 = np.where(rng.random(n_pairs) < 0.9, a01, 1 - a01)
    results["paired bootstrap (pass/fail)"] = _median_time(
        lambda: paired_bootstrap_interval(a01, b01, n_resamples=n_resamples, method="bca"),
        args.repeat,
    )
    d = b - a

    def by_index() -> None:  # what scipy.stats.bootstrap does: n draws per resample
        d[rng.integers(0, n_pairs, size=(100, n_pairs))].mean(axis=1)

    baseline_bootstrap = _median_time(by_index, args.repeat) * n_resamples / 100

    n_samples, n_clusters = 1_000_000, 10_000
    clusters = rng.integers(0, n_clusters, n_samples)
    values = rng.normal(size=n_clusters)[clusters] + rng.normal(size=n_samples)
    results["clustered standard errors"] = _median_time(
        lambda: clustered_standard_error(values, clusters), args.repeat
    )
    import statsmodels.api as sm

    def statsmodels_cluster() -> None:
        sm.OLS(values, np.ones(n_samples)).fit(cov_type="cluster", cov_kwds={"groups": clusters})

    baseline_cluster = _median_time(statsmodels_cluster, 1)

    kwargs, gamed = _lc_data(rng)
    results["length-controlled refit"] = _median_time(
        lambda: length_controlled_win_rate(gamed=gamed, **kwargs),  # type: ignore[arg-type]
        args.repeat,
    )

    print(f"{'what':34} {'time':>9} {'budget':>7} {'ratio':>6}")
    for name, seconds in results.items():
        budget = BUDGETS[name]
        print(f"{name:34} {seconds:8.3f}s {budget:6.1f}s {seconds / budget:6.2f}")
    print(
        f"baselines in this run: bootstrap by index {baseline_bootstrap:.1f} s "
        f"({baseline_bootstrap / results['paired bootstrap (continuous)']:.0f}x slower); "
        f"statsmodels cluster-robust OLS {baseline_cluster:.2f} s "
        f"({baseline_cluster / results['clustered standard errors']:.0f}x slower)"
    )
    worst = max(results, key=lambda k: results[k] / BUDGETS[k])
    print(f"slowest ratio to budget: {results[worst] / BUDGETS[worst]:.2f} ({worst})")


if __name__ == "__main__":
    main()
