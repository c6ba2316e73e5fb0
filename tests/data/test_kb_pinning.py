"""RAG pinning (F1, F2): a KB update marks exactly the samples whose gold documents changed."""

import pytest
from data_testutil import write_jsonl

from assay.core import DatasetError, Sample
from assay.data import Dataset, load_dataset, write_dataset
from assay.data.kb_pinning import (
    document_hash,
    kb_check,
    pin_gold_documents,
    read_corpus,
)


def corpus_rows(changed=(), dropped=()):
    return [
        {"id": f"doc{i}", "text": f"policy {i}" + (" (revised)" if i in changed else "")}
        for i in range(200)
        if i not in dropped
    ]


def eval_set():
    # Sample q{i} cites doc{i}; docs 100..199 are never gold.
    return Dataset(
        "rag",
        [Sample(id=f"q{i}", input="?", metadata={"gold_doc_ids": [f"doc{i}"]}) for i in range(100)],
    )


@pytest.fixture
def pinned(tmp_path):
    v1 = read_corpus(write_jsonl(tmp_path / "v1.jsonl", corpus_rows()))
    path = tmp_path / "rag.jsonl"
    write_dataset(pin_gold_documents(eval_set(), v1, index_snapshot="kb-v1"), path)
    return load_dataset(path)  # the pins survive a round trip through a file


def test_update_changing_ten_percent_of_gold_marks_exactly_those(tmp_path, pinned):
    changed = set(range(0, 100, 10)) | {150, 151}  # 10 gold documents and 2 others
    v2 = read_corpus(write_jsonl(tmp_path / "v2.jsonl", corpus_rows(changed=changed)))
    report = kb_check(pinned, v2)
    assert report.ids("gold_changed") == [f"q{i}" for i in range(0, 100, 10)]
    assert report.counts() == {
        "still_valid": 90,
        "gold_changed": 10,
        "gold_missing": 0,
        "unpinned": 0,
    }
    first = report.samples[0]
    assert first.changed == ["doc0"] and first.index_snapshot == "kb-v1"


def test_removed_gold_document_is_missing_and_unpinned_samples_are_reported(tmp_path, pinned):
    rows = [*pinned, Sample(id="plain", input="?")]
    v2 = read_corpus(write_jsonl(tmp_path / "v2.jsonl", corpus_rows(changed={3}, dropped={3, 7})))
    report = kb_check(Dataset("rag", rows), v2)
    assert report.ids("gold_missing") == ["q3", "q7"]  # missing wins over changed
    assert report.ids("gold_changed") == []
    assert report.ids("unpinned") == ["plain"]
    assert report.samples[3].missing == ["doc3"]


def test_document_hash_is_sha256_of_the_text():
    assert document_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_bad_corpus_and_bad_pins_name_the_place(tmp_path):
    with pytest.raises(DatasetError) as info:
        read_corpus(write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "x"}, {"id": "b"}]))
    assert info.value.where.endswith("c.jsonl:2")
    with pytest.raises(DatasetError, match="duplicate"):
        read_corpus(write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": "x"}] * 2))
    bad = Dataset("rag", [Sample(id="q", input="?", metadata={"gold_docs": ["doc1"]})])
    with pytest.raises(DatasetError) as info:
        kb_check(bad, {})
    assert info.value.where == "rag (sample q)"
    with pytest.raises(DatasetError, match="doc9"):
        pin_gold_documents(
            Dataset("rag", [Sample(id="q", input="?", metadata={"gold_doc_ids": "doc9"})]), {}
        )
