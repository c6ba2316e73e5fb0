"""Judges from the command line: lineage warnings and --strict, judge_changed in show and diff,
and `assay judge --pairwise`."""

import json

import pytest

from assay.testing import MockOpenAIServer

VERDICT = json.dumps({"rationale": "Fine.", "score": 4})

LINEAGE_SPEC = """\
name: lineage
dataset:
  samples:
    - {{id: a, input: "2+2?", target: "4"}}
    - {{id: b, input: "3+3?", target: "6"}}
providers:
  openai: {{type: openai_compat, base_url: "{url}", api_key_env: null}}
subjects:
  - {{name: bot, model: openai/gpt-4o-2024-08-06}}
scorers:
  - {{rubric: openai/gpt-4o-mini}}
"""

PINNED_SPEC = """\
name: pinned
dataset:
  samples: [{rows}]
providers:
  mock: {{type: openai_compat, base_url: "{url}", api_key_env: null}}
concurrency: 2
subjects:
  - {{name: bot, model: sim/atlas-large}}
scorers:
  - {{rubric: mock/judge-latest}}
"""

PAIR_SPEC = """\
name: pair
seed: 5
dataset:
  samples: [{rows}]
providers:
  sim:
    type: sim
    judges:
      careful: {{noise: 0.2}}
subjects:
  - {{name: big, model: sim/atlas-large}}
  - {{name: small, model: sim/atlas-small}}
pairwise: {{judge: sim/careful, a: small, b: big}}
"""


def _rows(n):
    return ", ".join(f'{{id: q{i}, input: "question {i}", target: "t{i}"}}' for i in range(n))


@pytest.fixture
def lineage_server():
    def answer(body):
        return VERDICT if body["model"] == "gpt-4o-mini" else "4"

    server = MockOpenAIServer(model="gpt-4o-2024-08-06", answer=answer).start_in_thread()
    yield server
    server.stop()


def test_same_lineage_judge_warns_and_strict_refuses(cli, tmp_path, lineage_server):
    (tmp_path / "e.yaml").write_text(LINEAGE_SPEC.format(url=lineage_server.base_url))
    refused = cli("run", "e.yaml", "--strict", cwd=tmp_path, check=2)
    assert "same_lineage_judge" in refused.stderr and "--strict" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert lineage_server.calls == 0  # refused before any call
    ran = cli("run", "e.yaml", cwd=tmp_path, check=0)
    assert "warning: same_lineage_judge" in ran.stderr and "openai-gpt" in ran.stderr
    shown = json.loads(cli("show", "latest", "--json", cwd=tmp_path, check=0).stdout)
    assert [f["flag"] for f in shown["flags"]] == ["same_lineage_judge"]
    assert shown["flags"][0]["graded"] == ["gpt-4o-2024-08-06"]


def test_judge_changed_in_show_and_diff(cli, tmp_path):
    rows = _rows(16)
    server = MockOpenAIServer(
        model="judge-a", model_after=(6, "judge-b"), answer=lambda body: VERDICT
    ).start_in_thread()
    try:
        (tmp_path / "e.yaml").write_text(PINNED_SPEC.format(url=server.base_url, rows=rows))
        cli("run", "e.yaml", cwd=tmp_path, check=0)
    finally:
        server.stop()
    shown = json.loads(cli("show", "latest", "--json", cwd=tmp_path, check=0).stdout)
    [flag] = shown["flags"]
    assert flag["flag"] == "judge_changed" and flag["within_run"] and flag["judge"] == "rubric"
    assert flag["after"] == ["judge-a", "judge-b"]
    assert "warning: judge_changed" in cli("show", "latest", cwd=tmp_path, check=0).stdout

    server = MockOpenAIServer(model="judge-c", answer=lambda body: VERDICT).start_in_thread()
    try:
        (tmp_path / "e.yaml").write_text(PINNED_SPEC.format(url=server.base_url, rows=rows))
        cli("run", "e.yaml", "--new", cwd=tmp_path, check=0)
    finally:
        server.stop()
    diff = json.loads(cli("diff", "latest~1", "latest", "--json", cwd=tmp_path, check=0).stdout)
    between = [f for f in diff["flags"] if not f["within_run"]]
    assert [(f["flag"], f["reason"], f["after"]) for f in between] == [
        ("judge_changed", "snapshot", ["judge-c"])
    ]
    categories = {c["path"]: c["category"] for c in diff["changes"]}
    assert categories["judges.rubric.resolved_models"] == "judge snapshot"
    assert diff["changes"][0]["category"] in ("judge snapshot", "model snapshot")


