"""The data-tool, judge-bridge and human-agreement pages show the numbers of their commands'
``--json`` on the same input; the server refuses files outside the project; the planner names
its fields in the user's words; the lint page lists ids compactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assay.cli.app import app as cli
from assay.store import Store
from assay.web import create_app


def cli_json(*args: str, cwd: Path | None = None) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def client(demo_store):  # type: ignore[no-untyped-def]
    with TestClient(create_app(demo_store.db)) as c:
        yield c


@pytest.fixture
def project(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A project directory the server runs in, holding a training file that repeats three
    demo questions."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _eval_and_train(project: Path, demo_store) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """The demo's questions made long enough to check (same ids, so the demo's runs score
    them), and a training file holding three of them verbatim."""
    rows = [json.loads(line) for line in (demo_store.project / "data" / "qa.jsonl").open()]
    padding = "Please show the working for {} step by step and state the final answer clearly."
    for row in rows:
        row["input"] = f"{row['input']} {padding.format(row['id'])}"
    (project / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    train = project / "train.jsonl"
    with train.open("w") as fh:
        for k, row in enumerate(rows[:3]):
            fh.write(json.dumps({"id": f"t{k}", "text": f"{row['input']} {row['target']}"}) + "\n")
        fh.write(json.dumps({"id": "other", "text": "nothing like an eval question here"}) + "\n")
    return project / "eval.jsonl", train


def test_sample_and_composition_equal_the_cli_json(demo_store, client):  # type: ignore[no-untyped-def]
    db = demo_store.db
    expected = cli_json("data", "sample", "--traces", "--n", "40", "--strata",
                        "hour_of_week,route", "--seed", "3", "--db", db)  # fmt: skip
    got = client.get("/api/data/sample", params={"n": 40, "strata": "hour_of_week,route",
                                                 "seed": 3}).json()  # fmt: skip
    assert got == expected
    page = client.get("/data/sample", params={"n": 40, "strata": "hour_of_week,route", "seed": 3})
    assert f'data-sample="{expected["sample_size"]}"' in page.text
    assert page.text.count('class="allocation-row"') == len(expected["allocation"])

    shares = cli_json("data", "composition", "--traces", "--by", "route", "--db", db)
    assert client.get("/api/data/composition", params={"by": "route"}).json() == shares
    page = client.get("/data/composition", params={"by": "route"}).text
    for s in shares["variables"]["route"]:
        assert f'data-value="{s["value"]}" data-count="{s["count"]}"' in page
        assert f"{100 * s['share']:.1f}%" in page


def test_composition_of_a_sample_file_equals_the_cli_json(client, project):  # type: ignore[no-untyped-def]
    population = [
        {"id": f"r{k}", "timestamp": f"2026-03-0{1 + k % 7}T{k % 24:02d}:00:00Z",
         "segment": ["retail", "pro", "edu"][k % 3 if k % 10 else 0]}
        for k in range(300)
    ]  # fmt: skip
    (project / "population.jsonl").write_text("".join(json.dumps(r) + "\n" for r in population))
    sample = [r for r in population if r["segment"] != "edu"][:30]  # edu is left out
    (project / "sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sample))
    expected = cli_json("data", "composition", str(project / "sample.jsonl"), "--population",
                        str(project / "population.jsonl"), "--strata", "segment")  # fmt: skip
    params = {"by": "segment", "sample": "sample.jsonl", "population": "population.jsonl"}
    got = client.get("/api/data/composition", params=params).json()
    assert got == expected
    page = client.get("/data/composition", params=params).text
    coverage = {v["value"]: v["coverage"] for v in expected["variables"]["segment"]}
    assert coverage["edu"] == 0 and 'data-value="edu"' in page
    half = client.get("/api/data/composition", params={"by": "segment", "sample": "sample.jsonl"})
    assert half.status_code == 400 and "give both files" in half.json()["error"]


def test_contamination_and_provenance_equal_the_cli_json(demo_store, client, project):  # type: ignore[no-untyped-def]
    qa = str(demo_store.project / "data" / "qa.jsonl")
    eval_file, train = _eval_and_train(project, demo_store)
    expected = cli_json("data", "contamination", "--eval", str(eval_file), "--train", str(train),
                        "--run", demo_store.v2, "--db", demo_store.db)  # fmt: skip
    params = {"eval": "eval.jsonl", "train": "train.jsonl", "run": demo_store.v2}
    got = client.get("/api/data/contamination", params=params).json()
    for timing in ("seconds", "mb_per_second"):
        got["corpus"].pop(timing), expected["corpus"].pop(timing)
    assert got == expected
    assert got["bands"]["dirty"] == 3 and got["effects"]
    page = client.get("/data/contamination", params=params).text
    assert page.count('class="contaminated-row"') == 3

    # The eval set can also be a stored run's samples: the demo's v1 stored qa.jsonl's rows.
    from_file = cli_json("data", "contamination", "--eval", qa, "--train", str(train))
    stored = client.get("/api/data/contamination", params={"eval_run": demo_store.v1,
                                                            "train": "train.jsonl"}).json()  # fmt: skip
    assert stored["bands"] == from_file["bands"]
    assert [s["sample_id"] for s in stored["samples"]] == [
        s["sample_id"] for s in from_file["samples"]
    ]

    revoked = cli_json("data", "provenance", qa, "--revoked-since", "2020-01-01",
                       "--db", demo_store.db)  # fmt: skip
    got = client.get("/api/data/provenance", params={"datasets": qa,
                                                     "revoked_since": "2020-01-01"}).json()  # fmt: skip
    assert got == revoked
    assert client.get("/data/provenance", params={"revoked_since": "2020-01-01"}).status_code == 200


def test_the_server_reads_no_file_outside_the_project(demo_store, client, project):  # type: ignore[no-untyped-def]
    outside = project.parent / "secret.jsonl"
    outside.write_text('{"id": "s", "text": "secret"}\n')
    for params in (
        {"eval": "/etc/passwd", "train": "x"},
        {"eval": str(demo_store.project / "data" / "qa.jsonl"), "train": str(outside)},
        {"eval": "../secret.jsonl", "train": "../secret.jsonl"},
    ):
        api = client.get("/api/data/contamination", params=params)
        assert api.status_code == 403, api.text
        assert "project directory" in api.json()["error"]
        page = client.get("/data/contamination", params=params)
        assert page.status_code == 403 and "project directory" in page.text
    refused = client.get("/api/data/sample", params={"strata": "route", "path": "/etc/hostname"})
    assert refused.status_code == 403
    blank = client.get("/api/data/provenance", params={"revoked_since": "someday"})
    assert blank.status_code == 400 and "cannot read date" in blank.json()["error"]


def test_export_downloads_what_assay_export_writes(demo_store, client, tmp_path):  # type: ignore[no-untyped-def]
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"run.{fmt}"
        result = CliRunner().invoke(
            cli, ["export", demo_store.v1, "--format", fmt, "-o", str(out), "--db", demo_store.db]
        )
        assert result.exit_code == 0, result.output
        got = client.get(f"/api/runs/{demo_store.v1}/export", params={"format": fmt})
        assert got.status_code == 200 and got.content == out.read_bytes()
        assert demo_store.v1 in got.headers["content-disposition"]
    bad = client.get(f"/api/runs/{demo_store.v1}/export", params={"format": "xlsx"})
    assert bad.status_code == 400 and "unknown format" in bad.json()["error"]
    page = client.get("/data/export").text
    assert f"/api/runs/{demo_store.v1}/export?format=parquet" in page


BRIDGE_SPEC = """\
name: rescoring
seed: 4
dataset: {path: qa.jsonl}
slices: [slice]
providers:
  sim:
    type: sim
    systems: {bot: {family: atlas, ability: 0.5}}
    judges:
      fair: {noise: 0.5}
      lenient: {noise: 0.5, leniency: 1.5}
