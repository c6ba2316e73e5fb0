"""``create_run`` given a :class:`~assay.data.Dataset` reads the samples' fields from its
columns without building the samples; every stored column must be what storing the same
samples one by one stores, and what the generic definitions give (the content hash is
``content_hash(sample.content())``), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from assay.core import Message, Provenance, Sample, StoreError, content_hash
from assay.data import Dataset, dataset_from_records
from assay.store import Store, writes

OWN = Provenance(origin="incident", source_ref="T-1", collected_at=datetime(2024, 1, 2, tzinfo=UTC))


def _varied() -> list[Sample]:
    inputs: list[Any] = [
        "plain",
        "ünïcödé ☃ \U0001f600",
        'q "x" \\ \n\t',
        (Message(role="system", content="s"), Message(role="user", content="u ☃")),
    ]
    targets: list[Any] = [None, "t", "", ("a", "b")]
    metadata: list[dict[str, Any]] = [
        {},
        {"slice": "a", "n": 3, "ok": True, "no": None},
        {"f": 0.5, "w": 1.0},
        {"nested": {"b": [1, 2.0, "x"]}},
    ]
    samples = []
    for i in range(40):
        samples.append(
            Sample(
                id=f"s{i:02d}" if i % 9 else f"é{i}",
                input=inputs[i % 4],
                target=targets[(i // 4) % 4],
                metadata=metadata[(i // 2) % 4],
                cluster=(None, "c1", "ç")[i % 3],
                provenance=OWN if i % 5 == 0 else Provenance(),
            )
        )
    return samples


def _stored(store: Store, run_id: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM samples WHERE run_id = :run ORDER BY position"), {"run": run_id}
        )
        return [{k: v for k, v in row.items() if k != "run_id"} for row in rows.mappings()]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _reference(samples: list[Sample]) -> list[dict[str, Any]]:
    rows = []
    for position, sample in enumerate(samples):
        content = sample.content()
        rows.append(
            {
                "id": sample.id,
                "position": position,
                "content_hash": content_hash(content),
                "input_json": _json(content["input"]),
                "target_json": None if sample.target is None else _json(content["target"]),
                "metadata_json": _json(sample.metadata),
                "cluster": sample.cluster,
                "provenance_json": sample.provenance.model_dump_json(),
            }
        )
    return rows


@pytest.mark.parametrize("chunk", [3, 2000])
def test_a_dataset_stores_what_its_samples_store(store, build, monkeypatch, chunk):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(writes, "_SAMPLE_CHUNK", chunk)
    samples = _varied()
    dataset = Dataset("varied", samples)
    store.create_run(build.manifest("from-dataset"), dataset, n_planned=len(samples))
    store.create_run(build.manifest("one-by-one"), iter(list(dataset)), n_planned=len(samples))
    from_dataset = _stored(store, "from-dataset")
    assert from_dataset == _stored(store, "one-by-one") == _reference(samples)
    assert store.get_samples("from-dataset") == samples


def test_a_loaded_dataset_stores_its_samples(store, build):  # type: ignore[no-untyped-def]
    records = [
        {"id": i, "input": f"question {i} ☃", "target": i * 2, "slice": "ab"[i % 2], "w": i / 4}
        for i in range(30)
    ]
    dataset = dataset_from_records(records, name="r", provenance={"licence": "CC0-1.0"})
    store.create_run(build.manifest(), dataset, n_planned=len(dataset))
    assert _stored(store, "run-0001") == _reference(list(dataset))


def test_a_dataset_slice_keeps_its_positions(store, build):  # type: ignore[no-untyped-def]
    samples = _varied()
    part = Dataset("varied", samples)[5:25]
    store.create_run(build.manifest(), part, n_planned=len(part))
    assert _stored(store, "run-0001") == _reference(samples[5:25])


def test_repeated_ids_of_an_iterable_are_still_refused(store, build):  # type: ignore[no-untyped-def]
    samples = [Sample(id="a", input="x"), Sample(id="a", input="y")]
    with pytest.raises(StoreError, match="appears twice"):
        store.create_run(build.manifest(), (s for s in samples), n_planned=2)
