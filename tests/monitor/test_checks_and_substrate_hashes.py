"""E4, E5, E6 and G7 as monitors.yaml signals (acceptance checks of REQUIREMENTS.md, through the
store and a pass); the prompt-content hash on the substrate timeline; a judge's anchor set
re-graded on a schedule becomes a "judge changed" event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.monitor.synth import T0, Request, every, spans_of, write

from assay.core import SpecError
from assay.monitor.engine import run_pass
from assay.monitor.spec import monitors_from_text
from assay.store import Store
from assay.trace.feedback import record_feedback
from assay.trace.ingest import store_spans

STEP = timedelta(minutes=5)


def _pass(store: Store, spec: str, base: Path, at: datetime) -> list[Any]:
    report = run_pass(store, monitors_from_text(spec, base_dir=base), now=at, deliver_alerts=False)
    return report.findings


def _feedback(trace_id: str, **kw: Any) -> dict[str, Any]:
    return {"trace_id": trace_id, "rater_role": "end_user", "surface": "prod", **kw}


def test_e4_segment_satisfaction_flags_dispute_while_the_aggregate_passes(
    store: Store, tmp_path: Path
) -> None:
    # CSAT averages 4.5 with intent `dispute` at 2.9 (1-5, stored rescaled to 0-1 as
    # (x - 1) / 4); threshold 4.0 on the 1-5 scale = 0.75.
    rng = np.random.default_rng(1)
    happy = np.clip(np.round(rng.normal(4.68, 0.5, 900)), 1, 5)
    dispute = np.clip(np.round(rng.normal(2.9, 0.8, 100)), 1, 5)
    csat = np.concatenate([happy, dispute])
    intents = ["billing"] * 450 + ["shipping"] * 450 + ["dispute"] * 100
    times = every(T0, 1000, STEP)
    reqs = [
        Request(at=t, attributes={"app.intent": i}) for t, i in zip(times, intents, strict=True)
    ]
    ids = write(store, "support", reqs)
    record_feedback(
        store,
        [
            _feedback(t, kind="score", value=(c - 1) / 4)
            for t, c in zip(ids, csat.tolist(), strict=True)
        ],
        sync=False,
    )
    spec = """
lookback: 7d
routes:
  - name: support
    signals: [{segment_satisfaction: {by: app.intent, threshold: 0.75}}]
"""
    findings = _pass(store, spec, tmp_path, times[-1] + STEP)
    assert [f.title for f in findings] == ["segment_fails(dispute) on support"]
    detail = findings[0].detail
    assert detail["aggregate_mean"]["estimate"] >= 0.75 > detail["segment_mean"]["high"]
    assert abs(4 * detail["aggregate_mean"]["estimate"] + 1 - 4.5) < 0.06


def test_e5_acceptance_vs_correctness_by_cohort(store: Store, tmp_path: Path) -> None:
    # Cohort A accepts 98% unedited with 30% of accepted suggestions graded incorrect;
    # cohort B accepts 5% of suggestions that are 90% correct; C is calibrated.
    from assay.store.engine import WRITE_OPTION
    from assay.store.tables import trace_scores
    from assay.trace.ingest import insert_ignore

    plan = {
        "A": (np.r_[np.ones(490), np.zeros(10)], np.r_[np.zeros(147), np.ones(353)]),
        "B": (np.r_[np.ones(25), np.zeros(475)], np.r_[np.ones(450), np.zeros(50)]),
        "C": (
            np.r_[np.ones(400), np.zeros(100)],
            np.r_[np.ones(380), np.zeros(20), np.ones(20), np.zeros(80)],
        ),
    }
    times = iter(every(T0, 1500, timedelta(minutes=4)))
    events, scores = [], []
    for cohort, (accepted, correct) in plan.items():
        reqs = [Request(at=next(times), attributes={"app.cohort": cohort}) for _ in accepted]
        ids = write(store, "assist", reqs, seed=cohort)
        for trace_id, a, c in zip(ids, accepted, correct, strict=True):
            events.append(_feedback(trace_id, kind="label", label="accepted" if a else "rejected"))
            scores.append(
                {
                    "id": trace_id,
                    "trace_id": trace_id,
                    "span_id": None,
                    "name": "correctness",
                    "value": float(c),
                    "label": None,
                    "explanation": None,
                    "response_id": None,
                    "source": "review",
                    "created_at": T0,
                }
            )
    record_feedback(store, events, sync=False)
    with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        insert_ignore(conn, trace_scores, scores)
    spec = """
lookback: 7d
routes:
  - name: assist
    signals: [{acceptance: {cohort_by: app.cohort, correct: correctness}}]
