"""Contamination scans and the export's PII scan on Ray equal the local ones, row for row.

The corpus mixes every input the local scan reads (JSONL with and without row ids, cut into
several work units; gzipped JSONL; Parquet; plain text) with planted copies of eval samples:
whole (dirty), 60% and 30% partial, in several files, so the merge order, the positional
``file:line`` names across units, the per-sample best documents and the dirty-row list are
all exercised. The cluster (a head and one worker node) is shared by the folder (conftest.py).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray")

from assay.cli import app  # noqa: E402
from assay.core import AssayError, Sample  # noqa: E402
from assay.data import Dataset  # noqa: E402
from assay.data.contamination import ContaminationSettings, EvalIndex, scan_corpus  # noqa: E402
from assay.data.provenance import select_for_export  # noqa: E402
from assay.scale import make_executor  # noqa: E402

UNIT = 64 << 10  # small work units, so each file is several shards


class Words:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = [f"w{i:05d}" for i in range(20_000)]

    def __call__(self, n: int) -> list[str]:
        return [self.rng.choice(self.vocab) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[EvalIndex, list[Path], Path]:
    root = tmp_path_factory.mktemp("corpus")
    words = Words(3)
    samples = {f"q{i:03d}": words(40 + i % 60) for i in range(300)}
    eval_path = root / "eval.jsonl"
    with eval_path.open("w") as out:
        for sid, text in samples.items():
            out.write(json.dumps({"id": sid, "input": " ".join(text)}) + "\n")
    rng = random.Random(5)
    ids = list(samples)
    plants: list[str] = []
    for n, sid in enumerate(ids[:60]):
        text = samples[sid]
        share = (1.0, 0.6, 0.3)[n % 3]
        plants.append(" ".join(text[: max(12, int(len(text) * share))]))

    def document(k: int, file: int) -> str:
        parts = [" ".join(words(rng.randint(30, 120)))]
        if k % 37 == 0:  # about 80 copies over the files; some samples in several files
            parts.insert(rng.randint(0, 1), plants[(17 * file + k // 37) % len(plants)])
        return " ".join(parts)

    train = root / "train"
    train.mkdir()
    with (train / "a_ids.jsonl").open("w") as out:
        for k in range(900):
            out.write(json.dumps({"id": f"doc{k}", "text": document(k, 0)}) + "\n")
    with (train / "b_no_ids.jsonl").open("w") as out:
        for k in range(700):
            out.write(json.dumps({"text": document(k, 1)}) + "\n")
    with gzip.open(train / "c.jsonl.gz", "wt") as out:
        for k in range(300):
            out.write(json.dumps({"id": f"gz{k}", "text": document(k, 2)}) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [document(k, 3) for k in range(600)]
    table = pa.table({"id": [f"pq{k}" for k in range(600)], "text": rows})
    pq.write_table(table, train / "d.parquet", row_group_size=100)
    (train / "e.txt").write_text("\n".join(document(k, 4) for k in range(400)) + "\n")
    # A copy of one sample in two files, so its best documents come from different shards.
    (train / "f_repeat.jsonl").write_text(
        json.dumps({"id": "again", "text": " ".join(samples[ids[0]])}) + "\n"
    )
    index = EvalIndex.from_texts(
        {sid: " ".join(text) for sid, text in samples.items()},
        ContaminationSettings(max_docs_per_sample=2),
    )
    return index, [train], eval_path


def same(a, b) -> None:
    assert a.samples == b.samples
    assert a.dirty_rows == b.dirty_rows and a.n_dirty_rows == b.n_dirty_rows
    assert (a.corpus.files, a.corpus.documents, a.corpus.bytes) == (
        b.corpus.files,
        b.corpus.documents,
        b.corpus.bytes,
    )
    assert a.training == b.training


def test_the_ray_scan_equals_the_local_scan_row_for_row(disconnected, corpus):
    cluster = disconnected
    index, train, _ = corpus
    local = scan_corpus(index, train, unit_bytes=UNIT)
    counts = local.band_counts()
    assert counts["dirty"] >= 15 and counts["not_clean"] >= 15  # the plants were found
    names = [d.doc_id for s in local.samples for d in s.docs]
    assert any(".jsonl:" in n for n in names) and any(".txt:" in n for n in names)
    with make_executor("ray", ray_address=cluster.address, workers=2) as executor:
        assert executor.workers == 2
        on_ray = scan_corpus(index, train, unit_bytes=UNIT, executor=executor)
    same(local, on_ray)
    assert on_ray.corpus.jobs == 2
    assert not ray.is_initialized()  # the connection it opened was closed


def test_small_dirty_row_limits_and_batches_merge_alike(connected, corpus):
    cluster = connected
    index, train, _ = corpus
    kwargs = {"unit_bytes": UNIT // 2, "batch_bytes": 16 << 10, "max_dirty_rows": 3}
    local = scan_corpus(index, train, jobs=2, **kwargs)
    with make_executor("ray", ray_address=cluster.address, workers=1) as executor:
        same(local, scan_corpus(index, train, executor=executor, **kwargs))
    assert len(local.dirty_rows) == 3 < local.n_dirty_rows


def test_the_contamination_command_on_ray(disconnected, corpus):
    cluster = disconnected
    _, train, eval_path = corpus
    common = ["data", "contamination", "--eval", str(eval_path), "--train", str(train[0])]
    local = CliRunner().invoke(app, [*common, "--json"])
    assert local.exit_code == 0, local.output
    args = ["--executor", "ray", "--ray-address", cluster.address, "--workers", "2", "--json"]
    remote = CliRunner().invoke(app, [*common, *args])
    assert remote.exit_code == 0, remote.output
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for data in (a, b):
        for timing in ("seconds", "jobs", "mb_per_second"):
            data["corpus"].pop(timing)
    assert a == b and a["samples"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "spark"], "unknown executor 'spark'"),
        (["--ray-address", "127.0.0.1:6379"], "--ray-address only applies with --executor ray"),
        (["--executor", "ray", "--ray-address", "nonsense"], "is not a Ray head address"),
        (["--executor", "ray", "--ray-address", "127.0.0.1:9"], "no Ray head answers at"),
        (["--executor", "ray", "--workers", "0"], "--workers must be at least 1"),
        (["--workers", "2", "--jobs", "3"], "give --workers or --jobs, not both"),
    ],
)
def test_bad_executor_options_are_usage_errors(corpus, args, message):
    _, train, eval_path = corpus
    command = ["data", "contamination", "--eval", str(eval_path), "--train", str(train[0])]
    result = CliRunner().invoke(app, [*command, *args])
    # main() prints an AssayError as one `error:` line and exits with its code.
    assert isinstance(result.exception, AssayError), result.output
    assert result.exception.exit_code == 2 and message in str(result.exception)


def _rows() -> Dataset:
    rng = random.Random(11)
    samples = []
    for i in range(230):
        text = f"ticket {i}: " + " ".join(f"w{rng.randint(0, 999)}" for _ in range(20))
        if i % 9 == 0:
            text += f" mail me at user{i}@example.com"
        if i % 23 == 0:
            text += " card 4111 1111 1111 1111"
        samples.append(
            Sample(id=f"r{i:03d}", input=text, target="ok", provenance={"licence": "CC0-1.0"})
        )
    return Dataset("tickets", samples)


def test_the_export_pii_scan_on_ray_equals_the_local_one(connected):
    cluster = connected
    rows = _rows()
    local = select_for_export(rows, redact_pii=True)
    assert len(local.pii_rows) >= 26
    with make_executor("ray", ray_address=cluster.address) as executor:
        from assay.data.provenance import scan_rows_for_pii

        assert scan_rows_for_pii(rows, executor=executor, chunk=40) == local.pii_rows
        on_ray = select_for_export(rows, redact_pii=True, executor=executor)
    assert on_ray.pii_rows == local.pii_rows
    assert [s.model_dump() for s in on_ray.kept] == [s.model_dump() for s in local.kept]


def test_the_export_command_on_ray(connected, tmp_path):
    cluster = connected
    from assay.data import write_dataset

    source = tmp_path / "rows.jsonl"
    write_dataset(_rows(), source)
    outs = []
    for name, extra in [
        ("local", []),
        ("ray", ["--executor", "ray", "--ray-address", cluster.address]),
    ]:
        out = tmp_path / f"{name}.jsonl"
        result = CliRunner().invoke(
            app, ["data", "export", str(source), "--out", str(out), "--redact-pii", *extra]
        )
        assert result.exit_code == 0, result.output
        outs.append((out.read_text(), (tmp_path / f"{name}.jsonl.excluded.json").read_text()))
    assert outs[0] == outs[1]
    assert "<EMAIL_1>" in outs[0][0]
