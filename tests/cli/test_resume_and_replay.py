"""Kill a run at random points and resume it; record, replay and reproduce runs offline."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from assay.store import Store
from assay.testing import MockOpenAIServer

from .conftest import SRC


def write_project(tmp_path, base_url, n, *, concurrency=8):
    (tmp_path / "data.jsonl").write_text(
        "".join(
            json.dumps({"id": f"q{i}", "input": f"question {i}", "target": f"echo: question {i}"})
            + "\n"
            for i in range(n)
        )
    )
    (tmp_path / "eval.yaml").write_text(
        f"name: resumable\ndataset: {{path: data.jsonl}}\nconcurrency: {concurrency}\n"
        f"providers:\n  local: {{type: openai, base_url: '{base_url}', api_key_env: null}}\n"
        "subjects:\n  - {name: bot, model: local/mock-model}\nscorers: [exact]\n"
    )


def stored_keys(db):
    con = sqlite3.connect(db, timeout=5)
    try:
        return {
            (s, sid, e)
            for s, sid, e in con.execute("select subject, sample_id, epoch from results")
        }
    except sqlite3.OperationalError:
        return set()
    finally:
        con.close()


@pytest.mark.parametrize("kill_fraction", [0.15, 0.5, 0.85])
def test_sigkill_then_resume_loses_nothing_and_repeats_no_completed_call(
    cli, tmp_path, kill_fraction
):
    n = 600
    server = MockOpenAIServer(model="mock-1", faults={"latency_ms": 15}).start_in_thread()
    try:
        write_project(tmp_path, server.base_url, n)
        env = {**os.environ, "PYTHONPATH": SRC}
        env.pop("ASSAY_DB", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "assay", "run", "eval.yaml"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = tmp_path / ".assay" / "assay.db"
        target = int(n * kill_fraction) + random.Random(kill_fraction).randint(0, 20)
        deadline = time.time() + 60
        while time.time() < deadline and len(stored_keys(db) if db.exists() else ()) < target:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        before_kill = stored_keys(db)
        assert 0 < len(before_kill) < n
        calls_before = Counter(b["messages"][-1]["content"] for b in list(server.requests))

        resumed = cli("run", "eval.yaml", cwd=tmp_path, check=0)
        assert "resuming unfinished run" in resumed.stderr
        calls_after = Counter(b["messages"][-1]["content"] for b in list(server.requests))
    finally:
        server.stop()
    store = Store(str(db))
    results = list(store.iter_results(store.list_runs()[0].id))
    store.close()
    assert len(results) == n == len({(r.subject, r.sample_id, r.epoch) for r in results})
    assert all(r.ok and r.scores[0].value == 1.0 for r in results)
    # No completed sample was asked for again after the kill.
    for _, sample_id, _ in before_kill:
        question = f"question {sample_id[1:]}"
        assert calls_after[question] == calls_before[question] == 1
    # Running the finished spec again is a no-op.
    again = cli("run", "eval.yaml", cwd=tmp_path, check=0)
    assert "already complete" in again.stderr


def test_record_then_replay_offline_reproduces_scores(cli, tmp_path):
    server = MockOpenAIServer(model="mock-2026-02").start_in_thread()
    try:
        write_project(tmp_path, server.base_url, 40)
        cli("run", "eval.yaml", "--record", "cassette.jsonl", cwd=tmp_path, check=0)
        calls = server.calls
    finally:
        server.stop()
    assert calls == 40
    header = json.loads((tmp_path / "cassette.jsonl").read_text().splitlines()[0])
    assert (
        header["model_snapshot"] == "mock-2026-02" and header["expires_at"] > header["recorded_at"]
    )
    # The server is gone: replay from the cassette, offline.
    replayed = cli(
        "run", "eval.yaml", "--replay", "cassette.jsonl", "--json", cwd=tmp_path, check=0
    )
    assert json.loads(replayed.stdout)["metrics"][0]["estimate"] == 1.0
    stale = cli(
        "run",
        "eval.yaml",
        "--replay",
        "cassette.jsonl",
        "--pinned-snapshot",
        "mock-2026-09",
        cwd=tmp_path,
    )
    assert stale.returncode == 2 and "stale_fixture" in stale.stderr


def test_assay_replay_reproduces_a_run_from_the_cache_without_network(cli, tmp_path):
    server = MockOpenAIServer(
        model="mock-1",
        answer=lambda body: (
            "echo: " + body["messages"][-1]["content"]
            if hash(body["messages"][-1]["content"]) % 3
            else "wrong"
        ),
    ).start_in_thread()
    try:
        write_project(tmp_path, server.base_url, 60)
        cli("run", "eval.yaml", cwd=tmp_path, check=0)
    finally:
        server.stop()
    original = json.loads(cli("runs", "--json", cwd=tmp_path, check=0).stdout)[0]["id"]
    report = json.loads(cli("replay", original, "--json", cwd=tmp_path, check=0).stdout)
    assert report["reproduced"] and report["compared"] == report["identical"] == 60
