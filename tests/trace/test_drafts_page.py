"""E2 on the web UI: ten failed traces are ten drafts, and the page shows the triage backlog
(drafts waiting 7 days or more) with each draft's age and a link to its trace."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.trace.casework import llm_trace, plant, thumbs_down

from assay.store import Store
from assay.store.tables import cases
from assay.trace.feedback import record_feedback
from assay.trace.promote import list_drafts
from assay.web import create_app


def test_ten_failed_traces_are_ten_drafts_and_the_backlog_shows(store: Store) -> None:
    question = "My email is ann@example.org, when is my refund due?"
    ids = plant(store, *(llm_trace(n, question=question) for n in range(10)))
    plant(store, llm_trace(50))  # a trace nobody complained about: no draft
    record_feedback(store, [thumbs_down(tid) for tid in ids])
    drafts = list_drafts(store)
    assert sorted(d.created_from for d in drafts) == ids
    stale = [d.id for d in drafts[:4]]
    with store.engine.begin() as conn:
        conn.execute(
            update(cases)
            .where(cases.c.id.in_(stale))
            .values(created_at=datetime.now(UTC) - timedelta(days=9))
        )
    client = TestClient(create_app(store))
    html = client.get("/drafts").text
    assert re.search(r'id="backlog">4<', html) and 'id="draft-total">10<' in html
    assert html.count('class="draft-row stale"') == 4
    assert html.count('class="draft-row"') == 6
    for tid in ids:
        assert f'href="/traces/{tid}"' in html
    assert "ann@example.org" not in html and "&lt;EMAIL_1&gt;" in html
    older = client.get("/drafts", params={"older_than": "7d"}).text
    assert 'id="draft-total">4<' in older
    bad = client.get("/drafts", params={"older_than": "soon"})
    assert bad.status_code == 400 and "older_than" in bad.text


def test_a_get_writes_nothing_and_the_button_drafts_the_rest(store: Store) -> None:
    """Failures that did not draft as they were written are counted on the page; only the
    page's POST button (303 back to the page) turns them into drafts."""
    from sqlalchemy import func, select

    ids = plant(store, *(llm_trace(n) for n in range(3)))
    record_feedback(store, [thumbs_down(tid) for tid in ids], sync=False)

    def n_cases() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(cases)).scalar_one())

    client = TestClient(create_app(store))
    html = client.get("/drafts", params={"older_than": "1h"}).text
    assert 'id="undrafted">3<' in html and 'id="no-drafts"' in html
    assert 'action="/drafts/sync?older_than=1h"' in html
    assert n_cases() == 0  # the GET drafted nothing
    answer = client.post("/drafts/sync", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/drafts"
    assert n_cases() == 3
    html = client.get("/drafts").text
    assert 'id="undrafted"' not in html and 'id="draft-total">3<' in html
    again = client.post("/drafts/sync", params={"older_than": "1h"}, follow_redirects=False)
    assert again.headers["location"] == "/drafts?older_than=1h" and n_cases() == 3


def test_a_bad_filter_on_the_button_is_refused_before_drafting(store: Store) -> None:
    """``POST /drafts/sync?older_than=soon`` answers 400 naming the field, and drafts nothing
    (it used to draft, then redirect to a page that answered 400)."""
    from sqlalchemy import func, select

    ids = plant(store, *(llm_trace(n) for n in range(2)))
    record_feedback(store, [thumbs_down(tid) for tid in ids], sync=False)
    client = TestClient(create_app(store))
    answer = client.post("/drafts/sync", params={"older_than": "soon"}, follow_redirects=False)
    assert answer.status_code == 400 and "older_than" in answer.text
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == 0
