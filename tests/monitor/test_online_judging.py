"""Online judges: a run over a stratified sample of complete traces, scores stored against the
trace (span, trace and session scopes), failed traces always judged, nothing judged twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from tests.monitor.synth import T0, Request, every, write

from assay.monitor.judging import judge_traffic, judgements_of
from assay.monitor.sampling import Unit, choose
from assay.monitor.spec import monitors_from_text
from assay.store import Store
from assay.store.tables import online_judgements, trace_scores

SPEC = """
lookback: 3d
routes:
  - name: extract
    segment_by: app.segment
    signals: [format_validity, {judge_score: {name: valid-json}}]
judges:
  - name: valid-json
    routes: [extract]
    scope: span
    quiet: 10m
    sample: {rate: 0.5, by: [app.segment], seed: 3}
    scorers: [json]
  - name: helpful
    routes: [extract]
    scope: trace
    sample: {rate: 0.2, always: [flagged], seed: 3}
    scorers: [{rubric: {judge: sim/judge-fair, scale: pass_fail}}]
  - name: conversation
    routes: [extract]
    scope: session
    sample: {rate: 1.0}
    scorers: [{rubric: sim/judge-fair}]
"""


def _traffic(store: Store) -> list[str]:
    times = every(T0, 60, timedelta(minutes=5))
    reqs = [
        Request(
            at=t,
            output="not json" if i % 10 == 0 else '{"total": 3}',
            segment="pro" if i % 3 == 0 else "free",
            status="error" if i == 7 else "ok",
            session=f"sess-{i // 3}",
        )
        for i, t in enumerate(times)
    ]
    return write(store, "extract", reqs)


def test_sampling_is_stratified_deterministic_and_keeps_failures() -> None:
    units = [
        Unit(f"u{i}", f"t{i}", ("r", "big" if i < 900 else "small"), failed=i % 97 == 0)
        for i in range(1000)
    ]
    chosen = choose(units, rate=0.1, seed=1)
    assert chosen == choose(list(reversed(units)), rate=0.1, seed=1)[::-1]
    reasons = Counter(c.reason for c in chosen)
    assert reasons["failed"] == sum(u.failed for u in units)  # every failure, outside the rate
    by_stratum = Counter(c.unit.stratum[1] for c in chosen if c.reason == "stratum")
    assert 60 <= by_stratum["big"] <= 120 and 3 <= by_stratum["small"] <= 20
    capped = choose(units, rate=0.5, seed=1, limit=50)
    assert len(capped) == 50 and Counter(c.reason for c in capped)["failed"] == 11


def test_online_judges_score_sampled_traces_through_the_runner(store: Store) -> None:
    ids = _traffic(store)
    monitors = monitors_from_text(SPEC, base_dir=".")
    now = T0 + timedelta(hours=6)
    reports = {r.judge: r for r in judge_traffic(store, monitors, now=now)}
    span = reports["valid-json"]
    assert span.scope == "span" and 0 < span.chosen < span.candidates == 59  # one LLM call failed
    assert span.scores == span.chosen and span.run_id
    helpful = reports["helpful"]
    assert helpful.reasons.get("flagged") == 1  # the failed request is always judged
    assert reports["conversation"].chosen == 20  # one unit per session of 3 turns
    with store.engine.connect() as conn:
        rows = conn.execute(select(trace_scores).where(trace_scores.c.source == "judge")).all()
        links = conn.execute(select(online_judgements)).all()
    assert (
        len(rows)
        == len(links)
        == span.scores + helpful.scores + helpful.errors + reports["conversation"].scores
    )
    by_name = Counter(r.name for r in rows)
    assert set(by_name) == {"valid-json", "helpful", "conversation"}
    # Span-scope scores hang on the LLM span and agree with the output they graded.
    json_rows = [r for r in rows if r.name == "valid-json"]
    assert all(r.span_id is not None for r in json_rows)
    bad = {ids[i] for i in range(0, 60, 10)}
    assert all((r.value == 0.0) == (r.trace_id in bad) for r in json_rows)
    # Each score leads to its run and result, where the judge's call is kept.
    trace_id = next(r.trace_id for r in rows if r.name == "helpful")
    entry = next(j for j in judgements_of(store, trace_id) if j["judge"] == "helpful")
    result = next(r for r in store.iter_results(entry["run_id"]) if r.sample_id == trace_id)
    meta = result.scores[0].metadata
    assert meta["judge"] == "sim/judge-fair" and meta["usage"]["input_tokens"] > 0
    # A second pass judges nothing twice, and the sample stays the same sample.
    again = {r.judge: r for r in judge_traffic(store, monitors, now=now)}
    assert again["valid-json"].chosen == 0 and again["conversation"].chosen == 0
    assert again["helpful"].chosen == 0


def test_quiet_period_holds_back_traces_still_in_progress(store: Store) -> None:
    _traffic(store)
    monitors = monitors_from_text(SPEC, base_dir=".")
    last = T0 + 59 * timedelta(minutes=5)
    reports = {
        r.judge: r
        for r in judge_traffic(store, monitors, judge_name=None, now=last + timedelta(minutes=7))
    }
    # Requests that ended less than 10 minutes ago are not yet candidates.
    assert reports["helpful"].candidates == 59  # the last request ended 7 minutes ago
