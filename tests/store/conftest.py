"""Fixtures of the store tests: every test that takes ``store`` or ``backend`` runs twice, on a
SQLite file and on the local PostgreSQL server (each test in a fresh schema). A test that takes
``store`` starts at head without running Alembic (``_starts_migrated``).

PostgreSQL is ``$ASSAY_TEST_PG_URL`` or ``postgresql+psycopg://postgres@127.0.0.1:5432/test``.
When it is unreachable the PostgreSQL half is skipped, unless ``ASSAY_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import assay.store
from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    Message,
    Output,
    Provenance,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
    Usage,
)
from assay.store import Store

PG_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_problem: list[str | None] = []


def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (``None`` when it can); checked once per session."""
    if not _pg_problem:
        engine = create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            _pg_problem.append(None)
        except Exception as error:
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            _pg_problem.append(f"PostgreSQL at {PG_URL} is unreachable: {first_line}")
        finally:
            engine.dispose()
    return _pg_problem[0]


@dataclass
class Backend:
    """A database for one test; :meth:`open` opens a :class:`Store` on it (closed at teardown)."""

    name: str
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)
    opened: list[Store] = field(default_factory=list)

    def open(self, url: str | None = None) -> Store:
        store = Store(url or self.url, connect_args=self.connect_args)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


def _starts_migrated(request: pytest.FixtureRequest) -> bool:
    """Whether the test's database starts at head without running Alembic: when the test takes
    ``store`` (directly or through another fixture), unless its module sets
    ``MIGRATE_EACH_STORE = True`` (the migration tests). SQLite: a copy of the session's migrated
    file (tests/conftest.py); PostgreSQL: its new schema gets the statements Alembic sent once
    this session (:func:`_replay_migration`). A test that takes only ``backend`` gets an empty
    database, and its first ``open()`` migrates it.

    (Copying a template *database* on PostgreSQL, ``CREATE DATABASE ... TEMPLATE``, was tried and
    was no faster on the 2-core CI machine: the copy and the checkpoints it and ``DROP DATABASE``
    force cost what the DDL does.)"""
    return "store" in request.fixturenames and not getattr(
        request.module, "MIGRATE_EACH_STORE", False
    )


#: The statements Alembic sent to bring a new PostgreSQL schema to head, recorded once per
#: session by :func:`_migration_statements`.
_MIGRATION: list[tuple[str, Any, bool]] = []


