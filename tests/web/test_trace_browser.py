"""The trace pages in Chromium against a live server on a store of planted traces: the list and
its filters, the waterfall's bars sized by duration, hostile text kept as text, and the promote
button. Screenshots go where tests/web/conftest.py's ``screenshot`` puts them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.trace.planted import HOSTILE, Planted, plant

from assay.store import Store
from assay.web.live import serve_in_thread


@pytest.fixture(scope="module")
def trace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Planted]]:
    """``assay serve``'s app over the planted traces, on a free loopback port."""

    from assay.web import create_app

    store = Store(str(tmp_path_factory.mktemp("trace-pages") / "assay.db"))
    ids = plant(store)
    with serve_in_thread(create_app(store)) as url:
        yield url, ids
    store.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_trace_list_filters_and_links_to_a_trace(trace_server, page, screenshot):
    base, ids = trace_server
    page.goto(base + "/traces")
    rows = page.locator("tr.trace-row")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.trace)") == [
        ids.events,
        ids.error,
        ids.refund,
    ]
    assert "failed" in page.locator(f'tr.trace-row[data-trace="{ids.refund}"]').inner_text()
    screenshot(page, "traces")
    page.fill("input[name=q]", "parcel")
    page.click("#trace-filters button[type=submit]")
    page.wait_for_load_state()
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.trace)") == [ids.events]
    page.fill("input[name=q]", "")
    page.select_option("select[name=status]", "error")
    page.click("#trace-filters button[type=submit]")
    page.wait_for_load_state()
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.trace)") == [ids.error]
    rows.first.locator("a").first.click()
    page.wait_for_url(f"**/traces/{ids.error}")
    assert page.locator("#trace-id").inner_text() == ids.error


def test_drafts_page_lists_failed_traces_with_their_age(trace_server, page, screenshot):
    base, ids = trace_server
    page.goto(base + "/drafts")
    # The refund trace has a thumbs-down stored without its draft (this runs before the
    # promote test makes it a case): the page counts it, and its button drafts it.
    assert page.locator("#undrafted").inner_text() == "1"
    screenshot(page, "drafts-undrafted")
    page.locator("#sync-drafts button").click()
    page.wait_for_load_state()
    assert not page.locator("#undrafted").count()
    assert not page.locator("#no-drafts").count()
    row = page.locator("tr.draft-row").first
    assert row.locator("a").get_attribute("href") == f"/traces/{ids.refund}"
    assert page.locator("#draft-total").inner_text() == str(page.locator("tr.draft-row").count())
    screenshot(page, "drafts")
    row.locator("a").click()
    page.wait_for_url(f"**/traces/{ids.refund}")


def test_trace_page_waterfall_messages_and_escaping(trace_server, page, screenshot):
    base, ids = trace_server
    page.goto(f"{base}/traces/{ids.refund}")
    spans = page.locator(".wf-row[data-span]")
    assert spans.count() == 5
    boxes = [spans.nth(k).locator(".wf-bar").bounding_box() for k in range(5)]
    track = spans.nth(0).locator(".wf-track").bounding_box()
    assert track is not None and all(b is not None for b in boxes)
    durations = [float(d) for d in spans.evaluate_all("r => r.map(x => x.dataset.durationMs)")]
    offsets = [float(d) for d in spans.evaluate_all("r => r.map(x => x.dataset.offsetMs)")]
    assert durations == [1000.0, 200.0, 600.0, 100.0, 100.0]
    for box, duration, offset in zip(boxes, durations, offsets, strict=True):
        assert box["width"] == pytest.approx(track["width"] * duration / 1000.0, abs=1.5)
        assert box["x"] - track["x"] == pytest.approx(track["width"] * offset / 1000.0, abs=1.5)
    assert "parent missing" in spans.nth(4).inner_text()
    # Hostile text is shown as text and never runs.
    user = page.locator("#span-1000000000000003 .input-messages .role-user pre.content")
    assert user.inner_text() == f"Can I get a refund? {HOSTILE}"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img").count() == 0
    docs = page.locator("#span-1000000000000002 tr.retrieval")
    assert docs.evaluate_all("r => r.map(x => x.dataset.document)") == [
        "doc-refunds",
        "doc-shipping",
    ]
    assert "v7" in docs.nth(0).inner_text()
    assert page.locator("#feedback tr.feedback-row").count() == 2
    assert "ticket_reopened" in page.locator("#outcomes").inner_text()
    screenshot(page, "trace")


def test_promote_button_appends_a_case(trace_server, page, screenshot, tmp_path, monkeypatch):
    base, ids = trace_server
    monkeypatch.chdir(tmp_path)  # the server resolves datasets in the folder it runs in
    page.goto(f"{base}/traces/{ids.refund}")
    page.fill("#promote-form input[name=dataset]", "cases/from-ui.jsonl")
    page.fill("#promote-form input[name=reason]", "user said <b>no</b>")
    page.click("#promote")
    result = page.locator("#promote-result")
    result.filter(has_text="promoted").wait_for(timeout=10_000)
    case_id = result.get_attribute("data-case")
    assert (
        case_id and case_id in result.inner_text() and "cases/from-ui.jsonl" in result.inner_text()
    )
    rows = [json.loads(r) for r in (tmp_path / "cases" / "from-ui.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [case_id]
    assert rows[0]["metadata"]["created_from"] == ids.refund
    screenshot(page, "trace-promoted")
    page.fill("#promote-form input[name=dataset]", "../escape.jsonl")
    page.click("#promote")
    result.filter(has_text="400").wait_for(timeout=10_000)
    assert "relative to the served folder" in result.inner_text()
    page.reload()
    assert case_id in page.locator("#cases").inner_text()
