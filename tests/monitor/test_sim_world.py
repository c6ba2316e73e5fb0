"""Acceptance on the traffic simulator's world, where the truth is known: the planted incidents
are caught on their routes, dated, and explained by the substrate change behind them; a week
without incidents raises no alert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.monitor.world import load_world, monitors, pass_time

from assay.monitor.engine import PassReport, run_pass
from assay.store import Store
from assay.testing.traffic import TrafficConfig, TrafficResult


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, TrafficResult, PassReport]:
    """A week of 2,000 requests with the three default incidents (seed 7), one pass at its end."""
    store = Store(str(tmp_path_factory.mktemp("world") / "assay.db"))
    result = load_world(store, TrafficConfig(seed=7, days=7, requests=2000))
    report = run_pass(store, monitors(), now=result.truth.start + pass_time(result))
    return store, result, report


def _finding(report: PassReport, route: str, signal: str, segment: str | None = None):  # type: ignore[no-untyped-def]
    found = [
        f
        for f in report.findings
        if f.route == route and f.signal == signal and f.segment == segment and "change" in f.detail
    ]
    assert found, f"no change alert on {route}/{signal}: {[f.title for f in report.findings]}"
    return found[0]


def test_json_break_is_caught_dated_and_explained_by_the_prompt_change(world) -> None:  # type: ignore[no-untyped-def]
    _, result, report = world
    incident = result.truth.incident("json_break")
    f = _finding(report, "json-extract", "format_validity")
    assert f.kind == "format_regression"
    change = f.detail["change"]
    from datetime import datetime

    start = datetime.fromisoformat(change["start_time"])
    detected = datetime.fromisoformat(change["detected_time"])
    # Stated detection delay: within 4 hours of the break at ~2.2 json-extract requests an hour
    # (measured: the change is located at the first broken output, 1 h 28 min after the
    # prompt change, and detected 2 h 53 min after it, 3 broken outputs later).
    assert incident.start <= start <= detected
    assert detected - incident.start <= timedelta(hours=4)
    assert change["after"] > 0.7 and change["shift"]["low"] > 0.6
    first = f.detail["what_changed"][0]
    assert first["kind"] == "prompt"
    assert (first["before"], first["after"]) == (
        incident.details["prompt_before"],
        incident.details["prompt_after"],
    )


@pytest.mark.parametrize("route", ["support-qa", "rag-search"])
def test_model_swap_is_caught_and_attributed_to_the_snapshot_behind_the_name(world, route) -> None:  # type: ignore[no-untyped-def]
    _, result, report = world
    incident = result.truth.incident("model_swap")
    f = _finding(report, route, "output_length")
    assert f.kind == "length_drift"
    from datetime import datetime

    detected = datetime.fromisoformat(f.detail["change"]["detected_time"])
    # Stated: answers 60% longer are detected within 30 hours (measured: 16.9 h on support-qa,
    # 25 h on rag-search; about 75 and 110 requests after the swap). The median ratio's
    # interval excludes 1.
    assert incident.start <= detected <= incident.start + timedelta(hours=30)
    assert f.detail["change"]["shift"]["low"] > 1.2
    top = f.detail["what_changed"][:2]
    assert {c["kind"] for c in top} == {"model", "fingerprint"}
    model = next(c for c in top if c["kind"] == "model")
    # The requested model did not change; the snapshot behind it did.
    assert model["key"] == incident.details["model"]
    assert (model["before"], model["after"]) == (
        incident.details["response_model_before"],
        incident.details["response_model_after"],
    )
    fingerprint = next(c for c in top if c["kind"] == "fingerprint")
    assert fingerprint["after"] == incident.details["fingerprint_after"]
    # The substrate event is dated at the first request the new snapshot served.
    assert abs(datetime.fromisoformat(model["time"]) - incident.start) < timedelta(hours=1)


def test_every_alert_is_on_a_route_an_incident_touched(world) -> None:  # type: ignore[no-untyped-def]
    _, result, report = world
    touched = {r for i in result.truth.incidents if i.kind != "agent_loop" for r in i.routes}
    assert report.findings
    assert {f.route for f in report.findings} <= touched, [f.title for f in report.findings]


def test_a_second_pass_deduplicates_and_keeps_the_same_alerts(world) -> None:  # type: ignore[no-untyped-def]
    store, result, report = world
    again = run_pass(store, monitors(), now=result.truth.start + pass_time(result))
    assert again.alerts.opened == [] and again.alerts.resolved == []
    assert sorted(again.alerts.updated) == sorted(report.alerts.opened)


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_a_week_without_incidents_raises_no_alert(tmp_path: Path, seed: int) -> None:
    # Seeds 8-10 here; over seeds 8-27 (20 weeks, 4 routes x 7 signals x (route + 3 segments),
    # about 30,000 watched observations a week) the measured false alarms are stated in
    # docs/design.md and benchmarks/monitor_false_alarms.py.
    store = Store(str(tmp_path / "assay.db"))
    result = load_world(store, TrafficConfig(seed=seed, days=7, requests=2000, incidents=()))
    report = run_pass(store, monitors(), now=result.truth.start + pass_time(result))
    assert report.findings == [], [f.title for f in report.findings]
    n = sum(s.n for r in report.routes for s in r.series)
    assert n > 10_000  # the pass watched something


def test_reads_beside_the_analysis_give_the_same_pass(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The pass reads the substrate and the next routes' observations in worker threads while it
    # analyses a route; read in the calling thread, one after another, it finds the same.
    import assay.monitor.engine as engine

    store, result, report = world
    at = result.truth.start + pass_time(result)
    monkeypatch.setattr(engine, "_threads_share_store", lambda store: False)
    alone = run_pass(store, monitors(), now=at)
    assert alone.as_dict()["routes"] == report.as_dict()["routes"]
    assert [f.title for f in alone.findings] == [f.title for f in report.findings]
