"""Privacy-mode conformance (I4) and retention conformance (I5).

I4: a small chat service writes to four sinks (an app log, the assay trace store, an analytics
collector over HTTP, a training export). A request with ``privacy_mode=true`` carrying the
canary ``ZX-CANARY-123`` must leave it in none; the leaky build still sends analytics, and the
test fails naming that sink. I5: a 30-day retention job over a session active for 80 days must
not delete its turns without a tombstone."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from assay.privacy import check_privacy, check_retention, load_privacy_spec, variants
from assay.store import Store
from assay.trace.ingest import store_spans
from assay.trace.model import SpanRecord


class ChatService:
    """The team's system under test, with its sinks; ``leaky`` ignores privacy mode for
    analytics."""

    def __init__(self, folder: Path, *, leaky: bool) -> None:
        self.folder = folder
        self.leaky = leaky
        self.analytics: list[dict] = []
        self.store = Store(str(folder / "traces.db"))
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.n = 0

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        private = bool(body.get("privacy_mode"))
        message = body["message"]
        self.n += 1
        with (self.folder / "app.log").open("a") as log:
            log.write(f"request {self.n} received\n")
            if not private:
                log.write(f"request {self.n} message={message}\n")
        if not private or self.leaky:
            self.analytics.append({"event": "chat", "text": message})
        if not private:
            start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=self.n)
            store_spans(
                self.store,
                [
                    SpanRecord(
                        trace_id=f"{self.n:032x}",
                        span_id=f"{self.n:016x}",
                        name="chat",
                        kind="llm",
                        start_time=start,
                        end_time=start + timedelta(seconds=1),
                        input=[{"role": "user", "content": message}],
                    )
                ],
            )
            export = self.folder / "exports" / "day.jsonl"
            export.parent.mkdir(exist_ok=True)
            with export.open("a") as f:
                f.write(json.dumps({"prompt": message}) + "\n")
        return web.json_response({"answer": "ok"})

    async def captured(self, request: web.Request) -> web.Response:
        return web.json_response(self.analytics)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/chat", self.chat)
        app.router.add_get("/analytics/captured", self.captured)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> ChatService:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.store.close()


def declaration(folder: Path, port: int) -> Path:
    path = folder / "privacy.yaml"
    path.write_text(
        f"""\
sinks:
  app_log: {{kind: file, path: app.log}}
  trace_store: {{kind: trace_store, db: traces.db}}
  analytics: {{kind: http, url: "http://127.0.0.1:{port}/analytics/captured"}}
  training_export: {{kind: file, glob: "exports/**/*.jsonl"}}
request:
  url: http://127.0.0.1:{port}/chat
  body: {{message: "My member code is {{canary}}", privacy_mode: true}}
settle: 0s
"""
    )
    return path


def test_canary_in_the_analytics_sink_fails_naming_it(tmp_path):
    with ChatService(tmp_path, leaky=True) as service:
        spec, doc = load_privacy_spec(declaration(tmp_path, service.port))
        report = check_privacy(spec, doc=doc, canary="ZX-CANARY-123")
    data = report.as_dict()
    assert not data["passed"] and report.failed
    assert data["leaked_in"] == ["analytics"]
    (leak,) = [f for f in data["findings"] if f["code"] == "canary_leaked"]
    assert "sink analytics" in leak["message"] and "ZX-CANARY-123" in leak["message"]
    assert leak["refs"][0]["location"].endswith("/analytics/captured")
    status = {s["sink"]: s["status"] for s in data["sinks"]}
    assert status == {
        "app_log": "clean",
        "trace_store": "clean",
        "analytics": "leaked",
        "training_export": "clean",
    }
    # Every sink saw the control request's canary: the clean verdicts are not blind.
    assert all(s["control_seen"] for s in data["sinks"])


def test_a_system_that_keeps_the_promise_passes(tmp_path):
    with ChatService(tmp_path, leaky=False) as service:
        spec, doc = load_privacy_spec(declaration(tmp_path, service.port))
        report = check_privacy(spec, doc=doc, canary="ZX-CANARY-123")
    data = report.as_dict()
    assert data["passed"] and data["findings"] == []
    assert {s["status"] for s in data["sinks"]} == {"clean"}
    assert data["request_status"] == 200 and data["control_status"] == 200


def test_encoded_canaries_are_found_and_reused_tokens_do_not_count_twice(tmp_path):
    import base64

    (tmp_path / "app.log").write_text(
        "old line ZX-CANARY-123\n" + base64.b64encode(b'{"m": "ZX-CANARY-9"}').decode() + "\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(
        "sinks:\n  app_log: {kind: file, path: app.log}\n  gone: {kind: database, url: 'sqlite:////nonexistent/dir/x.db'}\n"
    )
    spec, doc = load_privacy_spec(path)
    report = check_privacy(spec, doc=doc, canary="ZX-CANARY-9", send=False)
    data = report.as_dict()
    assert data["leaked_in"] == ["app_log"]
    assert data["sinks"][0]["leaked"][0]["form"] != "ZX-CANARY-9"  # found in base64
    assert {f["code"] for f in data["findings"]} == {"canary_leaked", "sink_unreadable"}
    assert len(variants("ZX-CANARY-123")) >= 4


def test_cli_privacy_check_exits_one_naming_the_sink(tmp_path, monkeypatch, capsys):
    from tests.trace.casework import run_cli

    with ChatService(tmp_path, leaky=True) as service:
        path = declaration(tmp_path, service.port)
        code, out, err = run_cli(
            monkeypatch, capsys, "privacy", "check", str(path), "--canary", "ZX-CANARY-123"
        )
    assert code == 1
    assert "FAIL" in out and "analytics" in out and "leaked" in out
    code, _, err = run_cli(monkeypatch, capsys, "privacy", "check", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml: file not found" in err


# -- retention (I5) ------------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
JOB = """\
import sqlite3, sys
from datetime import datetime, timedelta, timezone
db, mode = sys.argv[1], sys.argv[2]
now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
cut = (now - timedelta(days=30)).isoformat()
active = (now - timedelta(days=7)).isoformat()
con = sqlite3.connect(db)
if mode == "naive":
    con.execute("DELETE FROM messages WHERE created_at < ?", (cut,))
