"""The schedule of ``assay serve --monitor`` on the web: ``/api/monitor/scheduler`` and the
line the /monitor page shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from tests.monitor.synth import T0
from tests.monitor.test_scheduler_and_canaries import SPEC, _incident

from assay.monitor.scheduler import Scheduler
from assay.monitor.spec import monitors_from_text
from assay.store import Store
from assay.web import create_app


def test_without_a_schedule_the_api_says_how_to_start_one(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "assay.db"))
    with TestClient(create_app(store)) as client:
        response = client.get("/api/monitor/scheduler")
        assert response.status_code == 404
        assert "serve --monitor" in response.text
        page = client.get("/monitor")
        assert page.status_code == 200 and 'id="scheduler"' not in page.text
    store.close()


def test_the_schedule_state_is_served_and_shown(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "assay.db"))
    broke = _incident(store, T0)
    spec = SPEC.format(every="1h", path=tmp_path / "alerts.jsonl")
    spec += "canaries:\n  - {name: qa, every: 1h, eval: missing.yaml}\n"
    monitors = monitors_from_text(spec, base_dir=tmp_path)
    scheduler = Scheduler(store, monitors, clock=lambda: broke + timedelta(hours=3))
    app = create_app(store)
    app.state.scheduler = scheduler
    with TestClient(app) as client:
        before = client.get("/api/monitor/scheduler").json()
        assert before["running"] is False and before["passes"] == 0
        assert before["interval_seconds"] == 3600
        scheduler.tick()  # one pass, and the canary fails (its eval file is missing)
        after = client.get("/api/monitor/scheduler").json()
        assert after["passes"] == 1 and after["failures"] == 1
        assert after["last_pass"].startswith((broke + timedelta(hours=3)).date().isoformat())
        assert "qa" in after["last_error"]
        page = client.get("/monitor").text
        line = page[page.index('id="scheduler"') : page.index("</p>", page.index('id="scheduler"'))]
        assert "stopped" in line and "1 pass so far" in line and "1 failed job" in line
    store.close()
