"""A signal's series: points per window with intervals, change points with the shift's interval.

:func:`analyse_series` takes one route's observations of one signal (optionally one segment of
it) and returns

- **points**: one per window (``window`` long, aligned to the Unix epoch): the bad-share with
  its Wilson interval for a good/bad signal, the median with its distribution-free
  order-statistic interval otherwise, the number of observations, and the change statistic's
  level at the window's end (1.0 is the alarm line);
- **change points** from :func:`assay.stats.changepoints.detect_changes` (CUSUM charts on the
  observations, calibrated to the stated false alarms per 1,000 observations), each with the
  shift between the segment before it and the segment after it: a difference of rates with
  the Newcombe interval, a ratio of medians with a two-sample bootstrap interval (lengths,
  latencies, costs), or a difference of means with Welch's interval (judge scores).

A change is ``worse`` when it moves the signal in the direction its spec calls worse (up for
every bad-share; down for a judge score; either way for output length).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from assay.monitor.signals import Observations
from assay.monitor.spec import Signal
from assay.stats.changepoints import Detection, detect_changes
from assay.stats.intervals import wilson_interval
from assay.stats.unpaired import Difference, median_ratio, newcombe_difference, welch_difference

#: Numeric signals compared by a ratio of medians (heavy-tailed); the rest by a mean difference.
RATIO_SIGNALS = frozenset({"output_length", "latency", "cost"})


@dataclass(frozen=True)
class Point:
    window_start: datetime
    value: float | None
    low: float | None
    high: float | None
    n: int
    bad: int | None
    level: float | None


@dataclass(frozen=True)
class Change:
    """A change point on a series, with the shift between its neighbouring segments."""

    start_time: datetime
    previous_time: datetime | None
    detected_time: datetime
    direction: str
    worse: bool
    shift: Difference
    before: float
    after: float
    start_index: int
    detected_index: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_time": self.start_time.isoformat(),
            "previous_time": self.previous_time.isoformat() if self.previous_time else None,
            "detected_time": self.detected_time.isoformat(),
            "direction": self.direction,
            "worse": self.worse,
            "before": _clean(self.before),
            "after": _clean(self.after),
            "shift": self.shift.as_dict(),
        }


@dataclass
class Series:
    """One analysed series: a route's signal (``segment`` '' = the whole route)."""

    route: str
    signal: Signal
    name: str
    segment: str
    n: int
    points: list[Point] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    detection: Detection | None = None
    note: str | None = None

    @property
    def open_change(self) -> Change | None:
        """The latest change when it made the signal worse and nothing has brought it back."""
        if self.changes and self.changes[-1].worse:
            return self.changes[-1]
        return None