elif mode == "tombstone":
    live = [r[0] for r in con.execute(
        "SELECT session_id FROM messages GROUP BY session_id HAVING max(created_at) >= ?", (active,))]
    for row in con.execute("SELECT id, session_id FROM messages WHERE created_at < ?", (cut,)).fetchall():
        if row[1] in live:
            con.execute("INSERT INTO markers VALUES (?, ?)", (row[1], row[0]))
    con.execute("DELETE FROM messages WHERE created_at < ?", (cut,))
con.commit()
"""


def chat_db(folder: Path) -> Path:
    db = folder / "chat.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, session_id TEXT, created_at TEXT, content TEXT)"
    )
    con.execute("CREATE TABLE markers (session_id TEXT, turn_id TEXT)")
    rows = []
    for day in range(0, 81, 4):  # a session active for 80 days, last turn 0 days ago
        rows.append((f"a-{day}", "S-active", (NOW - timedelta(days=80 - day)).isoformat(), "hi"))
    for day in (60, 55, 50):  # a session that ended 50 days ago
        rows.append((f"o-{day}", "S-old", (NOW - timedelta(days=day)).isoformat(), "bye"))
    con.executemany("INSERT INTO messages VALUES (?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    (folder / "job.py").write_text(JOB)
    return db


def retention_declaration(folder: Path, mode: str) -> Path:
    path = folder / "retention.yaml"
    path.write_text(
        f"""\
policy: {{max_age: 30d, active_within: 7d}}
turns:
  kind: database
  url: "sqlite:///{folder / "chat.db"}"
  table: messages
tombstones:
  kind: database
  url: "sqlite:///{folder / "chat.db"}"
  table: markers
  columns: {{session: session_id, turn: turn_id}}
job: {{command: "{sys.executable} job.py chat.db {mode}"}}
"""
    )
    return path


def test_deleting_an_active_sessions_turns_without_a_tombstone(tmp_path):
    chat_db(tmp_path)
    report = check_retention(retention_declaration(tmp_path, "naive"), now=NOW)
    (finding,) = report.findings
    assert finding.code == "active_session_context_deleted"
    assert "S-active" in finding.message and "80 days old" in finding.message
    assert finding.details["vanished_unmarked_while_active"] == 13  # turns older than 30 days
    assert report.failed


def test_a_tombstoning_job_conforms(tmp_path):
    chat_db(tmp_path)
    report = check_retention(retention_declaration(tmp_path, "tombstone"), now=NOW)
    assert report.findings == []
    assert report.as_dict()["turns_vanished"] == 16


def test_a_job_that_deletes_nothing_breaks_retention_the_other_way(tmp_path):
    chat_db(tmp_path)
    report = check_retention(retention_declaration(tmp_path, "none"), now=NOW)
    assert [f.code for f in report.findings] == ["retention_not_applied"]
    assert "S-old" in report.findings[0].message


def test_cli_retention(tmp_path, monkeypatch, capsys):
    from tests.trace.casework import run_cli

    chat_db(tmp_path)
    path = retention_declaration(tmp_path, "naive")
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "privacy",
        "retention",
        str(path),
        "--now",
        NOW.isoformat(),
        "--db",
        str(tmp_path / "a.db"),
        "--json",
    )
    assert code == 1
    assert json.loads(out)["findings"][0]["code"] == "active_session_context_deleted"
    path.write_text("policy: {max_age: 30d}\nturns: {kind: jsonl, path: t.jsonl}\n")
    code, _, err = run_cli(monkeypatch, capsys, "privacy", "retention", str(path))
    assert code == 2 and "retention.yaml:1" in err and "either `turns` and `job`" in err


@pytest.mark.parametrize("mode", ["naive"])
def test_retention_against_snapshots(tmp_path, mode):
    def snap(name: str, turns: list[tuple[str, str, datetime]]) -> str:
        (tmp_path / name).write_text(
            "\n".join(
                json.dumps({"session_id": s, "id": t, "created_at": at.isoformat()})
                for s, t, at in turns
            )
        )
        return name

    before = [("s", "t1", NOW - timedelta(days=40)), ("s", "t2", NOW - timedelta(hours=1))]
    snap("before.jsonl", before)
    snap("after.jsonl", before[1:])
    path = tmp_path / "r.yaml"
    path.write_text(
        "policy: {max_age: 30d}\nbefore: {kind: jsonl, path: before.jsonl}\n"
        "after: {kind: jsonl, path: after.jsonl}\n"
    )
    report = check_retention(path, now=NOW)
    assert [f.code for f in report.findings] == ["active_session_context_deleted"]
