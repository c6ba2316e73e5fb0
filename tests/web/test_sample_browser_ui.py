"""The sample browser in Chromium: search, filter on a scorer, walk the rows with j/k, open one
with Enter, step through samples with ] and [, at 1,440 and 390 px (screenshots of each)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest


@pytest.fixture
def wide(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    yield context.new_page()
    context.close()


def current_row(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => { const r = document.querySelector('tr.nav-current'); return r && r.dataset.sample }"
    )


def test_search_filter_walk_open_and_step(live_server, demo_store, wide, screenshot):  # type: ignore[no-untyped-def]
    page = wide
    expected = page.request.get(
        f"{live_server}/api/runs/{demo_store.v2}/samples",
        params={"q": "what", "f": "exact:fail"},
    ).json()
    order = [r["id"] for r in expected["rows"]]
    assert len(order) >= 3

    page.goto(f"{live_server}/runs/{demo_store.v2}")
    assert page.locator("#compare-previous").get_attribute("href") == (
        f"/compare/{demo_store.v1}/{demo_store.v2}"
    )
    page.fill("input[name=q]", "what")
    page.select_option("select[name=f][data-scorer=exact]", "exact:fail")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    # assay.js leaves the empty fields out of the URL.
    assert urlparse(page.url).query == "q=what&f=exact%3Afail&limit=100"
    ids = page.locator("tr.sample-row").evaluate_all("rows => rows.map(r => r.dataset.sample)")
    assert ids == order
    assert page.locator("tr.sample-row td.s-fail[data-scorer=exact]").count() == len(order)
    screenshot(page, "sample-browser-1440")

    page.keyboard.press("j")
    assert current_row(page) == order[0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert current_row(page) == order[2]
    page.keyboard.press("k")
    assert current_row(page) == order[1]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert current_row(page) == order[1]
    # Keys typed into the search box stay there.
    page.focus("input[name=q]")
    page.keyboard.press("j")
    assert current_row(page) == order[1] and sorted(page.input_value("input[name=q]")) == sorted(
        "whatj"
    )
    page.locator("h2#samples").click()  # leave the field

    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"/runs/{demo_store.v2}/samples/{order[1]}?" in page.url
    assert parse_qs(urlparse(page.url).query)["f"] == ["exact:fail"]
    assert page.locator("pre.output").count() >= 1
    assert page.locator(".prompt pre.prompt-message").count() >= 1
    assert f"2 of {len(order)} matching" in page.locator("nav.sample-nav").inner_text()
    screenshot(page, "sample-page-1440")

    # A complete table sorts in the page: the scores by scorer, then reversed.
    scorers = "table.scores tbody tr td:first-child"
    names = page.locator(scorers).all_inner_texts()
    page.locator("table.scores th", has_text="scorer").click()
    assert page.locator(scorers).all_inner_texts() == sorted(names)
    page.locator("table.scores th", has_text="scorer").click()
    assert page.locator(scorers).all_inner_texts() == sorted(names, reverse=True)

    with page.expect_navigation():
        page.keyboard.press("]")
    assert f"/samples/{order[2]}?" in page.url
    with page.expect_navigation():
        page.keyboard.press("[")
    with page.expect_navigation():
        page.keyboard.press("[")
    assert f"/samples/{order[0]}?" in page.url
    assert page.locator("a[rel=prev]").count() == 0  # the first of the filtered samples

    # Sorting by a header keeps the filters; an impossible search shows the empty state.
    page.goto(f"{live_server}/runs/{demo_store.v2}?q=what&f=exact%3Afail")
    page.locator("th a.sort", has_text="sample").click()
    page.wait_for_load_state()
    assert parse_qs(urlparse(page.url).query)["sort"] == ["id"]
    page.locator("th a.sort", has_text="sample").click()
    page.wait_for_load_state()
    ids = page.locator("tr.sample-row").evaluate_all("rows => rows.map(r => r.dataset.sample)")
    assert ids == sorted(order, reverse=True)
    page.fill("input[name=q]", "no such text at all")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert (
        "No samples match search 'no such text at all' with exact=fail"
        in page.locator("#no-samples").inner_text()
    )
    page.locator("#no-samples a", has_text="Clear filters").click()
    page.wait_for_load_state()
    assert page.locator("tr.sample-row").count() == 60


def test_browser_and_sample_page_fit_a_phone(live_server, demo_store, phone, screenshot):  # type: ignore[no-untyped-def]
    page = phone
    for path, name in (
        (f"/runs/{demo_store.v2}?f=exact%3Afail", "sample-browser-390"),
        (f"/runs/{demo_store.v2}/samples/q0003?f=exact%3Afail", "sample-page-390"),
        (f"/runs/{demo_store.judge}", "pairwise-run-390"),
    ):
        page.goto(live_server + path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        screenshot(page, name)
    page.goto(f"{live_server}/runs/{demo_store.v2}?f=exact%3Afail")
    page.keyboard.press("j")
    assert current_row(page) is not None


def shown(page, view: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(visible, all) elements of one diff view in the first epoch's section."""
    return tuple(
        page.evaluate(
            """sel => { const all = [...document.querySelectorAll(sel)];
                        return [all.filter(e => e.getClientRects().length).length, all.length] }""",
            f"section.ab-epoch:first-of-type [data-diff-view={view}]",
        )
    )


def test_diff_toggle_switches_between_word_diff_and_plain_outputs(live_server, demo_store, wide):  # type: ignore[no-untyped-def]
    page = wide
    url = f"{live_server}/compare/{demo_store.v1}/{demo_store.v2}/samples/q0003"
    page.goto(url)
    toggle = page.locator("[data-diff-toggle]").first
    (diff_on, n_diff), (plain_on, n_plain) = shown(page, "diff"), shown(page, "plain")
    assert n_diff > 0 and n_plain > 0
    assert (diff_on, plain_on) == (n_diff, 0)  # assay.js starts on the diff
    toggle.click()
    assert (shown(page, "diff")[0], shown(page, "plain")[0]) == (0, n_plain)
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert (shown(page, "diff")[0], shown(page, "plain")[0]) == (n_diff, 0)
    # Without the script both stay on the page.
    context = page.context.browser.new_context(java_script_enabled=False)
    bare = context.new_page()
    bare.goto(url)
    assert shown(bare, "diff") == (n_diff, n_diff) and shown(bare, "plain") == (n_plain, n_plain)
    context.close()