def _clean(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def window_floor(t: datetime, window: timedelta) -> datetime:
    """The start of the ``window``-long, epoch-aligned window holding ``t``."""
    seconds = window.total_seconds()
    ts = t.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(math.floor(ts / seconds) * seconds, tz=UTC)


def _summary(signal: Signal, values: np.ndarray) -> float:
    if values.size == 0:
        return math.nan
    if signal.kind == "binary":
        return float(values.mean())
    if signal.name in RATIO_SIGNALS:
        return float(np.median(values))
    return float(values.mean())


def shift_between(
    signal: Signal, before: np.ndarray, after: np.ndarray, seed: int = 0
) -> Difference:
    """The after-vs-before shift of a signal with its 95 % interval (see the module docstring)."""
    if signal.kind == "binary":
        return newcombe_difference(
            int(after.sum()), int(after.size), int(before.sum()), int(before.size)
        )
    if signal.name in RATIO_SIGNALS:
        return median_ratio(after, before, resamples=1000, seed=seed)
    return welch_difference(after, before)


def _is_worse(signal: Signal, direction: str) -> bool:
    return signal.worse == "both" or signal.worse == direction


def points_of(obs: Observations, window: timedelta, level: np.ndarray | None) -> list[Point]:
    """One point per window that holds observations (see the module docstring)."""
    values = obs.array()
    points: list[Point] = []
    if not obs.times:
        return points
    # Windows by integer arithmetic on epoch seconds (window_floor, vectorised): one datetime
    # per window, not per observation; every per-window aggregate in one numpy call.
    seconds = window.total_seconds()
    keys = np.floor(obs.epoch_seconds() / seconds).astype(np.int64)
    windows, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=windows.size)
    cuts = np.concatenate(([0], np.cumsum(counts)))
    levels: list[float | None] = [None] * windows.size
    if level is not None:
        # The statistic's last finite level in each window (observations in time order).
        order = np.argsort(inverse, kind="stable")
        finite = np.isfinite(level[order])
        last = np.maximum.reduceat(np.where(finite, np.arange(order.size), -1), cuts[:-1])
        levels = [
            float(level[order[j]]) if j >= lo else None
            for j, lo in zip(last.tolist(), cuts[:-1].tolist(), strict=True)
        ]
    starts = [datetime.fromtimestamp(key * seconds, tz=UTC) for key in windows.tolist()]
    sizes = counts.tolist()
    if obs.signal.kind == "binary":
        # Sums of 0/1 values are exact in any order.
        bads = np.bincount(inverse, weights=values, minlength=windows.size).astype(np.int64)
        for start, n, bad, lv in zip(starts, sizes, bads.tolist(), levels, strict=True):
            ci = _wilson(bad, n)
            points.append(Point(start, ci.estimate, ci.low, ci.high, n, bad, lv))
        return points
    # Each window's values sorted, windows one after another: np.sort per window, in one call.
    ordered = values[np.lexsort((values, inverse))]
    for g, (start, n, lv) in enumerate(zip(starts, sizes, levels, strict=True)):
        base = int(cuts[g])
        low, high = _median_bounds(n)
        half = n // 2
        # np.median of a sorted sample: its middle value, or the mean of its middle two.
        median = (
            float(ordered[base + half])
            if n % 2
            else float((ordered[base + half - 1] + ordered[base + half]) / 2)
        )
        points.append(
            Point(
                start,
                median,
                float(ordered[base + low]) if low >= 0 else None,
                float(ordered[base + high]) if high < n else None,
                n,
                None,
                lv,
            )
        )
    return points


@lru_cache(maxsize=4096)
def _wilson(bad: int, n: int) -> Any:
    """:func:`wilson_interval` at 95 %, cached by its arguments (windows repeat them)."""
    return wilson_interval(bad, n)


@lru_cache(maxsize=4096)
def _median_bounds(n: int) -> tuple[int, int]:
    """:func:`assay.stats.quantiles.order_statistic_bounds` of the median at 95 %, cached by
    ``n`` (windows of one series share a few sizes; the binomial quantiles cost ~1 ms each)."""
    from assay.stats.quantiles import order_statistic_bounds

    return order_statistic_bounds(n, 0.5, 0.95)


def analyse_series(
    obs: Observations,
    *,
    window: timedelta,
    baseline: int,
    false_alarms_per_1000: float,
    segment: str = "",
    name: str | None = None,
) -> Series:
    """Points and change points of one series (see the module docstring). A series with too
    few observations for a baseline gets points but no change detection (``note`` says so)."""
    series = Series(
        route=obs.route,
        signal=obs.signal,
        name=name or obs.signal.name,
        segment=segment,
        n=len(obs),
    )
    values = obs.array()
    if len(obs) <= baseline:
        series.points = points_of(obs, window, None)
        series.note = f"{len(obs)} observations; change detection starts after {baseline}"
        return series
    detection = detect_changes(
        values,
        binary=obs.signal.kind == "binary",
        baseline_size=baseline,
        rate_per_1000=false_alarms_per_1000,
    )
    series.detection = detection
    series.points = points_of(obs, window, detection.level)
    starts = [c.start for c in detection.changes]
    for i, cp in enumerate(detection.changes):
        lo = starts[i - 1] if i else 0
        hi = starts[i + 1] if i + 1 < len(starts) else len(values)
        before, after = values[lo : cp.start], values[cp.start : hi]
        shift = shift_between(obs.signal, before, after, seed=i)
        series.changes.append(
            Change(
                start_time=obs.times[cp.start],
                previous_time=obs.times[cp.start - 1] if cp.start > 0 else None,
                detected_time=obs.times[cp.detected],
                direction=cp.direction,
                worse=_is_worse(obs.signal, cp.direction),
                shift=shift,
                before=_summary(obs.signal, before),
                after=_summary(obs.signal, after),
                start_index=cp.start,
                detected_index=cp.detected,
            )
        )
    return series
