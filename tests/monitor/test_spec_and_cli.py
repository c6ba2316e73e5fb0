"""monitors.yaml errors name file:line and the fix; the CLI's exit codes (0 healthy, 1 alerting,
2 config error), status, explain, alerts list/ack."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from tests.monitor.synth import T0, Request, every, write
from typer.testing import CliRunner

from assay.cli import app
from assay.core import SpecError
from assay.monitor.spec import load_monitors
from assay.store import Store


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "routes:\n  - name: a\n    signals: [format_validty]\n",
            "m.yaml:3 (routes[0].signals[0])",
            "unknown signal 'format_validty'",
        ),
        (
            "window: 1x\nroutes:\n  - {name: a, signals: [error_rate]}\n",
            "m.yaml:1 (window)",
            "not a duration",
        ),
        (
            "routes:\n  - name: a\n    signals: [output_length]\n    slos: [{signal: output_length, objective: 0.9}]\n",
            "m.yaml:4 (routes[0].slos[0])",
            "numeric",
        ),
        (
            "routes:\n  - name: a\n    signals: [error_rate]\n    slos: [{signal: error_rate, objective: 1.5}]\n",
            "m.yaml:4",
            "less than 1",
        ),
        (
            "routes:\n  - name: a\n    signals: [error_rate]\nsinks:\n  - {webhook: {url: ftp://x}}\n",
            "m.yaml:5 (sinks[0])",
            "http(s) url",
        ),
        (
            "routes:\n  - name: a\n    signals: [error_rate]\n    colour: red\n",
            "m.yaml:4 (routes[0].colour)",
            "unknown key 'colour'",
        ),
        (
            "routes:\n  - name: a\n    signals: [{format_validity: {schema: nope.json}}]\n",
            "m.yaml:3 (routes[0].signals[0])",
            "schema file not found",
        ),
        (
            "routes:\n  - name: a\n    signals: [error_rate]\njudges:\n  - {name: j, routes: [b], scorers: [json]}\n",
            "m.yaml:5 (judges[0].routes)",
            "unknown route(s) b",
        ),
    ],
)
def test_bad_monitors_yaml_names_file_line_and_fix(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_monitors(path)
    rendered = str(err.value).replace(str(tmp_path) + "/", "")
    assert rendered.startswith(where), rendered
    assert message in rendered


SPEC = """
window: 1h
lookback: 5d
baseline: 60
routes:
  - name: extract
    signals: [format_validity]
sinks: [{file: {path: alerts.jsonl}}]
"""


def _store_with(tmp_path: Path, broken: bool) -> str:
    db = str(tmp_path / "assay.db")
    store = Store(db)
    reqs = [
        Request(
            at=t,
            output="oops" if broken and i >= 150 and i % 4 else '{"a": 1}',
            prompt="v2" if i >= 150 else "v1",
        )
        for i, t in enumerate(every(T0, 200, timedelta(minutes=15)))
    ]
    write(store, "extract", reqs)
    store.close()
    return db


def test_monitor_check_exit_codes_and_the_alert_commands(tmp_path: Path) -> None:
    (tmp_path / "monitors.yaml").write_text(SPEC)
    runner = CliRunner()
    at = (T0 + timedelta(hours=50)).isoformat()
    (tmp_path / "ok").mkdir()
    healthy = _store_with(tmp_path / "ok", broken=False)
    result = runner.invoke(
        app,
        [
            "monitor",
            "check",
            "--spec",
            str(tmp_path / "monitors.yaml"),
            "--db",
            healthy,
            "--at",
            at,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output
    (tmp_path / "bad").mkdir()
    db = _store_with(tmp_path / "bad", broken=True)
    result = runner.invoke(
        app,
        [
            "monitor",
            "check",
            "--spec",
            str(tmp_path / "monitors.yaml"),
            "--db",
            db,
            "--at",
            at,
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert [a["kind"] for a in report["alerts"]] == ["format_regression"]
    assert report["alerts"][0]["what_changed"][0]["after"] == "v2"
    listed = json.loads(runner.invoke(app, ["alerts", "list", "--db", db, "--json"]).output)
    assert [a["status"] for a in listed] == ["firing"]
    acked = runner.invoke(
        app, ["alerts", "ack", listed[0]["id"][:8], "--db", db, "--by", "me", "--json"]
    )
    assert acked.exit_code == 0 and json.loads(acked.output)["acked_by"] == "me"
    status = json.loads(runner.invoke(app, ["monitor", "status", "--db", db, "--json"]).output)
    assert (
        status["routes"][0]["route"] == "extract"
        and status["alerts"][0]["status"] == "acknowledged"
    )
    start = report["alerts"][0]["change"]["start_time"]
    explained = runner.invoke(
        app,
        ["monitor", "explain", "extract", "--at", start, "--signal", "format_validity", "--db", db],
    )
    assert explained.exit_code == 0 and "v1 → v2" in explained.output
    assert (tmp_path / "alerts.jsonl").exists()


def test_a_config_error_exits_2_with_the_place(tmp_path: Path) -> None:
    spec = tmp_path / "monitors.yaml"
    spec.write_text("routes:\n  - name: a\n    signals: [nope]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assay",
            "monitor",
            "check",
            "--spec",
            str(spec),
            "--db",
            str(tmp_path / "x.db"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "monitors.yaml:3 (routes[0].signals[0]): unknown signal 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
