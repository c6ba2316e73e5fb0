"""``POST /api/feedback``, ``POST /api/outcomes``, ``GET /api/drafts``: 200 with counts, a 4xx
naming the field for bad input, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.trace.casework import T0, llm_trace, plant, thumbs_down, trace_id

from assay.store.tables import feedback
from assay.trace.labels import trace_labels
from assay.web import create_app

TID = trace_id(1)


@pytest.fixture
def client(store):
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        yield c


def test_feedback_posts_store_redacted_and_draft(store, client):
    plant(store, llm_trace(1), llm_trace(2))
    first = {**thumbs_down(TID), "comment": "mail x@example.com"}
    one = client.post("/api/feedback", json=first)
    assert one.status_code == 200
    assert one.json() == {
        "kind": "feedback",
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "redacted": {"EMAIL": 1},
        "new_drafts": 1,
    }
    many = client.post("/api/feedback", json=[first, {**thumbs_down(trace_id(2)), "value": 1}])
    assert many.status_code == 200
    assert (many.json()["stored"], many.json()["duplicates"]) == (1, 1)
    with store.engine.connect() as conn:
        assert conn.execute(select(feedback.c.comment)).scalars().all().count("mail <EMAIL_1>") == 1
    drafts = client.get("/api/drafts").json()
    assert drafts["n"] == 1 and drafts["drafts"][0]["created_from"] == TID
    assert drafts["overdue"] == 0 and drafts["deadline_days"] == 7
    assert client.get("/api/drafts", params={"older_than": "7d"}).json()["n"] == 0


def test_outcomes_post_joins_within_the_window(store, client):
    plant(store, llm_trace(1, session="conv-1"))
    late = {
        "session_id": "conv-1",
        "event": "ticket_reopened",
        "time": (T0 + timedelta(days=10)).isoformat(),
    }
    short = client.post("/api/outcomes", params={"window": "7d"}, json=late)
    assert short.status_code == 200 and short.json()["new_drafts"] == 0
    assert trace_labels(store, [TID], window=timedelta(days=7)) == {TID: "ok"}
    again = client.post("/api/outcomes", json=[late])
    assert again.json()["duplicates"] == 1 and again.json()["new_drafts"] == 1


BAD_BODIES = [
    ("/api/feedback", {**thumbs_down(TID), "value": 0.5}, "body (value): thumbs feedback"),
    ("/api/feedback", [thumbs_down(TID), {**thumbs_down(TID), "kind": "x"}], "body[1] (kind)"),
    ("/api/feedback", {**thumbs_down(TID), "trace_id": "12"}, "body (trace_id)"),
    ("/api/feedback", {"kind": "thumbs"}, "body (trace_id): Field required"),
    ("/api/feedback", [], "no feedback events"),
    ("/api/feedback", {**thumbs_down(TID), "comment": "a\x00b"}, "body (comment): text must"),
    ("/api/feedback", "not an object", "body: a feedback row must be an object"),
    (
        "/api/outcomes",
        {"session_id": "c", "event": "moon_landing", "time": T0.isoformat()},
        "body (bad): outcome event 'moon_landing' is not a known name",
    ),
    ("/api/outcomes", {"session_id": "c", "event": "conversion"}, "body (time)"),
    ("/api/outcomes", [], "no outcome events"),
]


def test_bad_bodies_get_a_400_naming_the_field(client):
    for path, body, words in BAD_BODIES:
        response = client.post(path, json=body)
        assert response.status_code == 400, response.text
        assert words in response.json()["error"], (path, body)
        assert response.json()["fix"]
    # Malformed requests: a 4xx with the reason, never a 500.
    for path in ("/api/feedback", "/api/outcomes"):
        for body in (b"{not json", b"\xff\xfe", b""):
            broken = client.post(path, content=body, headers={"content-type": "application/json"})
            assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
        window = client.post(path, params={"window": "soon"}, json=thumbs_down(TID))
        assert window.status_code in (400, 422)
        assert "window" in window.json()["error"]
    old = client.get("/api/drafts", params={"older_than": "old"})
    assert old.status_code == 422 and "older_than" in old.json()["error"]
    huge = client.get("/api/drafts", params={"older_than": "999999999d"})
    assert huge.status_code == 400 and "longer than 3650 days" in huge.json()["error"]
    too_many = client.post("/api/feedback", json=[thumbs_down(TID)] * 5001)
    assert too_many.status_code == 400 and "at most 5000" in too_many.json()["error"]
