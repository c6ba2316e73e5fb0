"""What a new user's first hour ran into, through the real command line (issue 20, 6 and 8):
each mistake is one ``error:`` line naming the place and the fix, exit 2, no traceback."""

from __future__ import annotations

import time
from pathlib import Path

from .conftest import assay_cli


def _one_error_line(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_a_mysql_url_is_one_line_naming_the_supported_urls(tmp_path: Path) -> None:
    line = _one_error_line(assay_cli("runs", "--db", "mysql://u:pw@localhost/x", cwd=tmp_path))
    assert "SQLite or PostgreSQL" in line and "postgresql://" in line


def test_read_only_commands_do_not_create_a_store(tmp_path: Path) -> None:
    for args in (["runs"], ["show", "latest"]):
        line = _one_error_line(assay_cli(*args, cwd=tmp_path))
        assert "no store at" in line and ".assay" in line
    assert list(tmp_path.iterdir()) == []


SPEC = """\
name: first-hour
dataset:
  samples:
    - {id: a, input: "What is 2+2?", target: "4"}
subjects:
  - name: s
    model: sim/atlas-small
    prompt: PROMPT
scorers: [exact]
"""


def test_spec_mistakes_exit_2_before_the_run(tmp_path: Path) -> None:
    cases = {
        '"Q: {{ inptu }}"': "{{ inptu }} is not a field of the dataset",
        "prompt_v1": "prompt file not found",
    }
    for value, expected in cases.items():
        (tmp_path / "eval.yaml").write_text(SPEC.replace("PROMPT", value), encoding="utf-8")
        line = _one_error_line(assay_cli("run", "eval.yaml", cwd=tmp_path))
        assert "eval.yaml:8 (subjects[0].prompt)" in line and expected in line
    # A billion-laughs spec: refused in well under a second of work (start-up aside).
    lines = ['      l0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"      l{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8)]
    bomb = SPEC.replace("    prompt: PROMPT\n", "    params:\n" + "\n".join(lines) + "\n")
    (tmp_path / "bomb.yaml").write_text(bomb, encoding="utf-8")
    start = time.perf_counter()
    line = _one_error_line(assay_cli("run", "bomb.yaml", cwd=tmp_path, timeout=60))
    assert time.perf_counter() - start < 20  # before: 64 s and 2.3 GB
    assert "bomb.yaml:" in line and "billion laughs" in line


def test_report_compare_does_not_suggest_an_option_report_lacks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assay.cli import app
    from assay.core import AssayError
    from assay.store import Store

    from ..analyse.conftest import write_run

    db = tmp_path / "assay.db"
    store = Store(str(db))
    both = {("small", "exact"): {"a": 1.0}, ("large", "exact"): {"a": 0.0}}
    write_run(store, "r1", both)
    write_run(store, "r2", {("tiny", "exact"): {"a": 1.0}, ("huge", "exact"): {"a": 0.0}})
    store.close()
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["report", "r1", "--compare", "r2", "--db", str(db), "-o", str(out)]
    )
    error = result.exception
    assert isinstance(error, AssayError), result.output
    assert error.where == "--compare" and "assay compare RUN RUN2 --subject" in str(error)


def test_show_manifest_prints_the_runs_manifest(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from assay.cli import app
    from assay.store import Store

    from ..analyse.conftest import write_run

    db = tmp_path / "assay.db"
    store = Store(str(db))
    write_run(store, "r1", {("bot", "exact"): {"a": 1.0, "b": 0.0}})
    store.close()
    result = CliRunner().invoke(app, ["show", "r1", "--manifest", "--db", str(db)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["run_id"] == "r1" and manifest["dataset"]["sample_ids"] == ["a", "b"]


def test_a_run_stopped_by_max_errors_counts_what_failed_as_its_abort_message_does(
    tmp_path: Path,
) -> None:
    # Issue 20, 8: against the mock with 90% HTTP 500s, `--max-errors 3` stops the run, whose
    # summary said "0 errors, 1 retries" next to "16 more are failing behind an open circuit
    # breaker". The summary counts those as failed or abandoned, and says how many results
    # were not stored (what a resume asks for again).
    import json
    import re

    from assay.testing import MockOpenAIServer

    server = MockOpenAIServer(model="mock", faults={"error_500": 0.9, "seed": 3}).start_in_thread()
    try:
        (tmp_path / "data.jsonl").write_text(
            "".join(
                json.dumps({"id": f"q{i}", "input": f"question {i}", "target": "x"}) + "\n"
                for i in range(30)
            )
        )
        (tmp_path / "eval.yaml").write_text(
            "name: failing\ndataset: {path: data.jsonl}\nconcurrency: 16\n"
            f"providers:\n  mock: {{type: openai, base_url: '{server.base_url}', "
            "api_key_env: null}\n"
            "subjects:\n  - {name: bot, model: mock/mock}\nscorers: [exact]\n"
        )
        proc = assay_cli("run", "eval.yaml", "--max-errors", "3", cwd=tmp_path, timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 1, proc.stderr
    err = " ".join(proc.stderr.split())  # unwrapped
    abort = re.search(
        r"aborted: (\d+) results failed(?: and (\d+) more are failing behind an open circuit "
        r"breaker)?",
        err,
    )
    assert abort is not None, err
    stored_failed, abandoned = int(abort[1]), int(abort[2] or 0)
    assert abandoned > 0, err  # the case the issue describes
    done = re.search(r"aborted at (\d+)/30 results", err)
    assert done is not None, err
    assert f"{stored_failed + abandoned} failed or abandoned " in err
    assert f"({stored_failed} stored with their error, {abandoned} failing behind an open " in err
    not_stored = 30 - int(done[1])
    assert f"{not_stored} not stored" in err and "a resume asks for" in err
    assert not re.search(r"\b0 errors\b", err), err
