"""Migrations: they create exactly tables.py, run once, and are skipped when already at head."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from assay.core import StoreError
from assay.store import Store, migrate
from assay.store.tables import metadata

#: Every store here is migrated by Alembic, not copied from the session's migrated template
#: (tests/store/conftest.py): these tests check the migrations themselves.
MIGRATE_EACH_STORE = True

TABLES = {
    "alembic_version",
    "runs",
    "manifests",
    "samples",
    "results",
    "scores",
    "response_cache",
    "judge_certificates",
    # production traffic (0004)
    "traces",
    "spans",
    "span_events",
    "retrievals",
    "tool_calls",
    "trace_scores",
    "feedback",
    "outcomes",
    "redaction_reports",
    "trace_placeholders",
    "store_settings",
    "cases",
    "review_queues",
    "review_items",
    "review_labels",
    # agent, RAG and privacy assurance (0006)
    "ingestion_batches",
    "corpus_reports",
    "dead_letters",
    "dead_letter_replays",
    # monitoring quality in production (0007)
    "monitor_points",
    "monitor_changes",
    "substrate_events",
    "alerts",
    "alert_deliveries",
    "online_judgements",
    "embedding_probes",
    # change management (0008)
    "prompt_versions",
    "prompt_changes",
    "prompt_labels",
    "prompt_promotions",
    "model_eol",
    "dataset_versions",
    "claims",
    # web UI at scale (0009)
    "run_labels",
    "run_summaries",
    # incremental monitoring passes (0012)
    "monitor_rollups",
    "monitor_marks",
    "monitor_state",
}


def test_head_revision_constant_matches_the_scripts() -> None:
    assert migrate.script_head() == migrate.HEAD_REVISION


def test_migrated_schema_matches_tables_py(store: Store) -> None:
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == TABLES
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
        assert diff == []
        unique = inspect(conn).get_unique_constraints("results")
        assert [sorted(u["column_names"]) for u in unique] == [
            ["epoch", "run_id", "sample_id", "subject"]
        ]


def test_opening_twice_is_idempotent_and_keeps_data(backend, build) -> None:  # type: ignore[no-untyped-def]
    first = backend.open()
    first.create_run(build.manifest(), build.samples(), n_planned=2)
    first.add_results("run-0001", [build.result("alpha", "q1")])
    first.close()
    second = backend.open()
    third = backend.open()
    with second.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [migrate.HEAD_REVISION]
    assert [r.n_results for r in third.list_runs()] == [1]
    assert list(second.iter_results("run-0001")) == [build.result("alpha", "q1")]


def test_fast_path_skips_alembic_at_head(backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[object] = []
    real_upgrade = migrate.upgrade

    def counting_upgrade(engine) -> None:  # type: ignore[no-untyped-def]
        calls.append(engine)
        real_upgrade(engine)

    monkeypatch.setattr(migrate, "upgrade", counting_upgrade)
    backend.open()
    assert len(calls) == 1  # a new database is migrated
    backend.open()
    backend.open()
    assert len(calls) == 1  # and then never again


def test_downgrade_and_upgrade_again(backend) -> None:  # type: ignore[no-untyped-def]
    store = backend.open()
    config = migrate.alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        assert migrate.current_revision(store.engine) is None
    reopened = backend.open()
    with reopened.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == TABLES
    assert migrate.current_revision(reopened.engine) == migrate.HEAD_REVISION


def test_a_database_from_a_newer_assay_is_refused(backend) -> None:  # type: ignore[no-untyped-def]
    store = backend.open()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.close()
    with pytest.raises(StoreError, match=r"'9999_future'.*upgrade assay"):
        backend.open()


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store at postgresql") as caught:
        Store("postgresql://nobody:pw@127.0.0.1:1/nothing")
    assert "pw" not in str(caught.value)
    assert "ASSAY_DB" in str(caught.value)


def test_concurrent_first_opens_of_a_new_database(backend) -> None:  # type: ignore[no-untyped-def]
    """Several connections migrate a new database at the same moment; exactly one creates it."""
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []
    opened: list[Store] = []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(Store(backend.url, connect_args=backend.connect_args))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backend.opened.extend(opened)
    assert errors == []
    assert len(opened) == n
    assert migrate.current_revision(opened[0].engine) == migrate.HEAD_REVISION
    with opened[0].engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


@pytest.mark.slow
def test_concurrent_first_opens_from_several_processes(backend, subprocess_env) -> None:  # type: ignore[no-untyped-def]
    """Processes (started together, after their imports) migrate a new database at once."""
    script = (
        "import json, sys\n"
        "from assay.store import Store\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "s = Store(sys.argv[1], connect_args=json.loads(sys.argv[2])); s.list_runs(); s.close()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, backend.url, json.dumps(backend.connect_args)],
            env=subprocess_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outcomes = [proc.communicate(timeout=120) for proc in procs]
    assert [(p.returncode, err) for p, (_, err) in zip(procs, outcomes, strict=True)] == [
        (0, "")
    ] * len(procs)
    store = backend.open()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            migrate.HEAD_REVISION
        ]
