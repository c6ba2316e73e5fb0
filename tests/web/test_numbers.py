"""The web surface shows the CLI's numbers: same analysis functions, same settings."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assay.cli.app import app as cli
from assay.web import create_app, fmt


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def client(demo_store):
    with TestClient(create_app(demo_store.db)) as c:
        yield c


class Rows(HTMLParser):
    """Collects the data- attributes of elements with a given class."""

    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.rows: list[dict[str, str]] = []
        self.texts: list[list[str]] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        attributes = dict(attrs)
        if self.css_class in (attributes.get("class") or "").split():
            self.rows.append({k: v or "" for k, v in attributes.items()})
            self.texts.append([])
            self._depth = 1
        elif self._depth:
            self._depth += 1

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._depth and data.strip():
            self.texts[-1].append(data.strip())


def rows_of(html: str, css_class: str) -> Rows:
    parser = Rows(css_class)
    parser.feed(html)
    return parser


def test_compare_api_equals_assay_compare_json(demo_store, client):
    expected = cli_json("compare", demo_store.v1, demo_store.v2, "--db", demo_store.db)
    got = client.get(f"/api/compare/{demo_store.v1}/{demo_store.v2}").json()
    flipped = got.pop("flipped")
    assert got == expected
    # The flipped samples are McNemar's discordant pairs: their counts are the comparison's.
    for metric, flips in zip(expected["metrics"], flipped, strict=True):
        aggregate = metric["groups"][0]
        assert (len(flips["fixed"]), len(flips["broken"])) == (
            aggregate["b_only"],
            aggregate["a_only"],
        )
        assert flips["fixed"] or flips["broken"]


def test_compare_page_shows_the_numbers_of_assay_compare_json(demo_store, client):
    expected = cli_json("compare", demo_store.v1, demo_store.v2, "--db", demo_store.db)
    page = client.get(f"/compare/{demo_store.v1}/{demo_store.v2}")
    assert page.status_code == 200
    table = rows_of(page.text, "compare-row")
    groups = [g for m in expected["metrics"] for g in m["groups"]]
    assert len(table.rows) == len(groups) == 2 * (1 + 3)  # 2 scorers x (all + 3 slices)
    for row, text, g in zip(table.rows, table.texts, groups, strict=True):
        assert row["data-group"] == g["group"]
        assert int(row["data-n"]) == g["n"]
        for attr, key in (
            ("data-mean-a", "mean_a"),
            ("data-mean-b", "mean_b"),
            ("data-difference", "difference"),
            ("data-p-value", "p_value"),
            ("data-p-adjusted", "p_adjusted"),
            ("data-mde", "mde"),
        ):
            assert float(row[attr]) == g[key], (attr, g["group"])
        assert float(row["data-low"]) == g["interval"]["low"]
        assert float(row["data-high"]) == g["interval"]["high"]
        assert row["data-verdict"] == g["verdict"]
        # What a person reads is the same figure, written as `assay compare` writes it.
        shown = " ".join(text)
        assert fmt.delta(g["difference"]) in shown
        assert fmt.interval(g["interval"]) in shown
        assert fmt.mean(g["mean_a"]) in shown and fmt.mean(g["mean_b"]) in shown
        assert fmt.delta(g["mde"], signed=False) in shown
        assert g["verdict"] in shown
    assert expected["verdict"] in page.text
    # One forest plot per metric, one row per group, with the same differences.
    forest = rows_of(page.text, "forest-row")
    assert [float(r["data-difference"]) for r in forest.rows] == [g["difference"] for g in groups]
    assert page.text.count('class="forest"') == len(expected["metrics"])
    # The manifest diff names the prompt first, as `assay diff` does.
    assert expected["changes"][0]["category"] == "prompt"
    assert re.search(r"<td>prompt</td>", page.text)


def test_compare_settings_pass_through_to_the_analysis(demo_store, client):
    expected = cli_json(
        "compare", demo_store.v1, demo_store.v2, "--db", demo_store.db,
        "--correction", "bh", "--alpha", "0.1", "--resamples", "200", "--scorer", "exact",
    )  # fmt: skip
    query = "correction=bh&alpha=0.1&resamples=200&scorer=exact"
    got = client.get(f"/api/compare/{demo_store.v1}/{demo_store.v2}?{query}").json()
    got.pop("flipped")
    assert got == expected
    page = client.get(f"/compare/{demo_store.v1}/{demo_store.v2}?{query}")
    table = rows_of(page.text, "compare-row")
    assert [float(r["data-p-adjusted"]) for r in table.rows] == [
        g["p_adjusted"] for g in expected["metrics"][0]["groups"]
    ]


def test_run_api_equals_assay_show_json(demo_store, client):
    expected = cli_json("show", demo_store.v2, "--db", demo_store.db)
    got = client.get(f"/api/runs/{demo_store.v2}").json()
    for key in ("run", "flags", "slices", "subjects", "metrics"):
        assert got[key] == expected[key]
    judge = client.get(f"/api/runs/{demo_store.judge}").json()
    assert (
        judge["pairwise"] == cli_json("show", demo_store.judge, "--db", demo_store.db)["pairwise"]
    )


def test_runs_api_lists_the_demo_runs_with_their_metrics(demo_store, client):
    runs = client.get("/api/runs").json()
    ids = [r["run"]["id"] for r in runs]
    assert {demo_store.judge, demo_store.v2, demo_store.v1} <= set(ids)
    assert ids.index(demo_store.v2) < ids.index(demo_store.v1)  # newest first
    show = cli_json("show", demo_store.v1, "--db", demo_store.db)
    overall = [m for m in show["metrics"] if m["group"] == "all"]
    listed = runs[ids.index(demo_store.v1)]["metrics"]
    assert [(m["scorer"], m["estimate"], m["low"], m["high"]) for m in listed] == [
        (m["scorer"], m["estimate"], m["low"], m["high"]) for m in overall
    ]
    assert runs[ids.index(demo_store.v1)]["dataset"]["n_samples"] == 60
    pairwise = [r["run"]["id"] for r in client.get("/api/runs?name=pairw").json()]
    assert demo_store.judge in pairwise and demo_store.v1 not in pairwise
    assert client.get("/api/runs?status=failed").json() == []


def test_plan_api_and_page_equal_assay_plan_json(demo_store, client):
    expected = cli_json("plan", "--baseline", "0.82", "--target", "0.85", "--n", "400")
    got = client.get("/api/plan?baseline=0.82&target=0.85&n=400").json()
    assert got == expected
    assert got["proportions"]["n_per_arm"] > 2000
    page = client.get("/plan?baseline=0.82&target=0.85&n=400")
    assert f"{expected['proportions']['n_per_arm']:,}" in page.text
    paired = cli_json(
        "plan", "--delta", "0.05", "--pairs-from", demo_store.v1, demo_store.v2,
        "--db", demo_store.db,
    )  # fmt: skip
    got = client.get(f"/api/plan?delta=0.05&run_a={demo_store.v1}&run_b={demo_store.v2}").json()
    assert got == paired
    page = client.get(f"/plan?delta=0.05&run_a={demo_store.v1}&run_b={demo_store.v2}")
    assert f"{paired['paired']['n_required']:,}" in page.text


def test_pairwise_sample_api_has_both_orders_with_rationales(demo_store, client):
    data = client.get(f"/api/runs/{demo_store.judge}/samples/q0001").json()
    (result,) = data["results"]
    (judge,) = result["pairwise"]["judges"]
    assert sorted(v["order"] for v in judge["verdicts"]) == ["ab", "ba"]
    assert all(v["rationale"] for v in judge["verdicts"])
    assert data["pair"]["a"]["run"] == demo_store.v1
    assert data["pair"]["b"]["run"] == demo_store.v2


def test_unknown_things_are_404_naming_what_was_wrong(demo_store, client):
    response = client.get("/api/runs/nope-nope")
    assert response.status_code == 404
    assert "no run matches 'nope-nope'" in response.json()["error"]
    page = client.get("/runs/nope-nope")
    assert page.status_code == 404 and "no run matches &#39;nope-nope&#39;" in page.text
    missing = client.get(f"/api/runs/{demo_store.v1}/samples/q9999")
    assert missing.status_code == 404
    assert "no sample 'q9999'" in missing.json()["error"]
    scorer = client.get(f"/api/runs/{demo_store.v1}/samples?scorer=bleu")
    assert scorer.status_code == 404 and "no scorer 'bleu'" in scorer.json()["error"]
    bad = client.get("/api/plan?baseline=0.8")
    assert bad.status_code == 400 and "nothing to plan" in bad.json()["error"]
    assert client.get("/no/such/page").status_code == 404
    compare = client.get(f"/api/compare/{demo_store.v1}/{demo_store.judge}")
    assert compare.status_code == 400  # nothing shared: the CLI's own message
    assert "share no" in compare.json()["error"]


def test_sample_browser_filters(demo_store, client):
    base = f"/api/runs/{demo_store.v2}/samples"
    everything = client.get(base).json()
    assert everything["total"] == 60
    units = client.get(base, params={"slice": "slice=units"}).json()
    assert units["total"] == 20 and all(r["slices"]["slice"] == "units" for r in units["rows"])
    failed = client.get(base, params={"scorer": "exact", "score_max": 0}).json()
    passed = client.get(base, params={"scorer": "exact", "score_min": 1}).json()
    assert failed["total"] + passed["total"] == 60 and failed["total"] > 0
    assert all(r["subjects"][0]["scores"]["exact"] == [0.0] for r in failed["rows"])
    assert client.get(base, params={"error": True}).json()["total"] == 0
    assert client.get(base, params={"flaky": True}).json()["total"] == 0
    page = client.get(f"/runs/{demo_store.v2}?slice=slice%3Dunits")
    assert page.text.count('class="sample-row"') == 20


def test_certificate_api_and_page_equal_assay_audit_show_json(demo_store, client):
    listed = cli_json("audit", "list", "--db", demo_store.db)
    assert listed, "the demo makes a judge certificate"
    certificates = client.get("/api/certificates").json()
    assert [c["id"] for c in certificates] == [c["id"] for c in listed]
    cert_id = certificates[0]["id"]
    expected = cli_json("audit", "show", cert_id, "--db", demo_store.db)
    got = client.get(f"/api/certificates/{cert_id}").json()
    assert {k: got[k] for k in expected} == expected
    page = client.get(f"/certificates/{cert_id}")
    assert page.status_code == 200
    rows = rows_of(page.text, "check-row").rows
    assert [(r["data-check"], r["data-verdict"]) for r in rows] == [
        (c["check"], c["verdict"]) for c in expected["checks"]
    ]
    for row, check in zip(rows, expected["checks"], strict=True):
        assert (float(row["data-figure"]) if row["data-figure"] else None) == check["figure"]
    assert got["status"] in page.text
    missing = client.get("/api/certificates/no-such-certificate")
    assert missing.status_code == 404 and "no judge certificate" in missing.json()["error"]


def test_lint_api_and_page_match_assay_data_lint_json(demo_store, client):
    data_file = demo_store.project / "data" / "qa.jsonl"
    expected = cli_json("data", "lint", str(data_file), "--db", demo_store.db, "--slice", "slice")
    got = client.get(f"/api/runs/{demo_store.v1}/lint").json()
    assert got["dataset"]["content_hash"] == expected["dataset"]["content_hash"]
    assert got["counts"] == expected["counts"]
    # The same smells on the same samples (the page's rows have no file:line: they are the
    # run's stored samples, not the file).
    assert [
        (s["code"], s["severity"], [r["sample_id"] for r in s["rows"]]) for s in got["smells"]
    ] == [
        (s["code"], s["severity"], [r["sample_id"] for r in s["rows"]]) for s in expected["smells"]
    ]
    page = client.get(f"/lint?run={demo_store.v1}")
    smells = rows_of(page.text, "smell").rows
    assert [(s["data-code"], s["data-severity"]) for s in smells] == [
        (s["code"], s["severity"]) for s in expected["smells"]
    ]
