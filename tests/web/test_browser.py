"""The pages in a real browser: Debian's Chromium driven by Playwright against a live server.

Each test saves a screenshot of the page it checked (pytest's temp folder, and
$ASSAY_SCREENSHOTS when set) for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.app import app as cli


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_runs_page_lists_the_demo_runs(live_server, demo_store, page, screenshot):
    page.goto(live_server + "/")
    rows = page.locator("tr.run-row")
    ids = rows.evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert {demo_store.v1, demo_store.v2, demo_store.judge} <= set(ids)
    v1 = page.locator(f'tr.run-row[data-run="{demo_store.v1}"]')
    assert "demo-qa" in v1.inner_text() and "60/60" in v1.inner_text()
    assert "exact" in v1.inner_text() and "%" in v1.inner_text()
    screenshot(page, "runs")
    page.fill("input[name=name]", "pairwise")
    page.click("button[type=submit]")
    ids = page.locator("tr.run-row").evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert demo_store.judge in ids and demo_store.v1 not in ids


def test_run_page_has_slice_table_and_sample_browser(live_server, demo_store, page, screenshot):
    page.goto(f"{live_server}/runs/{demo_store.v2}")
    groups = page.locator("table.slice-table tr[data-group]").evaluate_all(
        "rows => rows.map(r => r.dataset.group)"
    )
    assert groups == ["all", "slice=arithmetic", "slice=sequences", "slice=units"]
    assert page.locator("tr.sample-row").count() == 60
    screenshot(page, "run")
    page.select_option("select[name=slice]", "slice=units")
    page.click("#samples + form button[type=submit], form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("tr.sample-row").count() == 20
    page.locator("tr.sample-row a").first.click()
    page.wait_for_load_state()
    assert "/samples/" in page.url
    assert page.locator("pre.output").count() == 1
    screenshot(page, "sample")


def test_compare_page_shows_a_forest_plot_row_per_slice(live_server, demo_store, page, screenshot):
    page.goto(f"{live_server}/compare")
    page.select_option("select[name=a]", demo_store.v1)
    page.select_option("select[name=b]", demo_store.v2)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/compare/{demo_store.v1}/{demo_store.v2}")
    plots = page.locator("svg.forest")
    assert plots.count() == 2  # exact and includes
    for k in range(2):
        groups = (
            plots.nth(k)
            .locator("g.forest-row")
            .evaluate_all("rows => rows.map(r => r.dataset.group)")
        )
        assert groups == ["all", "slice=arithmetic", "slice=sequences", "slice=units"]
        box = plots.nth(k).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("#changes td", has_text="prompt").count() >= 1
    assert page.locator(".flipped .card").count() == 4
    screenshot(page, "compare")


def test_pairwise_sample_page_shows_both_judge_orders(live_server, demo_store, page, screenshot):
    page.goto(f"{live_server}/runs/{demo_store.judge}/samples/q0001")
    orders = page.locator(".order")
    assert orders.evaluate_all("o => o.map(x => x.dataset.order)") == ["ab", "ba"]
    for k in range(2):
        text = orders.nth(k).inner_text()
        assert "picked" in text and "winner" in text
        assert orders.nth(k).locator(".rationale").inner_text().strip()
    assert page.locator("#pair-a pre").inner_text().strip()
    assert page.locator("#pair-b pre").inner_text().strip()
    screenshot(page, "pairwise-sample")
    page.goto(f"{live_server}/runs/{demo_store.judge}")
    assert page.locator("#pairwise-report").is_visible()
    screenshot(page, "pairwise-run")


def test_planner_form(live_server, page, screenshot):
    page.goto(f"{live_server}/plan")
    page.fill("input[name=baseline]", "0.82")
    page.fill("input[name=target]", "0.85")
    page.click("#plan-form button[type=submit]")
    page.wait_for_load_state()
    expected = json.loads(
        CliRunner().invoke(cli, ["plan", "--baseline", "0.82", "--target", "0.85", "--json"]).stdout
    )
    assert page.locator("#n-per-arm").inner_text() == f"{expected['proportions']['n_per_arm']:,}"
    screenshot(page, "plan")


def test_report_opens_offline_with_the_same_figures(demo_store, browser, tmp_path, screenshot):
    out = tmp_path / "report.html"
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            "report",
            demo_store.v1,
            "--compare",
            demo_store.v2,
            "-o",
            str(out),
            "--db",
            demo_store.db,
        ],
    )
    assert made.exit_code == 0, made.output
    shown = runner.invoke(
        cli, ["compare", demo_store.v1, demo_store.v2, "--json", "--db", demo_store.db]
    )
    expected = json.loads(shown.stdout)
    html = out.read_text(encoding="utf-8")
    assert "<link" not in html and "<script" not in html and "src=" not in html
    context = browser.new_context(offline=True)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.route(
        "**/*",
        lambda route: (
            route.abort() if not route.request.url.startswith("file:") else route.continue_()
        ),
    )
    page = context.new_page()
    page.goto(Path(out).resolve().as_uri())
    assert requests == [Path(out).resolve().as_uri()]  # the file itself and nothing else
    rows = page.locator("tr.compare-row").evaluate_all(
        "rows => rows.map(r => [r.dataset.group, +r.dataset.difference, +r.dataset.low, "
        "+r.dataset.high, r.dataset.verdict])"
    )
    assert rows == [
        [g["group"], g["difference"], g["interval"]["low"], g["interval"]["high"], g["verdict"]]
        for m in expected["metrics"]
        for g in m["groups"]
    ]
    assert page.locator("svg.forest").count() == len(expected["metrics"])
    assert page.locator("svg.forest g.forest-row").count() == len(rows)
    # Styled by its inline stylesheet, not by anything fetched.
    colour = page.locator("th").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(246, 248, 250)"
    screenshot(page, "report")
    context.close()


def test_certificate_and_lint_pages(live_server, demo_store, page, screenshot):
    page.goto(f"{live_server}/certificates")
    rows = page.locator("tr.certificate-row")
    assert rows.count() >= 1
    rows.first.locator("a").click()
    page.wait_for_load_state()
    assert page.locator("tr.check-row").count() >= 3
    assert page.locator("#certificate-status").inner_text().startswith("Status:")
    screenshot(page, "certificate")
    page.goto(f"{live_server}/lint")
    page.select_option("select[name=run]", demo_store.v1)
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "demo-qa" in page.locator("h2").first.inner_text()
    assert page.locator("#lint-checks tr").count() > 3
    screenshot(page, "lint")
