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
