"""Mistakes a new user makes: one clear line naming the place, exit code 2, no traceback."""

import pytest

GOOD = """\
name: t
dataset: {path: data.jsonl}
subjects:
  - {name: s, model: sim/atlas-large}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "data.jsonl").write_text(
        '{"id": "a", "input": "1+1?", "target": "2"}\n{"id": "b", "input": "2+2?", "target": "4"}\n'
    )
    (tmp_path / "eval.yaml").write_text(GOOD)
    return tmp_path


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


def test_bad_yaml(cli, project):
    (project / "eval.yaml").write_text("name: t\ndataset:\n\tpath: data.jsonl\n")
    assert_user_error(cli("run", "eval.yaml", cwd=project), "eval.yaml:3", "invalid YAML")


def test_jsonl_row_missing_a_field(cli, project):
    (project / "data.jsonl").write_text('{"id": "a", "input": "x"}\n{"id": "b", "question": "y"}\n')
    assert_user_error(cli("run", "eval.yaml", cwd=project), "data.jsonl:2", "input")


def test_duplicate_id(cli, project):
    (project / "data.jsonl").write_text('{"id": "a", "input": "x"}\n{"id": "a", "input": "y"}\n')
    assert_user_error(cli("run", "eval.yaml", cwd=project), "data.jsonl:2", "duplicate", "'a'")


def test_unknown_provider(cli, project):
    (project / "eval.yaml").write_text(GOOD.replace("sim/atlas-large", "openia/gpt-4o"))
    assert_user_error(
        cli("run", "eval.yaml", cwd=project),
        "eval.yaml:4",
        "unknown provider 'openia'",
        "did you mean 'openai'",
    )


def test_missing_api_key_variable(cli, project):
    (project / "eval.yaml").write_text(GOOD.replace("sim/atlas-large", "openai/gpt-4o-mini"))
    proc = cli("run", "eval.yaml", cwd=project, env={"OPENAI_API_KEY": ""})
    assert_user_error(proc, "OPENAI_API_KEY")


def test_missing_spec_file_and_unknown_run(cli, project):
    assert_user_error(cli("run", "nope.yaml", cwd=project), "nope.yaml", "not found")
    # No store in the project yet: reading commands say so instead of creating one (issue 20).
    assert_user_error(cli("show", "20990101", cwd=project), "no store at")
    assert not (project / ".assay").exists()


def test_unknown_command_is_a_usage_error(cli, project):
    proc = cli("rnu", cwd=project)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
