"""What ``create_run`` and ``add_results`` store, column by column, on SQLite and PostgreSQL.

The store writes samples, results and scores through its own fast path (rows built by
:mod:`assay.store.codec`, sent to the driver as positional parameters). Here the same rows are
built independently from the core models and inserted the plain way (SQLAlchemy Core, with its
column types' own conversions) under a second run id; both runs are then read back as the
driver returns them, and every column of every row must be equal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, text

from assay.core import (
    Output,
    Provenance,
    Sample,
    SampleResult,
    content_hash,
)
from assay.store import Store, tables, writes

#: The times add_results stamps its two batches with (one without microseconds: SQLite's text
#: keeps its six digits even then).
STAMPS = (
    datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
    datetime(2025, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2))),
)
SHARED = Provenance(origin="incident", source_ref="TICKET-9", licence="CC0-1.0")
#: Equal to each other (the same instant) but serialised differently: a memo keyed by value
#: instead of by identity would store one sample's provenance for the other.
AT_UTC = Provenance(collected_at=datetime(2024, 1, 2, 12, 0, tzinfo=UTC))
AT_PLUS_2 = Provenance(
    collected_at=datetime(2024, 1, 2, 14, 0, tzinfo=timezone(timedelta(hours=2)))
)


def _samples(build: Any) -> list[Sample]:
    """The store tests' samples (a chat input, a tuple target, metadata, a cluster, their own
    provenance), then samples that share a provenance, and two with equal provenances that
    serialise differently."""
    assert AT_UTC == AT_PLUS_2 and AT_UTC.model_dump_json() != AT_PLUS_2.model_dump_json()
    return [
        *build.samples(),
        Sample(id="s4", input="When?", target="noon", provenance=AT_UTC),
        Sample(id="s5", input="Where?", target="here", provenance=AT_PLUS_2),
        Sample(id="s6", input="Who?", metadata={"x": {"y": 1.0}}, provenance=SHARED),
        Sample(id="s7", input="Why?", metadata={"n": 3, "ok": True, "no": None}, provenance=SHARED),
    ]


def _results(build: Any) -> tuple[list[SampleResult], list[SampleResult]]:
    """Two batches. In the second, q1 (stored by the first) and a repeat of s4 are ignored
    with their scores: the first write wins."""
    first = [
        build.result("alpha", "q1"),  # an output with every field, and two scores
        build.result("alpha", "q2", 1, error="rate limited"),
        SampleResult(subject="beta", sample_id="q2", output=Output(text="13")),
    ]
    second = [
        build.result("alpha", "q1", text="later", value=0.0),
        build.result("alpha", "s4", text="noon"),
        build.result("alpha", "s4", text="again", value=0.0),
    ]
    return first, second


# -- the reference: rows built from the models directly ------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _reference_sample_rows(run_id: str, samples: list[Sample]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "id": sample.id,
            "position": position,
            "content_hash": sample.content_hash(),
            "input_json": _json(
                sample.input
                if isinstance(sample.input, str)
                else [{"role": m.role, "content": m.content} for m in sample.input]
            ),
            "target_json": None if sample.target is None else _json(sample.target),
            "metadata_json": _json(sample.metadata),
            "cluster": sample.cluster,
            "provenance_json": sample.provenance.model_dump_json(),
        }
        for position, sample in enumerate(samples)
    ]


def _reference_result_rows(
    run_id: str, results: list[SampleResult], created_at: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    for r in results:
        rid = content_hash([run_id, r.subject, r.sample_id, r.epoch], length=32)
        out = r.output
        rows.append(
            {
                "id": rid,
                "run_id": run_id,
                "subject": r.subject,
                "sample_id": r.sample_id,
                "epoch": r.epoch,
                "output_text": None if out is None else out.text,
                "resolved_model": None if out is None else out.model,
                "system_fingerprint": None if out is None else out.system_fingerprint,
                "finish_reason": None if out is None else out.finish_reason,
                "input_tokens": None if out is None else out.usage.input_tokens,
                "output_tokens": None if out is None else out.usage.output_tokens,
                "latency_ms": None if out is None else out.latency_ms,
                "output_json": None if out is None else out.model_dump_json(),
                "error": r.error,
                "error_class": r.error_class,
                "attempts": r.attempts,
                "cached": r.cached,
                "created_at": created_at,
            }
        )
        score_rows.extend(
            {
                "result_id": rid,
                "position": position,
                "run_id": run_id,
                "scorer": s.scorer,
                "value": s.value,
                "answer": s.answer,
                "explanation": s.explanation,
                "error": s.error,
                "metadata_json": _json(s.metadata) if s.metadata else None,
            }
            for position, s in enumerate(r.scores)
        )
    return rows, score_rows


# -- reading back --------------------------------------------------------------------------------


def _stored(store: Store, table: str, run_id: str) -> list[dict[str, Any]]:
    """The run's rows of ``table`` as the driver returns them (no column type conversion)."""
    order = {"samples": "position", "results": "subject, sample_id, epoch", "scores": "1, 2"}
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT * FROM {table} WHERE run_id = :run ORDER BY {order[table]}"),
            {"run": run_id},
        )
        return [dict(row) for row in rows.mappings()]


