"""Listing runs, resolving run references, and telling a dead run from a running one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import update

from assay.core import StoreError
from assay.store import Store
from assay.store.leases import lease_key
from assay.store.tables import store_settings


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _lease(store: Store, run_id: str, owner: str, expires_ms: int) -> None:
    """Write run ``run_id``'s lease as another process would have left it."""
    with store.engine.begin() as conn:
        conn.execute(
            update(store_settings)
            .where(store_settings.c.key == lease_key(run_id))
            .values(value=f"{expires_ms:015d} {owner}")
        )


def test_list_runs_newest_first_with_counts(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    assert store.list_runs() == []
    store.create_run(build.manifest("run-old", started_at=build.at(0)), [], n_planned=10)
    store.create_run(build.manifest("run-new", started_at=build.at(60)), [], n_planned=4)
    store.create_run(
        build.manifest("run-mid", started_at=build.at(30), subjects=("solo",)), [], n_planned=3
    )
    store.add_results(
        "run-old",
        [
            build.result("alpha", "q1"),
            build.result("alpha", "q2"),
            build.result("alpha", "q3", error="boom"),
            build.result("beta", "q1", error="boom"),
            build.result("beta", "q2"),
        ],
    )
    store.add_results("run-mid", [build.result("solo", "q1")])

    listed = store.list_runs()
    assert [r.id for r in listed] == ["run-new", "run-mid", "run-old"]
    counts = {r.id: (r.n_results, r.n_errors, r.n_planned) for r in listed}
    assert counts == {"run-new": (0, 0, 4), "run-mid": (1, 0, 3), "run-old": (5, 2, 10)}
    assert listed[1].subjects == ["solo"]
    assert listed[0].started_at == build.at(60)
    assert all(r.status == "running" for r in listed)

    assert [r.id for r in store.list_runs(limit=2)] == ["run-new", "run-mid"]
    assert store.get_run("run-old") == listed[2]


def test_resolve_run_id(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    ids = ["20241122-aaa1", "20241122-aab2", "20241123-bbb3", "run_x1", "runAx2"]
    for minutes, run_id in enumerate(ids):
        store.create_run(build.manifest(run_id, started_at=build.at(minutes)), [], n_planned=1)

    assert store.resolve_run_id("20241122-aab2") == "20241122-aab2"  # exact
    assert store.resolve_run_id("20241123") == "20241123-bbb3"  # unique prefix
    assert store.resolve_run_id("20241122-aaa") == "20241122-aaa1"
    assert store.resolve_run_id(" 20241123-b ") == "20241123-bbb3"
    assert store.resolve_run_id("run_") == "run_x1"  # "_" is not a wildcard
    assert store.resolve_run_id("latest") == "runAx2"
    assert store.resolve_run_id("last") == "runAx2"
    assert store.resolve_run_id("latest~1") == "run_x1"
    assert store.resolve_run_id("last~4") == "20241122-aaa1"

    with pytest.raises(StoreError) as ambiguous:
        store.resolve_run_id("20241122")
    message = str(ambiguous.value)
    assert "ambiguous" in message
    assert "20241122-aaa1" in message and "20241122-aab2" in message
    assert "20241123-bbb3" not in message
    assert "run `assay runs` to list run ids" in message

    with pytest.raises(StoreError) as unknown:
        store.resolve_run_id("zzz")
    message = str(unknown.value)
    assert "no run matches 'zzz'" in message
    assert "runAx2" in message  # the newest ids are offered as candidates
    assert "run `assay runs` to list run ids" in message

    with pytest.raises(StoreError, match="only 5 runs stored"):
        store.resolve_run_id("latest~5")
    with pytest.raises(StoreError, match="no run matches 'r%'"):
        store.resolve_run_id("r%")  # "%" is not a wildcard either
    with pytest.raises(StoreError, match="empty run reference"):
        store.resolve_run_id("  ")


def test_resolve_run_id_on_an_empty_store(store: Store) -> None:
    for ref in ("latest", "abc"):
        with pytest.raises(StoreError, match="has no runs yet"):
            store.resolve_run_id(ref)


def test_runs_started_in_the_same_instant_order_by_creation(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    for run_id in ("b-first", "a-second", "c-third"):
        store.create_run(build.manifest(run_id), [], n_planned=1)
    assert [r.id for r in store.list_runs()] == ["c-third", "a-second", "b-first"]
    assert store.resolve_run_id("latest~2") == "b-first"


def test_a_running_run_whose_process_died_is_interrupted(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    """A run's liveness is its lease (assay.store.leases): a dead process of this host, an
    expired lease or none at all make it ``interrupted``; another host's live lease is trusted
    until it expires."""
    host = socket.gethostname()
    for minutes, run_id in enumerate(("run-live", "run-dead", "run-away", "run-gone", "run-done")):
        store.create_run(build.manifest(run_id, started_at=build.at(minutes)), [], n_planned=1)
    later = int(time.time() * 1000) + 600_000
    _lease(store, "run-dead", f"{host}:{_dead_pid()}:0badf00d", later)
    _lease(store, "run-away", "some-other-host:1:0badf00d", later)  # PID 1 in a container
    _lease(store, "run-gone", "some-other-host:1:0badf00d", int(time.time() * 1000) - 1)
    store.finish_run("run-done", build.manifest("run-done", started_at=build.at(4)), "completed")

    statuses = {r.id: r.status for r in store.list_runs()}
    assert statuses == {
        "run-live": "running",  # this very process
        "run-dead": "interrupted",
        "run-away": "running",
        "run-gone": "interrupted",
        "run-done": "completed",
    }
    assert store.get_run("run-dead").status == "interrupted"

    # resuming claims the run for this process again
    store.resume_run("run-dead")
    assert store.get_run("run-dead").status == "running"
    with pytest.raises(StoreError, match="no run with id 'nope'"):
        store.resume_run("nope")


def test_store_url_masks_the_password(backend) -> None:  # type: ignore[no-untyped-def]
    if backend.name == "sqlite":
        store = backend.open()
        assert store.url == backend.url
        assert os.path.exists(backend.url.removeprefix("sqlite:///"))
        return
    with_password = backend.url.replace("postgres@", "postgres:s3cret@")
    store = backend.open(with_password)
    assert "s3cret" not in store.url
    assert store.url == backend.url.replace("postgres@", "postgres:***@")
    assert "s3cret" not in repr(store)
