"""A signal's estimate over a window, split at substrate changes (B7).

An estimate over a window that spans a change of model snapshot, judge, embedding fingerprint
or index version mixes two systems, and the pooled number describes neither. :func:`readout`
splits the window at every substrate event of the route (and the global ones: judges,
embedding probes) that falls inside it, gives each segment its own estimate and interval, and
the difference between the last and the first segment; the pooled estimate is refused
(:class:`PooledAcrossSubstrate`) unless ``pool_across_substrate`` is given, and is then
labelled as pooled across the listed events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np

from assay.core import AssayError
from assay.monitor.analysis import RATIO_SIGNALS, shift_between
from assay.monitor.signals import Observations
from assay.monitor.substrate import SubstrateEvent
from assay.stats.intervals import Interval, t_interval, wilson_interval

#: Kinds that split an analysis window (the deployed version and prompt are changes of the app
#: itself, which a readout of the app measures; parameters too).
SPLITTING_KINDS = frozenset({"model", "fingerprint", "judge", "embedding", "index"})


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    n: int
    estimate: Interval

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n": self.n,
            "estimate": self.estimate.estimate,
            "low": self.estimate.low,
            "high": self.estimate.high,
            "method": self.estimate.method,
        }


@dataclass
class Readout:
    signal: str
    since: datetime
    until: datetime
    segments: list[Segment]
    events: list[SubstrateEvent]
    pooled: Segment | None = None
    difference: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "segments": [s.as_dict() for s in self.segments],
            "split_at": [e.as_dict() for e in self.events],
            "pooled": None
            if self.pooled is None
            else {**self.pooled.as_dict(), "pooled_across_substrate": True},
            "last_vs_first": self.difference,
            "notes": self.notes,
        }


class PooledAcrossSubstrate(AssayError):
    """Raised when a pooled estimate would span a substrate change and pooling was not asked
    for with ``--pool-across-substrate``; ``readout`` holds the per-segment estimates."""

    code = "pooled_across_substrate"
    readout: Readout | None = None

    def with_readout(self, readout: Readout) -> PooledAcrossSubstrate:
        self.readout = readout
        return self


def _estimate(obs: Observations, values: np.ndarray) -> Interval:
    if obs.signal.kind == "binary":
        return wilson_interval(int(values.sum()), int(values.size))
    if obs.signal.name in RATIO_SIGNALS:
        from assay.stats.quantiles import quantile_intervals

        q = quantile_intervals(values, [0.5])[0]
        return Interval(q.estimate, q.low, q.high, q.n, "median (order statistic)")
    return t_interval(values)


def readout(
    obs: Observations,
    events: list[SubstrateEvent],
    *,
    since: datetime,
    until: datetime,
    pool_across_substrate: bool = False,
) -> Readout:
    """Segments of ``obs`` in [since, until) split at the splitting substrate events inside the
    window (see the module docstring)."""
    cuts = sorted({e.time for e in events if e.kind in SPLITTING_KINDS and since < e.time < until})
    splitting = [e for e in events if e.kind in SPLITTING_KINDS and since < e.time < until]
    bounds = [since, *cuts, until]
    values = obs.array()
    times = obs.times
    segments = []
    parts = []
    for lo, hi in pairwise(bounds):
        idx = [i for i, t in enumerate(times) if lo <= t < hi]
        part = values[idx]
        parts.append(part)
        segments.append(Segment(lo, hi, int(part.size), _estimate(obs, part)))
    out = Readout(obs.signal.name, since, until, segments, splitting)
    if len(segments) > 1:
        first, last = parts[0], parts[-1]
        if first.size and last.size:
            out.difference = shift_between(obs.signal, first, last).as_dict()
        if not pool_across_substrate:
            listed = "; ".join(f"{e.time:%Y-%m-%d %H:%M} {e.describe()}" for e in splitting[:3])
            raise PooledAcrossSubstrate(
                f"refusing a pooled estimate of {obs.signal.name} across {len(splitting)} "
                f"substrate change(s): {listed}",
                where="--since/--until",
                fix="read the per-segment estimates, or pass --pool-across-substrate to pool "
                "anyway",
            ).with_readout(out)
        out.pooled = Segment(since, until, int(values.size), _estimate(obs, values))
        out.notes.append(f"pooled across {len(splitting)} substrate change(s)")
    else:
        out.pooled = segments[0] if segments else None
    return out
