""" "What changed" (G2): the substrate events before a detected change, most explanatory first.

For a change that began at ``start`` (the first observation after it; the one before it was at
``previous``) and was detected at ``detected``, the candidates are the route's substrate events
(and those of no route: judges, embedding probes) from ``lookback`` before ``start`` up to
``detected`` — an event after the change was found cannot have caused it, and one between the
estimated start and the detection is kept because the start is only an estimate.

They are ranked by:

1. **coincidence**: an event in (previous, start] — between the last observation before the
   change and the first after it — is as close as the data can place a cause, and comes first;
2. **time proximity**: then the smaller |event − start| (G2's "ordered by time proximity");
3. **kind**, as ``assay diff`` ranks manifest changes (:data:`assay.monitor.substrate.KIND_RANK`:
   model snapshot and fingerprint, prompt, parameters, judge, retrieval, deploy), which breaks
   ties between events of the same moment (a model swap moves snapshot and fingerprint at once).

A change of a judge score whose judge moved in the window ranks the judge event first: it says
"the judge moved", not "the app moved".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from assay.monitor.substrate import KIND_RANK, KINDS, SubstrateEvent, load_events
from assay.store import Store

DEFAULT_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class Candidate:
    event: SubstrateEvent
    coincident: bool
    offset: timedelta

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.event.as_dict(),
            "coincident": self.coincident,
            "minutes_from_change": round(self.offset.total_seconds() / 60, 1),
        }


def rank_events(
    events: list[SubstrateEvent],
    *,
    start: datetime,
    previous: datetime | None,
    detected: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    judge_signal: bool = False,
) -> list[Candidate]:
    """The candidate events of a change, ranked (see the module docstring)."""
    out = []
    for event in events:
        if event.time < start - lookback or event.time > detected:
            continue
        coincident = previous is not None and previous < event.time <= start
        out.append(Candidate(event, coincident, event.time - start))

    def key(c: Candidate) -> tuple[int, int, float, int, int, str]:
        judge_first = 0 if (judge_signal and c.event.kind == "judge") else 1
        kind = c.event.kind
        return (
            judge_first,
            0 if c.coincident else 1,
            abs(c.offset.total_seconds()),
            KIND_RANK.get(kind, 99),
            KINDS.index(kind) if kind in KINDS else 99,
            c.event.key,
        )

    return sorted(out, key=key)


def what_changed(
    store: Store,
    route: str,
    *,
    start: datetime,
    detected: datetime | None = None,
    previous: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    judge_signal: bool = False,
) -> list[Candidate]:
    """The stored substrate events that may explain a change on ``route`` that began at
    ``start``, most explanatory first."""
    detected = detected or start
    events = load_events(store, route=route, since=start - lookback, until=max(detected, start))
    return rank_events(
        events,
        start=start,
        previous=previous,
        detected=detected,
        lookback=lookback,
        judge_signal=judge_signal,
    )
