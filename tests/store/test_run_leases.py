"""Run leases (assay.store.leases): claimed atomically, renewed, expired, refused while live."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from assay.core import StoreError
from assay.store import Store
from assay.store.leases import RunLease, RunLeasedError, claim, lease_key, renew, this_owner
from assay.store.tables import store_settings

OTHER = "other-host:4242:deadbeef"


def _stored(store: Store, run_id: str) -> RunLease | None:
    with store.engine.connect() as conn:
        value = conn.execute(
            select(store_settings.c.value).where(store_settings.c.key == lease_key(run_id))
        ).scalar()
    return RunLease.parse(value)


def _hand_over(store: Store, run_id: str, owner: str, seconds: float) -> None:
    """Leave the lease as a process of another host would: ``owner``, ``seconds`` from now."""
    value = RunLease(owner, int((time.time() + seconds) * 1000)).value()
    with store.engine.begin() as conn:
        conn.execute(
            store_settings.update()
            .where(store_settings.c.key == lease_key(run_id))
            .values(value=value)
        )


def test_create_claims_and_finish_releases_the_lease(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    before = time.time()
    store.create_run(build.manifest("run-1"), [], n_planned=1)
    lease = _stored(store, "run-1")
    assert lease is not None and lease.owner == this_owner()
    assert before + store.lease_ttl - 1 <= lease.expires_ms / 1000 <= time.time() + store.lease_ttl
    assert store.renew_lease("run-1")
    store.finish_run("run-1", build.manifest("run-1"), "interrupted")
    assert _stored(store, "run-1") is None
    assert store.get_run("run-1").status == "interrupted"
    assert not store.renew_lease("run-1")  # nothing left to renew


def test_a_dead_process_on_another_host_is_resumable_after_the_ttl(backend, build) -> None:  # type: ignore[no-untyped-def]
    store = backend.open()
    store.create_run(build.manifest("run-x"), [], n_planned=1)
    _hand_over(store, "run-x", OTHER, 1.0)  # that host died right after renewing

    here = backend.open()  # a second process, as far as the store is concerned
    assert here.get_run("run-x").status == "running"
    with pytest.raises(RunLeasedError) as refused:
        here.resume_run("run-x")
    message = str(refused.value)
    assert OTHER in message and "UTC" in message and "--new" in message
    assert _stored(here, "run-x").owner == OTHER  # type: ignore[union-attr]

    time.sleep(1.1)
    assert here.get_run("run-x").status == "interrupted"
    here.resume_run("run-x")
    assert here.get_run("run-x").status == "running"
    assert _stored(here, "run-x").owner == this_owner()  # type: ignore[union-attr]


def test_a_run_taken_over_cannot_be_finished_or_renewed_by_its_old_owner(
    store: Store, build
) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest("run-2"), [], n_planned=1)
    _hand_over(store, "run-2", OTHER, 60)  # our lease lapsed and that host claimed the run
    assert not store.renew_lease("run-2")
    with pytest.raises(RunLeasedError, match=OTHER):
        store.finish_run("run-2", build.manifest("run-2"), "failed")
    assert store.get_run("run-2").status == "running"


def test_of_racing_claimers_of_an_expired_lease_exactly_one_wins(backend, build) -> None:  # type: ignore[no-untyped-def]
    store = backend.open()
    store.create_run(build.manifest("run-3"), [], n_planned=1)
    _hand_over(store, "run-3", OTHER, -5)  # expired
    writer = store.engine.execution_options(assay_write=True)
    owners = [f"host-{i}:{100 + i}:cafe{i:04d}" for i in range(6)]
    won: list[str] = []
    lost: list[str] = []
    start = threading.Barrier(len(owners))

    def contend(owner: str) -> None:
        start.wait()
        try:
            with writer.begin() as conn:
                claim(conn, "run-3", 60, owner=owner)
            won.append(owner)
        except RunLeasedError:
            lost.append(owner)

    threads = [threading.Thread(target=contend, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(won) == 1 and len(lost) == len(owners) - 1
    assert _stored(store, "run-3").owner == won[0]  # type: ignore[union-attr]
    with writer.begin() as conn:  # the winner renews; a loser cannot
        assert renew(conn, "run-3", 60, owner=won[0])
        assert not renew(conn, "run-3", 60, owner=lost[0])


def test_a_claim_with_no_lease_row_inserts_one_and_a_second_is_refused(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest("run-4"), [], n_planned=1)
    store.release_lease("run-4")
    assert _stored(store, "run-4") is None
    assert store.get_run("run-4").status == "interrupted"  # nobody holds it
    writer = store.engine.execution_options(assay_write=True)
    with writer.begin() as conn:
        claim(conn, "run-4", 60, owner=OTHER)
    with pytest.raises(StoreError, match="still running"):
        store.resume_run("run-4")


def test_a_bad_ttl_in_the_environment_is_named(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from assay.core import AssayError

    monkeypatch.setenv("ASSAY_RUN_LEASE_TTL", "soon")
    with pytest.raises(AssayError, match="ASSAY_RUN_LEASE_TTL='soon'"):
        Store(tmp_path / "x.db")
    monkeypatch.setenv("ASSAY_RUN_LEASE_TTL", "2.5")
    with Store(tmp_path / "x.db") as store:
        assert store.lease_ttl == 2.5
