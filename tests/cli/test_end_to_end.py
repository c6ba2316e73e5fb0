import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pyarrow.parquet as pq

from assay.store import Store

from .conftest import SRC


def test_demo_runs_end_to_end_and_prints_intervals_per_slice(cli, tmp_path):
    proc = cli("demo", tmp_path / "demo", "--samples", "240", "--production", cwd=tmp_path, check=0)
    out = proc.stdout
    assert "slice=arithmetic" in out and "slice=units" in out and "slice=sequences" in out
    assert "wilson" in out and "[" in out and "%" in out
    assert "What changed first: prompt" in out
    assert "SIMULATED" in proc.stderr
    assert "pairwise judge run" in out and "B preferred" in out and "both" in out
    store = Store(str(tmp_path / "demo" / ".assay" / "assay.db"))
    runs = store.list_runs()
    # Production comes first: its online judge's run is the oldest. Then the two prompt
    # versions, the pairwise judge run comparing them, the wordier system's run, then the judge
    # audit's probe run and its pointwise run.
    assert runs[-1].name == "online-valid-json" and runs[-1].status == "completed"
    runs = runs[:-1]
    assert len(runs) == 6 and all(r.status == "completed" for r in runs)
    names = [r.name for r in reversed(runs)]
    assert names[:2] == ["demo-qa", "demo-qa"] and names[3] == "demo-qa-wordy"
    assert names[2].startswith("pairwise ") and names[4] == "audit sim/demo-judge"
    assert all(r.n_results == 240 for r in runs[2:])
    certificate = store.get_certificate("latest")
    assert certificate.judge == "sim/demo-judge" and "length_bias" in certificate.flags
    length = certificate.check("length_bias")
    assert length.details["raw_win_rate"] - length.details["lc_win_rate"] > 0.1
    assert "length-controlled" in out and "judge certificate" in out
    # The production chapter: a simulated week through the OTLP receiver, failures as drafts.
    assert "production traffic received" in out and "draft cases" in out
    with sqlite3.connect(tmp_path / "demo" / ".assay" / "assay.db") as db:
        n_traces = db.execute("SELECT count(*) FROM traces").fetchone()[0]
        n_drafts = db.execute("SELECT count(*) FROM cases WHERE status = 'draft'").fetchone()[0]
        reports = db.execute("SELECT counts_json FROM redaction_reports").fetchall()
    assert n_traces == 1000 and n_drafts > 0
    # The monitoring chapter caught the planted incidents and named what changed.
    assert "format_regression" in out and "extract-v3" in out and "extract-v4" in out
    assert "length_drift" in out and "requested model" in out
    assert sum(json.loads(r[0]).get("EMAIL", 0) for r in reports) > 0
    store.close()


def test_show_runs_diff_export(cli, tmp_path):
    cli("demo", tmp_path / "d", "--samples", "60", "--no-production", cwd=tmp_path, check=0)
    project = tmp_path / "d"
    runs = json.loads(cli("runs", "--json", cwd=project, check=0).stdout)
    # Newest first: the audit's two runs, the wordy system, the pairwise judge run, then the
    # two prompt versions.
    assert [r["n_results"] for r in runs[2:]] == [60, 60, 60, 60]
    assert runs[3]["subjects"] == ["judge"]
    newest, oldest = runs[4]["id"], runs[5]["id"]
    # The shortest prefix of `newest` no other run shares (runs started in the same second
    # share "YYYYMMDD-HHMMSS-"; a fixed length would sometimes be ambiguous).
    ids = [r["id"] for r in runs]
    prefix = next(
        newest[:k]
        for k in range(17, len(newest) + 1)
        if sum(i.startswith(newest[:k]) for i in ids) == 1
    )

    shown = json.loads(cli("show", newest, "--json", cwd=project, check=0).stdout)
    overall = [m for m in shown["metrics"] if m["scorer"] == "exact" and m["group"] == "all"][0]
    assert (
        overall["n"] == 60
        and overall["method"] == "wilson"
        and overall["low"] < overall["estimate"] < overall["high"]
    )
    assert {m["group"] for m in shown["metrics"]} >= {
        "slice=arithmetic",
        "slice=units",
        "slice=sequences",
    }

    diff = json.loads(cli("diff", oldest, newest, "--json", cwd=project, check=0).stdout)
    assert diff["changes"][0]["category"] == "prompt"
    assert {c["category"] for c in diff["changes"]} == {"prompt"}

    for fmt in ("jsonl", "csv", "parquet"):
        target = tmp_path / f"out.{fmt}"
        cli("export", prefix, "--format", fmt, "--output", target, cwd=project, check=0)
        if fmt == "jsonl":
            rows = [json.loads(line) for line in target.read_text().splitlines()]
        elif fmt == "csv":
            rows = list(csv.DictReader(target.open()))
        else:
            rows = pq.read_table(target).to_pylist()
        assert len(rows) == 60
        assert {"sample_id", "output", "score.exact", "score.includes", "meta.slice"} <= set(
            rows[0]
        )


