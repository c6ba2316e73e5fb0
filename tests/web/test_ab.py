"""The compare page's A/B grid and A/B sample page, its headline and trust context, and the
report's most-changed pairs: same numbers as ``assay compare --json``, escaped text, clear
4xx answers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import HOSTILE_OUTPUT, in_thread
from tests.web.test_numbers import cli_json, rows_of

from assay.web import create_app
from assay.web.compare_view import headline, method_text
from assay.web.trust import describe_flags, judge_badges


@pytest.fixture(scope="module")
def client(demo_store):
    with TestClient(create_app(demo_store.db)) as c:
        yield c


@pytest.fixture(scope="module")
def hostile_pair(tmp_path_factory):
    """Two runs whose outputs are HTML and differ: ``(db, run_a, run_b)``."""
    from assay.data import dataset_from_records
    from assay.run import CallableSubject, Eval, run
    from assay.score import exact

    rows = [{"id": "h1", "input": "<b>say hi</b>", "target": "hi <script>alert(1)</script>"}]
    db = str(tmp_path_factory.mktemp("ab-hostile") / "assay.db")
    ids = []
    for answer in (HOSTILE_OUTPUT, "hi <script>alert(1)</script>"):
        ev = Eval(
            name="hostile-ab",
            dataset=dataset_from_records(rows, name="h"),
            subjects=[CallableSubject("fn", lambda sample, answer=answer: answer)],
            scorers=[exact()],
            concurrency=1,
        )
        ids.append(in_thread(run, ev, db=db).run_id)
    return db, ids[0], ids[1]


def test_grid_counts_are_mcnemars_discordant_pairs(demo_store, client):
    expected = cli_json("compare", demo_store.v1, demo_store.v2, "--db", demo_store.db)
    for metric in expected["metrics"]:
        got = client.get(
            f"/api/compare/{demo_store.v1}/{demo_store.v2}/samples?by={metric['scorer']}"
        ).json()
        aggregate = metric["groups"][0]
        assert got["counts"]["fixed"] == aggregate["b_only"]
        assert got["counts"]["broken"] == aggregate["a_only"]
        assert got["counts"]["all"] == aggregate["n"]
        # Largest change first: the flips lead, and each row's delta is B − A of its sample.
        deltas = [abs(r["delta"]) for r in got["rows"]]
        assert deltas == sorted(deltas, reverse=True)
    fixed = client.get(f"/api/compare/{demo_store.v1}/{demo_store.v2}/samples?show=fixed").json()
    assert {r["kind"] for r in fixed["rows"]} == {"fixed"}
    for row in fixed["rows"]:
        joined_a = "".join(d["text"] for d in row["diff"] if d["op"] != "insert")
        joined_b = "".join(d["text"] for d in row["diff"] if d["op"] != "delete")
        assert (joined_a, joined_b) == (row["output_a"], row["output_b"])


def test_compare_page_headline_names_both_runs_by_label(demo_store, client):
    page = client.get(f"/compare/{demo_store.v1}/{demo_store.v2}")
    expected = cli_json("compare", demo_store.v1, demo_store.v2, "--db", demo_store.db)
    title = re.search(r'<h1 id="headline"[^>]*>(.*?)</h1>', page.text).group(1)
    assert title.startswith(f"v2 vs v1: {expected['verdict']}")
    assert "prompt v1 → v2" in page.text  # the label's change, under the headline
    assert page.text.count('id="prompt-diff"') == 1  # one word-diff row for the prompt
    # Every interval says its method, as the analysis recorded it.
    aggregate = expected["metrics"][0]["groups"][0]
    assert aggregate["interval"]["method"] == "clustered-cr2"
    assert f"clustered over {aggregate['n_clusters']} templates (CR2)" in page.text
    # The bootstrap and permutation checks are one click away, with the API's numbers.
    rows = rows_of(page.text, "permutation").rows
    groups = [g for m in expected["metrics"] for g in m["groups"]]
    assert [float(r["data-p"]) for r in rows] == [g["permutation_p"] for g in groups]
    boot = rows_of(page.text, "bootstrap").rows
    assert [float(r["data-low"]) for r in boot] == [g["bootstrap"]["low"] for g in groups]
    # The grid's rows walk with j/k and open the A/B sample page.
    grid = rows_of(page.text, "ab-row").rows
    assert len(grid) == 50 and all("data-nav-row" in r for r in grid)
    assert grid[0]["data-href"].startswith(f"/compare/{demo_store.v1}/{demo_store.v2}/samples/")
    assert 'id="usage"' in page.text


def test_headline_names_the_worst_regressed_slice():
    group = {"group": "all", "slice_key": None, "slice_value": None, "mean_a": 0.8}
    cmp = {
        "verdict": "mixed: slice regression",
        "metrics": [
            {
                "scorer": "exact",
                "verdict": "mixed: slice regression",
                "regressed_slices": ["slice=sequences", "slice=units"],
                "groups": [
                    {**group, "mean_b": 0.81, "difference": 0.01},
                    {"group": "slice=sequences", "slice_value": "sequences", "mean_a": 0.9,
                     "mean_b": 0.832, "difference": -0.068},
                    {"group": "slice=units", "slice_value": "units", "mean_a": 0.9,
                     "mean_b": 0.85, "difference": -0.05},
                ],
            }
        ],
    }  # fmt: skip
    assert headline(cmp, "v1", "v2") == "v2 vs v1: mixed: slice regression, sequences −6.8 pts"
    cmp["verdict"] = cmp["metrics"][0]["verdict"] = "regressed"
    assert headline(cmp, "v1", "v2") == "v2 vs v1: regressed, exact +1.0 pts"
    cmp["verdict"] = cmp["metrics"][0]["verdict"] = "improved"
    cmp["metrics"][0]["regressed_slices"] = []
    assert headline(cmp, "v1", "v2") == "v2 vs v1: improved, exact +1.0 pts"
    cmp["verdict"] = "underpowered"
    assert headline(cmp, "v1", "v2") == "v2 vs v1: underpowered"
    # Two metrics that disagree about the worst slice: the headline names the scorer.
    cmp["verdict"] = cmp["metrics"][0]["verdict"] = "mixed: slice regression"
    cmp["metrics"][0]["regressed_slices"] = ["slice=sequences"]
    other = {**cmp["metrics"][0], "scorer": "includes", "regressed_slices": []}
    other["groups"] = [*other["groups"][:1], {**other["groups"][1], "difference": -0.01}]
    cmp["metrics"].append(other)
    assert headline(cmp, "v1", "v2").endswith("sequences −6.8 pts (exact)")


def test_method_text_follows_the_analysis():
    clustered = {"interval": {"method": "clustered-cr2"}, "test": "clustered-cr2", "n_clusters": 15}
    assert method_text(clustered, "template", 0.95) == "clustered over 15 templates (CR2)"
    assert method_text(clustered, None, 0.95) == "clustered over 15 clusters (CR2)"
    mcnemar = {"interval": {"method": "tango-score"}, "test": "mcnemar-exact", "n_clusters": None}
    assert method_text(mcnemar, None, 0.95) == "McNemar exact test, Tango score interval"


def test_ab_sample_page_shows_both_outputs_and_their_diff(demo_store, client):
    fixed = client.get(f"/api/compare/{demo_store.v1}/{demo_store.v2}/samples?show=fixed").json()
    row = fixed["rows"][0]
    base = f"/compare/{demo_store.v1}/{demo_store.v2}"
    page = client.get(f"{base}/samples/{row['sample_id']}?show=fixed")
    assert page.status_code == 200
    sides = rows_of(page.text, "ab-side")
    assert [r["data-side"] for r in sides.rows] == ["A", "B"]
    plain = rows_of(page.text, "plain-output")
    assert [" ".join(t) for t in plain.texts] == [row["output_a"], row["output_b"]]
    assert "<del>" in page.text and "<ins>" in page.text and "data-diff-toggle" in page.text
    assert f'href="/runs/{demo_store.v1}/samples/{row["sample_id"]}"' in page.text
    assert f'href="/runs/{demo_store.v2}/samples/{row["sample_id"]}"' in page.text
    assert f'href="{base}?show=fixed#ab-grid"' in page.text
    api = client.get(f"/api{base}/samples/{row['sample_id']}").json()
    assert api["kind"] == "fixed" and api["epochs"][0]["a"]["output"] == row["output_a"]


def test_outputs_are_escaped_in_the_grid_diff_and_report(hostile_pair, tmp_path):
    db, a, b = hostile_pair
    with TestClient(create_app(db)) as c:
        grid = c.get(f"/compare/{a}/{b}")
        sample = c.get(f"/compare/{a}/{b}/samples/h1")
    for page in (grid, sample):
        assert page.status_code == 200
        assert "<img src=x" not in page.text and "<script>alert" not in page.text
        assert "&lt;img src=x onerror=" in page.text  # A's output, shown as text
        assert "alert(1)" in page.text  # B's, inside the diff's parts
    # B's plain output on the A/B sample page: escaped as one text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sample.text
    from assay.store import Store
    from assay.web.report import render_report

    with Store(db) as store:
        html = render_report(store, a, b)
    assert "The 1 most-changed samples on exact" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html


@pytest.mark.parametrize(
    ("query", "status"),
    [("show=flipped", 400), ("sort=random", 400), ("by=nope", 400), ("offset=-2", 400),
     ("pair=4", 400), ("offset=x", 400)],
)  # fmt: skip
def test_bad_grid_filters_are_a_400_with_the_choices(demo_store, client, query, status):
    page = client.get(f"/compare/{demo_store.v1}/{demo_store.v2}?{query}")
    assert page.status_code == status
    assert "error" in page.text
    api = client.get(f"/api/compare/{demo_store.v1}/{demo_store.v2}/samples?{query}")
    assert 400 <= api.status_code < 500 and "error" in api.json()


def test_unknown_runs_and_samples_are_a_404(demo_store, client):
    base = f"/compare/{demo_store.v1}/{demo_store.v2}"
    for path in (
        f"{base}/samples/no-such-sample",
        f"/compare/no-such-run/{demo_store.v2}/samples/q0001",
        f"/api{base}/samples/no-such-sample",
        f"/api/compare/{demo_store.v1}/no-such-run/samples",
    ):
        response = client.get(path)
        assert response.status_code == 404, path


def test_judge_badges_read_the_stored_certificate(demo_store):
    from assay.store import Store

    with Store(demo_store.db) as store:
        badges = judge_badges(store, demo_store.judge)
        certificate = store.list_certificates()[0]
        assert judge_badges(store, demo_store.v1) == []  # no judge, no badge
    assert [b.judge for b in badges] == ["judge"]
    badge = badges[0]
    assert badge.certificate_id == certificate.id and badge.url == f"/certificates/{certificate.id}"
    assert badge.status == (
        "passes" if not certificate.flags else f"fails {describe_flags(certificate.flags)}"
    )
    assert badge.tone == ("good" if not certificate.flags else "bad")
    assert describe_flags(["position_bias", "length_bias"]) == "position, length bias"
    assert describe_flags(["gameable"]) == "gameable"


def test_report_embeds_the_most_changed_pairs(demo_store):
    from assay.store import Store
    from assay.web.report import render_report

    with Store(demo_store.db) as store:
        html = render_report(store, demo_store.v1, demo_store.v2)
    rows = rows_of(html, "ab-row")
    assert 1 <= len(rows.rows) <= 10
    assert {r["data-kind"] for r in rows.rows} <= {"fixed", "broken", "moved"}
    assert "<del>" in html and "<ins>" in html
    assert "<link" not in html and "<script" not in html


def test_usage_totals_equal_assay_show_cost_json(demo_store, client):
    page = client.get(f"/compare/{demo_store.v1}/{demo_store.v2}")
    usage = {r["data-run"]: r for r in rows_of(page.text, "usage-row").rows}
    for run_id in (demo_store.v1, demo_store.v2):
        costs = cli_json("show", run_id, "--cost", "--db", demo_store.db)["costs"]
        subjects = [g for g in costs["groups"] if g["role"] == "subject"]
        assert sum(g["cached"] + g["errors"] for g in subjects) == 0  # so the sums match
        assert int(usage[run_id]["data-input-tokens"]) == sum(g["input_tokens"] for g in subjects)
        assert int(usage[run_id]["data-output-tokens"]) == sum(g["output_tokens"] for g in subjects)
        assert int(usage[run_id]["data-calls"]) == sum(g["calls"] for g in subjects)


def test_with_epochs_a_sample_can_flip_on_the_page(tmp_path):
    """The page once said "no sample can flip" whenever a run had more than one epoch."""
    from tests.analyse.conftest import write_run

    from assay.store import Store

    db = f"sqlite:///{tmp_path / 'assay.db'}"
    with Store(db) as store:
        ok_a = {"s1": [0.0, 0.0, 1.0], "s2": [1.0, 1.0, 1.0], "s3": [1.0, 1.0, 0.0]}
        ok_b = {"s1": [1.0, 1.0, 0.0], "s2": [1.0, 1.0, 1.0], "s3": [1.0, 1.0, 1.0]}
        write_run(store, "A", {("m", "ok"): ok_a})
        write_run(store, "B", {("m", "ok"): ok_b}, minutes=5)
    with TestClient(create_app(db)) as c:
        flipped = c.get("/api/compare/A/B").json()["flipped"]
        page = c.get("/compare/A/B")
        grid = c.get("/api/compare/A/B/samples?show=changed").json()
    assert [(f["scorer"], f["fixed"], f["broken"]) for f in flipped] == [("ok", ["s1"], [])]
    assert "no sample can flip" not in page.text
    assert 'data-kind="fixed" data-count="1"' in page.text
    assert [(r["sample_id"], r["kind"]) for r in grid["rows"]] == [("s1", "fixed"), ("s3", "moved")]
    assert grid["rows"][0]["scores"]["ok"]["count_a"] == "1/3"
    assert "1/3 → 2/3" in page.text and "2/3 → 3/3" in page.text
