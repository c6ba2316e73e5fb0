"""The substrate timeline, "what changed" (G2), split readouts (B7) and embedding probes (F8)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from tests.monitor.synth import T0, Request, every, write

from assay.monitor.explain import rank_events, what_changed
from assay.monitor.readout import PooledAcrossSubstrate, readout
from assay.monitor.signals import Observations
from assay.monitor.spec import monitors_from_text
from assay.monitor.substrate import (
    SubstrateEvent,
    detect_from_traces,
    load_events,
    record_embedding_probe,
    record_events,
    transitions,
)
from assay.store import Store

H = timedelta(hours=1)


def test_transitions_log_new_values_and_rollbacks_not_mixtures() -> None:
    rows = [
        ("m", "a", T0, 50),
        ("m", "a", T0 + H, 40),
        ("m", "b", T0 + 2 * H, 3),  # canary of b
        ("m", "a", T0 + 2 * H, 30),  # a keeps serving: a mixture is not a new event
        ("m", "b", T0 + 3 * H, 30),
        ("m", "a", T0 + 12 * H, 20),  # a returns after 9 h of absence: a rollback
    ]
    events = transitions(rows, kind="model", route="r")
    assert [(e.time, e.before, e.after) for e in events] == [
        (T0 + 2 * H, "a", "b"),
        (T0 + 12 * H, "b", "a"),
    ]


def test_what_changed_ranks_the_prompt_change_ten_minutes_before_a_csat_drop_first() -> None:
    # G2: a one-hour CSAT drop at 14:00; a prompt hash change at 13:50, a deploy two hours
    # earlier, an index rebuild the day before, and a model change after the drop was detected.
    start = T0 + 14 * H
    events = [
        SubstrateEvent(
            start - timedelta(days=1), "index", "r", "index_version", "i1", "i2", "traces"
        ),
        SubstrateEvent(start - 2 * H, "deploy", "r", "shop", "1.4.1", "1.4.2", "traces"),
        SubstrateEvent(
            start - timedelta(minutes=10), "prompt", "r", "app.prompt.version", "h1", "h2", "traces"
        ),
        SubstrateEvent(start + 2 * H, "model", "r", "m", "m@1", "m@2", "traces"),
    ]
    ranked = rank_events(
        events, start=start, previous=start - timedelta(minutes=20), detected=start + H
    )
    assert [c.event.kind for c in ranked] == ["prompt", "deploy", "index"]
    assert ranked[0].coincident
    # At the same moment, a model snapshot outranks a prompt (as `assay diff` ranks them).
    same = [
        SubstrateEvent(start, "prompt", "r", "p", "1", "2", "traces"),
        SubstrateEvent(start, "model", "r", "m", "m@1", "m@2", "traces"),
    ]
    assert rank_events(same, start=start, previous=None, detected=start)[0].event.kind == "model"
    # A judge-score change puts a judge event first: the judge moved, not the app.
    judge = [
        *same,
        SubstrateEvent(start - 3 * H, "judge", None, "helpful snapshot", "j1", "j2", "runs"),
    ]
    top = rank_events(judge, start=start, previous=None, detected=start, judge_signal=True)[0]
    assert top.event.kind == "judge"


def test_substrate_is_detected_from_stored_spans_and_explains_a_change(store: Store) -> None:
    times = every(T0, 200, 10 * timedelta(minutes=1))
    reqs = [
        Request(
            at=t,
            resolved="m-1@2026-01" if i < 120 else "m-1@2026-03",
            fingerprint="fp_a" if i < 120 else "fp_b",
            prompt="p-v1" if i < 60 else "p-v2",
        )
        for i, t in enumerate(times)
    ]
    write(store, "qa", reqs)
    route = monitors_from_text("routes: [{name: qa, signals: [error_rate]}]", base_dir=".").routes[
        0
    ]
    events = detect_from_traces(store, route, T0 - timedelta(days=1), T0 + timedelta(days=3))
    kinds = [(e.kind, e.before, e.after, e.time) for e in events]
    llm_start = timedelta(milliseconds=50)  # the LLM span starts 50 ms into the request
    assert ("prompt", "p-v1", "p-v2", times[60] + llm_start) in kinds
    assert ("model", "m-1@2026-01", "m-1@2026-03") in [(k, b, a) for k, b, a, _ in kinds]
    assert ("fingerprint", "fp_a", "fp_b") in [(k, b, a) for k, b, a, _ in kinds]
    assert record_events(store, events) == len(events)
    assert record_events(store, events) == 0  # idempotent
    ranked = what_changed(store, "qa", start=times[121], previous=times[120], detected=times[130])
    assert [c.event.kind for c in ranked[:2]] == ["model", "fingerprint"]
    assert ranked[0].event.describe().endswith("(requested model unchanged)")


def test_an_embedding_fingerprint_change_is_logged(store: Store) -> None:
    # F8: a fixed probe set; the model's second probe moves one vector (cosine 0.99 < 0.999).
    texts = ["refund policy", "reset password", "shipping times"]
    base = np.eye(3) + 0.1
    assert record_embedding_probe(store, "embed-1", texts, base, taken_at=T0) is None
    same = record_embedding_probe(store, "embed-1", texts, base * 2.0, taken_at=T0 + H)
    assert same is None  # scaling is not a change of direction
    moved = base.copy()
    moved[1] = moved[1] + np.array([0.15, 0.0, 0.0])
    event = record_embedding_probe(store, "embed-1", texts, moved, taken_at=T0 + 2 * H)
    assert event is not None and event.kind == "embedding" and event.source == "probe"
    assert [e.kind for e in load_events(store)] == ["embedding"]


def test_a_pooled_estimate_across_an_embedding_change_is_refused() -> None:
    # B7: 84 days of a daily rate; the embedding fingerprint changes on day 21.
    from assay.monitor.spec import Signal

    signal = Signal("judge_score", "numeric", "down", "judge_score_drop", {"name": "faithful"})
    rng = np.random.default_rng(3)
    times = [T0 + timedelta(hours=6 * i) for i in range(84 * 4)]
    values = [float(rng.normal(0.8 if t < T0 + timedelta(days=21) else 0.7, 0.1)) for t in times]
    obs = Observations(
        "rag", signal, times, values, [str(i) for i in range(len(times))], [None] * len(times)
    )
    change = SubstrateEvent(
        T0 + timedelta(days=21), "embedding", None, "embed-1 fingerprint", "a", "b", "probe"
    )
    end = T0 + timedelta(days=84)
    with pytest.raises(PooledAcrossSubstrate) as refused:
        readout(obs, [change], since=T0, until=end)
    assert "--pool-across-substrate" in str(refused.value)
    split = refused.value.readout
    assert split is not None and len(split.segments) == 2
    assert split.segments[0].end == change.time and split.segments[0].n == 84
    assert split.segments[0].estimate.estimate == pytest.approx(0.8, abs=0.03)
    assert split.segments[1].estimate.estimate == pytest.approx(0.7, abs=0.02)
    assert split.difference is not None and split.difference["high"] < 0
    pooled = readout(obs, [change], since=T0, until=end, pool_across_substrate=True)
    assert pooled.pooled is not None and pooled.notes == ["pooled across 1 substrate change(s)"]
