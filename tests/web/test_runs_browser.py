"""The home page in Chromium at a laptop's and a phone's width: a new user reaches the
comparison of v2 with v1 in one click, and nothing but a table scrolls sideways at 390 px."""

from __future__ import annotations

import pytest

WIDTHS = {"laptop": 1440, "phone": 390}


@pytest.mark.parametrize("device", list(WIDTHS))
def test_home_page_reaches_the_comparison_in_one_click(  # type: ignore[no-untyped-def]
    live_server, demo_store, browser, screenshot, device
):
    width = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_server + "/")
        suggestion = page.locator("#suggested a.pair").first
        assert suggestion.inner_text() == "v2 vs v1"
        labels = page.locator("tr.run-row").evaluate_all("rows => rows.map(r => r.dataset.label)")
        assert "v1" in labels and "v2" in labels
        # Nothing outside a table's own scroll box is wider than the viewport.
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"the page is {overflow} px wide at {width} px"
        screenshot(page, f"runs-home-{width}")
        suggestion.click()
        page.wait_for_url(f"**/compare/{demo_store.v1}/{demo_store.v2}")
        assert page.locator("svg.forest").count() >= 1
        screenshot(page, f"runs-home-compare-{width}")
        # Ticking two runs and pressing Compare selected gets there too, without JavaScript.
        page.goto(live_server + "/")
        page.check(f'input[name=run][value="{demo_store.v2}"]')
        page.check(f'input[name=run][value="{demo_store.v1}"]')
        page.click("#pick button[type=submit]")
        page.wait_for_url(f"**/compare/{demo_store.v1}/{demo_store.v2}")
        # The history of the eval, linked from each row.
        page.goto(live_server + "/")
        page.locator(f'tr.run-row[data-run="{demo_store.v2}"] a.history').click()
        page.wait_for_url("**/history/demo-qa")
        assert page.locator("svg.history").count() == 2
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"the history page is {overflow} px wide at {width} px"
        screenshot(page, f"history-{width}")
    finally:
        context.close()
