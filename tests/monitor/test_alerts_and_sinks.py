"""Alert lifecycle and sinks: one alert per incident, a resolution when it ends, a webhook that
is down loses nothing (retried from the outbox), file and Slack-shaped bodies."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.monitor.synth import T0, Request, every, write

from assay.monitor.alerts import ack_alert, list_alerts
from assay.monitor.engine import run_pass
from assay.monitor.spec import monitors_from_text
from assay.store import Store

STEP = timedelta(minutes=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hook:
    """A local aiohttp server that records every JSON body posted to /hook."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bodies: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: Any = None

    def start(self) -> None:
        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            self.bodies.append(await request.json())
            return web.Response(text="ok")

        async def up() -> None:
            app = web.Application()
            app.router.add_post("/hook", hook)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        self._thread.start()
        asyncio.run_coroutine_threadsafe(up(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def port() -> Iterator[int]:
    yield _free_port()


def _incident(store: Store) -> tuple[Any, Any, Any]:
    """300 good requests, a prompt change that breaks 80% of outputs for 60 requests, then 200
    good ones again; returns the times of the break, its end and the last request."""
    times = every(T0, 560, STEP)
    reqs = []
    for i, t in enumerate(times):
        broken = 300 <= i < 360 and i % 5 != 0
        reqs.append(
            Request(
                at=t,
                output="Sure! Here it is: {ok}" if broken else '{"ok": true}',
                prompt="p-v2" if 300 <= i < 360 else "p-v1",
            )
        )
    write(store, "extract", reqs)
    return times[300], times[360], times[-1]


SPEC = """
window: 1h
lookback: 6d
baseline: 100
routes:
  - name: extract
    signals: [format_validity, output_length]
    slos: [{{signal: format_validity, objective: 0.99}}]
sinks:
  - {{webhook: {{url: "http://127.0.0.1:{port}/hook"}}, name: hook}}
  - {{file: {{path: {path}}}, name: log}}
"""


def test_one_alert_per_incident_a_resolution_and_a_dead_webhook_loses_nothing(
    store: Store, port: int, tmp_path: Path
) -> None:
    broke, _fixed, last = _incident(store)
    log = tmp_path / "alerts.jsonl"
    monitors = monitors_from_text(SPEC.format(port=port, path=log), base_dir=tmp_path)
    # The webhook is down during the incident: monitoring goes on, the file sink gets it.
    during = broke + timedelta(hours=3)
    first = run_pass(store, monitors, now=during)
    kinds = sorted(f.kind for f in first.findings)
    assert "format_regression" in kinds and "slo_burn" in kinds
    assert first.delivery is not None and first.delivery.failed == 1 and first.delivery.pending >= 1
    fired = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(b["kind"] for b in fired) == kinds
    change = next(b for b in fired if b["kind"] == "format_regression")
    assert change["route"] == "extract" and change["signal"] == "format_validity"
    assert (
        change["change"]["shift"]["method"] == "newcombe" and change["change"]["shift"]["low"] > 0
    )
    assert change["what_changed"][0]["kind"] == "prompt"
    assert change["what_changed"][0]["after"] == "p-v2"
    burn = next(b for b in fired if b["kind"] == "slo_burn")
    assert burn["budget"]["budget_remaining"] < 1 and burn["severity"] in ("page", "ticket")

    hook = Hook(port)
    hook.start()
    try:
        # The same incident, 10 and 20 minutes later: no new alert; the outbox delivers.
        for minutes in (10, 20):
            again = run_pass(store, monitors, now=during + timedelta(minutes=minutes))
            assert again.alerts.opened == []
        assert sorted(b["kind"] for b in hook.bodies) == kinds
        assert all(b["event"] == "fired" for b in hook.bodies)
        # Acknowledged alerts stay open and deduplicated.
        ack_alert(store, hook.bodies[0]["id"], by="oncall", note="rolling back p-v2")
        # After the fix and a day of good traffic every alert resolves, once.
        after = run_pass(store, monitors, now=last + timedelta(minutes=5))
        assert sorted(after.alerts.resolved) == sorted({b["id"] for b in hook.bodies})
        run_pass(store, monitors, now=last + timedelta(minutes=15))
    finally:
        hook.stop()
    events = sorted((b["kind"], b["event"]) for b in hook.bodies)
    assert events == sorted([(k, "fired") for k in kinds] + [(k, "resolved") for k in kinds])
    assert all(a["status"] == "resolved" for a in list_alerts(store))
    resolved = [json.loads(line) for line in log.read_text().splitlines()][len(fired) :]
    assert sorted(b["kind"] for b in resolved) == kinds


def test_slack_body_is_text(store: Store, tmp_path: Path) -> None:
    from assay.monitor.sinks import slack_text

    text = slack_text(
        {
            "event": "fired",
            "title": "format_regression on extract",
            "change": {"shift": {"estimate": 0.8, "low": 0.7, "high": 0.9, "method": "newcombe"}},
            "what_changed": [{"description": "prompt app.prompt.version: a → b", "time": "t"}],
        }
    )
    assert "FIRED" in text and "newcombe" in text and "prompt app.prompt.version: a → b" in text
