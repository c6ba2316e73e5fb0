"""Recognising files, reusing earlier imports, bad input, and files given to gate and show.

Uses the fixtures described in test_inspect.py and test_tools.py (real Inspect AI logs; a real
promptfoo results file; hand-written lm-eval output; real openai/evals logs).
"""

from __future__ import annotations

import json
import shutil

import pytest
from tests.cli.conftest import assay_cli
from typer.testing import CliRunner

from assay.importers import ImportFileError, detect_kind, import_file

from .conftest import FIXTURES

BASELINE = FIXTURES / "inspect" / "quiz_baseline.eval"
CANDIDATE = FIXTURES / "inspect" / "quiz_candidate.eval"
ARC = FIXTURES / "lm_eval" / "samples_arc_easy_2025-06-02T14-03-11.482913.jsonl"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (BASELINE, "inspect"),
        (FIXTURES / "inspect" / "quiz_small.json", "inspect"),
        (FIXTURES / "promptfoo" / "results.json", "promptfoo"),
        (ARC, "lm-eval"),
        (FIXTURES / "alpaca_eval" / "annotations.json", "alpaca-eval"),
        (FIXTURES / "openai_evals" / "test_match.jsonl", "openai-evals"),
        (FIXTURES / "openai_evals" / "hosted_output_items.json", "openai-evals"),
    ],
)
def test_kind_is_recognised_by_extension_and_content(path, kind):
    assert detect_kind(path) == kind


def test_an_unrecognised_file_names_what_was_expected(tmp_path):
    other = tmp_path / "notes.json"
    other.write_text('{"hello": "world"}\n')
    with pytest.raises(ImportFileError) as caught:
        detect_kind(other)
    message = str(caught.value)
    assert str(other) in message and "Inspect AI log" in message and "promptfoo" in message


def test_the_same_bytes_are_imported_once(store, tmp_path):
    first = import_file(store, BASELINE)
    copy = tmp_path / "renamed.eval"
    shutil.copy(BASELINE, copy)
    again = import_file(store, copy)  # same content under another name: the same run
    assert again.reused and again.run_id == first.run_id and again.n_results == 24
    named = import_file(store, BASELINE, name="quiz-v1")  # a new name is a new run
    assert not named.reused and store.get_manifest(named.run_id).name == "quiz-v1"
    assert len(store.list_runs()) == 2


def test_malformed_line_exits_2_naming_the_line(tmp_path):
    broken = tmp_path / ARC.name
    lines = ARC.read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join([lines[0], lines[1][:-20], *lines[2:]]) + "\n", encoding="utf-8")
    proc = assay_cli("import", "lm-eval", broken, "--db", tmp_path / "a.db", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{broken}:2" in proc.stderr and "not valid JSON" in proc.stderr


def test_missing_field_exits_2_naming_the_field(tmp_path):
    from assay.cli import app

    doc = json.loads((FIXTURES / "promptfoo" / "results.json").read_text(encoding="utf-8"))
    del doc["results"]["results"][3]["success"]
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["compare", str(bad), str(BASELINE), "--db", str(tmp_path / "a.db")]
    )
    error = result.exception
    # main() prints an AssayError as one `error:` line and exits with its code, 2.
    assert isinstance(error, ImportFileError) and error.exit_code == 2
    assert error.where == f"{bad} (results.results[3])" and "'success'" in str(error)


def test_gate_and_show_take_files(tmp_path):
    from assay.cli import app

    db = str(tmp_path / "assay.db")
    runner = CliRunner()
    passing = runner.invoke(app, ["gate", str(BASELINE), str(CANDIDATE), "--db", db,
                                  "--min", "match=0.9"])  # fmt: skip
    assert passing.exit_code == 0, passing.output
    assert "gate passed" in passing.stdout
    failing = runner.invoke(app, ["gate", str(BASELINE), str(CANDIDATE), "--db", db,
                                  "--min", "match=0.95", "--json"])  # fmt: skip
    assert failing.exit_code == 1 and "reusing run" in failing.stderr
    checks = json.loads(failing.stdout)["checks"]
    assert any(not c["passed"] and "match" in json.dumps(c) for c in checks)
    shown = runner.invoke(app, ["show", str(CANDIDATE), "--db", db, "--json"])
    assert shown.exit_code == 0 and "reusing run" in shown.stderr
    data = json.loads(shown.stdout)
    assert data["run"]["name"] == "quiz" and data["slices"] == ["topic"]
    overall = next(m for m in data["metrics"] if m["scorer"] == "match" and m["group"] == "all")
    assert overall["estimate"] == pytest.approx(11 / 12) and overall["method"] == "wilson"


def test_web_pages_and_audit_read_imported_runs(tmp_path):
    from fastapi.testclient import TestClient

    from assay.cli import app
    from assay.store import Store
    from assay.web.app import create_app

    db = str(tmp_path / "assay.db")
    with Store(db) as store:
        a = import_file(store, BASELINE).run_id
        b = import_file(store, CANDIDATE).run_id
        pairwise = import_file(store, FIXTURES / "alpaca_eval" / "annotations.json").run_id
        first = store.get_samples(pairwise)[0].id
    client = TestClient(create_app(db))
    for page in (f"/runs/{a}", f"/compare/{a}/{b}", f"/runs/{pairwise}/samples/{first}"):
        response = client.get(page)
        assert response.status_code == 200, (page, response.text[:300])
    assert "quiz" in client.get(f"/runs/{a}").text
    audit = CliRunner().invoke(app, ["audit", "outputs", b, "--db", db, "--json"])
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["subjects"]["mockllm/model"]["outputs"] == 12


def test_import_command_detects_the_kind_and_reuses_the_run(tmp_path):
    from assay.cli import app

    db = str(tmp_path / "assay.db")
    path = str(FIXTURES / "openai_evals" / "test_match.jsonl")
    first = CliRunner().invoke(app, ["import", path, "--db", db, "--json"])
    assert first.exit_code == 0, first.output
    made = json.loads(first.stdout)
    assert (made["kind"], made["reused"], made["n_results"]) == ("openai-evals", False, 3)
    again = CliRunner().invoke(app, ["import", "openai-evals", path, "--db", db])
    assert again.exit_code == 0 and f"already imported as run {made['run_id']}" in again.stdout
    wrong = CliRunner().invoke(app, ["import", "promptfoo", path, "--db", db])
    assert isinstance(wrong.exception, ImportFileError)  # a JSONL log is not promptfoo JSON
