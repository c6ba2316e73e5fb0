"""What ``add_results`` stores for every kind of result, column by column, on SQLite and
PostgreSQL: each stored row equals the row written out here by hand, inserted the plain way
(SQLAlchemy Core, with its column types' own conversions) under a second run id. On SQLite
each column's storage class (``typeof``) must be the same too: the store writes columns that
are ``NULL`` in a whole batch as ``NULL`` in its statement and Boolean columns as integers
(see ``StoreBase._insert_sqlite``), which must change nothing stored.

The batches mix results with an output and with an error, no scores and several, ``None`` in
some rows of a column and in all of them, cached and not, usage reported and not; keys that
repeat in a batch or are stored already (the first write wins, with its scores only); and a
batch that goes with response-cache entries.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, text

from assay.core import Output, SampleResult, Score, Usage, content_hash
from assay.store import Store, codec, tables, writes

#: The times of the three batches (the last not in UTC: stored as the same instant).
STAMP_A = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
STAMP_B = datetime(2025, 3, 4, 6, 0, 0, tzinfo=UTC)
STAMP_C = datetime(2025, 3, 4, 9, 6, 7, 5, tzinfo=timezone(timedelta(hours=2)))

FULL = Output(
    text="4 «ünï»",
    model="m-2025",
    system_fingerprint="fp_1",
    finish_reason="stop",
    usage=Usage(input_tokens=12, output_tokens=3, total_tokens=15),
    latency_ms=12.5,
    raw={"id": "cmpl-1", "choices": [None, 1.5]},
    metadata={"sim": {"correct": True}},
)
BARE = Output(text="")  # no model, no usage reported, no latency
ODD_KEY = ('q"1\\ü\n', "αβ")  # a sample id and subject that JSON must escape (the result id)


def _batches() -> tuple[list[SampleResult], list[SampleResult], list[SampleResult]]:
    a = [
        SampleResult(
            subject=ODD_KEY[1],
            sample_id=ODD_KEY[0],
            output=FULL,
            scores=[
                Score(
                    scorer="exact",
                    value=1.0,
                    answer="4",
                    explanation="matched",
                    metadata={"why": ["eq"]},
                ),
                Score(scorer="judge", value=None, error="judge timed out"),
                Score(scorer="len", value=0.25),
            ],
            attempts=2,
            cached=True,
        ),
        SampleResult(
            subject="alpha",
            sample_id="q2",
            epoch=1,
            error="rate limited",
            error_class="rate_limited",
            attempts=3,
        ),
        SampleResult(subject="beta", sample_id="q2", output=BARE),
        # The same key again in the batch: ignored with its scores.
        SampleResult(
            subject="beta",
            sample_id="q2",
            output=Output(text="later"),
            scores=[Score(scorer="exact", value=0.0)],
        ),
    ]
    # Every row alike: the columns that are None in all of them go as NULL in the statement,
    # and every ``cached`` is False.
    b = [
        SampleResult(
            subject="alpha",
            sample_id=f"b{i}",
            output=Output(text=f"t{i}", model="m", latency_ms=float(i)),
            scores=[Score(scorer="exact", value=float(i % 2), answer=f"t{i}")],
        )
        for i in range(3)
    ]
    c = [
        # Stored by the first batch: ignored with its scores.
        SampleResult(
            subject=ODD_KEY[1],
            sample_id=ODD_KEY[0],
            output=Output(text="again"),
            scores=[Score(scorer="exact", value=0.0)],
        ),
        SampleResult(
            subject="alpha",
            sample_id="c1",
            epoch=2,
            output=FULL,
            scores=[Score(scorer="exact", value=0)],
            cached=True,
        ),
    ]
    return a, b, c


def _result_row(
    run_id: str,
    subject: str,
    sample_id: str,
    epoch: int,
    created_at: datetime,
    output: Output | None,
    **columns: Any,
) -> dict[str, Any]:
    """The expected row: the result's key, no output columns unless given in ``columns``
    (``output_json`` is the output's JSON), ``attempts`` 1, not cached, unless given."""
    row: dict[str, Any] = {
        "id": content_hash([run_id, subject, sample_id, epoch], length=32),
        "run_id": run_id,
        "subject": subject,
        "sample_id": sample_id,
        "epoch": epoch,
        "output_text": None,
        "resolved_model": None,
        "system_fingerprint": None,
        "finish_reason": None,
        "input_tokens": None,
        "output_tokens": None,
        "latency_ms": None,
        "output_json": None if output is None else output.model_dump_json(),
        "error": None,
        "error_class": None,
        "attempts": 1,
        "cached": False,
        "created_at": created_at,
    }
    row.update(columns)
    return row


def _score_row(
    result: dict[str, Any], position: int, scorer: str, **columns: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "result_id": result["id"],
        "position": position,
        "run_id": result["run_id"],
        "scorer": scorer,
        "value": None,
        "answer": None,
        "explanation": None,
        "error": None,
        "metadata_json": None,
    }
    row.update(columns)
    return row


def _expected(run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows the three batches store, written out."""
    full = {
        "output_text": "4 «ünï»",
        "resolved_model": "m-2025",
        "system_fingerprint": "fp_1",
        "finish_reason": "stop",
        "input_tokens": 12,
        "output_tokens": 3,
        "latency_ms": 12.5,
    }
    odd = _result_row(
        run_id, ODD_KEY[1], ODD_KEY[0], 0, STAMP_A, FULL, **full, attempts=2, cached=True
    )
    failed = _result_row(
        run_id,
        "alpha",
        "q2",
        1,
        STAMP_A,
        None,
        error="rate limited",
        error_class="rate_limited",
        attempts=3,
    )
    bare = _result_row(run_id, "beta", "q2", 0, STAMP_A, BARE, output_text="")
    alike = [
        _result_row(
            run_id,
            "alpha",
            f"b{i}",
            0,
            STAMP_B,
            Output(text=f"t{i}", model="m", latency_ms=float(i)),
            output_text=f"t{i}",
            resolved_model="m",
            latency_ms=float(i),
        )
        for i in range(3)
    ]
    later = _result_row(run_id, "alpha", "c1", 2, STAMP_C, FULL, **full, cached=True)
    scores = [
        _score_row(
            odd,
            0,
            "exact",
            value=1.0,
            answer="4",
            explanation="matched",
            metadata_json='{"why":["eq"]}',
        ),
        _score_row(odd, 1, "judge", error="judge timed out"),
        _score_row(odd, 2, "len", value=0.25),
        *(
            _score_row(row, 0, "exact", value=float(i % 2), answer=f"t{i}")
            for i, row in enumerate(alike)
        ),
        _score_row(later, 0, "exact", value=0.0),
    ]
    return [odd, failed, bare, *alike, later], scores


def _stored(store: Store, table: str, run_id: str) -> list[dict[str, Any]]:
    """The run's rows of ``table`` as the driver returns them, without the run id and with
    each value's SQLite storage class (``typeof``) beside it on SQLite."""
    columns = [c.name for c in tables.metadata.tables[table].columns if c.name != "run_id"]
    sqlite = store.engine.dialect.name == "sqlite"
    listed = ", ".join(
        [*columns, *(f"typeof({c}) AS type_{c}" for c in columns)] if sqlite else columns
    )
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {listed} FROM {table} WHERE run_id = :run"), {"run": run_id}
        )
        found = [dict(row) for row in rows.mappings()]
    ids = _natural_keys(store, run_id)
    for row in found:
        for column in ("id", "result_id"):
            if column in row:
                row[column] = ids[row[column]]
    return sorted(found, key=repr)


def _natural_keys(store: Store, run_id: str) -> dict[str, str]:
    """The run's result ids, each with its result's subject, sample id and epoch."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, subject, sample_id, epoch FROM results WHERE run_id = :run"),
            {"run": run_id},
        )
        return {row.id: f"{row.subject}/{row.sample_id}/{row.epoch}" for row in rows}


def test_every_column_equals_the_plain_insert_of_the_rows_written_out(  # type: ignore[no-untyped-def]
    store, build, monkeypatch
):
    a, b, c = _batches()
    sample_ids = sorted({r.sample_id for r in a + b + c})
    for run_id in ("run-fast", "run-plain"):
        store.create_run(
            build.manifest(
                run_id, subjects=("alpha", "beta", ODD_KEY[1]), sample_ids=tuple(sample_ids)
            ),
            [],
            n_planned=len(sample_ids),
        )
    for batch, stamp, cache in (
        (a, STAMP_A, []),
        (b, STAMP_B, []),
        (c, STAMP_C, [("key-1", "sim", "m", Output(text="x"))]),
    ):
        monkeypatch.setattr(writes, "_now", lambda stamp=stamp: stamp)
        store.add_results("run-fast", batch, cache_entries=cache)

    results, scores = _expected("run-plain")
    with store.engine.begin() as conn:
        conn.execute(insert(tables.results), results)
        conn.execute(insert(tables.scores), scores)

    # A result's id is the content hash of its key (with a subject and a sample id that JSON
    # escapes), as the plain rows have it.
    with store.engine.connect() as conn:
        keys = conn.execute(
            text("SELECT id, subject, sample_id, epoch FROM results WHERE run_id = 'run-fast'")
        ).all()
    assert len(keys) == 7
    for rid, *key in keys:
        assert rid == content_hash(["run-fast", *key], length=32)
    for table in ("results", "scores"):
        fast, plain = _stored(store, table, "run-fast"), _stored(store, table, "run-plain")
        assert len(fast) == {"results": 7, "scores": 7}[table]
        assert fast == plain, table


def test_the_rows_stored_hold_the_values_written_out(store, build, monkeypatch):  # type: ignore[no-untyped-def]
    """A few values checked as literals, not against another insert: the ``created_at`` text
    SQLite stores, the booleans, the NULLs of a column that is NULL in a whole batch."""
    a, b, _ = _batches()
    store.create_run(build.manifest("run-fast"), [], n_planned=3)
    monkeypatch.setattr(writes, "_now", lambda: STAMP_A)
    store.add_results("run-fast", a)
    monkeypatch.setattr(writes, "_now", lambda: STAMP_B)
    store.add_results("run-fast", b)
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT subject, sample_id, cached, created_at, error, system_fingerprint, "
                "input_tokens, output_text FROM results WHERE run_id = :run "
                "ORDER BY subject, sample_id, epoch"
            ),
            {"run": "run-fast"},
        ).all()
    stamp_a: str | datetime
    stamp_b: str | datetime
    if store.engine.dialect.name == "sqlite":
        stamp_a, stamp_b = "2025-03-04 05:06:07.890123", "2025-03-04 06:00:00.000000"
        yes, no = 1, 0
    else:
        stamp_a, stamp_b, yes, no = STAMP_A, STAMP_B, True, False
    assert [tuple(row) for row in rows] == [
        ("alpha", "b0", no, stamp_b, None, None, None, "t0"),
        ("alpha", "b1", no, stamp_b, None, None, None, "t1"),
        ("alpha", "b2", no, stamp_b, None, None, None, "t2"),
        ("alpha", "q2", no, stamp_a, "rate limited", None, None, None),
        ("beta", "q2", no, stamp_a, None, None, None, ""),
        (ODD_KEY[1], ODD_KEY[0], yes, stamp_a, None, "fp_1", 12, "4 «ünï»"),
    ]
    assert [type(row[2]) for row in rows] == [type(no)] * 6


def test_cache_entries_keep_their_first_response(store, build, monkeypatch):  # type: ignore[no-untyped-def]
    """An entry repeated in one call, or stored by an earlier call, keeps the first response;
    the rows hold the response's JSON and the time, as a plain insert would."""
    store.create_run(build.manifest("run-fast"), [], n_planned=3)
    first, second, third = Output(text="x"), Output(text="y"), Output(text="z", model="m")
    monkeypatch.setattr(writes, "_now", lambda: STAMP_C)
    store.put_cached([("key-1", "sim", "m", first), ("key-1", "sim", "m", second)])
    monkeypatch.setattr(writes, "_now", lambda: STAMP_A)
    store.add_results(
        "run-fast",
        [SampleResult(subject="alpha", sample_id="q1", output=third)],
        cache_entries=[("key-1", "sim", "m", third), ("key-2", "other", "m2", third)],
    )
    assert store.get_cached("key-1") == first
    assert store.get_cached("key-2") == third
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT key, provider, model, output_json, created_at"
                + (", typeof(created_at)" if sqlite else "")
                + " FROM response_cache ORDER BY key"
            )
        ).all()
    if sqlite:
        assert [tuple(row) for row in rows] == [
            ("key-1", "sim", "m", first.model_dump_json(), "2025-03-04 07:06:07.000005", "text"),
            ("key-2", "other", "m2", third.model_dump_json(), "2025-03-04 05:06:07.890123", "text"),
        ]
    else:
        assert [tuple(row) for row in rows] == [
            ("key-1", "sim", "m", first.model_dump_json(), STAMP_C),
            ("key-2", "other", "m2", third.model_dump_json(), STAMP_A),
        ]


@pytest.mark.parametrize(
    "key",
    [
        ("run-1", "alpha", "q1", 0),
        ("run «2»", ODD_KEY[1], ODD_KEY[0], 7),
        ("r", "s\t\x01", "\u2028/", 2**70),
        ("r", "s", "q", True),  # an epoch assigned a bool after validation: JSON true
    ],
)
def test_a_result_id_is_the_hash_of_the_compact_json_of_its_key(key: tuple[Any, ...]) -> None:
    expected = hashlib.sha256(
        json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:32]
    assert codec.result_id(*key) == expected
    rows, _ = codec.result_rows(
        key[0],
        [
            SampleResult.model_construct(
                subject=key[1],
                sample_id=key[2],
                epoch=key[3],
                output=None,
                scores=[],
                error=None,
                error_class=None,
                attempts=1,
                cached=False,
            )
        ],
        "now",
    )
    assert rows[0][0] == expected
