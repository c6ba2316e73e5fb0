"""`assay gate --junit FILE --sarif FILE`: the CI reports of a gate, parsed back.

The SARIF log is validated against the OASIS SARIF 2.1.0 JSON schema
(``data/sarif-2.1.0-rtm.5.json``, draft-04). It is vendored from the npm package
``@microsoft/jest-sarif`` 1.0.0-beta.0 (MIT), ``lib/schemas/sarif-2.1.0-rtm.5.json``, because no
PyPI package ships it (``sarif-om`` and ``sarif-tools`` have the object model, not the schema)
and tests run offline.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.store import Store

SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json"

SPEC = """\
name: report-eval
dataset:
  path: data/items.jsonl
slices: [slice]
seed: 3
providers:
  sim:
    type: sim
    systems:
      helper:
        family: atlas
        ability: 0.8
        prompt_effects:
          - contains: "Think first"
            slices: {{math: 1.0, code: -2.0, chat: 0.8}}
subjects:
  - name: assistant
    model: sim/helper
    prompt: "{prompt}Answer: {{{{ input }}}}"
    params: {{temperature: 0}}
scorers: [exact, includes]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A baseline and a candidate that regresses the `code` slice (made once)."""
    root = tmp_path_factory.mktemp("gate-reports")
    rng = random.Random(5)
    (root / "data").mkdir()
    rows = [
        {"id": f"i{i}", "input": f"item {i}", "target": f"t{i}",
         "slice": ("math", "code", "chat")[i % 3], "difficulty": round(rng.gauss(0, 1), 3)}
        for i in range(90)
    ]  # fmt: skip
    (root / "data" / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    for name, prompt in (("a", ""), ("b", "Think first. ")):
        (root / f"{name}.yaml").write_text(SPEC.format(prompt=prompt))
        made = CliRunner().invoke(app, ["run", str(root / f"{name}.yaml"), "--db", str(root / "s.db")])  # fmt: skip
        assert made.exit_code == 0, made.output
    with Store(str(root / "s.db")) as store:
        b, a = [r.id for r in store.list_runs()]
    return root, a, b


@pytest.fixture
def runs(world, monkeypatch):
    """The world, with its folder as the working directory (as the checkout is in CI)."""
    monkeypatch.chdir(world[0])
    return world


def _gate(*args: str) -> tuple[int, Path, Path]:
    out = CliRunner().invoke(
        app, ["gate", *args, "--db", "s.db", "--junit", "r/gate.xml", "--sarif", "r/gate.sarif"]
    )
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    return out.exit_code, Path("r/gate.xml"), Path("r/gate.sarif")


def test_failed_gate_writes_junit_and_schema_valid_sarif(runs):
    _, a, b = runs
    code, junit, sarif = _gate(a, b, "--min", "includes=0.99")
    assert code == 1
    # JUnit: one test case per check (2 regression checks, 1 threshold), failures counted.
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert (suite.get("tests"), suite.get("failures")) == ("3", str(len(failed)))
    assert root.get("failures") == str(len(failed))
    names = {c.get("name"): c for c in cases}
    assert set(names) == {"assistant/exact", "assistant/includes", "assistant/includes >= 0.99"}
    exact = names["assistant/exact"].find("failure")
    assert exact is not None and "mixed: slice regression: slice=code" in exact.get("message", "")
    assert names["assistant/includes >= 0.99"].find("failure") is not None
    # SARIF: valid against the 2.1.0 schema; one result per failed check.
    log = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert len(results) == len(failed) and {r["kind"] for r in results} == {"fail"}
    by_check = {r["properties"]["check"]: r for r in results}
    assert set(by_check) == {c.get("name") for c in failed}
    regression = by_check["assistant/exact"]
    assert rules[regression["ruleIndex"]] == regression["ruleId"] == "assay.gate.regression"
    assert "slice=code" in regression["message"]["text"]
    location = regression["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "data/items.jsonl", "uriBaseId": "%SRCROOT%"}
    threshold = by_check["assistant/includes >= 0.99"]
    assert threshold["ruleId"] == "assay.gate.threshold"
    assert (run["properties"]["baseline_run"], run["properties"]["candidate_run"]) == (a, b)
    assert run["invocations"][0]["exitCode"] == 1
    # The same finding twice is the same alert: stable fingerprints.
    _gate(a, b, "--min", "includes=0.99")
    again = json.loads(sarif.read_text())["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in again] == [r["partialFingerprints"] for r in results]


def test_passing_gate_writes_an_empty_but_valid_sarif(runs):
    _, a, _ = runs
    code, junit, sarif = _gate(a, a)  # a run against itself: nothing can regress
    assert code == 0
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and root.get("tests") == "2"
    log = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["properties"]["passed"] is True


def test_an_unwritable_sarif_path_is_a_usage_error(runs):
    root, a, b = runs
    (root / "blocker").write_text("a file, not a folder")
    out = CliRunner().invoke(app, ["gate", a, b, "--db", "s.db", "--sarif", "blocker/x.sarif"])
    assert "cannot write blocker/x.sarif" in str(out.exception)
