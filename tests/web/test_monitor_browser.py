"""The monitor pages in Chromium against a live server on a store where a planted format break
was detected: the route list, the series chart with its interval band, the change point and
the substrate event marked on the time axis, the budget, the alerts; and the JSON API (4xx with
a reason, never a 500). Screenshots go where tests/web/conftest.py's ``screenshot`` puts them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.monitor.synth import T0, Request, every, write

from assay.monitor.engine import run_pass
from assay.monitor.spec import monitors_from_text
from assay.store import Store
from assay.web.live import serve_in_thread

SPEC = """
window: 1h
lookback: 4d
baseline: 100
routes:
  - name: extract
    signals: [format_validity, output_length]
    slos: [{signal: format_validity, objective: 0.99}]
"""


def _planted(path: Path) -> Store:
    store = Store(str(path))
    reqs = [
        Request(
            at=t,
            output="Sure! {oops" if i >= 300 and i % 5 else '{"ok": true}',
            prompt="p-v2" if i >= 300 else "p-v1",
            tokens=20 + i % 7,
        )
        for i, t in enumerate(every(T0, 400, timedelta(minutes=10)))
    ]
    write(store, "extract", reqs)
    run_pass(store, monitors_from_text(SPEC), now=T0 + timedelta(minutes=10 * 400))
    return store


@pytest.fixture(scope="module")
def monitor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:

    from assay.web import create_app

    store = _planted(tmp_path_factory.mktemp("monitor-pages") / "assay.db")
    with serve_in_thread(create_app(store)) as url:
        yield url
    store.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    yield page
    context.close()


def test_monitor_page_lists_routes_and_alerts(monitor_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{monitor_server}/monitor")
    assert page.locator("#monitor-routes tr[data-route='extract']").count() == 1
    kinds = page.locator("#alerts .alert-row").all_inner_texts()
    assert any("format_regression" in k for k in kinds) and any("slo_burn" in k for k in kinds)
    screenshot(page, "monitor")
    page.click("text=extract")
    page.wait_for_url("**/monitor/extract")


def test_route_page_marks_change_points_and_substrate_events(
    monitor_server, page, screenshot
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{monitor_server}/monitor/extract")
    chart = page.locator("svg.series[data-signal='format_validity']")
    assert chart.count() == 1
    assert int(chart.get_attribute("data-points") or 0) >= 60
    assert chart.locator("polygon.band").count() == 1
    worse = chart.locator("line.change.worse")
    assert worse.count() == 1
    # The change line sits at (or just after) the prompt-change marker on the time axis.
    marker = chart.locator("polygon.substrate")
    assert marker.count() == 1
    line_x = float(worse.get_attribute("x1") or 0)
    marker_x = float((marker.get_attribute("points") or "0,0").split()[2].split(",")[0])
    assert 0 <= line_x - marker_x < 20
    assert "p-v1 → p-v2" in page.locator("#substrate").inner_text()
    budget = page.locator(".budget[data-signal='format_validity'] h3").inner_text()
    assert "budget exhausted" in budget and "× spent" in budget
    screenshot(page, "monitor-route")


def test_monitor_api_answers_and_refuses_with_reasons(tmp_path: Path) -> None:
    from assay.web import create_app

    store = _planted(tmp_path / "assay.db")
    client = TestClient(create_app(store))
    status = client.get("/api/monitor").json()
    assert status["routes"][0]["route"] == "extract"
    detail = client.get("/api/monitor/routes/extract").json()
    assert any(s["signal"] == "format_validity" and s["changes"] for s in detail["series"])
    missing = client.get("/api/monitor/routes/nope")
    assert missing.status_code == 404 and "monitor run" in missing.json()["fix"]
    alerts = client.get("/api/alerts", params={"status": "open"}).json()
    assert alerts
    bad = client.get("/api/alerts", params={"status": "burning"})
    assert bad.status_code == 422
    acked = client.post(f"/api/alerts/{alerts[0]['id']}/ack", json={"by": "oncall"})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    unknown = client.post("/api/alerts/ffffffff/ack", json={})
    assert 400 <= unknown.status_code < 500
    extra = client.post(f"/api/alerts/{alerts[0]['id']}/ack", json={"colour": "red"})
    assert extra.status_code == 422
    assert client.get("/monitor/nope").status_code == 404
    store.close()