def test_api_key_never_stored_logged_or_exported(cli, tmp_path):
    from assay.testing import MockOpenAIServer

    secret = "sk-assay-test-0123456789-SECRET"
    server = MockOpenAIServer(model="mock-model-2026", require_api_key=secret).start_in_thread()
    try:
        (tmp_path / "data.jsonl").write_text(
            "".join(
                json.dumps(
                    {"id": f"q{i}", "input": f"question {i}", "target": f"echo: question {i}"}
                )
                + "\n"
                for i in range(5)
            )
        )
        (tmp_path / "eval.yaml").write_text(
            "name: keyed\ndataset: {path: data.jsonl}\n"
            f"providers:\n  local: {{type: openai, base_url: '{server.base_url}', api_key_env: MY_KEY}}\n"
            "subjects:\n  - {name: bot, model: local/mock-model}\nscorers: [exact]\n"
        )
        proc = cli("run", "eval.yaml", cwd=tmp_path, env={"MY_KEY": secret}, check=0)
        exported = tmp_path / "out.jsonl"
        show = cli("show", "latest", "--json", cwd=tmp_path, check=0)
        cli("export", "latest", "-o", exported, cwd=tmp_path, check=0)
        diff = cli("diff", "latest", "latest", cwd=tmp_path, check=0)
    finally:
        server.stop()
    summary = json.loads(show.stdout)
    assert summary["metrics"][0]["estimate"] == 1.0
    assert summary["subjects"][0]["resolved_models"] == ["mock-model-2026"]
    haystacks = [proc.stdout, proc.stderr, show.stdout, diff.stdout, exported.read_text()]
    for path in (tmp_path / ".assay").rglob("*"):
        if path.is_file():
            haystacks.append(path.read_bytes().decode("utf-8", errors="replace"))
    con = sqlite3.connect(tmp_path / ".assay" / "assay.db")
    for (table,) in con.execute("select name from sqlite_master where type='table'"):
        haystacks.append(repr(con.execute(f"select * from {table}").fetchall()))
    assert all(secret not in h for h in haystacks)
    assert any("mock-model-2026" in h for h in haystacks)  # the grep does look at the data


def test_sigkill_mid_run_keeps_every_committed_result(cli, tmp_path):
    n = 10_000
    (tmp_path / "data.jsonl").write_text(
        "".join(
            json.dumps({"id": f"q{i}", "input": f"q{i}", "target": f"a{i}", "slice": f"s{i % 3}"})
            + "\n"
            for i in range(n)
        )
    )
    (tmp_path / "eval.yaml").write_text(
        "name: big\ndataset: {path: data.jsonl}\nslices: [slice]\nconcurrency: 16\n"
        "providers:\n  sim:\n    type: sim\n    systems:\n"
        "      slow: {family: atlas, ability: 0.5, latency_ms: 20}\n"
        "subjects:\n  - {name: s, model: sim/slow}\n"
    )
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
    deadline = time.time() + 120
    count = 0
    try:
        while time.time() < deadline:
            if db.exists():
                try:
                    con = sqlite3.connect(db, timeout=1)
                    count = con.execute("select count(*) from results").fetchone()[0]
                    con.close()
                except sqlite3.OperationalError:
                    count = 0
                if count >= n // 2:
                    break
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count >= n // 2
    store = Store(str(db))
    run = store.list_runs()[0]
    results = list(store.iter_results(run.id))
    assert run.status == "interrupted"
    assert n // 2 <= len(results) < n
    assert all(r.ok and [s.scorer for s in r.scores] == ["exact"] for r in results)
    assert len({r.sample_id for r in results}) == len(results)
    store.close()
    shown = json.loads(cli("show", run.id, "--json", cwd=tmp_path, check=0).stdout)
    assert shown["run"]["status"] == "interrupted"
    assert [m for m in shown["metrics"] if m["group"] == "all"][0]["n"] == len(results)
