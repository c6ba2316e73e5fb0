"""A share with its interval, as a JSON-ready mapping (the audits' one way to print a rate)."""

from __future__ import annotations

import math
from typing import Any

from assay.stats.intervals import wilson_interval


def _number(x: float) -> float | None:
    return None if math.isnan(x) else x


def rate_dict(successes: int, n: int, confidence: float = 0.95) -> dict[str, Any]:
    """``{"k", "n", "rate", "low", "high", "confidence", "method"}``: ``successes``/``n`` with
    its Wilson score interval (:func:`~assay.stats.intervals.wilson_interval`). With n = 0 the
    rate and bounds are ``None`` (JSON null): no evidence is not a rate of 0."""
    interval = wilson_interval(successes, n, confidence)
    return {
        "k": int(successes),
        "n": int(n),
        "rate": _number(interval.estimate),
        "low": _number(interval.low),
        "high": _number(interval.high),
        "confidence": confidence,
        "method": "wilson",
    }
