"""``assay data kb-check`` end to end, in a subprocess."""

import json

from assay.core import Sample
from assay.data import Dataset, write_dataset
from assay.data.kb_pinning import document_hash


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_kb_check_marks_changed_and_missing_and_gates(cli, tmp_path):
    samples = tmp_path / "rag.jsonl"
    pins = [{f"doc{i}": document_hash(f"text {i}")} for i in range(5)]
    write_dataset(
        Dataset("rag", [Sample(id=f"q{i}", input="?", metadata={"gold_docs": p})
                        for i, p in enumerate(pins)]),
        samples,
    )  # fmt: skip
    corpus = _write(
        tmp_path / "v2.jsonl",
        [{"id": "doc0", "text": "text 0"}, {"id": "doc1", "text": "text 1, revised"},
         {"id": "doc2", "text": "text 2"}, {"id": "doc4", "text": "text 4"}],
    )  # fmt: skip
    proc = cli("data", "kb-check", samples, "--corpus", corpus, "--json", cwd=tmp_path, check=0)
    report = json.loads(proc.stdout)
    assert report["counts"] == {
        "still_valid": 3, "gold_changed": 1, "gold_missing": 1, "unpinned": 0,
    }  # fmt: skip
    assert [s["status"] for s in report["samples"]] == [
        "still_valid", "gold_changed", "still_valid", "gold_missing", "still_valid",
    ]  # fmt: skip
    proc = cli("data", "kb-check", samples, "--corpus", corpus, "--gate", cwd=tmp_path, check=1)
    assert "q1: gold_changed (doc1)" in proc.stdout
    assert "2 sample(s)" in proc.stderr
