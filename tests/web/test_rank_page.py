"""The ranking page for more than two runs (issue 13, item 2) and its JSON twin: the figures of
``assay rank … --json`` and ``assay compare A B C --json``, per-sample rows sorted by the
largest regression against the baseline, the way in from the compare form, and the layout in
Chromium at 1,440 and 390 px."""

from __future__ import annotations

import urllib.parse

import pytest
from fastapi.testclient import TestClient
from tests.web.test_numbers import cli_json, rows_of
from tests.web.test_responsive import OVERFLOWING

from assay.store import Store
from assay.web import create_app
from assay.web.live import serve_in_thread

RESAMPLES = 400


@pytest.fixture(scope="module")
def three(demo_store):  # type: ignore[no-untyped-def]
    """The demo's three runs of one dataset: v1, v2 and the wordy prompt."""
    with Store(demo_store.db) as store:
        wordy = next(r.id for r in store.list_runs() if r.name == "demo-qa-wordy")
    return [demo_store.v1, demo_store.v2, wordy]


@pytest.fixture(scope="module")
def client(demo_store):  # type: ignore[no-untyped-def]
    with TestClient(create_app(demo_store.db)) as c:
        yield c


def _query(runs: list[str], **extra: object) -> str:
    items = [("runs", r) for r in runs] + [(k, str(v)) for k, v in extra.items()]
    return urllib.parse.urlencode(items)


def test_rank_api_report_is_assay_rank_json_and_compare_json(demo_store, three, client):  # type: ignore[no-untyped-def]
    got = client.get(f"/api/rank?{_query(three, resamples=RESAMPLES, seed=3)}").json()
    rank = cli_json("rank", *three, "--db", demo_store.db, "--resamples", str(RESAMPLES),
                    "--seed", "3")  # fmt: skip
    assert got["report"] == rank
    compare = cli_json("compare", *three, "--db", demo_store.db, "--resamples", str(RESAMPLES),
                       "--seed", "3")  # fmt: skip
    assert got["report"] == compare
    # A chosen baseline and one scorer, as `assay rank --baseline --scorer`.
    name = rank["candidates"][2]["name"]
    one = client.get(
        f"/api/rank?{_query(three, resamples=RESAMPLES, baseline=name, scorer='includes')}"
    ).json()
    expected = cli_json("rank", *three, "--db", demo_store.db, "--resamples", str(RESAMPLES),
                        "--baseline", name, "--scorer", "includes")  # fmt: skip
    assert one["report"] == expected
    assert [p["a"] for p in one["report"]["rankings"][0]["versus_baseline"]] == [name, name]
    # The baseline may also be named by its run (the picker offers runs).
    by_run = client.get(
        f"/api/rank?{_query(three, resamples=RESAMPLES, baseline=three[2], scorer='includes')}"
    ).json()
    assert by_run["report"] == expected


def test_rank_page_shows_the_reports_figures(three, client):  # type: ignore[no-untyped-def]
    data = client.get(f"/api/rank?{_query(three, resamples=RESAMPLES)}").json()
    page = client.get(f"/rank?{_query(three, resamples=RESAMPLES)}")
    assert page.status_code == 200
    for ranking in data["report"]["rankings"]:
        assert ranking["verdict"] in page.text
    first = data["report"]["rankings"][0]
    rows = rows_of(page.text, "rank-row").rows[: len(first["candidates"])]
    by_name = {c["name"]: c for c in first["candidates"]}
    assert [r["data-candidate"] for r in rows] == [
        c["name"] for c in sorted(first["candidates"], key=lambda c: c["expected_rank"])
    ]
    for r in rows:
        c = by_name[r["data-candidate"]]
        assert float(r["data-p-best"]) == c["p_best"]
        assert float(r["data-expected-rank"]) == c["expected_rank"]
        assert [int(r["data-rank-low"]), int(r["data-rank-high"])] == c["rank_interval"]
        assert r["data-in-set"] == str(c["in_confidence_set"]).lower()
    heat = rows_of(page.text, "heat").rows[: len(first["candidates"]) ** 2]
    flat = [
        p for c in sorted(first["candidates"], key=lambda c: c["expected_rank"])
        for p in c["rank_distribution"]
    ]  # fmt: skip
    assert [float(h["data-p"]) for h in heat] == flat
    versus = rows_of(page.text, "versus-row").rows[: len(first["versus_baseline"])]
    for r, v in zip(versus, first["versus_baseline"], strict=True):
        assert (r["data-candidate"], float(r["data-difference"])) == (v["b"], v["difference"])
        assert (float(r["data-low"]), float(r["data-high"])) == (v["low"], v["high"])
    # The forest plot: one interval per candidate against the baseline, per scorer, and the
    # method named beside it.
    n_rankings = len(data["report"]["rankings"])
    assert page.text.count('class="ci"') == n_rankings * (len(three) - 1)
    assert f"with the {first['versus_baseline'][0]['method']} interval" in page.text
    assert "Holm" in page.text