def _migration_statements(admin: Any) -> list[tuple[str, Any, bool]]:
    """Migrate a throwaway schema with Alembic (:func:`assay.store.migrate.upgrade`) once per
    session, recording every statement it sends (SQLAlchemy's ``before_cursor_execute`` event),
    then drop the schema. The statements name no schema (the search path chooses it), which
    is checked, so replaying them in another new schema builds the same tables, indexes,
    triggers, functions and rows, ``alembic_version`` included."""
    if _MIGRATION:
        return _MIGRATION
    from sqlalchemy import event

    from assay.store.engine import make_engine
    from assay.store.migrate import HEAD_REVISION, current_revision, upgrade

    schema = f"t_{uuid.uuid4().hex}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = {"options": f"-csearch_path={schema}"}
    engine = make_engine(PG_URL, poolclass=NullPool, connect_args=options)
    recorded: list[tuple[str, Any, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        recorded.append((statement, parameters, executemany))

    try:
        event.listen(engine, "before_cursor_execute", record)
        upgrade(engine)
        event.remove(engine, "before_cursor_execute", record)
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    named = [s for s, p, _ in recorded if schema in s or schema in repr(p)]
    assert not named, f"a migration statement names its schema: {named[0]}"
    _MIGRATION.extend(recorded)
    return _MIGRATION


def _replay_migration(admin: Any, connect_args: dict[str, Any]) -> None:
    """Bring the new schema of ``connect_args`` to head by replaying the recorded migration in
    one transaction: the same statements, without Alembic's Python side (loading every script,
    compiling each DDL construct)."""
    statements = _migration_statements(admin)
    engine = create_engine(PG_URL, poolclass=NullPool, connect_args=connect_args)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters, many in statements:
            (cursor.executemany if many else cursor.execute)(statement, parameters)
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "store" / "assay.db"
        if _starts_migrated(request):
            request.getfixturevalue("new_store_db")(path)
        sqlite = Backend("sqlite", f"sqlite:///{path}")
        yield sqlite
        sqlite.close_all()
        return

    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{problem} (and ASSAY_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    schema = f"t_{uuid.uuid4().hex}"
    admin = create_engine(PG_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    postgres = Backend("postgres", PG_URL, {"options": f"-csearch_path={schema}"})
    try:
        if _starts_migrated(request):
            _replay_migration(admin, postgres.connect_args)
        yield postgres
    finally:
        postgres.close_all()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for a child Python that imports this checkout's ``assay``."""
    src = str(Path(assay.store.__file__).resolve().parents[2])
    path = [src, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


# -- test objects, built with the core models ----------------------------------------------------

T0 = datetime(2024, 11, 22, 9, 30, 0, 123456, tzinfo=UTC)


class Build:
    """Factories of core objects for the store tests."""

    @staticmethod
    def at(minutes: int) -> datetime:
        """A fixed instant ``minutes`` after the reference time."""
        return T0 + timedelta(minutes=minutes)

    @staticmethod
    def manifest(
        run_id: str = "run-0001",
        *,
        started_at: datetime = T0,
        finished_at: datetime | None = None,
        subjects: tuple[str, ...] = ("alpha", "beta"),
        sample_ids: tuple[str, ...] = ("q1", "q2", "q3"),
        resolved: tuple[str, ...] = (),
    ) -> RunManifest:
        return RunManifest(
            run_id=run_id,
            name="arith",
            spec_hash="f" * 64,
            dataset=DatasetManifest(
                name="arith",
                source="data/arith.jsonl",
                content_hash="d" * 64,
                n_samples=len(sample_ids),
                sample_ids=list(sample_ids),
            ),
            subjects=[
                SubjectManifest(
                    name=name,
                    kind="model",
                    provider="sim",
                    requested_model=f"sim-{name}",
                    resolved_models=list(resolved),
                    prompt_template="Q: {input}\nA:",
                    prompt_hash="p" * 64,
                    params={"temperature": 0.7, "max_tokens": 64},
                )
                for name in subjects
            ],
            scorers=[ScorerManifest(name="exact", version="1", config={"strip": True})],
            epochs=2,
            seed=7,
            slices=["topic"],
            environment=EnvironmentManifest(
                assay_version="0.1.0",
                git_sha="abc123",
                python="3.11.7",
                platform="linux",
                tool_versions={"sqlalchemy": "2.1"},
            ),
            started_at=started_at,
            finished_at=finished_at,
        )

    @staticmethod
    def samples() -> list[Sample]:
        return [
            Sample(id="q1", input="What is 2+2?", target="4", metadata={"topic": "add"}),
            Sample(
                id="q2",
                input=(
                    Message(role="system", content="Answer tersely."),
                    Message(role="user", content="Name a prime > 10 — any one. «ünïcödé»"),
                ),
                target=("11", "13", "17"),
                metadata={"topic": "primes", "difficulty": 0.75, "tags": ["a", "b"], "n": 3},
                cluster="doc-7",
                provenance=Provenance(
                    origin="incident",
                    source_ref="TICKET-42",
                    licence="CC-BY-4.0",
                    consent_status="granted",
                    collected_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
                    parent_ids=("p1", "p2"),
                    ai_generated=True,
                ),
            ),
            Sample(id="q3", input="Say nothing.", target=None),
        ]

    @staticmethod
    def result(
        subject: str,
        sample_id: str,
        epoch: int = 0,
        *,
        text: str = "4",
        value: float | None = 1.0,
        error: str | None = None,
    ) -> SampleResult:
        if error is not None:
            return SampleResult(
                subject=subject,
                sample_id=sample_id,
                epoch=epoch,
                error=error,
                error_class="rate_limited",
                attempts=3,
            )
        return SampleResult(
            subject=subject,
            sample_id=sample_id,
            epoch=epoch,
            output=Output(
                text=text,
                model="sim-alpha-2024-08-06",
                system_fingerprint="fp_1",
                finish_reason="stop",
                usage=Usage(input_tokens=12, output_tokens=3, total_tokens=15),
                latency_ms=123.456,
                raw={"id": "cmpl-1", "choices": [{"index": 0, "logprobs": None}], "x": 1.5},
                metadata={"sim": {"correct": True}},
            ),
            scores=[
                Score(scorer="exact", value=value, answer=text, explanation="matched"),
                Score(
                    scorer="judge",
                    value=None,
                    error="judge timed out",
                    metadata={"attempts": 2, "ratio": 0.5},
                ),
            ],
            cached=True,
        )


@pytest.fixture
def build() -> type[Build]:
    return Build
