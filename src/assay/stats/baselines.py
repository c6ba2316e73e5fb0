"""A unit's spend against its own recent past: trailing baselines of daily series."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def trailing_ratios(
    daily: ArrayLike, window: int = 7, min_history: int = 3
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each day's value over the mean of the ``window`` days before it.

    ``daily`` is units × days (spend per day, zero on days without any). For day d the
    baseline is b_d = mean(x_{d−w} … x_{d−1}) over the days that exist (at least
    ``min_history``), and the ratio x_d / b_d: the moving-average reference line of a
    control chart (Montgomery, *Introduction to Statistical Quality Control*, 7th ed., §9.2),
    with the day itself left out of its own baseline so a spike cannot hide in it. Days with
    too little history, or a zero baseline, have a NaN baseline and ratio (a unit that spent
    nothing before has no baseline to be ten times above: its first spend is not a spike).
    Returns (ratios, baselines), both units × days.
    """
    x = np.atleast_2d(np.asarray(daily, dtype=float))
    units, days = x.shape
    cumulative = np.concatenate([np.zeros((units, 1)), np.cumsum(x, axis=1)], axis=1)
    baselines = np.full((units, days), np.nan)
    for d in range(min_history, days):
        start = max(0, d - window)
        baselines[:, d] = (cumulative[:, d] - cumulative[:, start]) / (d - start)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(baselines > 0, x / baselines, np.nan)
    return ratios, np.where(baselines > 0, baselines, np.nan)
