"""The GitHub Actions recipe (docs/examples/assay-pr.yml, shown in docs/ci.md): it parses, and
every `assay` command it runs exists with every option it passes (checked against the command's
own `--help`), so the documented workflow cannot drift from the CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from assay.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs"
WORKFLOW = DOCS / "examples" / "assay-pr.yml"


def _workflow() -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    data["on"] = data.pop(True, data.get("on"))
    return data  # type: ignore[no-any-return]


def _assay_commands(script: str) -> list[list[str]]:
    joined = script.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        for part in re.split(r"\s*(?:\|\||&&|;)\s*", line.strip()):
            words = shlex.split(part.split(">")[0]) if part else []
            if words[:1] == ["assay"]:
                out.append(words[1:])
    return out


def test_the_workflow_runs_on_pull_requests_and_gates_with_reports():
    wf = _workflow()
    assert wf["on"]["pull_request"]["branches"] == ["main"]
    assert wf["permissions"]["pull-requests"] == "write"
    gate = wf["jobs"]["gate"]["steps"]
    uses = {s.get("uses", "").split("@")[0]: s for s in gate}
    assert uses["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == "reports/assay.sarif"
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == (
        "reports/assay-junit.xml"
    )
    assert "actions/cache/restore" in uses and "actions/cache/save" in {
        s.get("uses", "").split("@")[0] for s in wf["jobs"]["baseline"]["steps"]
    }
    gate_step = next(s for s in gate if s.get("id") == "gate")
    assert "--junit reports/assay-junit.xml --sarif reports/assay.sarif" in gate_step["run"]
    # The job still comments and uploads when the gate fails, then fails itself.
    assert gate_step["continue-on-error"] is True
    assert gate[-1]["if"] == "steps.gate.outcome == 'failure'" and gate[-1]["run"] == "exit 1"
    comment = next(s for s in gate if "gh pr comment" in s.get("run", ""))
    assert "reports/assay-compare.md" in comment["run"]


def test_every_assay_command_in_the_workflow_exists_with_its_options():
    wf = _workflow()
    scripts = [s["run"] for job in wf["jobs"].values() for s in job["steps"] if "run" in s]
    commands = [c for script in scripts for c in _assay_commands(script)]
    assert {c[0] for c in commands} == {"run", "gate", "compare"}
    runner = CliRunner()
    for words in commands:
        name = words[0]
        shown = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert shown.exit_code == 0, shown.output
        for option in (w for w in words if w.startswith("--")):
            assert re.search(rf"{re.escape(option)}\b", shown.output), f"assay {name} {option}"


def test_the_guide_shows_the_workflow_file_verbatim():
    guide = (DOCS / "ci.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", guide, re.S)
    assert block is not None and block.group(1) == WORKFLOW.read_text()
