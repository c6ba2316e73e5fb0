"""A run stopped by SIGTERM, or left ``running`` by a process that died on another host, is
resumed by ``assay run`` (issue 20, section 9): on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from assay.store import Store

SRC = str(Path(__file__).resolve().parents[2] / "src")
N = 240
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _project(tmp_path: Path) -> Path:
    (tmp_path / "data.jsonl").write_text(
        "".join(
            json.dumps({"id": f"q{i}", "input": f"q{i}", "target": f"a{i}"}) + "\n"
            for i in range(N)
        )
    )
    spec = tmp_path / "eval.yaml"
    spec.write_text(
        "name: leased\ndataset: {path: data.jsonl}\nconcurrency: 4\n"
        "providers:\n  sim:\n    type: sim\n    systems:\n"
        "      slow: {family: atlas, ability: 0.5, latency_ms: 40}\n"
        "subjects:\n  - {name: s, model: sim/slow}\nscorers: [exact]\n"
    )
    return spec


def _cli_url(backend) -> str:  # type: ignore[no-untyped-def]
    """The backend's URL as the CLI takes it (PostgreSQL: its schema in ``options``)."""
    if backend.name == "sqlite":
        return backend.url
    return f"{backend.url}?options={quote(backend.connect_args['options'])}"


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200", "NO_COLOR": "1", **extra}
    env.pop("ASSAY_DB", None)
    return env


def _assay(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args],
        cwd=tmp_path,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def _assay_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path, *args: str
) -> tuple[int, str]:
    """``assay ARGS`` in this process, as the CLI's ``main`` (exit code, stderr): no interpreter
    start and no imports, so it answers within a fraction of a second even on a busy machine."""
    from assay.cli import main

    monkeypatch.chdir(cwd)
    for name, value in (("COLUMNS", "200"), ("NO_COLOR", "1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ASSAY_DB", raising=False)
    monkeypatch.setattr(sys, "argv", ["assay", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main()
    return int(stopped.value.code or 0), capsys.readouterr().err


def _wait_for_results(store: Store, proc: subprocess.Popen[bytes], at_least: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be stopped"
        runs = store.list_runs()
        if runs and runs[0].n_results >= at_least:
            return
        time.sleep(0.05)
    pytest.fail("the run stored too few results in 120 s")


def _complete_without_duplicates(store: Store) -> None:
    run = store.list_runs()[0]
    results = list(store.iter_results(run.id))
    assert run.status == "completed"
    assert len(results) == N == len({r.sample_id for r in results})


def test_sigterm_flushes_marks_interrupted_and_the_run_resumes(backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path)
    url = _cli_url(backend)
    store = backend.open()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", "run", "eval.yaml", "--db", url],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_results(store, proc, N // 4)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    run = store.list_runs()[0]
    assert run.status == "interrupted"  # marked by the process itself, not inferred
    assert store.run_lease(run.id) is None  # and its lease given up
    assert N // 4 <= run.n_results < N

    resumed = _assay(tmp_path, "run", "eval.yaml", "--db", url)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming unfinished run {run.id}" in resumed.stderr
    _complete_without_duplicates(store)


CHILD = """
import runpy, socket, sys
socket.gethostname = lambda: "another-host"  # the run is written from "another host"
sys.argv = ["assay", "run", "eval.yaml", "--db", sys.argv[1]]
runpy.run_module("assay", run_name="__main__")
"""


def test_a_run_left_running_on_another_host_resumes_once_its_lease_expires(
    backend, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path)
    url = _cli_url(backend)
    store = backend.open()
    # The child renews its lease every ttl/3, so at the kill the lease has between 2·ttl/3 and
    # ttl left: 3.3 s or more here, for the refused `assay run` below, which runs in this
    # process (no interpreter start) and takes well under a second. Once it has been refused,
    # the test waits out the rest of the lease.
    ttl = 5.0
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        cwd=tmp_path,
        env=_env(ASSAY_RUN_LEASE_TTL=str(ttl)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_results(store, proc, N // 4)
        proc.kill()  # SIGKILL: nothing is flushed, the lease is left behind
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = store.list_runs()[0]
    lease = store.run_lease(run.id)
    assert lease is not None and lease.owner.startswith("another-host:")
    assert run.status == "running"  # this host cannot tell that process is gone

    code, err = _assay_here(monkeypatch, capsys, tmp_path, "run", "eval.yaml", "--db", url)
    assert code == 2, err
    assert "still running" in err and "another-host:" in err
    assert "UTC" in err

    time.sleep(max(0.0, lease.expires_ms / 1000 - time.time()) + 0.3)
    assert store.get_run(run.id).status == "interrupted"
    resumed = _assay(tmp_path, "run", "eval.yaml", "--db", url)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming unfinished run {run.id}" in resumed.stderr
    _complete_without_duplicates(store)


def test_the_heartbeat_renews_the_lease_and_reports_losing_it(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    from assay.run.heartbeat import Heartbeat
    from assay.store.leases import RunLease, lease_key
    from assay.store.tables import store_settings

    store.lease_ttl = 0.6
    store.create_run(build.manifest("run-hb"), [], n_planned=1)
    first = store.run_lease("run-hb")
    lost: list[str] = []
    beat = Heartbeat(store, "run-hb", lost.append).start()
    try:
        time.sleep(0.75)
        renewed = store.run_lease("run-hb")
        assert beat.beats >= 2 and not lost
        assert first is not None and renewed is not None
        assert renewed.expires_ms > first.expires_ms and renewed.owner == first.owner
        taken = RunLease("elsewhere:7:abcd", int(time.time() * 1000) + 60_000).value()
        with store.engine.begin() as conn:
            conn.execute(
                store_settings.update()
                .where(store_settings.c.key == lease_key("run-hb"))
                .values(value=taken)
            )
        deadline = time.time() + 5
        while not lost and time.time() < deadline:
            time.sleep(0.05)
    finally:
        beat.stop()
    assert len(lost) == 1 and "elsewhere:7:abcd" in lost[0] and "lost the lease" in lost[0]