def _without_run(rows: list[dict[str, Any]], ids: dict[str, str]) -> list[dict[str, Any]]:
    """``rows`` with the run id left out and result ids replaced by their natural key."""
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k != "run_id"}
        for column in ("id", "result_id"):
            if column in row and row[column] in ids:
                row[column] = ids[row[column]]
        out.append(row)
    return sorted(out, key=repr)


def _natural_keys(store: Store, run_id: str) -> dict[str, str]:
    return {
        row["id"]: f"{row['subject']}/{row['sample_id']}/{row['epoch']}"
        for row in _stored(store, "results", run_id)
    }


def test_stored_rows_equal_the_plain_insert_of_the_same_rows(store, build, monkeypatch):  # type: ignore[no-untyped-def]
    samples = _samples(build)
    first, second = _results(build)
    store.create_run(build.manifest("run-fast"), iter(samples), n_planned=len(samples))
    monkeypatch.setattr(writes, "_now", lambda: STAMPS[0])
    store.add_results("run-fast", first)
    # The second batch goes with a response-cache entry: put_cached's path stores it.
    monkeypatch.setattr(writes, "_now", lambda: STAMPS[1])
    store.add_results("run-fast", second, cache_entries=[("key-1", "sim", "m", Output(text="x"))])

    # The reference run: the same rows, built from the models and inserted with SQLAlchemy.
    store.create_run(build.manifest("run-plain"), [], n_planned=len(samples))
    with store.engine.begin() as conn:
        conn.execute(insert(tables.samples), _reference_sample_rows("run-plain", samples))
        for batch, stamp in (first, STAMPS[0]), ([second[1]], STAMPS[1]):
            result_rows, score_rows = _reference_result_rows("run-plain", batch, stamp)
            conn.execute(insert(tables.results), result_rows)
            conn.execute(insert(tables.scores), score_rows)

    fast_ids, plain_ids = _natural_keys(store, "run-fast"), _natural_keys(store, "run-plain")
    assert len(fast_ids) == 4 and sorted(fast_ids.values()) == sorted(plain_ids.values())
    # Result ids are the content hash of (run, subject, sample, epoch).
    for rid, key in fast_ids.items():
        subject, sample_id, epoch = key.split("/")
        assert rid == content_hash(["run-fast", subject, sample_id, int(epoch)], length=32)
    for table in ("samples", "results", "scores"):
        fast = _without_run(_stored(store, table, "run-fast"), fast_ids)
        plain = _without_run(_stored(store, table, "run-plain"), plain_ids)
        assert fast == plain, table
    scores = _stored(store, "scores", "run-fast")
    assert sorted((fast_ids[s["result_id"]], s["position"], s["value"]) for s in scores) == [
        ("alpha/q1/0", 0, 1.0),
        ("alpha/q1/0", 1, None),
        ("alpha/s4/0", 0, 1.0),
        ("alpha/s4/0", 1, None),
    ]
    # Each sample keeps its own provenance, even one equal to another's.
    provenance = {
        row["id"]: row["provenance_json"] for row in _stored(store, "samples", "run-fast")
    }
    assert provenance["s4"] == AT_UTC.model_dump_json()
    assert provenance["s5"] == AT_PLUS_2.model_dump_json()
    assert provenance["s6"] == provenance["s7"] == SHARED.model_dump_json()


def test_samples_across_chunks_keep_their_positions(store, build, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(writes, "_SAMPLE_CHUNK", 4)
    samples = [
        Sample(id=f"q{i}", input=f"question {i}", provenance=SHARED if i % 3 else AT_UTC)
        for i in range(10)
    ]
    store.create_run(build.manifest(), (s for s in samples), n_planned=10)
    rows = _stored(store, "samples", "run-0001")
    assert [(row["id"], row["position"]) for row in rows] == [(f"q{i}", i) for i in range(10)]
    assert [row["content_hash"] for row in rows] == [s.content_hash() for s in samples]
    assert [row["provenance_json"] for row in rows] == [
        s.provenance.model_dump_json() for s in samples
    ]
    assert store.get_samples("run-0001") == samples
