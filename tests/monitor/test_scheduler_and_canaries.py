"""`assay serve --monitor`: passes on a schedule in a background thread that stops with the
server; scheduled canaries (G4) catch a model swapped behind an unchanged name and date it;
their series raises no more false alarms than stated."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.monitor.synth import T0, Request, every, write
from typer.testing import CliRunner

from assay.monitor.alerts import list_alerts
from assay.monitor.scheduler import Scheduler
from assay.monitor.spec import load_monitors, monitors_from_text
from assay.store import Store

STEP = timedelta(minutes=10)

SPEC = """
window: 1h
lookback: 6d
baseline: 100
every: {every}
routes:
  - name: extract
    signals: [format_validity]
sinks:
  - {{file: {{path: {path}}}, name: log}}
"""


def _incident(store: Store, start: datetime) -> datetime:
    """300 good requests then 60 mostly broken ones after a prompt change; returns the break."""
    times = every(start, 360, STEP)
    reqs = [
        Request(
            at=t,
            output="Sure: {ok}" if i >= 300 and i % 5 else '{"ok": true}',
            prompt="p-v2" if i >= 300 else "p-v1",
        )
        for i, t in enumerate(times)
    ]
    write(store, "extract", reqs)
    return times[300]


def _wait(predicate: Any, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_scheduler_runs_passes_on_its_interval_and_stops_cleanly(
    store: Store, tmp_path: Path
) -> None:
    broke = _incident(store, T0)
    log = tmp_path / "alerts.jsonl"
    monitors = monitors_from_text(SPEC.format(every="0.2s", path=log), base_dir=tmp_path)
    assert monitors.interval == timedelta(seconds=0.2)
    # A clock three hours into the incident that moves with real time.
    origin = time.monotonic()

    def clock() -> datetime:
        return broke + timedelta(hours=3, seconds=time.monotonic() - origin)

    scheduler = Scheduler(store, monitors, clock=clock).start()
    try:
        assert _wait(lambda: scheduler.passes >= 3), scheduler.status()
    finally:
        started = time.monotonic()
        assert scheduler.stop(timeout=30)
    assert time.monotonic() - started < 10  # never waits a full interval, only the pass
    assert not scheduler.running and scheduler.failures == 0
    assert not any(t.name == "assay-monitor" for t in threading.enumerate())
    # Alerts are written and delivered as `assay monitor run` does: one per incident.
    firing = [a for a in list_alerts(store) if a["status"] == "firing"]
    assert [a["kind"] for a in firing] == ["format_regression"]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(b["kind"], b["event"]) for b in lines] == [("format_regression", "fired")]


def test_a_failing_job_is_counted_and_the_schedule_goes_on(store: Store, tmp_path: Path) -> None:
    monitors = monitors_from_text(
        SPEC.format(every="1h", path=tmp_path / "a.jsonl")
        + "canaries:\n  - {name: qa, every: 1h, eval: missing.yaml}\n",
        base_dir=tmp_path,
    )
    scheduler = Scheduler(store, monitors, clock=lambda: T0)
    tick = scheduler.tick()
    assert len(tick.errors) == 1 and "canary qa" in tick.errors[0]
    assert len(tick.passes) == 1 and scheduler.passes == 1  # the pass still ran
    assert scheduler.tick().passes == []  # not due again within the hour
    assert len(scheduler.tick(T0 + timedelta(hours=1)).passes) == 1


def test_serve_monitor_runs_the_scheduler_and_stops_it_with_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from assay.cli import app

    db = tmp_path / "assay.db"
    store = Store(str(db))
    _incident(store, datetime.now(UTC) - 300 * STEP - timedelta(hours=1))
    store.close()
    spec = tmp_path / "monitors.yaml"
    spec.write_text(SPEC.format(every="0.3s", path=tmp_path / "alerts.jsonl"))
    seen: dict[str, Any] = {}

    def fake_run(app_: Any, **kwargs: Any) -> None:
        # The "server" runs until the scheduler has written an alert, then shuts down.
        seen["thread"] = _wait(
            lambda: (
                (tmp_path / "alerts.jsonl").exists()
                and any(t.name == "assay-monitor" for t in threading.enumerate())
            )
        )

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(app, ["serve", "--db", str(db), "--monitor", "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    assert seen["thread"] is True
    assert _wait(lambda: not any(t.name == "assay-monitor" for t in threading.enumerate()), 10)
    kinds = [json.loads(x)["kind"] for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert kinds == ["format_regression"]
    # A broken monitors file stops the server before it starts: exit 2, naming file:line.
    spec.write_text("routes:\n  - name: a\n    signals: [nope]\n")
    bad = CliRunner().invoke(app, ["serve", "--db", str(db), "--monitor", "--spec", str(spec)])
    # (`assay` turns the SpecError into exit 2 in main(); CliRunner hands us the exception.)
    from assay.core import SpecError

    assert isinstance(bad.exception, SpecError) and bad.exception.exit_code == 2
    assert "monitors.yaml:3" in str(bad.exception) and "unknown signal" in str(bad.exception)


# -- canaries (G4) ---------------------------------------------------------------------------

PROBES = [
    {"id": f"p{i}", "input": f"Question {i}?", "target": f"answer-{i}", "metadata": {"d": d}}
    for i, d in enumerate(np.linspace(-1.0, 1.0, 12).round(3).tolist())
]


def _canary_eval(path: Path, ability: float, family: str) -> None:
    """The pinned canary: 12 fixed probes against `prod-model` behind the sim provider; the
    system behind the name is whatever the "live endpoint" serves today."""
    spec = {
        "name": "canary-qa",
        "dataset": {
            "name": "probes",
            "samples": [{**p, "metadata": {"difficulty": p["metadata"]["d"]}} for p in PROBES],
        },
        "providers": {
            "sim": {
                "type": "sim",
                "systems": {"prod-model": {"family": family, "ability": ability}},
            }
        },
        "subjects": [{"name": "live", "model": "sim/prod-model"}],
        "scorers": ["exact"],
    }
    path.write_text(json.dumps(spec))


CANARY_SPEC = """
window: 1h
lookback: 3d
baseline: 24
routes:
  - name: app
    signals: [error_rate]
