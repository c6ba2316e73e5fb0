"""Exact and near duplicates: MinHash/LSH candidates verified by real Jaccard similarity."""

import json

from lint_testutil import unrelated_rows, write_jsonl

from assay.core import Message, Sample
from assay.data import Dataset, LintSettings, lint_dataset
from assay.data.lint.duplicates import compared_text, jaccard, normalise, shingles

QUESTION = (
    "A train leaves the station at 9:40 and travels 180 kilometres at a steady 72 km/h; "
    "at what time does it arrive at its destination?"
)
# A paraphrase with small edits: a spelling variant, a typo, different punctuation and case.
PARAPHRASE = (
    "A train leaves the station at 9:40 and travels 180 kilometers at a steady 72 km/h. "
    "At what time does it arrive at its destinaton"
)


def _codes(report):
    return [s.code for s in report.smells]


def test_normalise_folds_case_punctuation_and_spacing():
    assert normalise("  What's   THE\tanswer?!  ") == "what s the answer"
    assert normalise("Ｆｕｌｌ－ｗｉｄｔｈ") == "full width"  # NFKC


def test_paraphrase_with_small_edits_is_a_near_duplicate_and_unrelated_rows_are_not(tmp_path):
    rows = unrelated_rows(120)
    rows.insert(10, {"id": "train-a", "input": QUESTION, "target": "12:10"})
    rows.insert(50, {"id": "train-b", "input": PARAPHRASE, "target": "12:10"})
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    similarity = jaccard(shingles(normalise(QUESTION), 5), shingles(normalise(PARAPHRASE), 5))
    assert 0.8 <= similarity < 1.0

    report = lint_dataset(path)
    near = report.by_code("near_duplicate")
    assert len(near) == 1  # nothing among the 120 unrelated rows
    assert near[0].sample_ids == ["train-a", "train-b"]
    assert [r.where for r in near[0].rows] == [f"{path}:11", f"{path}:51"]
    assert near[0].details["pairs"] == [
        {"a": "train-a", "b": "train-b", "jaccard": round(similarity, 4)}
    ]
    assert report.by_code("exact_duplicate") == []


def test_threshold_is_configurable_and_verified_by_actual_jaccard(tmp_path):
    # Two rows sharing a long stem: similar, but below the default threshold.
    a = "Summarise the quarterly report for the northern region sales team in three bullets"
    b = "Summarise the quarterly report for the southern region marketing team in five bullets"
    similarity = jaccard(shingles(normalise(a), 5), shingles(normalise(b), 5))
    assert 0.4 < similarity < 0.8
    rows = [*unrelated_rows(40), {"id": "a", "input": a}, {"id": "b", "input": b}]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    assert lint_dataset(path).by_code("near_duplicate") == []
    loose = lint_dataset(path, settings=LintSettings(near_duplicate_threshold=similarity - 0.01))
    assert [s.sample_ids for s in loose.by_code("near_duplicate")] == [["a", "b"]]
    # Every reported pair really is at or above the threshold (no LSH false positives).
    for smell in loose.by_code("near_duplicate"):
        assert all(p["jaccard"] >= similarity - 0.01 for p in smell.details["pairs"])


def test_exact_duplicates_after_normalisation_with_conflicting_targets(tmp_path):
    rows = [
        *unrelated_rows(30),
        {"id": "x1", "input": "What is the capital of Australia?", "target": "Canberra"},
        {"id": "x2", "input": "what is the capital of australia", "target": "Sydney"},
        {"id": "y1", "input": "Spell 'necessary'.", "target": "necessary"},
        {"id": "y2", "input": "Spell  'necessary' .", "target": "necessary"},
    ]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    report = lint_dataset(path)
    exact = report.by_code("exact_duplicate")
    assert [s.sample_ids for s in exact] == [["x1", "x2"], ["y1", "y2"]]
    assert [s.severity for s in exact] == ["error", "error"]
    assert exact[0].details == {"conflicting_targets": True}
    assert "different targets" in exact[0].message
    assert exact[1].details == {"conflicting_targets": False}
    assert exact[0].rows[0].where == f"{path}:31"
    # Exact duplicates are not reported a second time as near duplicates.
    assert report.by_code("near_duplicate") == []


def test_chat_inputs_are_compared_without_their_shared_system_prompt():
    system = Message(role="system", content="You are a meticulous assistant. " * 20)
    samples = [
        Sample(id=f"c{i}", input=(system, Message(role="user", content=text)))
        for i, text in enumerate(["Translate 'cat' to French.", "Who wrote Hamlet?"])
    ]
    assert compared_text(samples[1]) == "Who wrote Hamlet?"
    report = lint_dataset(Dataset("chat", samples))
    assert "near_duplicate" not in _codes(report)
    assert "exact_duplicate" not in _codes(report)


def test_rows_are_located_across_blank_lines_and_in_csv(tmp_path):
    rows = [
        {"id": "a", "input": "Which river flows through Vienna?", "target": "Danube"},
        {"id": "b", "input": "Which river flows through Vienna", "target": "Danube"},
    ]
    jsonl = tmp_path / "qa.jsonl"
    jsonl.write_text("\n" + json.dumps(rows[0]) + "\n\n\n" + json.dumps(rows[1]) + "\n")
    (smell,) = lint_dataset(jsonl).by_code("exact_duplicate")
    assert [r.where for r in smell.rows] == [f"{jsonl}:2", f"{jsonl}:5"]
    csv = tmp_path / "qa.csv"
    csv.write_text(
        "id,input,target\n" + "".join(f"{r['id']},{r['input']},{r['target']}\n" for r in rows)
    )
    (smell,) = lint_dataset(csv).by_code("exact_duplicate")
    assert [r.where for r in smell.rows] == [f"{csv}:2", f"{csv}:3"]  # header is line 1
