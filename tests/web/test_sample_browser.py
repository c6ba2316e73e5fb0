"""The run page's sample browser and the sample page, over HTTP: filters that live in the URL and
survive every link, a clear empty state, bad parameters answered 4xx with a reason, the run's
header actions and totals, and a sample page with its neighbours, other runs, prompt and cost."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from assay.analyse.run_costs import run_cost_report
from assay.analyse.summary_cache import cost_totals
from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    Output,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
    Usage,
)
from assay.core.prices import PriceBook
from assay.store import Store
from assay.web import create_app
from assay.web.trust import judge_badges


@pytest.fixture(scope="module")
def client(demo_store):  # type: ignore[no-untyped-def]
    with TestClient(create_app(demo_store.db)) as c:
        yield c


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr class="sample-row" data-sample="([^"]+)"', page)


def test_filters_search_and_sort_round_trip_in_every_link(demo_store, client):  # type: ignore[no-untyped-def]
    run = demo_store.v2
    api = client.get(
        f"/api/runs/{run}/samples",
        params={"q": "what", "f": "exact:fail", "sort": "-id", "limit": 3},
    ).json()
    assert api["total"] > 3 and api["query"]["verdicts"] == [{"scorer": "exact", "verdict": "fail"}]
    page = client.get(f"/runs/{run}?q=what&f=exact%3Afail&sort=-id&limit=3")
    assert page.status_code == 200
    assert row_ids(page.text) == [r["id"] for r in api["rows"]]
    assert row_ids(page.text) == sorted(row_ids(page.text), reverse=True)
    # Every failing exact cell is coloured as a failure.
    assert page.text.count('s-fail" data-scorer="exact"') == 3
    assert '<option value="exact:fail" selected>' in page.text
    assert 'name="q" value="what"' in page.text
    links = hrefs(page.text)
    samples = [h for h in links if f"/runs/{run}/samples/" in h]
    assert samples and all(
        "q=what" in h and "f=exact%3Afail" in h and "sort=-id" in h for h in samples
    )
    headers = [h for h in links if "sort=" in h and h.startswith("?")]
    assert "?q=what&f=exact%3Afail&limit=3&sort=id#samples" in headers  # -id → id
    assert all("q=what" in h and "f=exact%3Afail" in h for h in headers)
    following = next(h for h in links if "offset=3" in h)
    assert "q=what" in following and "f=exact%3Afail" in following and "sort=-id" in following
    jump = client.get(f"/runs/{run}?q=what&f=exact%3Afail&sort=-id&limit=3&page=2")
    assert row_ids(jump.text) == [
        r["id"]
        for r in client.get(
            f"/api/runs/{run}/samples",
            params={"q": "what", "f": "exact:fail", "sort": "-id", "limit": 3, "offset": 3},
        ).json()["rows"]
    ]


def test_several_scorer_filters_intersect(demo_store, client):  # type: ignore[no-untyped-def]
    base = f"/api/runs/{demo_store.v2}/samples"

    def matching(*f: str) -> set[str]:
        return {
            r["id"] for r in client.get(base, params={"f": list(f), "limit": 1000}).json()["rows"]
        }

    both = matching("exact:fail", "includes:pass")
    assert both == matching("exact:fail") & matching("includes:pass")
    assert matching("exact:pass") | matching("exact:fail") == matching()
    assert not matching("exact:pass") & matching("exact:fail")


def test_an_empty_result_says_what_matched_nothing_and_how_to_clear(demo_store, client):  # type: ignore[no-untyped-def]
    page = client.get(f"/runs/{demo_store.v2}?q=zzzz&f=exact%3Afail")
    assert page.status_code == 200 and "sample-row" not in page.text
    empty = re.search(r'<div class="empty-state" id="no-samples">(.*?)</div>', page.text, re.S)
    assert empty is not None
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", empty.group(1))).split())
    assert text == "No samples match search 'zzzz' with exact=fail. Clear filters"
    assert f'href="/runs/{demo_store.v2}#samples">Clear filters' in empty.group(1)


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("sort=bogus", 400, "cannot sort by &#39;bogus&#39;"),
        ("f=exact:maybe", 400, "cannot read filter"),
        ("f=bleu:pass", 404, "no scorer &#39;bleu&#39;"),
        ("slice=nokey%3D1", 400, "has no slice &#39;nokey&#39;"),
        ("slice=units", 400, "write KEY=VALUE"),
        ("limit=0", 400, "limit must be between 1 and 1000"),
        ("limit=ten", 400, "limit must be a number"),
        ("page=0", 400, "page must be 1 or more"),
        ("error=maybe", 400, "error must be true or false"),
        ("score_min=nan", 400, "score_min must be a finite number"),
    ],
)
def test_bad_browser_parameters_are_4xx_with_a_reason(demo_store, client, query, status, reason):  # type: ignore[no-untyped-def]
    page = client.get(f"/runs/{demo_store.v2}?{query}")
    assert page.status_code == status and reason in page.text
    sample = client.get(f"/runs/{demo_store.v2}/samples/q0001?{query}")
    if "limit" not in query and "page" not in query:  # a sample page has no paging
        assert sample.status_code == status and reason in sample.text


def test_bad_api_parameters_are_4xx_with_a_reason(demo_store, client):  # type: ignore[no-untyped-def]
    base = f"/api/runs/{demo_store.v2}/samples"
    bad = client.get(base, params={"sort": "-score:bleu"})
    assert bad.status_code == 400 and "cannot sort by '-score:bleu'" in bad.json()["error"]
    assert "score:SCORER" in bad.json()["fix"]
    assert client.get(base, params={"q": "x" * 501}).status_code == 422
    assert client.get(base, params={"f": "exact"}).status_code == 400


def test_run_page_header_links_badges_and_totals(demo_store, client):  # type: ignore[no-untyped-def]
    page = client.get(f"/runs/{demo_store.v2}").text
    assert f'id="compare-previous" href="/compare/{demo_store.v1}/{demo_store.v2}"' in page
    assert 'id="history-link" href="/history/demo-qa"' in page
    data = client.get(f"/api/runs/{demo_store.v2}").json()
    with Store(demo_store.db) as store:
        report = run_cost_report(store, demo_store.v2)
        badges = judge_badges(store, demo_store.judge)
    assert data["previous_run"] == demo_store.v1
    assert data["costs"] == cost_totals(report)  # the cached totals of the run's cost report
    assert data["costs"]["input_tokens"] == sum(g["input_tokens"] for g in report["groups"]) > 0
    assert f"{data['costs']['input_tokens']:,}" in page and 'id="run-total"' in page
    # The pairwise judge run: its win rate is flagged when its judge's certificate fails
    # position or length bias, and says which.
    judge = client.get(f"/runs/{demo_store.judge}").text
    biased = [b for b in badges if {"position_bias", "length_bias"} & set(b.flags)]
    assert badges and 'id="judge-badges"' in judge
    assert ('id="pairwise-distrust"' in judge) == bool(biased)
    for b in biased:
        warning = judge.split('id="pairwise-distrust"', 1)[1].split("</div>", 1)[0]
        assert b.status in warning and "win rate" in warning


def test_sample_page_neighbours_follow_the_filtered_order(demo_store, client):  # type: ignore[no-untyped-def]
    run = demo_store.v2
    order = [
        r["id"]
        for r in client.get(
            f"/api/runs/{run}/samples", params={"f": "exact:fail", "sort": "-id", "limit": 1000}
        ).json()["rows"]
    ]
    middle = order[1]
    page = client.get(f"/runs/{run}/samples/{middle}?f=exact%3Afail&sort=-id").text
    prev = re.search(r'<a rel="prev" href="([^"]+)"', page)
    nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
    assert (
        prev
        and html.unescape(prev.group(1))
        == f"/runs/{run}/samples/{order[0]}?f=exact%3Afail&sort=-id"
    )
    assert (
        nxt
        and html.unescape(nxt.group(1)) == f"/runs/{run}/samples/{order[2]}?f=exact%3Afail&sort=-id"
    )
    assert f"2 of {len(order)} matching" in page
    back = f'href="/runs/{run}?f=exact%3Afail&amp;sort=-id#samples"'
    assert back in page
    first = client.get(f"/runs/{run}/samples/{order[0]}?f=exact%3Afail&sort=-id").text
    assert 'rel="prev"' not in first
    # The other run of the eval holding this sample, and the A/B view against it.
    assert f'href="/compare/{demo_store.v1}/{run}/samples/{middle}"' in page
    data = client.get(f"/api/runs/{run}/samples/{middle}").json()
    assert [r["id"] for r in data["other_runs"]] == [demo_store.v1]
    assert data["previous_run"] == demo_store.v1


def test_sample_page_shows_the_prompt_sent_and_priced_usage(tmp_path):  # type: ignore[no-untyped-def]
    db = str(tmp_path / "assay.db")
    at = datetime(2025, 3, 1, tzinfo=UTC)
    manifest = RunManifest(
        run_id="run-priced",
        name="priced",
        spec_hash="f" * 64,
        dataset=DatasetManifest(
            name="d", source="d.jsonl", content_hash="d" * 64, n_samples=1, sample_ids=["q1"]
        ),
        subjects=[
            SubjectManifest(
                name="mini",
                kind="model",
                provider="openai",
                requested_model="gpt-4o-mini",
                prompt_template="x",
                prompt_hash="p" * 64,
                config={"system": "Answer in {{ lang }}.", "user": "Q: {{ input }}\nA:"},
            )
        ],
        scorers=[ScorerManifest(name="exact", version="1")],
        epochs=2,
        seed=1,
        environment=EnvironmentManifest(
            assay_version="0", git_sha="abc123", python="3.11", platform="linux"
        ),
        started_at=at,
    )
    sample = Sample(id="q1", input="What is 2+2?", target="4", metadata={"lang": "French"})
    usage = Usage(input_tokens=1200, output_tokens=300)
    results = [
        SampleResult(
            subject="mini",
            sample_id="q1",
            epoch=epoch,
            output=Output(text=text, model="gpt-4o-mini", usage=usage, latency_ms=420.0),
            scores=[Score(scorer="exact", value=value)],
        )
        for epoch, (text, value) in enumerate([("quatre", 0.0), ("4", 1.0)])
    ]
    with Store(db) as store:
        store.create_run(manifest, [sample], n_planned=2)
        store.add_results("run-priced", results)
    with TestClient(create_app(db)) as client:
        data = client.get("/api/runs/run-priced/samples/q1").json()
        page = client.get("/runs/run-priced/samples/q1").text
    (prompt,) = data["prompts"]
    assert prompt["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Q: What is 2+2?\nA:"},
    ]
    assert "Q: What is 2+2?\nA:</pre>" in page and "Answer in French." in page
    # Priced by the price book at the day the results were stored (today).
    priced = PriceBook().price("gpt-4o-mini", 1200, 300, {}, at=datetime.now(UTC))
    assert priced is not None and priced.total > 0
    costs = [r["usage"]["cost"] for r in data["results"]]
    assert costs == [pytest.approx(priced.total)] * 2
    assert data["usage"]["cost"] == pytest.approx(sum(costs))
    assert data["usage"]["input_tokens"] == 2400 and data["usage"]["output_tokens"] == 600
    assert f"${costs[0]:.6f}" in page and "2,400 input + 600 output tokens" in page
    # Per-epoch outputs, each with its own score.
    assert [r["output"]["text"] for r in data["results"]] == ["quatre", "4"]
    assert page.count('class="card result"') == 2


def test_a_graded_judge_passes_at_the_midpoint_of_its_scale(tmp_path):  # type: ignore[no-untyped-def]
    """A 1–5 judge passes a sample at a mean grade of 3 (the midpoint of its scale), not at
    0.5, where every grade would pass: in the browser's colours, its pass/fail filter (in SQL)
    and on the sample page; a pass/fail scorer beside it keeps 0.5."""
    db = str(tmp_path / "assay.db")
    ids = ["s1", "s2", "s3", "s4"]
    grades = {"s1": 1.0, "s2": 2.0, "s3": 3.0, "s4": 5.0}
    manifest = RunManifest(
        run_id="run-graded",
        name="graded",
        spec_hash="f" * 64,
        dataset=DatasetManifest(
            name="d", source="d.jsonl", content_hash="d" * 64, n_samples=4, sample_ids=ids
        ),
        subjects=[
            SubjectManifest(
                name="m", kind="model", provider="sim", requested_model="sim:x", prompt_hash="p"
            )
        ],
        scorers=[
            ScorerManifest(name="exact", version="1"),
            ScorerManifest(name="quality", version="1", kind="judge", config={"scale": 5}),
        ],
        epochs=1,
        seed=1,
        environment=EnvironmentManifest(
            assay_version="0", git_sha="abc123", python="3.11", platform="linux"
        ),
        started_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    results = [
        SampleResult(
            subject="m",
            sample_id=sid,
            output=Output(text="x"),
            scores=[
                Score(scorer="exact", value=float(sid in ("s1", "s4"))),
                Score(scorer="quality", value=grades[sid]),
            ],
        )
        for sid in ids
    ]
    with Store(db) as store:
        store.create_run(manifest, [Sample(id=s, input="q", target="a") for s in ids], n_planned=4)
        store.add_results("run-graded", results)
    with TestClient(create_app(db)) as client:
        api = client.get("/api/runs/run-graded/samples").json()
        assert api["pass_at"] == {"exact": 0.5, "quality": 3.0}
        verdicts = {r["id"]: r["subjects"][0]["verdicts"] for r in api["rows"]}
        assert {s: v["quality"] for s, v in verdicts.items()} == {
            "s1": "fail",
            "s2": "fail",
            "s3": "pass",
            "s4": "pass",
        }
        assert {s: v["exact"] for s, v in verdicts.items()} == {
            "s1": "pass",
            "s2": "fail",
            "s3": "fail",
            "s4": "pass",
        }
        passing = client.get("/api/runs/run-graded/samples", params={"f": "quality:pass"})
        assert sorted(r["id"] for r in passing.json()["rows"]) == ["s3", "s4"]
        failing = client.get("/runs/run-graded", params={"f": "quality:fail"}).text
        assert sorted(row_ids(failing)) == ["s1", "s2"]
        assert 's-fail" data-scorer="quality"' in failing and "quality ≥ 3" in failing
        page = client.get("/runs/run-graded/samples/s2").text
        assert '<td class="num score s-fail">2.0</td>' in page
