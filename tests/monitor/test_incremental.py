"""Incremental monitoring passes (assay.monitor.rollups): after a first pass, a pass that reuses
the rollups of unchanged windows stores the same points and change points, and finds the same
alerts, as a from-scratch pass (``full=True``) — after each kind of change a store sees: late
spans and traces, late judge scores, feedback and outcomes on old traces, a changed
``monitors.yaml``, a retention delete and an in-place update. Each runs on SQLite and
PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from tests.monitor.synth import T0, Request, spans_of, write

from assay.monitor import rollups
from assay.monitor.engine import PassReport, run_pass
from assay.monitor.spec import Monitors, monitors_from_text
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import monitor_changes, monitor_points, trace_scores
from assay.trace.feedback import record_feedback, record_outcomes
from assay.trace.ingest import insert_ignore, store_spans

# Not on a window boundary: the first and last windows of the lookback are partial.
NOW = T0 + timedelta(days=2, minutes=20)
SPEC = """
window: 1h
lookback: 2d
baseline: 40
routes:
  - name: a
    segment_by: app.segment
    signals: [error_rate, format_validity, output_length, latency, {judge_score: {name: quality}}, feedback]
    slos: [{signal: error_rate, objective: 0.9}]
  - name: b
    signals: [error_rate, output_length, outcome_failure]
