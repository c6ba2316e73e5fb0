"""The review queue on the web: the JSON API's answers (4xx with a reason for every bad label,
never a 500), escaping, the token, and a labelling session in Chromium driven by the keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.review.builders import PASS_FAIL, SCORE
from tests.web.conftest import HOSTILE_INPUT, HOSTILE_OUTPUT

from assay.review import NewItem, add_items, create_queue, queue_items
from assay.store import Store
from assay.web import create_app
from assay.web.live import serve_in_thread

TOKEN = "review-token-for-tests"


@pytest.fixture
def db(tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "assay.db")
    with Store(path) as store:
        create_queue(store, "triage", PASS_FAIL)
        create_queue(store, "scores", SCORE, reviews_per_item=2)
        add_items(
            store,
            "triage",
            [
                NewItem("sample", "r:bot:evil", {"input": HOSTILE_INPUT, "output": HOSTILE_OUTPUT}),
                NewItem("sample", "r:bot:two", {"input": "2+2?", "output": "4", "target": "4"}),
                NewItem("sample", "r:bot:three", {"input": "3+3?", "output": "7", "target": "6"}),
            ],
        )
        add_items(store, "scores", [NewItem("sample", "r:bot:one", {"input": "hi"})])
    return path


def _ids(db: str, queue: str) -> list[str]:
    with Store(db) as store:
        return [item.id for item in queue_items(store, queue)]


def test_labels_through_the_api_and_every_mistake_is_a_4xx(db):  # type: ignore[no-untyped-def]
    triage, scores = _ids(db, "triage"), _ids(db, "scores")
    with TestClient(create_app(db)) as client:
        url = f"/api/review/triage/items/{triage[1]}/labels"
        good = client.post(url, json={"rater": "alice", "verdict": "pass", "note": "fine"})
        assert good.status_code == 200, good.text
        body = good.json()
        assert body["label"]["rater"] == "alice" and body["label"]["verdict"] == "pass"
        assert body["progress"]["complete"] == 1 and body["progress"]["labels"] == 1
        listed = client.get("/api/review").json()
        assert {q["name"]: q["labels"] for q in listed} == {"triage": 1, "scores": 0}
        mine = client.get("/api/review/triage/items", params={"rater": "alice"}).json()
        assert [i["ref"] for i in mine] == ["r:bot:evil", "r:bot:three"]
        assert client.get("/api/review/triage").json()["items"] == 3

        score_url = f"/api/review/scores/items/{scores[0]}/labels"
        bad = [
            ("/api/review/nope/items/abcd/labels", {"rater": "a", "verdict": "pass"}, 404, "nope"),
            (f"/api/review/triage/items/{'0' * 32}/labels", {"rater": "a", "verdict": "pass"},
             404, "no review item"),
            (f"/api/review/triage/items/{scores[0]}/labels", {"rater": "a", "verdict": "pass"},
             404, "in queue 'triage'"),
            (url, {"rater": "a"}, 400, "verdict must be pass or fail"),
            (url, {"rater": "a", "score": 3}, 400, "not scores"),
            (score_url, {"rater": "a", "verdict": "pass"}, 400, "labels scores 1-5"),
            (score_url, {"rater": "a", "score": 9}, 400, "not a whole number in 1-5"),
            (score_url, {"rater": "a", "score": 2.5}, 400, "not a whole number in 1-5"),
            (url, {"rater": "a,b", "verdict": "pass"}, 400, "not a reviewer name"),
            (url, {"verdict": "pass"}, 422, "rater"),
            (url, {"rater": "a", "verdict": "maybe"}, 422, "verdict"),
            (url, {"rater": "a", "verdict": "pass", "role": "boss"}, 422, "role"),
            (url, {"rater": "a", "verdict": "pass", "stars": 5}, 422, "stars"),
            (url, {"rater": "", "verdict": "pass"}, 422, "rater"),
            (url, ["pass"], 422, ""),
        ]  # fmt: skip
        for path, payload, status, reason in bad:
            response = client.post(path, json=payload)
            assert response.status_code == status, (payload, response.text)
            assert reason in response.json()["error"], (payload, response.json())
        broken = client.post(
            url, content=b'{"rater": ', headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422
        form = client.post(url, content=b"rater=a&verdict=pass",
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert 400 <= form.status_code < 500
        plain = client.post(url, content=b'{"rater": "a", "verdict": "pass"}',
                            headers={"content-type": "text/plain"})  # fmt: skip
        assert 400 <= plain.status_code < 500  # a cross-site form cannot label
        assert client.get("/api/review/triage/items", params={"rater": "a,b"}).status_code == 400
        assert client.get("/review/nope").status_code == 404
        assert (
            client.get("/review/triage", params={"as": "alice", "role": "boss"}).status_code == 400
        )
        # Nothing above was stored.
        assert client.get("/api/review/triage").json()["labels"] == 1


def test_random_label_bodies_never_make_a_server_error(db):  # type: ignore[no-untyped-def]
    triage = _ids(db, "triage")
    value = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
        st.lists(st.integers(), max_size=2),
    )  # fmt: skip
    keys = st.sampled_from(["rater", "role", "verdict", "score", "note", "correction", "x"])
    with TestClient(create_app(db)) as client:

        @given(body=st.dictionaries(keys, value, max_size=6), item=st.sampled_from(triage))
        @settings(
            max_examples=60,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def post(body, item):  # type: ignore[no-untyped-def]
            response = client.post(f"/api/review/triage/items/{item}/labels", json=body)
            assert response.status_code in (200, 400, 404, 422), (body, response.text)
            assert response.headers["content-type"].startswith("application/json")

        post()


def test_pages_escape_content_and_need_the_token(db):  # type: ignore[no-untyped-def]
    with TestClient(create_app(db)) as client:
        page = client.get("/review/triage", params={"as": "<b>x</b>", "role": "expert"})
        assert page.status_code == 200
        body = page.text.split("</head>", 1)[1]
        for raw in ("<script>window", "<img src=x", "<b onmouseover", "<b>x</b>"):
            assert raw not in body, raw
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in body
        assert "&lt;b&gt;x&lt;/b&gt;" in body
        assert body.count('class="review-item') == 3
        listing = client.get("/review")
        assert listing.status_code == 200 and 'data-queue="triage"' in listing.text
        assert "0/3 items complete" in listing.text
        assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")
    item = _ids(db, "triage")[0]
    with TestClient(create_app(db, token=TOKEN)) as client:
        path = f"/api/review/triage/items/{item}/labels"
        refused = client.post(path, json={"rater": "a", "verdict": "pass"})
        assert refused.status_code == 401
        for path_ in ("/review", "/review/triage", "/api/review", "/api/review/triage/items"):
            assert client.get(path_).status_code == 401
        allowed = client.post(
            path,
            json={"rater": "a", "verdict": "pass"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert allowed.status_code == 200


@pytest.fixture
def live(db) -> Iterator[str]:  # type: ignore[no-untyped-def]

    store = Store(db)
    with serve_in_thread(create_app(store)) as url:
        yield url
    store.close()


def test_labelling_with_the_keyboard_in_chromium(live, db, browser, screenshot):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live}/review")
        assert page.locator("tr.queue-row").count() == 2
        page.click('tr.queue-row[data-queue="triage"] a')
        page.wait_for_url("**/review/triage")
        page.fill("input[name=as]", "alice")
        page.click("#reviewer-form button[type=submit]")
        page.wait_for_url("**/review/triage?as=alice*")
        progress = page.locator("#progress")
        assert progress.get_attribute("data-complete") == "0"
        visible = page.locator(".review-item:visible")
        assert visible.count() == 1
        assert "window.__pwned" in visible.locator("pre").first.inner_text()  # shown as text
        assert page.evaluate("window.__pwned") is None
        # j / k move between items without labelling.
        page.keyboard.press("j")
        assert "2+2?" in page.locator(".review-item:visible").inner_text()
        page.keyboard.press("ArrowLeft")
        assert "window.__pwned" in page.locator(".review-item:visible").inner_text()

        page.keyboard.press("p")
        assert (
            page.locator('button.choice[data-choice="pass"]')
            .get_attribute("class")
            .endswith("selected")
        )
        page.keyboard.press("Enter")
        expect(progress).to_have_attribute("data-complete", "1")  # no eval: the CSP forbids it
        assert "1/3 items complete" in progress.inner_text()
        assert "2+2?" in page.locator(".review-item:visible").inner_text()  # moved on

        page.keyboard.press("f")
        page.keyboard.press("n")
        page.keyboard.type("wrong sum")  # typed into the note: no shortcut fires
        page.keyboard.press("Enter")
        expect(progress).to_have_attribute("data-complete", "2")  # no eval: the CSP forbids it
        assert "2/3 items complete · 2/3 labels" in progress.inner_text()
        assert "3+3?" in page.locator(".review-item:visible").inner_text()
        screenshot(page, "review-labelling")

        # The note lost the focus with the submit: keys are shortcuts again, not note text.
        # Submitting with no choice says so instead of sending anything.
        page.keyboard.press("Enter")
        assert "choose pass (p) or fail (f)" in page.locator("#error").inner_text()
        page.keyboard.press("p")
        assert page.locator("#note").input_value() == ""
        assert "selected" in page.locator('button.choice[data-choice="pass"]').get_attribute(
            "class"
        )

        # The reviewer is remembered: the bare page comes back as alice.
        page.goto(f"{live}/review/triage")
        page.wait_for_url("**/review/triage?as=alice*")
        assert page.locator("#who").inner_text() == "alice"
        page.goto(f"{live}/review")
        assert "2/3 items complete" in page.locator('tr[data-queue="triage"]').inner_text()
        screenshot(page, "review-queues")
    finally:
        context.close()
    with Store(db) as store:
        labels = {
            i.ref: [(lbl.rater, lbl.verdict, lbl.note) for lbl in i.labels]
            for i in queue_items(store, "triage")
        }
    assert labels == {
        "r:bot:evil": [("alice", "pass", None)],
        "r:bot:two": [("alice", "fail", "wrong sum")],
        "r:bot:three": [],
    }