def test_pairwise_from_a_spec_and_from_the_judge_command(cli, tmp_path):
    (tmp_path / "p.yaml").write_text(PAIR_SPEC.format(rows=_rows(40)))
    ran = json.loads(cli("run", "p.yaml", "--json", cwd=tmp_path, check=0).stdout)
    report = ran["pairwise"]
    assert report["n_pairs"] == 40 and report["errors"] == 0
    assert report["wins_a"] + report["wins_b"] + report["ties"] == 40
    assert report["b"].endswith(":big") and report["judges"] == ["careful"]
    runs = json.loads(cli("runs", "--json", cwd=tmp_path, check=0).stdout)
    judge_run, base = runs[0]["id"], runs[1]["id"]
    assert runs[0]["subjects"] == ["judge"]

    # The same comparison again from the command line: already judged, nothing re-run.
    again = cli(
        "judge", "--pairwise", f"{base}:small", f"{base}:big", "--judge", "sim/careful",
        "--spec", "p.yaml", "--json", cwd=tmp_path, check=0,
    )  # fmt: skip
    assert "already complete" in again.stderr
    assert json.loads(again.stdout)["run_id"] == judge_run

    one = cli(
        "judge", "--pairwise", f"{base}:small", f"{base}:big", "--judge", "sim/judge-atlas",
        "--one-order", cwd=tmp_path, check=0,
    )  # fmt: skip
    assert "pairwise judge run" in one.stdout and "B preferred" in one.stdout
    assert "same_lineage_judge" in one.stderr  # judge-atlas grades two atlas systems
    strict = cli(
        "judge", "--pairwise", f"{base}:small", f"{base}:big", "--judge", "sim/judge-atlas",
        "--strict", cwd=tmp_path, check=2,
    )  # fmt: skip
    assert "refusing" in strict.stderr
    shown = json.loads(cli("show", judge_run, "--json", cwd=tmp_path, check=0).stdout)
    assert {m["scorer"] for m in shown["metrics"]} == {"preference", "position_consistent"}
    assert shown["pairwise"]["n_pairs"] == 40 and shown["pairwise"]["run_id"] == judge_run
    bad = cli(
        "judge", "--pairwise", base, f"{base}:big", "--judge", "sim/careful", cwd=tmp_path, check=2
    )
    assert "2 subjects" in bad.stderr and "Traceback" not in bad.stderr


def test_gate_requires_a_migration_note_when_the_judge_changed(cli, tmp_path):
    rows = _rows(30)
    for model, args in (("judge-a", ()), ("judge-b", ("--new",))):
        server = MockOpenAIServer(model=model, answer=lambda body: VERDICT).start_in_thread()
        try:
            (tmp_path / "e.yaml").write_text(PINNED_SPEC.format(url=server.base_url, rows=rows))
            cli("run", "e.yaml", *args, cwd=tmp_path, check=0)
        finally:
            server.stop()
    refused = cli("gate", "latest~1", "latest", cwd=tmp_path, check=1)
    assert "judge change rubric" in refused.stdout and "--migration-note" in refused.stdout
    noted = cli(
        "gate",
        "latest~1",
        "latest",
        "--migration-note",
        "bridge: +0.0 on every slice",
        cwd=tmp_path,
        check=0,
    )
    assert "migration note: bridge: +0.0 on every slice" in noted.stdout
    cli("gate", "latest~1", "latest", "--migration-note", "", cwd=tmp_path, check=2)


ANCHORED_SPEC = """\
name: anchored
seed: 3
dataset:
  samples: [{rows}]
anchors: anchors.jsonl
providers:
  sim:
    type: sim
    judges:
      grader: {{noise: 0.3{drift}}}
subjects:
  - {{name: bot, model: sim/atlas-large}}
scorers:
  - {{rubric: {{judge: sim/grader, scale: 10}}}}
"""


def test_anchor_set_catches_a_judge_that_changed_behind_the_same_name(cli, tmp_path):
    """Same judge name, same reported snapshot, a more lenient judge: only the anchor scores
    (fresh calls, never the cache) can tell, and the gate then asks for a migration note."""
    anchors = [
        {"id": f"a{i}", "input": f"What is {i} + {i}?", "output": str(2 * i if i % 3 else i)}
        for i in range(20)
    ]
    (tmp_path / "anchors.jsonl").write_text("".join(json.dumps(a) + "\n" for a in anchors))
    (tmp_path / "e.yaml").write_text(ANCHORED_SPEC.format(rows=_rows(12), drift=""))
    first = json.loads(cli("run", "e.yaml", "--json", cwd=tmp_path, check=0).stdout)["run"]["id"]
    again = cli("run", "e.yaml", "--new", "--json", cwd=tmp_path, check=0)
    second = json.loads(again.stdout)["run"]["id"]
    from assay.store import Store

    store = Store(str(tmp_path / ".assay" / "assay.db"))
    try:
        [judge] = store.get_manifest(first).judges
        assert len(judge.anchor_scores) == 20 and judge.anchor_fingerprint
        assert store.get_manifest(second).judges[0].anchor_fingerprint == judge.anchor_fingerprint
    finally:
        store.close()
    unchanged = json.loads(cli("diff", first, second, "--json", cwd=tmp_path, check=0).stdout)
    assert [f for f in unchanged["flags"] if f["flag"] == "judge_changed"] == []

    (tmp_path / "e.yaml").write_text(ANCHORED_SPEC.format(rows=_rows(12), drift=", leniency: 2.0"))
    third = json.loads(cli("run", "e.yaml", "--new", "--json", cwd=tmp_path, check=0).stdout)[
        "run"
    ]["id"]
    diff = json.loads(cli("diff", second, third, "--json", cwd=tmp_path, check=0).stdout)
    changed = [f for f in diff["flags"] if f["flag"] == "judge_changed"]
    assert [(f["reason"], f["within_run"]) for f in changed] == [("anchors", False)]
    refused = cli("gate", second, third, cwd=tmp_path, check=1)
    assert "anchor-set fingerprint" in refused.stdout


def test_a_bad_anchor_file_names_the_line(cli, tmp_path):
    (tmp_path / "anchors.jsonl").write_text(
        '{"id": "a1", "input": "x", "output": "y"}\n{"id": "a2"}\n'
    )
    (tmp_path / "e.yaml").write_text(ANCHORED_SPEC.format(rows=_rows(2), drift=""))
    failed = cli("run", "e.yaml", cwd=tmp_path, check=2)
    assert "anchors.jsonl:2" in failed.stderr and "missing field 'input'" in failed.stderr
