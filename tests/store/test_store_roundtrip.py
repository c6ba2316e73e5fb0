"""What goes into the store comes out unchanged: manifests, samples, results, scores."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from assay.core import Output, SampleResult, Score, StoreError
from assay.store import Store, tables


def _count(store: Store, table, run_id: str) -> int:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(table).where(table.c.run_id == run_id)
        ).scalar_one()


def test_manifest_samples_and_spec_round_trip(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    manifest = build.manifest()
    samples = build.samples()
    spec = {"name": "arith", "subjects": [{"model": "sim-alpha"}], "epochs": 2, "t": 0.7}
    store.create_run(manifest, samples, n_planned=12, spec=spec)

    assert store.get_manifest("run-0001") == manifest
    assert store.get_manifest("run-0001").fingerprint == manifest.fingerprint
    assert store.get_spec("run-0001") == spec

    stored = store.get_samples("run-0001")
    assert stored == samples  # order, chat input, tuple targets, metadata, provenance
    assert [s.id for s in stored] == ["q1", "q2", "q3"]
    q2 = stored[1]
    assert q2.input[1].content == "Name a prime > 10 — any one. «ünïcödé»"  # type: ignore[union-attr]
    assert q2.targets == ("11", "13", "17")
    assert q2.metadata == {"topic": "primes", "difficulty": 0.75, "tags": ["a", "b"], "n": 3}
    assert q2.provenance.collected_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert q2.provenance.parent_ids == ("p1", "p2")
    assert stored[2].target is None
    assert [s.content_hash() for s in stored] == [s.content_hash() for s in samples]

    info = store.get_run("run-0001")
    assert info.status == "running"
    assert info.name == "arith"
    assert info.subjects == ["alpha", "beta"]
    assert info.n_planned == 12
    assert (info.n_results, info.n_errors) == (0, 0)
    assert info.fingerprint == manifest.fingerprint
    assert info.spec_hash == "f" * 64
    assert info.started_at == manifest.started_at
    assert info.started_at.tzinfo is not None
    assert info.finished_at is None


def test_results_round_trip_with_scores_and_errors(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest(), build.samples(), n_planned=12)
    written = [
        build.result("beta", "q2", 1, text="13", value=1.0),
        build.result("alpha", "q1", 0, text="4", value=1.0),
        build.result("alpha", "q2", 0, error="429 Too Many Requests"),
        build.result("alpha", "q1", 1, text="5", value=0.0),
        SampleResult(
            subject="beta",
            sample_id="q1",
            output=Output(text=""),
            scores=[Score(scorer="exact", value=0.25, answer=None)],
        ),
    ]
    store.add_results("run-0001", written[:2])
    store.add_results("run-0001", written[2:])

    expected = sorted(written, key=lambda r: (r.subject, r.sample_id, r.epoch))
    got = list(store.iter_results("run-0001"))
    assert got == expected
    assert [(r.subject, r.sample_id, r.epoch) for r in got] == [
        ("alpha", "q1", 0),
        ("alpha", "q1", 1),
        ("alpha", "q2", 0),
        ("beta", "q1", 0),
        ("beta", "q2", 1),
    ]
    first = got[0]
    assert first.output is not None
    assert first.output.raw == {
        "id": "cmpl-1",
        "choices": [{"index": 0, "logprobs": None}],
        "x": 1.5,
    }
    assert first.output.usage.input_tokens == 12
    assert first.output.latency_ms == 123.456
    assert first.cached is True
    assert [(s.scorer, s.value, s.error) for s in first.scores] == [
        ("exact", 1.0, None),
        ("judge", None, "judge timed out"),
    ]
    assert first.scores[1].metadata == {"attempts": 2, "ratio": 0.5}
    failed = got[2]
    assert (failed.output, failed.error, failed.error_class, failed.attempts, failed.scores) == (
        None,
        "429 Too Many Requests",
        "rate_limited",
        3,
        [],
    )

    # one subject only, and in small chunks (several partitions, each with its scores)
    beta = list(store.iter_results("run-0001", subject="beta", chunk_size=1))
    assert beta == [r for r in expected if r.subject == "beta"]
    assert list(store.iter_results("run-0001", chunk_size=2)) == expected

    info = store.get_run("run-0001")
    assert (info.n_results, info.n_errors, info.n_planned) == (5, 1, 12)
    assert _count(store, tables.scores, "run-0001") == 2 + 2 + 0 + 2 + 1
    assert store.completed_keys("run-0001") == {
        ("alpha", "q1", 0),
        ("alpha", "q1", 1),
        ("alpha", "q2", 0),
        ("beta", "q1", 0),
        ("beta", "q2", 1),
    }


def test_result_columns_hold_the_flat_fields(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest(), build.samples(), n_planned=2)
    before = datetime.now(UTC)
    store.add_results("run-0001", [build.result("alpha", "q1", text="four")])
    with store.engine.connect() as conn:
        row = conn.execute(select(tables.results)).one()
        score_rows = conn.execute(select(tables.scores).order_by(tables.scores.c.position)).all()
    assert row.output_text == "four"
    assert row.resolved_model == "sim-alpha-2024-08-06"
    assert row.system_fingerprint == "fp_1"
    assert row.finish_reason == "stop"
    assert (row.input_tokens, row.output_tokens) == (12, 3)
    assert row.latency_ms == pytest.approx(123.456)
    assert row.cached is True
    assert row.attempts == 1
    assert row.error is None
    assert len(row.id) == 32
    assert row.created_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= row.created_at <= datetime.now(UTC)
    assert [(s.scorer, s.value, s.answer, s.run_id) for s in score_rows] == [
        ("exact", 1.0, "four", "run-0001"),
        ("judge", None, None, "run-0001"),
    ]


def test_duplicate_results_keep_the_first(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest(), build.samples(), n_planned=4)
    original = build.result("alpha", "q1", text="4", value=1.0)
    store.add_results("run-0001", [original])

    replay = build.result("alpha", "q1", text="five", value=0.0)
    replay = replay.model_copy(update={"scores": [*replay.scores, Score(scorer="x", value=0.5)]})
    fresh = build.result("alpha", "q2", text="11", value=1.0)
    # a stored key, a new key, and the new key again within the same batch
    store.add_results("run-0001", [replay, fresh, build.result("alpha", "q2", text="dup")])

    got = list(store.iter_results("run-0001"))
    assert got == [original, fresh]
    assert _count(store, tables.results, "run-0001") == 2
    assert _count(store, tables.scores, "run-0001") == 4  # 2 + 2; none of the duplicate's 3 scores
    # a whole batch of duplicates is a no-op
    store.add_results("run-0001", [replay, replay])
    assert list(store.iter_results("run-0001")) == [original, fresh]


def test_same_key_in_different_runs_is_not_a_duplicate(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest("run-a"), build.samples(), n_planned=1)
    store.create_run(build.manifest("run-b"), build.samples(), n_planned=1)
    store.add_results("run-a", [build.result("alpha", "q1", text="A")])
    store.add_results("run-b", [build.result("alpha", "q1", text="B")])
    assert [r.output.text for r in store.iter_results("run-a")] == ["A"]  # type: ignore[union-attr]
    assert [r.output.text for r in store.iter_results("run-b")] == ["B"]  # type: ignore[union-attr]
    assert store.get_samples("run-b") == build.samples()


def test_finish_run_replaces_manifest_and_sets_status(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    manifest = build.manifest()
    store.create_run(manifest, build.samples(), n_planned=6)
    finished_at = datetime(2024, 11, 22, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    final = build.manifest(finished_at=finished_at, resolved=("sim-alpha-2024-08-06",))
    assert final.fingerprint != manifest.fingerprint
    store.finish_run("run-0001", final, "completed")

    assert store.get_manifest("run-0001") == final
    info = store.get_run("run-0001")
    assert info.status == "completed"
    assert info.finished_at == finished_at  # the same instant, reported in UTC
    assert info.finished_at.utcoffset() == timedelta(0)  # type: ignore[union-attr]
    assert info.finished_at.hour == 9  # type: ignore[union-attr]
    assert info.fingerprint == final.fingerprint

    # without a finish time in the manifest, the store uses now
    store.create_run(build.manifest("run-0002"), [], n_planned=0)
    before = datetime.now(UTC)
    store.finish_run("run-0002", build.manifest("run-0002"), "failed")
    info2 = store.get_run("run-0002")
    assert info2.status == "failed"
    assert info2.finished_at is not None
    assert before - timedelta(seconds=1) <= info2.finished_at <= datetime.now(UTC)

    with pytest.raises(ValueError, match="unknown run status"):
        store.finish_run("run-0001", final, "done")
    with pytest.raises(StoreError, match="no run with id 'nope'"):
        store.finish_run("nope", build.manifest("nope"), "completed")


def test_writes_that_cannot_succeed_raise_store_error(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest(), build.samples(), n_planned=1)
    with pytest.raises(StoreError, match="run ids must be unique"):
        store.create_run(build.manifest(), build.samples(), n_planned=1)
    samples = build.samples()
    with pytest.raises(StoreError, match="sample id 'q1' appears twice"):
        store.create_run(build.manifest("run-0002"), [*samples, samples[0]], n_planned=1)
    with pytest.raises(StoreError, match="no run with id 'ghost'") as caught:
        store.add_results("ghost", [build.result("alpha", "q1")])
    assert "assay runs" in str(caught.value)
    # nothing half-written by the failures
    assert [r.id for r in store.list_runs()] == ["run-0001"]
    assert _count(store, tables.samples, "run-0002") == 0
    assert _count(store, tables.results, "ghost") == 0
    for read in (store.get_manifest, store.get_samples, store.completed_keys, store.get_run):
        with pytest.raises(StoreError, match="no run with id 'ghost'"):
            read("ghost")
    with pytest.raises(StoreError):
        store.iter_results("ghost")


def test_concurrent_writers_from_threads(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest(), [], n_planned=8 * 50)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(5):
                store.add_results(
                    "run-0001",
                    [build.result(f"s{worker}", f"q{batch}-{i}") for i in range(10)],
                )
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    info = store.get_run("run-0001")
    assert (info.n_results, info.n_errors) == (400, 0)
    assert _count(store, tables.scores, "run-0001") == 800


def test_a_large_batch_with_stored_keys_in_it(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    store.create_run(build.manifest(), [], n_planned=1500)
    first = [build.result("alpha", f"s{i:04d}", text="old") for i in range(0, 1500, 5)]
    store.add_results("run-0001", first)
    batch = [build.result("alpha", f"s{i:04d}", text="new") for i in range(1500)]
    store.add_results("run-0001", batch)  # 1500 rows, 300 of them already stored

    got = list(store.iter_results("run-0001", chunk_size=10_000))
    assert len(got) == 1500
    texts = Counter(r.output.text for r in got)  # type: ignore[union-attr]
    assert texts == {"old": 300, "new": 1200}
    assert all(r.output.text == "old" for r in got if int(r.sample_id[1:]) % 5 == 0)  # type: ignore[union-attr]
    assert _count(store, tables.scores, "run-0001") == 3000
    assert [r.sample_id for r in got] == [f"s{i:04d}" for i in range(1500)]