"""
    findings = _pass(store, spec, tmp_path, T0 + timedelta(days=4, hours=6))
    assert sorted((f.kind, f.segment) for f in findings) == [
        ("algorithm_aversion", "B"),
        ("automation_bias", "A"),
    ]


def test_e6_a_surface_rising_from_5_to_40_percent_with_no_eval_cases_alerts(
    store: Store, tmp_path: Path
) -> None:
    # Six days at 5% mobile, then a day at 40%; the eval set has web cases only.
    before = [
        Request(at=t, attributes={"app.surface": "mobile" if i % 20 == 0 else "web"})
        for i, t in enumerate(every(T0, 576, 3 * STEP))
    ]
    day = T0 + timedelta(days=6)
    now = [
        Request(at=t, attributes={"app.surface": "mobile" if i % 5 < 2 else "web"})
        for i, t in enumerate(every(day, 96, 3 * STEP))
    ]
    write(store, "shop", before + now)
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "".join(json.dumps({"id": i, "metadata": {"surface": "web"}}) + "\n" for i in range(50))
    )
    spec = """
lookback: 7d
routes:
  - name: shop
    signals: [{coverage_gap: {surface_by: app.surface, cases: cases.jsonl, recent: 1d}}]
"""
    findings = _pass(store, spec, tmp_path, day + timedelta(days=1))
    assert [f.title for f in findings] == ["coverage_gap(mobile) on shop"]
    assert findings[0].detail["eval_cases"] == 0
    assert 0.35 < findings[0].detail["share_now"]["estimate"] < 0.45
    # With mobile cases in the eval set, no gap.
    cases.write_text(cases.read_text() + json.dumps({"id": "m", "surface": "mobile"}) + "\n")
    spec_with = spec.replace("recent: 1d", "recent: 1d, max_cases: 0")
    assert _pass(store, spec_with, tmp_path, day + timedelta(days=1)) == []


def test_g7_provider_counts_11_percent_above_local_on_ja_flag_tokenizer_drift(
    store: Store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    local = rng.integers(50, 400, 600)
    langs = ["ja"] * 200 + ["en"] * 400
    spans = []
    for i, (t, est, lang) in enumerate(zip(every(T0, 600, STEP), local, langs, strict=True)):
        root, llm = spans_of("chat", i, Request(at=t, attributes={"app.language": lang}))
        factor = 1.11 if lang == "ja" else 1.0
        llm.input_tokens = round(float(est) * factor + rng.normal(0, 2))
        llm.attributes["app.tokens.local_input"] = int(est)
        spans += [root, llm]
    store_spans(store, spans, redact=False, note="synthetic test traffic")
    spec = """
lookback: 7d
routes:
  - name: chat
    signals: [{tokenizer_drift: {language_by: app.language, local: app.tokens.local_input}}]
"""
    findings = _pass(store, spec, tmp_path, T0 + timedelta(days=3))
    assert [f.detail["flag"] for f in findings] == ["tokenizer_drift(ja)=11%"]
    assert findings[0].kind == "tokenizer_drift" and findings[0].segment == "ja"


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        ("{coverage_gap: {surface_by: app.surface}}", "coverage_gap needs cases"),
        ("{coverage_gap: {surface_by: s, cases: nowhere.jsonl}}", "cases file not found"),
        ("{acceptance: {cohort_by: c, correct: x, bogus: 1}}", "unknown option(s) bogus"),
        ("{segment_satisfaction: {threshold: high}}", "threshold must be a number"),
    ],
)
def test_check_signal_errors_name_the_line(tmp_path: Path, signal: str, message: str) -> None:
    text = f"routes:\n  - name: a\n    signals: [{signal}]\n"
    with pytest.raises(SpecError) as err:
        monitors_from_text(text, base_dir=tmp_path, filename="m.yaml")
    assert err.value.where.startswith("m.yaml:3") and message in err.value.message


# -- the prompt-content hash (B7) --------------------------------------------------------------

SYSTEM = "You extract invoices. Reply with one JSON object: {total, currency}."


def _with_system(route: str, reqs: list[Request], system: Any) -> list[Any]:
    spans = []
    for i, r in enumerate(reqs):
        root, llm = spans_of(route, i, r)
        llm.input = [{"role": "system", "content": system(i)}, *llm.input]
        spans += [root, llm]
    return spans


def test_a_prompt_edited_under_an_unchanged_version_is_a_substrate_change(
    store: Store, tmp_path: Path
) -> None:
    from assay.monitor.substrate import load_events
    from assay.monitor.substrate_scan import prompt_content_hash

    times = every(T0, 400, timedelta(minutes=10))
    edited = SYSTEM.replace("one JSON object", "a friendly sentence and then the JSON")
    # The version label stays p-v1; at request 300 the template's text was edited and outputs
    # stop parsing. Another route's system message embeds each request's own text (no template).
    reqs = [
        Request(at=t, output="Sure! {total: 3}" if i >= 300 and i % 4 else '{"total": 3}')
        for i, t in enumerate(times)
    ]
    spans = _with_system("extract", reqs, lambda i: edited if i >= 300 else SYSTEM)
    spans += _with_system(
        "rag", [Request(at=t) for t in times], lambda i: f"Context: document {i % 97} says {i}."
    )
    store_spans(store, spans, redact=False, note="synthetic test traffic")
    spec = """