canaries:
  - {name: qa, every: 1h, eval: canary.json}
"""


def test_a_canary_catches_a_model_swapped_behind_an_unchanged_name_and_dates_it(
    store: Store, tmp_path: Path
) -> None:
    from assay.monitor.engine import run_pass

    eval_path = tmp_path / "canary.json"
    _canary_eval(eval_path, ability=2.5, family="atlas")
    monitors = monitors_from_text(CANARY_SPEC, base_dir=tmp_path)
    scheduler = Scheduler(store, monitors, deliver_alerts=False)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    swap = start + timedelta(hours=6)
    for hour in range(11):
        at = start + timedelta(hours=hour)
        if at == swap:  # the provider serves another system under the same name
            _canary_eval(eval_path, ability=-1.0, family="other")
        tick = scheduler.tick(at)
        assert tick.errors == [] and len(tick.canaries) == 1 and tick.canaries[0].probes == 12
    report = run_pass(store, monitors, now=start + timedelta(hours=11), deliver_alerts=False)
    found = [f for f in report.findings if f.route == "canary:qa"]
    assert [f.kind for f in found] == ["canary_regression"], [f.title for f in report.findings]
    change = found[0].detail["change"]
    # Dated at the first canary pass after the swap; stated: detected by the fourth pass on the
    # new system (failures 17% → 67% of 12 probes; measured: the fourth).
    assert swap <= datetime.fromisoformat(change["start_time"]) < swap + timedelta(hours=1)
    assert datetime.fromisoformat(change["detected_time"]) < swap + timedelta(hours=4)
    assert change["after"] > change["before"] and change["shift"]["low"] > 0  # more failures
    assert swap.strftime("%Y-%m-%d") in found[0].title
    # The canary's runs are stored like any run, its traces marked synthetic.
    from sqlalchemy import func, select

    from assay.store.tables import runs, traces

    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(runs)).scalar() == 11
        envs = {r[0] for r in conn.execute(select(traces.c.environment).distinct())}
    assert envs == {"canary"}
    # No other route is touched by canary traffic.
    assert all(s.n == 0 for r in report.routes if r.route == "app" for s in r.series)


def test_canary_series_raise_no_more_false_alarms_than_stated() -> None:
    """A canary's pass/fail stream, as a pass writes it: 12 probes of fixed, unequal success
    rates (0.55–0.95) in a fresh order each pass. Simulate 100 canaries over 200 passes with no
    change (about 240,000 watched observations) and count alarms against the stated rate."""
    from assay.monitor.analysis import analyse_series
    from assay.monitor.signals import Observations

    monitors = monitors_from_text(CANARY_SPEC, base_dir=".")
    signal = monitors.route("canary:qa").signals[0]
    assert (signal.name, signal.kind) == ("canary_failure", "binary")
    rng = np.random.default_rng(14)
    p_fail = 1 - np.linspace(0.55, 0.95, 12)
    passes, canaries = 200, 100
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(hours=h, milliseconds=10 * i) for h in range(passes) for i in range(12)]
    alarms = watched = 0
    for _ in range(canaries):
        values = (rng.random((passes, 12)) < p_fail).astype(float)
        order = np.argsort(rng.random((passes, 12)), axis=1)
        values = np.take_along_axis(values, order, axis=1).ravel()
        obs = Observations(
            "canary:qa", signal, times, values.tolist(), [""] * values.size, [None] * values.size
        )
        s = analyse_series(
            obs,
            window=timedelta(hours=1),
            baseline=monitors.baseline,
            false_alarms_per_1000=monitors.false_alarms_per_1000,
        )
        alarms += len(s.changes)
        watched += values.size - monitors.baseline
    # Stated: 0.05 per 1,000 observations, so at most 12 here; measured: 0.
    assert 1000 * alarms / watched <= monitors.false_alarms_per_1000, (alarms, watched)


def test_canary_config_errors_name_the_file_and_line(tmp_path: Path) -> None:
    from assay.core import SpecError

    path = tmp_path / "monitors.yaml"
    path.write_text(CANARY_SPEC.replace("every: 1h", "every: soon"))
    with pytest.raises(SpecError) as err:
        load_monitors(path)
    assert (
        "monitors.yaml:9 (canaries[0].every)" in err.value.where and "duration" in err.value.message
    )


def test_monitor_canary_runs_once_for_cron(tmp_path: Path) -> None:
    from assay.cli import app
    from assay.core import AssayError

    _canary_eval(tmp_path / "canary.json", ability=2.5, family="atlas")
    spec = tmp_path / "monitors.yaml"
    spec.write_text(CANARY_SPEC)
    db = str(tmp_path / "assay.db")
    result = CliRunner().invoke(
        app, ["monitor", "canary", "--spec", str(spec), "--db", db, "--json"]
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert report["canary"] == "qa" and report["probes"] == 12 and report["errors"] == 0
    assert report["resolved_models"] == ["sim:prod-model@2026-01"]
    missing = CliRunner().invoke(
        app, ["monitor", "canary", "--spec", str(spec), "--db", db, "--name", "nope"]
    )
    assert isinstance(missing.exception, AssayError) and missing.exception.exit_code == 2