subjects: [{name: bot, model: sim/bot}]
scorers: [exact, {rubric: {judge: sim/fair, scale: 5}}]
"""


def test_bridge_and_human_agreement_equal_the_cli_json(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from assay.cli.demo import demo_rows
    from assay.review import add_items, create_queue, label_item, queue_items, sample_items
    from assay.review.rubric import Rubric

    monkeypatch.chdir(tmp_path)
    with (tmp_path / "qa.jsonl").open("w") as fh:
        for row in demo_rows(60, seed=9):
            fh.write(json.dumps(row) + "\n")
    (tmp_path / "e.yaml").write_text(BRIDGE_SPEC)
    db = str(tmp_path / "assay.db")
    first = cli_json("run", "e.yaml", "--db", db)["run"]["id"]
    second = cli_json("run", "e.yaml", "--new", "--db", db)["run"]["id"]
    bridge = cli_json("audit", "bridge", f"{first}:bot", "--old-judge", "sim/fair",
                      "--new-judge", "sim/lenient", "--spec", "e.yaml", "--scale", "5",
                      "--db", db)  # fmt: skip
    with Store(db) as store:
        create_queue(store, "humans", Rubric("score", "How good?", min=1, max=5),
                     reviews_per_item=2)  # fmt: skip
        judge = {
            r.sample_id: next(s.value for s in r.scores if s.scorer == "rubric")
            for r in store.iter_results(first, "bot")
        }
        for run, month, lenient in ((first, 1, 0), (second, 2, 1)):
            add_items(store, "humans", sample_items(store, run, sample_n=12, seed=3))
            for k, item in enumerate(i for i in queue_items(store, "humans")
                                     if i.payload["run"] == run):  # fmt: skip
                for rater in (f"r{k % 3}", f"r{3 + k % 2}"):
                    value = min(5, int(judge[item.payload["sample_id"]]) + lenient * (k % 2))
                    at = datetime(2026, month, 1 + k, 10, tzinfo=UTC)
                    label_item(store, item.id, rater=rater, score=value, at=at)
    runs = [f"{first}=2026-01", f"{second}=2026-02"]
    humans = cli_json("audit", "humans", "--queue", "humans", "--run", runs[0], "--run", runs[1],
                      "--scorer", "rubric", "--db", db)  # fmt: skip
    with TestClient(create_app(db)) as client:
        listing = client.get("/judges/bridge").text
        assert listing.count('class="bridge-row"') == 1
        got = client.get("/api/judges/bridge", params={"run": bridge["rescoring_run"]}).json()
        assert got == json.loads(json.dumps(bridge))
        page = client.get("/judges/bridge", params={"run": bridge["rescoring_run"]}).text
        assert page.count('class="rate-row') == 1 + len(bridge["slices"])
        for name in bridge["changed_slices"]:
            assert f'data-slice="{name}"' in page and name in page.split('id="bridge-verdict"')[1]
        not_bridge = client.get("/api/judges/bridge", params={"run": first})
        assert not_bridge.status_code == 400 and "not a judge bridge" in not_bridge.json()["error"]

        params = {"queue": "humans", "run": runs, "scorer": "rubric"}
        assert client.get("/api/judges/humans", params=params).json() == humans
        page = client.get("/judges/humans", params=params).text
        assert page.count('class="period-row"') == len(humans["periods"]) == 2
        assert f'data-dominant="{humans["attribution"]["dominant"]}"' in page
        missing = client.get("/judges/humans", params={"run": runs})
        assert missing.status_code == 400 and "review queue" in missing.text


def test_plan_fields_reject_garbage_in_the_users_words(demo_store, client):  # type: ignore[no-untyped-def]
    cases = {
        "baseline=0.8a&target=0.85": "Baseline pass rate: &#39;0.8a&#39; is not a number",
        "baseline=0.8&target=abc": "Expected pass rate: &#39;abc&#39; is not a number",
        "baseline=0.8&n=12.5": "Sample size: &#39;12.5&#39; is not a whole number",
        "baseline=0.8&target=0.9&alpha=x": "Significance level (α): &#39;x&#39; is not a number",
        "baseline=nan&target=0.9": "Baseline pass rate: &#39;nan&#39; is not a finite number",
        "baseline=1.2&target=0.9": "Baseline pass rate: must be a rate strictly between 0 and 1",
        "baseline=0.82&target=0.82": "the two rates are equal",
        "target=0.9": "Expected pass rate: an expected pass rate needs a baseline pass rate",
        f"run_a={demo_store.v1}&delta=0.05": "Run B: a paired plan needs two earlier runs",
    }
    for query, message in cases.items():
        page = client.get(f"/plan?{query}")
        assert page.status_code == 400, query
        assert message in page.text, (query, page.text.split('id="plan-error"')[-1][:200])
        for internal in ("--pairs-from", "p0", "p1", "--target", "--delta"):
            assert internal not in page.text.split('id="plan-error"')[-1].split("</div>")[0]
    assert 'aria-invalid="true"' in client.get("/plan?baseline=x").text
    ok = client.get("/plan?baseline=0.82&target=0.85")
    assert ok.status_code == 200 and 'id="n-per-arm">2,402<' in ok.text
    api = client.get("/api/plan", params={"baseline": 0.82, "target": 0.82})
    assert api.status_code == 400 and "the two rates are equal" in api.json()["error"]


def test_lint_page_lists_ids_inline_not_one_per_row(demo_store, client):  # type: ignore[no-untyped-def]
    with Store(demo_store.db) as store:
        audit = next(r.id for r in store.list_runs() if r.name == "audit sim/demo-judge")
    report = client.get(f"/api/runs/{audit}/lint").json()
    rows = sum(len(s["rows"]) for s in report["smells"])
    page = client.get(f"/lint?run={audit}").text
    assert rows > 500  # the audit's canaries: hundreds of flagged samples
    # Every id is on the page, in inline lists, none in a table row of its own.
    assert page.count("<li>") >= rows and page.count("<tr>") < 40
    groups = page.count('class="card smell-group"')
    assert groups == len({(s["code"], s["severity"]) for s in report["smells"]}) or groups < 10
    assert "show all" in page