"""


@pytest.fixture(autouse=True)
def _no_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test's writes all happen within seconds: without a margin the pass after them
    # re-reads only the windows they touched, so reuse is exercised.
    monkeypatch.setattr(rollups, "MARGIN", timedelta(0))


def _requests(rng: random.Random, hours: range, *, shift_at: int = 30) -> list[Request]:
    out = []
    for h in hours:
        for i in range(4):
            at = T0 + timedelta(hours=h, minutes=12 * i + rng.randrange(10))
            bad = rng.random() < 0.05
            out.append(
                Request(
                    at=at,
                    output="Sure: {x" if bad else '{"ok": true}',
                    tokens=rng.randrange(15, 25) * (3 if h >= shift_at else 1),
                    status="error" if rng.random() < 0.03 else "ok",
                    segment="eu" if i % 2 else "us",
                )
            )
    return out


def _world(store: Store) -> dict[str, list[str]]:
    rng = random.Random(7)
    ids = {
        "a": write(store, "a", _requests(rng, range(48)), seed="w"),
        "b": write(
            store,
            "b",
            [
                Request(at=r.at, session=f"s{i // 3}", tokens=r.tokens)
                for i, r in enumerate(_requests(rng, range(48)))
            ],
            seed="w",
        ),
    }
    _scores(store, ids["a"][::2], rng)
    record_feedback(
        store,
        [
            {
                "trace_id": t,
                "kind": "thumbs",
                "value": 1.0,
                "rater_role": "end_user",
                "surface": "prod",
            }
            for t in ids["a"][::5]
        ],
        sync=False,
    )
    return ids


def _scores(store: Store, trace_ids: list[str], rng: random.Random, tag: str = "") -> None:
    rows = [
        {
            "id": f"{tag}{t}"[:32],
            "trace_id": t,
            "span_id": None,
            "name": "quality",
            "value": rng.random(),
            "label": None,
            "explanation": None,
            "response_id": None,
            "source": "judge",
            "created_at": T0,  # the event's time, long before it arrived
        }
        for t in trace_ids
    ]
    with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        insert_ignore(conn, trace_scores, rows)


def _stored(store: Store) -> tuple[list[Any], list[Any]]:
    with store.engine.connect() as conn:
        points = conn.execute(
            select(monitor_points).order_by(*monitor_points.primary_key.columns)
        ).all()
        changes = conn.execute(select(monitor_changes).order_by(monitor_changes.c.id)).all()
    # Everything but the time of writing.
    return [tuple(p)[:-1] for p in points], [tuple(c)[:-1] for c in changes]


def _found(report: PassReport) -> dict[str, Any]:
    d = report.as_dict()
    return {"routes": d["routes"], "alerts": d["alerts"], "healthy": d["healthy"]}


def _same_as_full(
    store: Store, monitors: Monitors, now: Any = NOW
) -> tuple[PassReport, tuple[list[Any], list[Any]]]:
    """An incremental pass, then a full one: both must store and find the same."""
    incremental = run_pass(store, monitors, now=now, deliver_alerts=False)
    stored = _stored(store)
    full = run_pass(store, monitors, now=now, deliver_alerts=False, full=True)
    assert not full.rollups["incremental"]
    assert _stored(store) == stored
    assert _found(incremental) == _found(full)
    return incremental, stored


def _first(store: Store, spec: str = SPEC) -> tuple[Monitors, tuple[list[Any], list[Any]]]:
    monitors = monitors_from_text(spec)
    first = run_pass(store, monitors, now=NOW, deliver_alerts=False)
    assert not first.rollups["incremental"]
    assert first.rollups["windows_recomputed"] > 0
    return monitors, _stored(store)


def test_an_unchanged_store_reuses_every_complete_window(store: Store) -> None:
    _world(store)
    monitors, before = _first(store)
    report, after = _same_as_full(store, monitors)
    assert after == before
    r = report.rollups
    assert r["incremental"]
    # Route a's 48 windows: the partial first and last are read, the rest reused; route b
    # (outcome_failure: one value per session) is read whole.
    assert r["windows_reused"] == 47
    assert r["windows_recomputed"] == 2 + 49
    assert r["substrate_hours_reused"] > 0
    changes = after[1]
    assert changes, "the world's output-length shift is detected"


def test_late_spans_and_traces_for_an_old_hour(store: Store) -> None:
    ids = _world(store)
    monitors, before = _first(store)
    # New traces for hour 10 of route a, and a late LLM span (a long answer) in an old trace
    # of hour 20 that also starts before it (moving the trace to an earlier window).
    late = [Request(at=T0 + timedelta(hours=10, minutes=m), tokens=90) for m in (1, 31)]
    write(store, "a", late, seed="late")
    old = spans_of("a", 80, Request(at=T0 + timedelta(hours=20, minutes=1)), seed="w")
    assert old[0].trace_id == ids["a"][80]
    extra = replace(
        old[1],
        span_id="f" * 16,
        start_time=T0 + timedelta(hours=19, minutes=59),
        end_time=T0 + timedelta(hours=20, minutes=30),
        output_tokens=500,
    )
    store_spans(store, [extra], redact=False)
    report, after = _same_as_full(store, monitors)
    assert report.rollups["incremental"] and report.rollups["windows_reused"] > 40
    assert after != before


def test_a_late_root_span_moves_a_trace_to_another_route(store: Store) -> None:
    _world(store)
    # Its LLM span arrives first, naming route b; the pass counts the trace in b.
    spans = spans_of("a", 0, Request(at=T0 + timedelta(hours=5, minutes=3), tokens=400), seed="x")
    root, llm = spans
    store_spans(
        store, [replace(llm, attributes={**llm.attributes, "app.route": "b"})], redact=False
    )
    # Both routes rolled up (no outcome_failure on b).
    monitors, before = _first(store, SPEC.replace(", outcome_failure]", "]"))
    # The root span arrives an hour later and names route a: the trace leaves b's window.
    store_spans(store, [root], redact=False)
    report, after = _same_as_full(store, monitors)
    assert report.rollups["incremental"] and report.rollups["windows_reused"] > 90
    assert after != before


def test_late_judge_scores_on_old_traces(store: Store) -> None:
    ids = _world(store)
    monitors, before = _first(store)
    _scores(store, ids["a"][1:60:2], random.Random(5), tag="late")
    report, after = _same_as_full(store, monitors)
    assert report.rollups["incremental"] and report.rollups["windows_reused"] > 20
    assert after != before


def test_late_feedback_on_old_traces(store: Store) -> None:
    ids = _world(store)
    monitors, before = _first(store)
    record_feedback(
        store,
        [
            {
                "trace_id": t,
                "kind": "thumbs",
                "value": 0.0,
                "rater_role": "end_user",
                "surface": "prod",
            }
            for t in ids["a"][3:40:4]
        ],
        sync=False,
    )
    report, after = _same_as_full(store, monitors)
    assert report.rollups["incremental"] and report.rollups["windows_reused"] > 30
    assert after != before


def test_delayed_outcomes_on_old_traces(store: Store) -> None:
    ids = _world(store)
    monitors, before = _first(store)
    events = [
        {
            "trace_id": t,
            "event": "refund_requested",
            "bad": True,
            "time": (T0 + timedelta(hours=47)).isoformat(),
        }
        for t in ids["b"][:40:3]
    ]
    record_outcomes(store, events, sync=False)
    report, after = _same_as_full(store, monitors)
    assert report.rollups["incremental"]
    assert after != before


@pytest.mark.parametrize(
    ("edit", "reread_a"),
    [
        # a route filter: the route's rollups are recomputed
        ("- name: a\n", "- name: a\n    match: {route: a, service: synth}\n"),
        # a signal's definition (a schema for format validity)
        (
            "[error_rate, format_validity,",
            "[error_rate, {format_validity: {schema: {type: object, required: [ok]}}},",
        ),
        # thresholds only: nothing to re-read, the analysis changes
        ("baseline: 40", "baseline: 60\nfalse_alarms_per_1000: 0.5"),
    ],
)
def test_a_changed_config(store: Store, edit: str, reread_a: str) -> None:
    _world(store)
    _first(store)
    spec = SPEC.replace(edit, reread_a, 1)
    assert spec != SPEC
    report, _ = _same_as_full(store, monitors_from_text(spec))
    thresholds_only = edit.startswith("baseline")
    assert report.rollups["incremental"]
    assert report.rollups["windows_reused"] == (47 if thresholds_only else 0)


def test_a_retention_delete_recomputes_everything(store: Store) -> None:
    ids = _world(store)
    monitors, before = _first(store)
    gone = ", ".join(f"'{t}'" for t in ids["a"][:60])
    with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        conn.execute(text(f"DELETE FROM spans WHERE trace_id IN ({gone})"))
        conn.execute(text(f"DELETE FROM traces WHERE id IN ({gone})"))
    report, after = _same_as_full(store, monitors)
    assert not report.rollups["incremental"]
    assert after != before
    # The epoch the delete bumped is now the rollups' own: the next pass is incremental again.
    again = run_pass(store, monitors, now=NOW, deliver_alerts=False)
    assert again.rollups["incremental"] and again.rollups["windows_reused"] == 47


@pytest.mark.parametrize("table", ["spans", "traces"])
def test_an_in_place_update_recomputes_everything(store: Store, table: str) -> None:
    ids = _world(store)
    monitors, before = _first(store)
    chosen = ", ".join(f"'{t}'" for t in ids["a"][:80])
    sql = (
        f'UPDATE spans SET output_json = \'[{{"role": "assistant", "content": "[REDACTED]"}}]\' '
        f"WHERE kind = 'llm' AND trace_id IN ({chosen})"
        if table == "spans"
        else f"UPDATE traces SET status = 'error' WHERE id IN ({chosen})"
    )
    with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        conn.execute(text(sql))
    report, after = _same_as_full(store, monitors)
    assert not report.rollups["incremental"]
    assert after != before


def test_a_pass_at_an_earlier_moment_in_between(store: Store) -> None:
    _world(store)
    monitors, _ = _first(store)
    # Late traffic for hour 45, then a pass six hours earlier (its lookback ends before hour
    # 45, so it does not look at it), then a pass at NOW again.
    write(store, "a", [Request(at=T0 + timedelta(hours=45, minutes=7), tokens=300)], seed="l")
    earlier = run_pass(store, monitors, now=NOW - timedelta(hours=6), deliver_alerts=False)
    assert earlier.rollups["incremental"]
    report, _ = _same_as_full(store, monitors)
    assert report.rollups["incremental"] and report.rollups["windows_reused"] > 30


def test_a_later_pass_with_a_new_hour_of_traffic(store: Store) -> None:
    _world(store)
    monitors, _ = _first(store)
    rng = random.Random(11)
    write(store, "a", _requests(rng, range(48, 49)), seed="next")
    report, _ = _same_as_full(store, monitors, now=NOW + timedelta(hours=1, minutes=5))
    assert report.rollups["incremental"] and report.rollups["windows_reused"] >= 45


def test_a_key_older_than_the_pruned_marks_is_recomputed(store: Store) -> None:
    ids = _world(store)
    monitors, _ = _first(store)
    with store.engine.connect() as conn:
        kept = rollups.Tracker(conn)
    watermark = next(iter(kept.states.values())).marks_at
    assert watermark is not None
    # Marks up to just after the rollups' watermark were deleted: a score given then is lost.
    _scores(store, ids["a"][:5], random.Random(1), tag="gone")
    with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        conn.execute(text("DELETE FROM monitor_marks"))
        rollups.set_state(conn, "marks_pruned", 0, repr(watermark + 1))
    report, _ = _same_as_full(store, monitors)
    assert not report.rollups["incremental"]


def test_the_status_says_how_the_last_pass_read(store: Store) -> None:
    from assay.monitor.status import monitor_status

    _world(store)
    monitors, _ = _first(store)
    assert monitor_status(store)["last_pass"]["incremental"] is False
    run_pass(store, monitors, now=NOW, deliver_alerts=False)
    last = monitor_status(store)["last_pass"]
    assert last["incremental"] is True and last["windows_reused"] == 47
    assert last["at"] == NOW.isoformat()


def test_monitor_run_full_and_the_status_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assay.cli.app import app

    db = f"sqlite:///{tmp_path / 'assay.db'}"
    store = Store(db)
    _world(store)
    store.close()
    (tmp_path / "monitors.yaml").write_text(SPEC)
    base = ["monitor", "run", "--spec", str(tmp_path / "monitors.yaml"), "--db", db]
    base += ["--at", NOW.isoformat(), "--no-deliver"]
    runner = CliRunner()
    runs = []
    for extra in ([], [], ["--full"]):
        result = runner.invoke(app, [*base, *extra, "--json"])
        assert result.exit_code in (0, 1), result.output
        runs.append(json.loads(result.output)["rollups"])
    assert [r["incremental"] for r in runs] == [False, True, False]
    assert runs[1]["windows_reused"] == 47 and runs[2]["windows_reused"] == 0
    text_out = runner.invoke(app, base).output
    assert "incremental pass: 51 windows read, 47 reused" in text_out
    status = runner.invoke(app, ["monitor", "status", "--db", db]).output
    assert "last pass at" in status and "incremental pass" in status
