"""The cost and latency pages in Chromium over stored traces with known distributions: the
log-scale latency histogram with p50/p99 marks, the stage breakdown, the Lorenz curve, the
length distribution with both caps, the forecast fan and the loop alert. Screenshots go where
tests/web/conftest.py's ``screenshot`` puts them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.costs import scenarios

from assay.store import Store
from assay.web.live import serve_in_thread


@pytest.fixture(scope="module")
def cost_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:

    from assay.web import create_app

    store = Store(str(tmp_path_factory.mktemp("cost-pages") / "assay.db"))
    scenarios.h7_jobs(store)
    scenarios.store_completions(store, "support", scenarios.h1_lengths(2000, 610, 0.9), cap=1024)
    scenarios.h5_latency(store, n=600)
    with serve_in_thread(create_app(store)) as url:
        yield url
    store.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_costs_page_draws_lorenz_fan_caps_and_the_loop(cost_server, page, screenshot):
    import httpx

    api = httpx.get(cost_server + "/api/costs", params={"target": 50_000}).json()
    page.goto(cost_server + "/costs?target=50000")
    assert page.locator("#cost-summary").get_attribute("data-requests") == str(api["requests"])
    curve = page.locator("svg.lorenz polyline.lorenz-curve[data-by=user]")
    assert float(curve.get_attribute("data-gini")) == pytest.approx(
        api["concentration"]["user"]["gini"]["estimate"]
    )
    points = page.locator("svg.forecast-fan circle.fan-point")
    assert points.count() == 5
    assert page.locator("svg.forecast-fan polygon.band").count() == 2
    support = page.locator('.length-group[data-route="support"] svg.length-distribution')
    group = next(g for g in api["lengths"]["groups"] if g["route"] == "support")
    assert support.get_attribute("data-current-cap") == "1024"
    assert support.get_attribute("data-recommended-cap") == str(group["recommended_cap"])
    assert support.locator("line.cap-mark").count() == 2
    assert page.locator('#loops tr[data-alert="agent_loop_suspected"]').count() == 1
    box = curve.bounding_box()
    assert box is not None and box["width"] > 100
    screenshot(page, "costs")


def test_latency_page_draws_the_log_histogram_and_stages(cost_server, page, screenshot):
    page.goto(cost_server + "/latency?route=chat")
    bars = page.locator("svg.latency-histogram rect.bar")
    assert bars.count() > 10
    marks = page.locator("svg.latency-histogram line.mark")
    assert marks.evaluate_all("m => m.map(x => x.dataset.mark)") == ["p50", "p99"]
    p50, p99 = (float(v) for v in marks.evaluate_all("m => m.map(x => x.dataset.value)"))
    assert 30 < p99 / p50 < 40  # 35 in the population; 600 traces here
    section = page.locator("section.latency-group").first
    assert section.get_attribute("data-alert") == "true"
    assert section.get_attribute("data-tail-driver") == "output_tokens"
    llm = page.locator('svg.stage-breakdown rect.stage[data-stage="llm"]').first
    assert float(llm.get_attribute("data-share")) > 0.9
    screenshot(page, "latency")
    page.goto(cost_server + "/latency?since=whenever")
    assert "cannot read 'whenever'" in page.content()
