"""The trace API and pages through the app: the dicts of the queries, 404 for an unknown trace,
4xx for bad filters, escaped user text, and promotion (JSON only, inside the served folder,
behind the token)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from tests.trace.planted import HOSTILE, Planted, plant

from assay.store import Store
from assay.trace.query import TraceFilter, get_trace, list_traces
from assay.web import create_app

TOKEN = "trace-token-for-tests"


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Planted]:
    db = str(tmp_path_factory.mktemp("traces-api") / "assay.db")
    with Store(db) as store:
        ids = plant(store)
    return db, ids


@pytest.fixture(scope="module")
def client(planted_db):  # type: ignore[no-untyped-def]
    with TestClient(create_app(planted_db[0])) as client:
        yield client


def test_api_returns_the_query_dicts(planted_db, client):
    db, ids = planted_db
    with Store(db) as store:
        assert client.get("/api/traces").json() == list_traces(store)
        filtered = client.get(
            "/api/traces", params={"q": "refund", "status": "ok", "limit": 5}
        ).json()
        assert filtered == list_traces(store, TraceFilter(text="refund", status="ok"), limit=5)
        assert client.get(f"/api/traces/{ids.refund}").json() == get_trace(store, ids.refund)
    listed = client.get("/api/traces", params=[("attr", "tier=gold"), ("model", "claude-x")])
    assert [t["id"] for t in listed.json()["traces"]] == [ids.error]
    since = client.get("/api/traces", params={"since": "2025-03-04T11:30:00Z"}).json()
    assert [t["id"] for t in since["traces"]] == [ids.events]
    assert client.get(f"/api/traces/{ids.events[:4]}").json()["trace"]["id"] == ids.events


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/api/traces/ffff", 404, "no trace with id 'ffff'"),
        ("/api/traces/not-hex", 404, "not a trace id"),
        ("/api/traces/0", 400, "ambiguous"),
        ("/api/traces?since=yesterday", 400, "since: cannot read 'yesterday'"),
        ("/api/traces?since=1h&until=2h", 400, "until must be later than since"),
        ("/api/traces?attr=tier", 400, "attr: attribute filter 'tier' is not KEY=VALUE"),
        ("/api/traces?status=broken", 422, "status"),
        ("/api/traces?label=meh", 422, "label"),
        ("/api/traces?limit=0", 422, "limit"),
        ("/api/traces?offset=-1", 422, "offset"),
    ],
)
def test_bad_requests_are_4xx_with_a_reason(client, path, status, fragment):
    response = client.get(path)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


def test_pages_render_and_escape_user_text(planted_db, client):
    _, ids = planted_db
    listing = client.get("/traces")
    assert listing.status_code == 200
    assert listing.text.count('class="trace-row"') == 3
    assert 'href="/traces">traces</a>' in listing.text  # the nav link
    page = client.get(f"/traces/{ids.refund}")
    assert page.status_code == 200
    body = page.text.split("</head>", 1)[1]
    assert "<script>window" not in body and "<img src=x" not in body and "<b>answer" not in body
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in body
    assert "&lt;b&gt;answer&lt;/b&gt;" in body
    assert body.count('class="wf-bar') == 5
    assert 'style="left: 30.0000%; width: 60.0000%"' in body
    assert "doc-refunds#3" in body and "v7" in body and "emb-3" in body
    filtered = client.get("/traces", params={"q": "parcel", "status": "", "attr": ""})
    assert filtered.text.count('class="trace-row"') == 1 and ids.events in filtered.text


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/traces/ffff", 404, "no trace with id"),
        ("/traces?since=soon", 400, "cannot read"),
        ("/traces?status=broken", 400, "unknown trace status"),
        ("/traces?attr=novalue", 400, "not KEY=VALUE"),
        ("/traces?limit=abc", 400, "limit must be a whole number"),
        ("/traces?label=meh", 400, "unknown trace label"),
    ],
)
def test_page_mistakes_are_error_pages(client, path, status, fragment):
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert fragment in response.text


def test_promote_appends_a_case_inside_the_served_folder(planted_db, tmp_path, monkeypatch):
    db, ids = planted_db
    monkeypatch.chdir(tmp_path)
    with TestClient(create_app(db)) as client:
        made = client.post(
            f"/api/traces/{ids.refund[:6]}/promote",
            json={"dataset": "datasets/incidents.jsonl", "reason": "thumbs down"},
        )
        assert made.status_code == 200, made.text
        body = made.json()
        assert body["trace_id"] == ids.refund and body["appended"] is True
        assert body["dataset"] == "datasets/incidents.jsonl"
        case = body["case"]
        assert case["created_from"] == ids.refund and case["origin"] == "incident"
        rows = (tmp_path / "datasets" / "incidents.jsonl").read_text().splitlines()
        assert [json.loads(r)["id"] for r in rows] == [case["id"]]
        assert HOSTILE in rows[0] or json.dumps(HOSTILE)[1:-1] in rows[0]
        again = client.post(
            f"/api/traces/{ids.refund}/promote", json={"dataset": "datasets/incidents.jsonl"}
        )
        assert again.json()["appended"] is False and again.json()["case"]["id"] == case["id"]
        page = client.get(f"/traces/{ids.refund}")
        assert case["id"] in page.text and "datasets/incidents.jsonl" in page.text
        assert [c["id"] for c in client.get(f"/api/traces/{ids.refund}").json()["cases"]] == [
            case["id"]
        ]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"dataset": "../outside.jsonl"}, 400, "relative to the served folder"),
        ({"dataset": "/tmp/outside.jsonl"}, 400, "relative to the served folder"),
        ({"dataset": "cases.csv"}, 400, "not a JSONL file"),
        ({"dataset": ""}, 422, "dataset"),
        ({"dataset": "a.jsonl", "origin": "authored"}, 422, "origin"),
        ({"dataset": "a.jsonl", "extra": 1}, 422, "extra"),
    ],
)
def test_promote_refuses_bad_datasets(planted_db, tmp_path, monkeypatch, body, status, fragment):
    db, ids = planted_db
    monkeypatch.chdir(tmp_path)
    with TestClient(create_app(db)) as client:
        response = client.post(f"/api/traces/{ids.error}/promote", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert not list(tmp_path.iterdir())


def test_promote_takes_json_only_and_needs_the_token(planted_db, tmp_path, monkeypatch):
    db, ids = planted_db
    monkeypatch.chdir(tmp_path)
    body = json.dumps({"dataset": "d.jsonl"})
    url = f"/api/traces/{ids.error}/promote"
    with TestClient(create_app(db, token=TOKEN)) as client:
        assert (
            client.post(url, content=body, headers={"content-type": "application/json"}).status_code
            == 401
        )
        auth = {"Authorization": f"Bearer {TOKEN}"}
        # What a cross-site HTML form can send is refused: it is not JSON.
        form = client.post(url, content=body, headers={**auth, "content-type": "text/plain"})
        assert form.status_code == 422
        form = client.post(url, data={"dataset": "d.jsonl"}, headers=auth)
        assert form.status_code == 422
        assert not (tmp_path / "d.jsonl").exists()
        assert client.post(url, json={"dataset": "d.jsonl"}, headers=auth).status_code == 200
        assert client.get("/api/traces").status_code == 401
        assert client.get(f"/traces/{ids.error}").status_code == 401
    assert (tmp_path / "d.jsonl").exists()
    with TestClient(create_app(db)) as client:
        assert (
            client.post("/api/traces/ffff/promote", json={"dataset": "d.jsonl"}).status_code == 404
        )


def test_trace_api_has_no_server_errors_under_fuzzing(planted_db, tmp_path, monkeypatch):
    """schemathesis against the trace routes of the schema, with real trace ids (and their
    prefixes) put in half the time: no input makes them answer 5xx, and every answer is JSON."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import content_type_conformance, not_a_server_error

    db, ids = planted_db
    monkeypatch.chdir(tmp_path)  # promotions write their dataset files here
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db))
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/api/traces")
    ]
    assert {o.path for o in operations} == {
        "/api/traces",
        "/api/traces/{trace_id}",
        "/api/traces/{trace_id}/promote",
    }
    real = st.sampled_from([ids.refund, ids.error, ids.events[:6]])
    seen: set[int] = set()  # status codes of the current operation
    for operation in operations:
        seen.clear()

        @given(case=operation.as_strategy(), use_real=st.booleans(), trace=real)
        @settings(
            max_examples=25,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case, use_real, trace):  # type: ignore[no-untyped-def]
            if use_real and "trace_id" in (case.path_parameters or {}):
                case.path_parameters["trace_id"] = trace
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error, content_type_conformance])
            assert response.headers["content-type"][0].startswith("application/json")
            seen.add(response.status_code)

        exercise()
        if not operation.path.endswith("/promote"):
            assert 200 in seen, operation.label
