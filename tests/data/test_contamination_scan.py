"""Scanning training files against an eval set: the D3 acceptance checks, every input format,
ids that name the training rows, parallel scans, errors and bounded memory."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from contamination_testutil import Words

from assay.core import DatasetError, Sample
from assay.data.contamination import (
    ContaminationGateError,
    ContaminationSettings,
    CorpusOptions,
    EvalIndex,
    gate,
    scan_corpus,
)


@pytest.fixture
def words() -> Words:
    return Words(seed=1)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def eval_index(words: Words, n: int = 4, length: int = 100, **kw) -> tuple[EvalIndex, dict]:
    texts = {f"q{i}": words(length) for i in range(n)}
    samples = [Sample(id=k, input=" ".join(v)) for k, v in texts.items()]
    return EvalIndex.from_samples(samples, ContaminationSettings(**kw)), texts


def filler(words: Words, n: int, start: int = 0) -> list[dict]:
    return [{"id": f"clean{start + i}", "text": " ".join(words(120))} for i in range(n)]


# -- D3 acceptance ---------------------------------------------------------------------------


def test_a_row_sharing_85_percent_is_dirty_and_the_gate_names_both_ids(
    tmp_path: Path, words: Words
) -> None:
    index, texts = eval_index(words)
    leak = words(15) + texts["q2"][:85] + words(15)  # 85 of the sample's 100 tokens, verbatim
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [*filler(words, 50), {"id": "row-leak", "text": " ".join(leak)}],
    )
    report = scan_corpus(index, [train])
    q2 = report.samples[2]
    assert q2.sample_id == "q2"
    assert q2.overlap == pytest.approx(0.85)
    assert q2.band == "dirty" and q2.subsets == ("not_clean", "dirty")
    assert [(d.doc_id, d.overlap) for d in q2.docs] == [("row-leak", pytest.approx(0.85))]
    assert q2.ngram_matches == 85 - 13 + 1
    assert [(r.doc_id, r.sample_id) for r in report.dirty_rows] == [("row-leak", "q2")]
    assert {s.sample_id: s.band for s in report.samples} == {
        "q0": "clean",
        "q1": "clean",
        "q2": "dirty",
        "q3": "clean",
    }
    with pytest.raises(ContaminationGateError) as failed:
        gate(report)
    message = str(failed.value)
    assert "'q2'" in message and "'row-leak'" in message and "85%" in message
    assert failed.value.exit_code == 1
    gate(report, waive=["q2"])  # waived by eval id
    gate(report, waive=["row-leak"])  # or by training row id


def test_a_row_sharing_30_percent_is_not_flagged(tmp_path: Path, words: Words) -> None:
    index, texts = eval_index(words)
    part = words(40) + texts["q1"][20:50] + words(40)  # 30 tokens of the sample's 100
    train = write_jsonl(tmp_path / "t.jsonl", [{"id": "row-part", "text": " ".join(part)}])
    report = scan_corpus(index, [train])
    q1 = report.samples[1]
    assert q1.overlap == pytest.approx(0.30)
    assert q1.band == "not_clean" and q1.subsets == ("not_clean", "not_dirty")
    assert q1.docs[0].doc_id == "row-part"
    assert q1.ngram_matches == 30 - 13 + 1  # GPT-3's n-gram test sees it; it is reported
    assert report.dirty_rows == () and report.n_dirty_rows == 0
    gate(report)  # not flagged: passes


def test_scattered_substitutions_are_bridged_by_the_skip_budget(
    tmp_path: Path, words: Words
) -> None:
    index, texts = eval_index(words, n=1, length=120)
    # Every 12th token replaced: no 13-gram survives, yet 110 of 120 tokens are shared.
    edited = [("CHANGED" if i % 12 == 11 else t) for i, t in enumerate(texts["q0"])]
    train = write_jsonl(tmp_path / "t.jsonl", [{"id": "edited", "text": " ".join(edited)}])
    (q0,) = scan_corpus(index, [train]).samples
    assert q0.ngram_matches == 0
    assert q0.overlap == pytest.approx(110 / 120)
    assert q0.band == "dirty"


def test_overlap_is_the_union_over_rows_while_each_row_is_measured_alone(
    tmp_path: Path, words: Words
) -> None:
    index, texts = eval_index(words, n=1)
    q = texts["q0"]
    rows = [
        {"id": "first-half", "text": " ".join(q[:50])},
        {"id": "second-half", "text": " ".join(q[50:])},
    ]
    report = scan_corpus(index, [write_jsonl(tmp_path / "t.jsonl", rows)])
    (q0,) = report.samples
    assert q0.overlap == pytest.approx(1.0) and q0.band == "dirty"
    assert sorted((d.doc_id, d.overlap) for d in q0.docs) == [
        ("first-half", pytest.approx(0.5)),
        ("second-half", pytest.approx(0.5)),
    ]
    assert report.dirty_rows == ()  # no single row is dirty...
    with pytest.raises(ContaminationGateError, match="first-half"):
        gate(report)  # ...but the sample is, and the gate names the rows that hold it


def test_targets_count_unless_excluded(tmp_path: Path, words: Words) -> None:
    answer = words(40)
    sample = Sample(id="a", input=" ".join(words(10)), target=" ".join(answer))
    train = write_jsonl(tmp_path / "t.jsonl", [{"id": "ans", "text": " ".join(answer)}])
    with_target = scan_corpus(EvalIndex.from_samples([sample]), [train]).samples[0]
    assert with_target.overlap == pytest.approx(0.8)
    without = EvalIndex.from_samples([sample], ContaminationSettings(include_target=False))
    assert scan_corpus(without, [train]).samples[0].overlap == 0


def test_boilerplate_shared_by_many_samples_does_not_make_them_all_match(
    tmp_path: Path, words: Words
) -> None:
    template = words(15)
    texts = {f"q{i}": " ".join(template + words(30)) for i in range(8)}
    index = EvalIndex.from_texts(texts, ContaminationSettings(boilerplate_samples=5))
    copy = " ".join(texts["q3"].split())
    rows = [
        {"id": "template-only", "text": " ".join(template + words(30))},
        {"id": "copy", "text": copy},
    ]
    report = scan_corpus(index, [write_jsonl(tmp_path / "t.jsonl", rows)])
    matched = {s.sample_id: [d.doc_id for d in s.docs] for s in report.samples if s.docs}
    assert matched == {"q3": ["copy"]}
    assert report.samples[3].overlap == pytest.approx(1.0)  # the template is covered too


# -- formats and ids -------------------------------------------------------------------------


def test_every_input_format_finds_the_same_rows(tmp_path: Path, words: Words) -> None:
    index, texts = eval_index(words, n=2)
    leak = " ".join(texts["q1"])
    rows = [*filler(words, 5), {"id": "leak", "text": leak}]
    plain = write_jsonl(tmp_path / "a.jsonl", rows)
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet", row_group_size=2)
    (tmp_path / "d.txt").write_text("\n".join(r["text"] for r in rows) + "\n")
    (tmp_path / "e.txt.gz").write_bytes(gzip.compress((tmp_path / "d.txt").read_bytes()))
    found = {}
    for name in ("a.jsonl", "b.jsonl.gz", "c.parquet", "d.txt", "e.txt.gz"):
        report = scan_corpus(index, [tmp_path / name])
        assert report.corpus.documents == 6
        found[name] = [(d.doc_id, d.overlap) for d in report.samples[1].docs]
    assert found["a.jsonl"] == found["b.jsonl.gz"] == found["c.parquet"] == [("leak", 1.0)]
    assert found["d.txt"] == [(f"{tmp_path / 'd.txt'}:6", 1.0)]
    assert found["e.txt.gz"] == [(f"{tmp_path / 'e.txt.gz'}:6", 1.0)]


def test_one_document_per_file_and_directories(tmp_path: Path, words: Words) -> None:
    index, texts = eval_index(words, n=1)
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(" ".join(words(20)) for _ in range(5)))
    # The sample broken over lines: one document per line would split it, per file does not.
    (folder / "sub" / "b.txt").write_text(
        "\n".join(" ".join(texts["q0"][i : i + 9]) for i in range(0, 100, 9))
    )
    (folder / ".hidden.txt").write_text(" ".join(texts["q0"]))
    per_line = scan_corpus(index, [folder])
    assert per_line.corpus.files == 2 and per_line.samples[0].overlap == 0
    per_file = scan_corpus(index, [folder], options=CorpusOptions(doc_per="file"))
    assert per_file.samples[0].overlap == 1.0
    assert per_file.samples[0].docs[0].doc_id == str(folder / "sub" / "b.txt")


def test_rows_without_ids_are_named_by_file_and_line_across_parallel_units(
    tmp_path: Path, words: Words
) -> None:
    index, texts = eval_index(words, n=3)
    rows = [{"text": " ".join(words(60))} for _ in range(400)]
    rows[57] = {"text": " ".join(texts["q0"])}
    rows[333] = {"text": " ".join(texts["q2"])}
    train = write_jsonl(tmp_path / "t.jsonl", rows)
    reports = [
        scan_corpus(index, [train], jobs=jobs, unit_bytes=20_000, batch_bytes=7_000)
        for jobs in (1, 2)
    ]
    for report in reports:
        assert report.samples[0].docs[0].doc_id == f"{train}:58"
        assert report.samples[2].docs[0].doc_id == f"{train}:334"
        assert report.corpus.documents == 400
    assert reports[0].samples == reports[1].samples  # the same report whatever the job count


def test_nested_fields_and_chat_messages(tmp_path: Path, words: Words) -> None:
    index, texts = eval_index(words, n=1)
    row = {
        "meta": {"uid": 7},
        "conv": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": " ".join(texts["q0"])},
        ],
    }
    train = write_jsonl(tmp_path / "t.jsonl", [row])
    options = CorpusOptions(text_field="conv", id_field="meta.uid")
    (q0,) = scan_corpus(index, [train], options=options).samples
    assert q0.docs[0].doc_id == "7" and q0.overlap == 1.0


def test_bad_rows_name_their_line(tmp_path: Path, words: Words) -> None:
    index, _ = eval_index(words, n=1)
    good = [{"id": str(i), "text": " ".join(words(50))} for i in range(300)]
    train = write_jsonl(tmp_path / "t.jsonl", good)
    with open(train, "a") as handle:
        handle.write('{"id": "x", "text": \n')
    with pytest.raises(DatasetError, match=r"t\.jsonl:301: malformed JSON"):
        scan_corpus(index, [train], unit_bytes=10_000, jobs=1)
    wrong_field = write_jsonl(tmp_path / "w.jsonl", [{"body": "x"}])
    with pytest.raises(DatasetError, match="no field 'text'") as failed:
        scan_corpus(index, [wrong_field])
    assert failed.value.fix == "name the text field with --text-field"
    with pytest.raises(DatasetError, match="not found"):
        scan_corpus(index, [tmp_path / "missing.jsonl"])


def test_memory_stays_bounded_as_the_corpus_grows(tmp_path: Path, words: Words) -> None:
    index, texts = eval_index(words, n=50, length=60)
    pool = [" ".join(words(150)) for _ in range(200)]
    for i in range(24):
        rows = [{"id": f"f{i}-{j}", "text": pool[(i * 7 + j) % 200]} for j in range(250)]
        rows[i] = {"id": f"leak{i}", "text": " ".join(texts[f"q{i}"])}
        write_jsonl(tmp_path / f"part{i:02d}.jsonl", rows)
    files = sorted(tmp_path.glob("part*.jsonl"))

    def peak(paths: list[Path]) -> tuple[int, int]:
        tracemalloc.start()
        try:
            report = scan_corpus(index, paths, batch_bytes=64_000)
            return tracemalloc.get_traced_memory()[1], sum(
                s.band == "dirty" for s in report.samples
            )
        finally:
            tracemalloc.stop()

    small, dirty_small = peak(files[:4])
    large, dirty_large = peak(files)
    assert (dirty_small, dirty_large) == (4, 24)
    total = sum(p.stat().st_size for p in files)
    assert total > 5_000_000
    assert large < 1.5 * small + 1_000_000  # six times the data, about the same memory
    assert large < total / 2


def test_samples_shorter_than_the_seed_are_counted_apart_not_as_clean(
    tmp_path: Path, words: Words
) -> None:
    # Issue 20: an item shorter than the n-gram cannot be matched, so "clean" would be a claim
    # the scan never checked.
    samples = [
        Sample(id="long", input=" ".join(words(60))),
        Sample(id="short", input=" ".join(words(4))),
    ]
    index = EvalIndex.from_samples(samples, ContaminationSettings())
    train = write_jsonl(tmp_path / "train.jsonl", filler(words, 5))
    report = scan_corpus(index, [train])
    assert [s.sample_id for s in report.too_short()] == ["short"]
    counts = report.band_counts()
    assert counts["too_short"] == 1 and counts["clean"] == 1 and counts["not_dirty"] == 1
