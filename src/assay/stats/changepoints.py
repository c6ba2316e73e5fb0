"""Sequential change-point detection: CUSUM charts on log-likelihood ratios, calibrated.

The production monitors watch streams of per-trace observations (a pass/fail outcome, or a
number such as an output length) and must say *that* a stream changed, *when*, and by *how
much*, while raising a stated, small number of false alarms on a stream that did not change.

**Procedure (Page 1954).** Each chart tests "the stream still follows the baseline" against
one alternative. With ℓₜ the log-likelihood ratio of observation t (alternative vs baseline),
the statistic is Sₜ = max(0, Sₜ₋₁ + ℓₜ), S₀ = 0, and the chart alarms the first time Sₜ ≥ h.
The change is estimated to have started just after the last time S was 0 before the alarm
(the maximum-likelihood change time of the CUSUM; Basseville & Nikiforov 1993, *Detection of
Abrupt Changes*, §2.2). Several charts (shifts up and down, of several sizes) run side by side;
the first to alarm wins and every chart restarts from 0 after an alarm.

Computed without a Python loop: with Cₜ = ℓ₁ + … + ℓₜ (C₀ = 0), Sₜ = Cₜ − min₀≤ₛ≤ₜ Cₛ, so a
chart's path is a cumulative sum minus its running minimum (``np.minimum.accumulate``).

**Calibration.** For a CUSUM on the true log-likelihood ratio of independent observations,
the average run length to a false alarm satisfies ARL₀ ≥ eʰ (Lorden 1971, *Ann. Math.
Statist.* 42:1897, via Wald's likelihood-ratio identity; Tartakovsky, Nikiforov & Basseville
2014, *Sequential Analysis*, Lemma 8.2.1). With m charts side by side the union bound gives a
false-alarm rate ≤ m·e⁻ʰ per observation, so :func:`threshold_for_rate` sets
h = ln(m · 1000 / rate) for a stated ``rate`` of false alarms per 1,000 observations. The
bound is conservative (the overshoot past h makes the true ARL₀ longer); the tests measure the
actual rate by simulation, with baselines *estimated* from data rather than known, and check
that it stays under the stated rate.

**Observations.** Pass/fail streams use the Bernoulli log-likelihood ratio
(:func:`bernoulli_llr`; Reynolds & Stoumbos 1999, *J. Quality Technology* 31:87). Numeric
streams are first turned into normal scores against the baseline sample
(:func:`normal_scores`: zᵢ = Φ⁻¹(mid-rank of xᵢ in the baseline / (n_b + 1))), which are
≈ N(0, 1) under "no change" whatever the distribution (heavy-tailed lengths, latencies,
costs), and then use the Gaussian log-likelihood ratio of a mean shift δ, δz − δ²/2
(:func:`gaussian_llr`; the "normal scores CUSUM" of Qiu & Li 2011, *J. Quality Technology*
43:209). A textbook check: the two-sided tabular CUSUM with k = ½ and h = 4 (in σ units) has
ARL₀ ≈ 168 and ARL ≈ 8.38 at a 1σ shift (Montgomery, *Introduction to Statistical Quality
Control*, 6th ed., Table 9.3); :func:`tabular_cusum` reproduces both by simulation in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Chart:
    """One CUSUM chart: its ``direction`` (``up``/``down``) and the ``shift`` it is tuned to
    (an odds ratio for pass/fail streams, a mean shift in σ units for normal scores)."""

    direction: str
    shift: float


@dataclass(frozen=True)
class Alarm:
    """A chart that crossed the threshold. ``index`` is the observation at which it alarmed,
    ``start`` the estimated first observation after the change (Page's estimate), ``chart``
    the chart that alarmed."""

    index: int
    start: int
    chart: Chart


@dataclass(frozen=True)
class CusumRun:
    """The alarms of a set of charts run over a stream, and the largest statistic per
    observation divided by the threshold (``level``: 1.0 is the alarm line), for plotting."""

    alarms: list[Alarm]
    threshold: float
    level: np.ndarray = field(repr=False)


def threshold_for_rate(rate_per_1000: float, charts: int) -> float:
    """h = ln(charts · 1000 / rate): the threshold at which ``charts`` CUSUM charts side by
    side raise at most ``rate_per_1000`` false alarms per 1,000 observations (Lorden's
    ARL₀ ≥ eʰ per chart and the union bound; see the module docstring)."""
    if not rate_per_1000 > 0:
        raise ValueError(f"rate_per_1000 must be positive, got {rate_per_1000}")
    if charts < 1:
        raise ValueError(f"charts must be at least 1, got {charts}")
    return math.log(charts * 1000.0 / rate_per_1000)


def cusum(
    increments: ArrayLike, threshold: float, charts: Sequence[Chart] | None = None
) -> CusumRun:
    """Run CUSUM charts over a stream of log-likelihood-ratio increments.

    ``increments`` has shape (n,) for one chart or (n, m) for m charts (one column each);
    ``charts`` labels the columns. Every chart restarts at 0 after any alarm. Returns every
    alarm in order (see :class:`Alarm`). An empty stream has no alarms.
    """
    x = np.asarray(increments, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError("increments must be 1- or 2-dimensional")
    n, m = x.shape
    labels = list(charts) if charts is not None else [Chart("up", math.nan)] * m
    if len(labels) != m:
        raise ValueError(f"{m} columns of increments but {len(labels)} charts")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    level = np.zeros(n)
    alarms: list[Alarm] = []
    # Blocks of growing size: an alarm restarts the charts, so a block is cut short there; the
    # statistic carries over between blocks without an alarm. With S₀ the carried value,
    # S_t = C_t − min(−S₀, min_{1≤s≤t} C_s).
    start = 0
    carried = np.zeros(m)
    zero_at = np.zeros(m, dtype=int)  # observation just after each chart's last zero
    block = 256
    while start < n and m:
        seg = x[start : start + block]
        c = np.cumsum(seg, axis=0)
        running_min = np.minimum(np.minimum.accumulate(c, axis=0), -carried)
        s = c - running_min
        level[start : start + len(seg)] = s.max(axis=1) / threshold
        hits = np.flatnonzero((s >= threshold).any(axis=1))
        if hits.size == 0:
            # Where each chart last touched 0 inside this block (if it did).
            touched = s <= 0
            for j in range(m):
                zeros = np.flatnonzero(touched[:, j])
                if zeros.size:
                    zero_at[j] = start + int(zeros[-1]) + 1
            carried = s[-1].copy()
            start += len(seg)
            block = min(block * 2, 1 << 16)
            continue
        t = int(hits[0])
        column = int(np.argmax(s[t]))
        zeros = np.flatnonzero(s[: t + 1, column] <= 0)
        first = start + int(zeros[-1]) + 1 if zeros.size else int(zero_at[column])
        alarms.append(Alarm(index=start + t, start=first, chart=labels[column]))
        start = start + t + 1
        carried = np.zeros(m)
        zero_at = np.full(m, start, dtype=int)
        block = 256
    return CusumRun(alarms=alarms, threshold=threshold, level=level)


def bernoulli_llr(x: ArrayLike, p0: float, p1: float) -> np.ndarray:
    """ℓ = x·ln(p₁/p₀) + (1 − x)·ln((1 − p₁)/(1 − p₀)) for 0/1 observations ``x``: the
    log-likelihood ratio of "rate p₁" against "rate p₀" (Reynolds & Stoumbos 1999). Both rates
    must be strictly between 0 and 1."""
    if not (0 < p0 < 1 and 0 < p1 < 1):
        raise ValueError(f"rates must be strictly between 0 and 1, got p0={p0}, p1={p1}")
    obs = np.asarray(x, dtype=float)
    return obs * math.log(p1 / p0) + (1 - obs) * math.log((1 - p1) / (1 - p0))


def gaussian_llr(z: ArrayLike, delta: float) -> np.ndarray:
    """ℓ = δz − δ²/2: the log-likelihood ratio of N(δ, 1) against N(0, 1) for standardised
    observations ``z`` (δ < 0 for a downward shift)."""
    obs = np.asarray(z, dtype=float)
    return delta * obs - delta * delta / 2


def shifted_rate(p0: float, odds_ratio: float) -> float:
    """The rate whose odds are ``odds_ratio`` times p₀'s: p₁ = r·p₀ / (1 − p₀ + r·p₀)."""
    return odds_ratio * p0 / (1 - p0 + odds_ratio * p0)


def normal_scores(values: ArrayLike, baseline: ArrayLike) -> np.ndarray:
    """zᵢ = Φ⁻¹((#{b < xᵢ} + ½·#{b = xᵢ} + ½) / (n_b + 1)) against the ``baseline`` sample.

    Under "no change" (xᵢ from the baseline's distribution) the mid-rank fraction is close to
    uniform, so zᵢ ≈ N(0, 1) for any continuous distribution; ties get the mid-rank, which
    only shrinks the variance (fewer false alarms, never more). An empty baseline raises.
    """
    b = np.sort(np.asarray(baseline, dtype=float))
    if b.size == 0:
        raise ValueError("normal_scores needs a non-empty baseline")
    x = np.asarray(values, dtype=float)
    below = np.searchsorted(b, x, side="left")
    at_or_below = np.searchsorted(b, x, side="right")
    u = (below + 0.5 * (at_or_below - below) + 0.5) / (b.size + 1)
    from scipy.special import ndtri

    return np.asarray(ndtri(u), dtype=float)


def bernoulli_charts(
    x: ArrayLike,
    p0_up: float,
    p0_down: float,
    odds_ratios: Sequence[float],
) -> tuple[np.ndarray, list[Chart]]:
    """The increments of upward charts (rate p0_up raised by each odds ratio) and downward
    charts (p0_down lowered by it) for 0/1 observations. A direction whose reference rate is 0
    or 1 has no charts (a rate of 0 cannot fall). Returns an (n, m) array and the charts."""
    columns: list[np.ndarray] = []
    charts: list[Chart] = []
    obs = np.asarray(x, dtype=float)
    for r in odds_ratios:
        if 0 < p0_up < 1:
            columns.append(bernoulli_llr(obs, p0_up, shifted_rate(p0_up, r)))
            charts.append(Chart("up", r))
        if 0 < p0_down < 1:
            columns.append(bernoulli_llr(obs, p0_down, shifted_rate(p0_down, 1 / r)))
            charts.append(Chart("down", r))
    data = np.column_stack(columns) if columns else np.zeros((obs.size, 0))
    return data, charts


def gaussian_charts(
    z: ArrayLike, shifts: Sequence[float], margin: float = 0.0
) -> tuple[np.ndarray, list[Chart]]:
    """The increments of an upward and a downward chart per mean shift δ (σ units). The
    upward charts test against a baseline mean of +``margin`` and the downward ones against
    −``margin`` (a one-sided confidence bound on an estimated baseline's location)."""
    obs = np.asarray(z, dtype=float)
    columns: list[np.ndarray] = []
    charts: list[Chart] = []
    for delta in shifts:
        columns.append(gaussian_llr(obs - margin, delta))
        charts.append(Chart("up", delta))
        columns.append(gaussian_llr(obs + margin, -delta))
        charts.append(Chart("down", delta))
    return np.column_stack(columns), charts


def tabular_cusum(x: ArrayLike, k: float, h: float) -> list[int]:
    """The two-sided tabular CUSUM of standardised observations (Montgomery, §9.1):
    C⁺ₜ = max(0, C⁺ₜ₋₁ + xₜ − k), C⁻ₜ = max(0, C⁻ₜ₋₁ − xₜ − k), alarm when either ≥ h, both
    restarted after an alarm. Returns the alarm indices. (The Gaussian-LLR chart of shift δ is
    this chart with k = δ/2 scaled by δ.)"""
    z = np.asarray(x, dtype=float)
    data = np.column_stack((z - k, -z - k))
    run = cusum(data, h, [Chart("up", 2 * k), Chart("down", 2 * k)])
    return [a.index for a in run.alarms]


@dataclass(frozen=True)
class ChangePoint:
    """A detected change in a stream: the estimated first observation after it (``start``),
    the observation at which it was detected (``detected``), its ``direction`` and the chart
    that found it; ``baseline`` is the half-open range of observations it was tested against."""

    start: int
    detected: int
    direction: str
    chart: Chart
    baseline: tuple[int, int]


@dataclass(frozen=True)
class Detection:
    """Every change point found in a stream, in order, with the threshold used and the
    statistic's level per observation (1.0 = alarm line; NaN where the stream was baseline)."""

    changes: list[ChangePoint]
    threshold: float
    charts: int
    level: np.ndarray = field(repr=False)


def clopper_pearson_bound(k: int, n: int, confidence: float, upper: bool) -> float:
    """One-sided exact (Clopper & Pearson 1934) bound on a binomial rate: the upper bound is
    the Beta(k + 1, n − k) quantile at ``confidence`` (1 when k = n), the lower bound the
    Beta(k, n − k + 1) quantile at 1 − ``confidence`` (0 when k = 0)."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    from scipy.special import betaincinv

    if upper:
        return 1.0 if k == n else float(betaincinv(k + 1, n - k, confidence))
    return 0.0 if k == 0 else float(betaincinv(k, n - k + 1, 1 - confidence))


#: Odds ratios of the pass/fail charts and mean shifts (σ units) of the numeric charts: a
#: small, a medium and a large change, each up and down.
DEFAULT_ODDS_RATIOS = (2.0, 4.0, 16.0)
DEFAULT_SHIFTS = (0.5, 1.0, 2.0)
#: Stated false alarms per 1,000 observations of one stream with no change.
DEFAULT_RATE_PER_1000 = 0.05
#: One-sided confidence of the baseline-rate bounds that pass/fail charts start from.
DEFAULT_BASELINE_CONFIDENCE = 0.9


def detect_changes(
    values: ArrayLike,
    *,
    binary: bool,
    baseline_size: int,
    rate_per_1000: float = DEFAULT_RATE_PER_1000,
    odds_ratios: Sequence[float] = DEFAULT_ODDS_RATIOS,
    shifts: Sequence[float] = DEFAULT_SHIFTS,
    baseline_confidence: float = DEFAULT_BASELINE_CONFIDENCE,
) -> Detection:
    """Find the change points of a stream whose "normal" is learned from its own start.

    The first ``baseline_size`` observations are the baseline; CUSUM charts (:func:`cusum`)
    watch the rest against it. After a change the next ``baseline_size`` observations from its
    estimated start become the new baseline and watching resumes after them, so each segment
    is compared with its predecessor, never with a pooled history.

    Pass/fail streams (``binary``): upward charts start from the one-sided Clopper–Pearson
    upper bound of the baseline rate and downward charts from the lower bound (at
    ``baseline_confidence``), so that a baseline rate estimated a little low from few
    observations does not turn ordinary noise into alarms (the estimated-parameter problem of
    Jones, Champ & Rigdon 2004, *Technometrics* 46:295); each chart tests the odds moved by an
    odds ratio in ``odds_ratios``. Numeric streams: normal scores against the baseline sample
    (:func:`normal_scores`), charts for each mean shift in ``shifts``, tested against the
    one-sided bound ±Φ⁻¹(``baseline_confidence``)/√n_b on the baseline's location (its
    sampling error is common to every score). The threshold is
    :func:`threshold_for_rate` for ``rate_per_1000`` and the number of charts.
    """
    from scipy.special import ndtri

    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if baseline_size < 2:
        raise ValueError(f"baseline_size must be at least 2, got {baseline_size}")
    n_charts = 2 * (len(odds_ratios) if binary else len(shifts))
    h = threshold_for_rate(rate_per_1000, n_charts)
    level = np.full(n, np.nan)
    changes: list[ChangePoint] = []
    base_lo = 0
    while base_lo + baseline_size < n:
        base_hi = base_lo + baseline_size
        base = x[base_lo:base_hi]
        watched = x[base_hi:]
        if binary:
            k = int(base.sum())
            increments, charts = bernoulli_charts(
                watched,
                clopper_pearson_bound(k, baseline_size, baseline_confidence, upper=True),
                clopper_pearson_bound(k, baseline_size, baseline_confidence, upper=False),
                odds_ratios,
            )
        else:
            # The baseline's own sampling error shifts every normal score by a common
            # ≈ N(0, 1/n_b) amount; test against its one-sided bound, as for rates.
            margin = float(ndtri(baseline_confidence)) / math.sqrt(baseline_size)
            increments, charts = gaussian_charts(normal_scores(watched, base), shifts, margin)
        if not charts:
            break
        run = cusum(increments, h, charts)
        stop = run.alarms[0].index + 1 if run.alarms else watched.size
        level[base_hi : base_hi + stop] = run.level[:stop]
        if not run.alarms:
            break
        alarm = run.alarms[0]
        changes.append(
            ChangePoint(
                start=base_hi + alarm.start,
                detected=base_hi + alarm.index,
                direction=alarm.chart.direction,
                chart=alarm.chart,
                baseline=(base_lo, base_hi),
            )
        )
        # The new level is learned from the change on; watching resumes after the alarm at
        # the earliest, so one change is never reported twice.
        base_lo = max(base_hi + alarm.start, base_hi + alarm.index + 1 - baseline_size)
    return Detection(changes=changes, threshold=h, charts=n_charts, level=level)
