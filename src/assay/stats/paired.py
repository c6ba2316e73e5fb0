"""Paired comparison of two runs on the same samples.

When two prompts, models or configs answer the same questions, the questions' difficulty is
shared, so the difference is measured far more precisely from per-question differences than
from two independent means (Miller 2024, "Adding Error Bars to Evals", §5). Everything here
takes two arrays already joined by sample id — ``a[i]`` and ``b[i]`` are the same sample —
and reports differences as b − a (the second run minus the first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats._resample import as_rng, group_values, sign_flip_sums
from assay.stats.clustered import clustered_standard_error
from assay.stats.intervals import Interval


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(a, dtype=float).reshape(-1)
    y = np.asarray(b, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(
            f"paired samples differ in length ({x.size} and {y.size}); join them by sample id"
        )
    return x, y


def _t_quantile(df: float, confidence: float) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, 1 - (1 - confidence) / 2))


def _t_p_value(estimate: float, se: float, df: float) -> float:
    """Two-sided p of t = estimate/se on ``df`` degrees of freedom (0 when se = 0 ≠ estimate)."""
    if math.isnan(se) or df < 1:
        return math.nan
    if se == 0:
        return 1.0 if estimate == 0 else 0.0
    from scipy.special import stdtr

    return float(2 * stdtr(df, -abs(estimate / se)))


@dataclass(frozen=True)
class PairedDifference:
    """The mean paired difference b − a and how precisely it is known.

    ``interval`` is the paired t interval; ``p_value`` the paired t-test's. ``se_unpaired``
    is what the standard error would be if the two runs had used different samples, and
    ``correlation`` the between-run correlation of per-sample scores that pairing exploits.
    The ``clustered_*`` fields are set when clusters were given.
    """

    n: int
    mean_a: float
    mean_b: float
    difference: float
    se_paired: float
    se_unpaired: float
    correlation: float
    interval: Interval
    p_value: float
    se_clustered: float | None = None
    n_clusters: int | None = None
    clustered_interval: Interval | None = None
    clustered_p_value: float | None = None

    @property
    def se_reduction(self) -> float:
        """How much pairing shrank the standard error: 1 − SE_paired / SE_unpaired."""
        if not self.se_unpaired or math.isnan(self.se_unpaired):
            return math.nan
        return 1 - self.se_paired / self.se_unpaired

    @property
    def sample_size_factor(self) -> float:
        """(SE_unpaired / SE_paired)²: how many times more samples an unpaired design needs."""
        if not self.se_paired or math.isnan(self.se_paired):
            return math.nan
        return (self.se_unpaired / self.se_paired) ** 2


def paired_difference(
    a: ArrayLike,
    b: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    confidence: float = 0.95,
    finite_cluster_correction: bool = True,
) -> PairedDifference:
    """Mean paired difference d̄ = mean(bᵢ − aᵢ) with paired (and clustered-paired) errors.

    SE_paired = s_d/√n, with s_d the standard deviation of the differences; equivalently
    √((s_a² + s_b² − 2·cov(a, b))/n) (Miller 2024, §5). The interval is
    d̄ ± t_{n−1, 1−α/2}·SE_paired and the p-value that of the paired t-test.
    SE_unpaired = √((s_a² + s_b²)/n) is the standard error the same n would give with
    independent samples; ``correlation`` is Pearson's r between a and b (NaN if either is
    constant). With ``clusters`` the clustered standard error of the differences
    (:func:`~assay.stats.clustered.clustered_standard_error`, CR1 by default) gives a
    second interval with C − 1 degrees of freedom.

    Edge cases: n = 0 raises ``ValueError``; n = 1 gives NaN standard errors and bounds;
    identical differences give a zero-width interval and p = 1 (all zero) or 0 (all equal
    and non-zero).
    """
    x, y = _pair(a, b)
    n = int(x.size)
    if n == 0:
        raise ValueError("no paired samples: the two runs share no sample ids")
    d = y - x
    diff = float(d.mean())
    if n > 1:
        se = float(d.std(ddof=1)) / math.sqrt(n)
        var_a, var_b = float(x.var(ddof=1)), float(y.var(ddof=1))
        se_unpaired = math.sqrt((var_a + var_b) / n)
        correlation = float(np.corrcoef(x, y)[0, 1]) if var_a > 0 and var_b > 0 else math.nan
        q = _t_quantile(n - 1, confidence)
        interval = Interval(diff, diff - q * se, diff + q * se, n, "paired-t", confidence, se)
        p = _t_p_value(diff, se, n - 1)
    else:
        se = se_unpaired = correlation = p = math.nan
        interval = Interval(diff, math.nan, math.nan, n, "paired-t", confidence)
    result = PairedDifference(
        n=n,
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        difference=diff,
        se_paired=se,
        se_unpaired=se_unpaired,
        correlation=correlation,
        interval=interval,
        p_value=p,
    )
    if clusters is None:
        return result
    cl = clustered_standard_error(d, clusters, finite_cluster_correction=finite_cluster_correction)
    method = "clustered-paired" if finite_cluster_correction else "clustered-paired-cr0"
    if math.isnan(cl.standard_error):
        cl_interval = Interval(diff, math.nan, math.nan, n, method, confidence)
        cl_p = math.nan
    else:
        q = _t_quantile(cl.n_clusters - 1, confidence)
        half = q * cl.standard_error
        cl_interval = Interval(
            diff, diff - half, diff + half, n, method, confidence, cl.standard_error
        )
        cl_p = _t_p_value(diff, cl.standard_error, cl.n_clusters - 1)
    return PairedDifference(
        **{
            **result.__dict__,
            "se_clustered": cl.standard_error,
            "n_clusters": cl.n_clusters,
            "clustered_interval": cl_interval,
            "clustered_p_value": cl_p,
        }
    )


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on paired pass/fail outcomes.

    ``a_only``: samples that passed in run A and failed in B; ``b_only``: the reverse.
    Concordant pairs carry no information about the difference and do not enter the test.
    """

    a_only: int
    b_only: int
    p_value: float

    @property
    def n_discordant(self) -> int:
        return self.a_only + self.b_only


