"""``assay data lint`` end to end, in a subprocess: JSON schema, --strict, errors, --db."""

import json

from lint_testutil import assay_cli, make_runs, unrelated_rows, write_jsonl, write_spec

from assay.data.lint import SMELL_CODES
from assay.store import Store


def smelly(tmp_path):
    rows = unrelated_rows(30)
    rows[2] = {**rows[2], "input": rows[1]["input"].lower()}
    for row in rows:
        row["provenance"] = {"origin": "authored"}
    return write_jsonl(tmp_path / "qa.jsonl", rows)


def test_json_output_follows_the_schema(tmp_path):
    path = smelly(tmp_path)
    proc = assay_cli("data", "lint", path.name, "--json", cwd=tmp_path, check=0)
    report = json.loads(proc.stdout)
    assert set(report) == {"dataset", "settings", "checks", "counts", "smells"}
    assert report["dataset"]["name"] == "qa" and report["dataset"]["n_samples"] == 30
    assert set(report["dataset"]) == {"name", "source", "n_samples", "content_hash"}
    assert report["settings"]["near_duplicate_threshold"] == 0.8
    assert all(set(c) == {"check", "ran", "reason"} for c in report["checks"])
    assert {c["check"]: c["ran"] for c in report["checks"]}["run_outcomes"] is False
    assert set(report["counts"]) == {"info", "warning", "error"}
    assert sum(report["counts"].values()) == len(report["smells"])
    for smell in report["smells"]:
        assert set(smell) == {"code", "severity", "message", "fix", "rows", "details"}
        assert smell["code"] in SMELL_CODES
        assert smell["severity"] in ("info", "warning", "error")
        assert all(set(r) == {"sample_id", "where", "note"} for r in smell["rows"])
    first = report["smells"][0]  # worst first
    assert (first["code"], first["severity"]) == ("exact_duplicate", "error")
    assert [r["where"] for r in first["rows"]] == ["qa.jsonl:2", "qa.jsonl:3"]
    assert {s["code"] for s in report["smells"]} == {"exact_duplicate", "museum"}


def test_strict_exits_1_on_warnings_and_0_on_a_clean_dataset(tmp_path):
    path = smelly(tmp_path)
    proc = assay_cli("data", "lint", path.name, "--strict", cwd=tmp_path, check=1)
    assert "exact_duplicate" in proc.stdout and "qa.jsonl:2" in proc.stdout
    assert "error: 1 error(s) and 1 warning(s) in qa.jsonl" in proc.stderr
    assert "not checked: run_outcomes" in proc.stderr
    # --skip the smells you accept and the gate passes.
    assay_cli(
        "data", "lint", path.name, "--strict", "--skip", "exact_duplicate", "--skip", "museum",
        cwd=tmp_path, check=0,
    )  # fmt: skip
    clean = write_jsonl(tmp_path / "clean.jsonl", unrelated_rows(30))
    proc = assay_cli("data", "lint", clean.name, "--strict", cwd=tmp_path, check=0)
    assert "0 smell(s) in 30 samples" in proc.stdout and "clean" in proc.stdout


def test_bad_input_names_file_and_line(tmp_path):
    rows = "".join(json.dumps(r) + "\n" for r in unrelated_rows(3))
    (tmp_path / "bad.jsonl").write_text(rows + '{"id": "q9", "input": \n', encoding="utf-8")
    proc = assay_cli("data", "lint", "bad.jsonl", cwd=tmp_path, check=2)
    assert proc.stderr.startswith("error: bad.jsonl:4: malformed JSON")
    assert "Traceback" not in proc.stderr
    proc = assay_cli("data", "lint", "--skip", "museum", cwd=tmp_path, check=2)
    assert "give a DATASET file or --spec" in proc.stderr
    proc = assay_cli("data", "lint", "bad.jsonl", "--skip", "musuem", cwd=tmp_path, check=2)
    assert "unknown smell code(s) musuem" in proc.stderr


def test_spec_and_store_feed_the_run_checks(tmp_path):
    rows = unrelated_rows(20)
    for i, row in enumerate(rows):
        row["difficulty"] = 30.0 if i < 3 else -30.0
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    spec = write_spec(tmp_path / "eval.yaml", data, scorers="[exact, {rubric: sim/judge-atlas}]")
    db = tmp_path / "assay.db"
    store = Store(str(db))
    try:
        make_runs(store, spec, seeds=[1, 2, 3])
    finally:
        store.close()
    # No DATASET: the spec's dataset is linted, with file:line from its file.
    proc = assay_cli(
        "data", "lint", "--spec", spec.name, "--db", db, "--json", cwd=tmp_path, check=0
    )
    report = json.loads(proc.stdout)
    by_code = {s["code"]: s for s in report["smells"]}
    assert [r["sample_id"] for r in by_code["never_passed"]["rows"]] == ["q0", "q1", "q2"]
    assert by_code["never_passed"]["rows"][0]["where"].endswith("qa.jsonl:1")
    assert len(by_code["saturated_samples"]["rows"]) == 17
    assert by_code["same_lineage_judge"]["details"]["judge_model"] == "sim/judge-atlas"
    not_run = {c["check"]: c["reason"] for c in report["checks"] if not c["ran"]}
    assert not_run == {
        "slice_power": "no slice keys: give --slice KEY or a spec with slices:",
        "kb": "no knowledge-base corpus given: --kb CORPUS",
    }
