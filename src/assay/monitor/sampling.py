"""Which production traces an online judge grades: a stratified sample that never misses a
failure.

The policy (``sample:`` in a judge of ``monitors.yaml``):

- **strata** are the route and the values of the ``by`` attributes (a segment, a locale), so a
  small segment is sampled at the same rate as a large one and its estimate exists;
- a unit is in the sample when its keyed hash ``SHA-256(seed:unit id)``, read as a fraction of
  2⁶⁴, is below ``rate``: each stratum is sampled at the same rate (proportional allocation in
  expectation), and the decision is a property of the unit — deterministic, independent of
  arrival order, and the same in every pass, so passes that run every few minutes over
  overlapping windows judge exactly the units one pass over the whole window would;
- units labelled ``failed`` (:mod:`assay.trace.labels`: feedback, a delayed outcome, an
  evaluation sent with the trace — not the online judges' own scores) or
  ``flagged`` (an error status) are always included, outside the rate, with the reason kept;
- ``max`` caps a pass: the sampled units are cut proportionally across strata (the
  always-included ones are kept first).

Each chosen unit carries its ``reason`` (``stratum`` or ``failed``/``flagged``), so estimates
can weight the stratified sample back (the always-included failures are not a random draw and
are reported apart).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """A candidate for judging: a span, a trace or a session, with its stratum."""

    id: str
    trace_id: str
    stratum: tuple[str, ...]
    failed: bool = False
    flagged: bool = False


@dataclass(frozen=True)
class Chosen:
    unit: Unit
    reason: str


def unit_hash(seed: int, unit_id: str) -> int:
    """The unit's position in the sampling order: the first 8 bytes of SHA-256(seed:id)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{unit_id}".encode()).digest()[:8], "big")


def choose(
    units: Sequence[Unit],
    *,
    rate: float,
    seed: int = 0,
    always: Sequence[str] = ("failed", "flagged"),
    limit: int | None = None,
) -> list[Chosen]:
    """The units to judge under the policy of the module docstring, in input order."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be within [0, 1], got {rate}")
    forced: dict[str, str] = {}
    for u in units:
        if "failed" in always and u.failed:
            forced[u.id] = "failed"
        elif "flagged" in always and u.flagged:
            forced[u.id] = "flagged"
    strata: dict[tuple[str, ...], list[Unit]] = defaultdict(list)
    for u in units:
        if u.id not in forced:
            strata[u.stratum].append(u)
    cut = rate * 2.0**64
    picked: dict[tuple[str, ...], list[Unit]] = {}
    for stratum, members in strata.items():
        inside = [u for u in members if unit_hash(seed, u.id) < cut]
        picked[stratum] = sorted(inside, key=lambda u: unit_hash(seed, u.id))
    total = sum(len(v) for v in picked.values())
    room = None if limit is None else max(0, limit - len(forced))
    if room is not None and total > room:
        # Proportional cut (largest remainders), keeping each stratum's lowest hashes.
        shares = {s: room * len(v) / total for s, v in picked.items()}
        keep = {s: math.floor(x) for s, x in shares.items()}
        left = room - sum(keep.values())
        for s in sorted(shares, key=lambda s: shares[s] - keep[s], reverse=True)[:left]:
            keep[s] += 1
        picked = {s: v[: keep[s]] for s, v in picked.items()}
    reasons = dict(forced)
    for members in picked.values():
        for u in members:
            reasons[u.id] = "stratum"
    if limit is not None and len(forced) > limit:
        order = sorted(forced, key=lambda i: unit_hash(seed, i))[:limit]
        reasons = {i: forced[i] for i in order}
    return [Chosen(u, reasons[u.id]) for u in units if u.id in reasons]