def test_samples_are_sorted_by_the_largest_regression_and_paged(three, client):  # type: ignore[no-untyped-def]
    data = client.get(f"/api/rank?{_query(three, resamples=RESAMPLES)}").json()
    s = data["samples"]
    assert s["total"] == 60 and s["pages"] == 3 and len(s["rows"]) == 25
    worst = [r["worst_delta"] for r in s["rows"]]
    assert worst == sorted(worst) and worst[0] < 0
    for row in s["rows"]:
        means = {c["name"]: c["mean"] for c in row["scores"]}
        base = means[s["baseline"]]
        assert row["worst_delta"] == min(m - base for n, m in means.items() if n != s["baseline"])
        assert all(len(c["outputs"]) == 1 for c in row["scores"])
    second = client.get(f"/api/rank?{_query(three, resamples=RESAMPLES, page=2)}").json()
    more = [r["worst_delta"] for r in second["samples"]["rows"]]
    assert more == sorted(more) and more[0] >= worst[-1]
    ids = {r["sample_id"] for r in s["rows"]} | {r["sample_id"] for r in second["samples"]["rows"]}
    assert len(ids) == 50
    page = client.get(f"/rank?{_query(three, resamples=RESAMPLES, sort='improvement')}")
    best = [float(r["data-worst-delta"]) for r in rows_of(page.text, "sample-row").rows]
    assert len(best) == 25 and 'rel="next"' in page.text


def test_the_compare_form_sends_three_runs_to_the_ranking(three, client):  # type: ignore[no-untyped-def]
    picked = urllib.parse.urlencode([("run", r) for r in three])
    response = client.get(f"/compare?{picked}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/rank?{_query(three)}"
    two = urllib.parse.urlencode([("runs", r) for r in three[:2]])
    response = client.get(f"/compare?{two}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/compare/")
    form = client.get("/rank")
    assert form.status_code == 200 and all(f'value="{r}"' in form.text for r in three)


@pytest.mark.parametrize(
    ("extra", "status", "words"),
    [
        ({"baseline": "nobody"}, 400, "no candidate is named"),
        ({"scorer": "nope"}, 400, "is not in every run"),
        ({"sort": "sideways"}, 422, "sort"),
        ({"alpha": "2"}, 422, "alpha"),
        ({"resamples": "5"}, 422, "resamples"),
        ({"page": "9"}, 400, "past the last page"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(three, client, extra, status, words):  # type: ignore[no-untyped-def]
    for prefix in ("/rank", "/api/rank"):
        response = client.get(f"{prefix}?{_query(three, **{'resamples': RESAMPLES, **extra})}")
        assert response.status_code == status, (prefix, response.text[:300])
        assert words in response.text
    assert client.get("/api/rank").status_code == 400
    assert client.get(f"/rank?{_query(['no-such-run', three[0]])}").status_code in (400, 404)


def test_rank_page_in_chromium_at_a_laptop_and_a_phone(demo_store, three, browser, screenshot):  # type: ignore[no-untyped-def]
    with Store(demo_store.db) as store, serve_in_thread(create_app(store)) as base:
        for width, height in ((1440, 900), (390, 844)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(base + "/rank")
            for run in three:
                page.check(f"input[name=runs][value='{run}']")
            page.fill("input[name=resamples]", str(RESAMPLES))
            page.click("#rank-form button[type=submit]")
            page.wait_for_selector("svg.rank-forest")
            assert page.locator("p.verdict-line").count() == 2
            assert page.locator("tr.sample-row").count() == 25
            found = page.evaluate(OVERFLOWING)
            assert found["scrollWidth"] <= found["innerWidth"], found
            screenshot(page, f"rank-{width}")
            context.close()
