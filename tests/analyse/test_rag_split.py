"""F1/F2: a RAG run's metric split into samples the KB still backs and samples invalidated by a
KB change, each with its own interval."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.analyse import split_by_kb_validity
from assay.core import Sample
from assay.data import Dataset, write_dataset
from assay.data.kb_pinning import document_hash, kb_check, pin_gold_documents
from assay.run import Eval, run_async
from assay.run.subjects import ModelSubject
from assay.stats import t_interval, wilson_interval

from .conftest import write_run

SRC = str(Path(__file__).resolve().parents[2] / "src")
CHANGED = set(range(0, 100, 10))  # the gold documents a KB update rewrites


def corpus(changed=()):
    return {
        f"doc{i}": document_hash(f"policy {i}" + (" (revised)" if i in changed else ""))
        for i in range(100)
    }


def rag_dataset():
    """100 RAG samples, q{i} citing doc{i}. Those whose gold document the update rewrites are
    answered wrong (difficulty +30: the target no longer matches what the KB says); the rest
    right (−30)."""
    samples = [
        Sample(
            id=f"q{i}",
            input=f"What does policy {i} say?",
            target=f"policy {i}",
            metadata={"gold_doc_ids": [f"doc{i}"], "difficulty": 30.0 if i in CHANGED else -30.0},
        )
        for i in range(100)
    ]
    return pin_gold_documents(Dataset("rag", samples), corpus(), index_snapshot="kb-v1")


@pytest.fixture
def rag_run(store):
    from assay.providers import create_provider
    from assay.score import exact

    dataset = rag_dataset()
    ev = Eval(
        name="rag",
        dataset=dataset,
        subjects=[ModelSubject("atlas", provider=create_provider("sim"), model="atlas-large")],
        scorers=[exact()],
        seed=1,
    )
    outcome = asyncio.run(run_async(ev, db=store))
    assert outcome.status == "completed"
    return dataset, outcome.run_id


def test_valid_and_invalidated_samples_are_scored_apart(store, rag_run):
    dataset, run_id = rag_run
    kb = kb_check(dataset, corpus(changed=CHANGED | {150}))
    split = split_by_kb_validity(store, run_id, kb)
    assert split.counts() == {"all": 100, "valid": 90, "invalidated": 10, "unpinned": 0,
                              "unchecked": 0}  # fmt: skip
    assert sorted(split.sample_groups["invalidated"], key=lambda s: int(s[1:])) == [
        f"q{i}" for i in sorted(CHANGED)
    ]
    metric = split.metric("atlas", "exact")
    assert [g.group for g in metric.groups] == ["all", "valid", "invalidated"]
    assert metric.group("all").interval == wilson_interval(90, 100)
    assert metric.group("valid").interval == wilson_interval(90, 90)  # 1.0 on still-valid cases
    assert metric.group("invalidated").interval == wilson_interval(0, 10)
    payload = split.as_dict()
    assert payload["invalidated"] == split.sample_groups["invalidated"]
    assert payload["metrics"][0]["groups"][1] == {
        "group": "valid", "estimate": 1.0, "low": wilson_interval(90, 90).low, "high": 1.0,
        "n": 90, "method": "wilson", "confidence": 0.95,
    }  # fmt: skip


def test_unchanged_kb_leaves_every_sample_valid(store, rag_run):
    dataset, run_id = rag_run
    split = split_by_kb_validity(store, run_id, kb_check(dataset, corpus()))
    metric = split.metric("atlas", "exact")
    assert [g.group for g in metric.groups] == ["all", "valid"]
    assert metric.group("invalidated") is None
    assert metric.group("valid").interval == metric.group("all").interval


def test_graded_scores_epochs_errors_unpinned_and_unchecked_samples(store):
    # Two epochs of a 0-1 graded score; s4 errored; s5 is in the run but not in the KB check.
    scores = {
        ("m", "faithfulness"): {
            "s0": [0.9, 0.7], "s1": [1.0, 1.0], "s2": [0.2, 0.4], "s3": [0.5, 0.5],
            "s5": [0.6, 0.8],
        }
    }  # fmt: skip
    write_run(store, "R", scores, errors={"m": ["s4"]})
    kb = kb_check(
        Dataset("d", [
            Sample(id="s0", input="?", metadata={"gold_docs": {"d0": "h0"}}),
            Sample(id="s1", input="?", metadata={"gold_docs": {"d1": "h1"}}),
            Sample(id="s2", input="?", metadata={"gold_docs": {"d2": "h2"}}),
            Sample(id="s3", input="?"),
            Sample(id="s4", input="?", metadata={"gold_docs": {"d4": "h4"}}),
        ]),
        {"d0": "h0", "d1": "h1", "d2": "changed", "d4": "h4"},
    )  # fmt: skip
    split = split_by_kb_validity(store, "R", kb)
    assert split.sample_groups == {
        "all": ["s0", "s1", "s2", "s3", "s4", "s5"],
        "valid": ["s0", "s1", "s4"],
        "invalidated": ["s2"],
        "unpinned": ["s3"],
        "unchecked": ["s5"],
    }
    metric = split.metric("m", "faithfulness")
    # Epochs are averaged per sample; the errored s4 is left out, not counted as zero.
    assert metric.group("valid").interval == t_interval([0.8, 1.0])
    assert metric.group("all").interval == t_interval([0.8, 1.0, 0.3, 0.5, 0.7])
    assert metric.group("invalidated").interval.estimate == pytest.approx(0.3)
    assert metric.group("invalidated").interval.method == "t"  # not Wilson: a graded score
    assert metric.group("unpinned").interval.n == 1
    assert metric.group("unchecked").interval.estimate == pytest.approx(0.7)


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "COLUMNS": "200", "NO_COLOR": "1"}  # fmt: skip
    env.pop("ASSAY_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "assay", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_kb_check_run_option_prints_the_split(tmp_path, store, rag_run):
    dataset, run_id = rag_run
    write_dataset(dataset, tmp_path / "rag.jsonl")
    new = tmp_path / "v2.jsonl"
    new.write_text(
        "".join(
            json.dumps(
                {"id": f"doc{i}", "text": f"policy {i}" + (" (revised)" if i in CHANGED else "")}
            )
            + "\n"
            for i in range(100)
        )
    )
    db = str(store.url)
    proc = _cli("data", "kb-check", "rag.jsonl", "--corpus", "v2.jsonl", "--run", run_id[:15],
                "--db", db, "--json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["counts"]["gold_changed"] == 10
    split = payload["run_split"]
    assert split["run_id"] == run_id and split["counts"]["invalidated"] == 10
    groups = {g["group"]: g for g in split["metrics"][0]["groups"]}
    assert (groups["valid"]["estimate"], groups["invalidated"]["estimate"]) == (1.0, 0.0)
    proc = _cli("data", "kb-check", "rag.jsonl", "--corpus", "v2.jsonl", "--run", "latest",
                "--db", db, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "90 valid, 10 invalidated" in proc.stdout
    assert "invalidated by KB change (n)" in proc.stdout
    assert "1.000 [0.959, 1.000] (90)" in proc.stdout
    proc = _cli("data", "kb-check", "rag.jsonl", "--corpus", "v2.jsonl", "--run", "nope",
                "--db", db, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "no run matches 'nope'" in proc.stderr