def mcnemar_exact_counts(a_only: int, b_only: int) -> McNemarResult:
    """McNemar's exact test from the two discordant counts.

    Under H₀ (both runs equally good) each discordant pair favours B with probability ½, so
    b_only ~ Binomial(a_only + b_only, ½); p is the two-sided exact binomial p-value (as
    ``scipy.stats.binomtest`` gives it; McNemar 1947, exact form per Fagerland, Lydersen & Laake
    2013). Example (REQUIREMENTS B3): 10 discordant pairs all favouring B give p = 2·½¹⁰ ≈
    0.0020; a 6-4 split gives p ≈ 0.75. No discordant pairs give p = 1.
    """
    if a_only < 0 or b_only < 0:
        raise ValueError(f"counts must be non-negative, got {a_only} and {b_only}")
    total = a_only + b_only
    if total == 0:
        return McNemarResult(0, 0, 1.0)
    from scipy.special import bdtr

    # Binomial(n, ½) is symmetric, so the two-sided exact p-value (scipy.stats.binomtest's,
    # summing outcomes no likelier than the observed one) is twice the smaller tail, capped
    # at 1; scipy.special.bdtr gives the tail without importing all of scipy.stats.
    tail = float(bdtr(min(a_only, b_only), total, 0.5))
    return McNemarResult(a_only, b_only, min(1.0, 2 * tail))


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> McNemarResult:
    """McNemar's exact test on paired 0/1 outcomes (``a[i]``, ``b[i]`` of the same sample).

    See :func:`mcnemar_exact_counts`. Raises ``ValueError`` for values other than 0 and 1.
    """
    x, y = _pair(a, b)
    if not (np.all((x == 0) | (x == 1)) and np.all((y == 0) | (y == 1))):
        raise ValueError("McNemar's test needs pass/fail (0/1) scores")
    return mcnemar_exact_counts(int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1))))


@dataclass(frozen=True)
class SignFlipTest:
    """A paired permutation test: ``p_value`` of the observed mean difference ``statistic``.

    ``exact`` is true when every sign pattern was enumerated, in which case ``n_resamples``
    is the number of patterns (2^m for m non-zero differences).
    """

    statistic: float
    p_value: float
    n_resamples: int
    exact: bool


def sign_flip_test(
    a: ArrayLike, b: ArrayLike, *, n_resamples: int = 10_000, seed: int | None = 0
) -> SignFlipTest:
    """Sign-flip permutation test of H₀: the differences dᵢ = bᵢ − aᵢ are symmetric about 0.

    Under H₀ (the runs are exchangeable within each sample) every dᵢ is as likely to have
    the opposite sign, so the observed |Σdᵢ| is compared with |Σ sᵢdᵢ| over random signs sᵢ
    (Fisher 1935; Good 2005, *Permutation, Parametric and Bootstrap Tests*, §3.3). Two-sided.
    When the 2^m sign patterns of the m non-zero differences number no more than
    ``n_resamples`` they are all enumerated and p is exact; otherwise
    p = (1 + #{|Σ*| ≥ |Σ_obs|}) / (1 + B), which is never 0 (Phipson & Smyth 2010).
    Sums within 1e-9·Σ|dᵢ| of the observed one count as ties (float rounding), not as smaller.

    Edge cases: all differences zero gives p = 1; n = 0 raises ``ValueError``.
    """
    x, y = _pair(a, b)
    if x.size == 0:
        raise ValueError("no paired samples: the two runs share no sample ids")
    d = y - x
    nonzero = np.abs(d[d != 0])
    statistic = float(d.mean())
    observed = abs(float(d.sum()))
    if nonzero.size == 0:
        return SignFlipTest(statistic, 1.0, 1, True)
    tolerance = 1e-9 * float(nonzero.sum())  # the scale of the sums: float ties, not wins
    m = int(nonzero.size)
    if m <= 20 and 2**m <= n_resamples:
        patterns = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1) * 2 - 1
        sums = np.abs(patterns @ nonzero)
        p = float(np.mean(sums >= observed - tolerance))
        return SignFlipTest(statistic, p, 2**m, True)
    sums = np.abs(sign_flip_sums(group_values(nonzero), n_resamples, as_rng(seed)))
    hits = int(np.count_nonzero(sums >= observed - tolerance))
    return SignFlipTest(statistic, (1 + hits) / (1 + n_resamples), n_resamples, False)