window: 1h
lookback: 4d
baseline: 100
routes:
  - {name: extract, signals: [format_validity]}
  - {name: rag, signals: [error_rate]}
"""
    findings = _pass(store, spec, tmp_path, times[-1] + timedelta(minutes=5))
    events = [e for e in load_events(store) if e.kind == "prompt"]
    assert [(e.route, e.key, e.before, e.after) for e in events] == [
        ("extract", "content of p-v1", prompt_content_hash(SYSTEM), prompt_content_hash(edited))
    ]
    assert events[0].time == times[300] + timedelta(milliseconds=50)  # the first edited call
    # "What changed" names the edit first for the format regression it caused (G2).
    f = next(f for f in findings if f.kind == "format_regression")
    first = f.detail["what_changed"][0]
    assert first["kind"] == "prompt" and first["key"] == "content of p-v1"


# -- judge anchors re-graded on a schedule --------------------------------------------------


JUDGE_SPEC = """
window: 1h
routes:
  - name: qa
    signals: [{{judge_score: {{name: helpful}}}}]
judges:
  - name: helpful
    routes: [qa]
    anchors: anchors.jsonl
    anchors_every: 1h
    scorers: [{{rubric: {{judge: sim/judge-fair, scale: pass_fail}}}}]
    providers: {{sim: {{type: sim, judges: {{judge-fair: {{leniency: {leniency}}}}}}}}}
"""


def test_a_judge_that_moves_on_its_anchor_set_is_a_judge_changed_event(
    store: Store, tmp_path: Path
) -> None:
    from assay.monitor.explain import rank_events
    from assay.monitor.scheduler import Scheduler
    from assay.monitor.substrate import load_events

    anchors = [
        {"id": f"a{i}", "input": f"What is {i}+{i}?", "output": "no idea", "target": str(2 * i)}
        for i in range(8)
    ]
    (tmp_path / "anchors.jsonl").write_text("".join(json.dumps(a) + "\n" for a in anchors))
    clock = datetime(2026, 2, 1, tzinfo=UTC)
    fingerprints = []
    for hour, leniency in enumerate([0.0, 0.0, 5.0]):
        # Same judge name and snapshot; the third hour the provider's judge grades leniently.
        monitors = monitors_from_text(JUDGE_SPEC.format(leniency=leniency), base_dir=tmp_path)
        tick = Scheduler(store, monitors, deliver_alerts=False).tick(clock + timedelta(hours=hour))
        assert tick.errors == [] and len(tick.anchors) == 1
        fingerprints.append(tick.anchors[0].fingerprint)
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    events = [e for e in load_events(store) if e.kind == "judge"]
    assert [(e.key, e.before, e.after) for e in events] == [
        ("rubric anchors", fingerprints[0], fingerprints[2])
    ]
    assert events[0].evidence == tick.anchors[0].run_id
    # For a judge-score change right after it, "what changed" puts the judge first.
    ranked = rank_events(
        events,
        start=events[0].time + timedelta(minutes=5),
        previous=events[0].time - timedelta(minutes=5),
        detected=events[0].time + timedelta(hours=1),
        judge_signal=True,
    )
    assert ranked and ranked[0].event.kind == "judge"


def test_anchors_every_needs_an_anchor_set(tmp_path: Path) -> None:
    text = JUDGE_SPEC.format(leniency=0).replace("    anchors: anchors.jsonl\n", "")
    with pytest.raises(SpecError) as err:
        monitors_from_text(text, base_dir=tmp_path, filename="m.yaml")
    assert "anchors_every needs an anchor set" in err.value.message
    assert err.value.where.startswith("m.yaml:")


def test_check_flags_are_rare_when_nothing_is_wrong() -> None:
    """False flags by simulation. E4: three intents with the same true CSAT mean 0.06 above the
    threshold; the segment flag needs its whole 95% t interval below it (one-sided: ≤ 2.5%
    per segment when the mean sits at the threshold, far less above it). G7: provider counts
    equal to local ones up to noise; the flag needs the 95% bootstrap interval beyond ±5%."""
    from assay.monitor.cohorts import segment_satisfaction, tokenizer_drift

    rng = np.random.default_rng(21)
    sims = 200
    e4 = 0
    for _ in range(sims):
        scores = np.clip(rng.normal(0.81, 0.15, 600), 0, 1)
        segments = ["a"] * 300 + ["b"] * 200 + ["c"] * 100
        e4 += len(segment_satisfaction(scores, segments, threshold=0.75))
    assert e4 / (3 * sims) <= 0.025, e4
    g7 = 0
    for i in range(sims // 2):
        local = rng.integers(50, 400, 300).astype(float)
        provider = local + rng.normal(0, 8, 300)
        langs = ["ja"] * 100 + ["en"] * 200
        g7 += len(tokenizer_drift(local, provider, langs, resamples=500, seed=i))
    assert g7 / sims <= 0.05, g7
