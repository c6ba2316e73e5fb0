"""A1: the manifest records the retrieval index snapshot (issue 20), and `assay show --manifest`
prints it."""

import json

from typer.testing import CliRunner

from assay.cli.app import app
from assay.core import Sample
from assay.data import Dataset
from assay.data.kb_pinning import document_hash, pin_gold_documents
from assay.run import Eval, eval_from_spec, run
from assay.run.runner import build_manifest
from assay.run.subjects import ModelSubject
from assay.store import Store


def _spec(**extra):
    return {
        "name": "rag",
        "seed": 1,
        "dataset": {
            "samples": [{"id": f"q{i}", "input": f"q {i}", "target": "a"} for i in range(4)]
        },
        "subjects": [{"name": "m", "model": "sim/atlas-large"}],
        **extra,
    }


def test_the_spec_index_snapshot_is_recorded_and_changes_the_fingerprint(tmp_path):
    a = build_manifest(eval_from_spec(_spec(index_snapshot="kb-2026-11"), base_dir=tmp_path), "r")
    b = build_manifest(eval_from_spec(_spec(index_snapshot="kb-2026-12"), base_dir=tmp_path), "r")
    none = build_manifest(eval_from_spec(_spec(), base_dir=tmp_path), "r")
    assert (a.index_snapshot, b.index_snapshot, none.index_snapshot) == (
        "kb-2026-11",
        "kb-2026-12",
        None,
    )
    assert a.fingerprint != b.fingerprint


def test_a_pinned_rag_dataset_records_its_snapshot(tmp_path):
    from assay.providers import create_provider

    samples = [
        Sample(id=f"q{i}", input=f"policy {i}?", target="x", metadata={"gold_doc_ids": [f"d{i}"]})
        for i in range(3)
    ]
    corpus = {f"d{i}": document_hash(f"policy {i}") for i in range(3)}
    dataset = pin_gold_documents(Dataset("rag", samples), corpus, index_snapshot="kb-v1")
    subject = ModelSubject("atlas", provider=create_provider("sim"), model="atlas-large")
    ev = Eval(name="rag", dataset=dataset, subjects=[subject])
    assert build_manifest(ev, "r").index_snapshot == "kb-v1"
    explicit = Eval(name="rag", dataset=dataset, subjects=[subject], index_snapshot="kb-v2")
    assert build_manifest(explicit, "r").index_snapshot == "kb-v2"


def test_show_manifest_prints_the_snapshot(tmp_path):
    db = tmp_path / "assay.db"
    with Store(str(db)) as store:
        outcome = run(eval_from_spec(_spec(index_snapshot="kb-7"), base_dir=tmp_path), db=store)
    result = CliRunner().invoke(app, ["show", outcome.run_id, "--manifest", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["index_snapshot"] == "kb-7"


def test_samples_pinned_to_several_snapshots_list_them_sorted_without_blanks():
    from assay.run.runner import index_snapshot

    subject = [ModelSubject("s", provider=None, model="m")]
    samples = [
        Sample(id=str(i), input="q", metadata={"index_snapshot": snap} if snap is not None else {})
        for i, snap in enumerate(["kb-2", "kb-1", "", None, "kb-2", 7])
    ]
    ev = Eval(name="rag", dataset=Dataset("rag", samples), subjects=subject)
    assert index_snapshot(ev) == "7, kb-1, kb-2"
    plain = Eval(name="plain", dataset=Dataset("p", [Sample(id="a", input="q")]), subjects=subject)
    assert index_snapshot(plain) is None
