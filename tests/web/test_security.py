"""Access token, static files and escaping: what a server reachable by others must get right."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route
from tests.web.conftest import HOSTILE_INPUT, HOSTILE_OUTPUT
from typer.testing import CliRunner

from assay.cli.app import app as cli
from assay.cli.serve_commands import check_binding
from assay.core import AssayError
from assay.web import create_app, is_loopback

TOKEN = "s3cret-token-for-tests"


def concrete_paths(app, demo_store) -> list[str]:  # type: ignore[no-untyped-def]
    """Every GET route of the app with its path parameters filled in with real values."""
    values = {
        "run": demo_store.v2,
        "run_a": demo_store.v1,
        "run_b": demo_store.v2,
        "sample_id": "q0001",
        "name": "assay.css",
        "cert_id": "anything",
        "trace_id": "0" * 32,
        "route": "json-extract",  # the monitor pages (issue 14)
        "eval_name": "demo-qa",  # the history pages (issue 12)
    }
    paths = []
    routes = [*app.routes, *(r for router in app.state.routers for r in router.routes)]
    for route in routes:
        if not isinstance(route, (APIRoute, Route)) or "GET" not in (route.methods or ()):
            continue
        path = route.path
        for name in route.param_convertors:
            assert name in values, f"no test value for path parameter {name!r} of {path}"
            path = path.replace("{" + name + "}", values[name]).replace(
                "{" + name + ":path}", values[name]
            )
        paths.append(path)
    return paths


def test_every_route_answers_401_without_the_token(demo_store):
    app = create_app(demo_store.db, token=TOKEN)
    paths = concrete_paths(app, demo_store)
    assert {"/", "/api/runs", "/openapi.json", "/docs", "/static/assay.css"} <= set(paths)
    assert len(paths) >= 15
    with TestClient(app) as client:
        for path in paths:
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert "def " not in refused.text and demo_store.v1 not in refused.text
            wrong = client.get(path, headers={"Authorization": "Bearer not-it"})
            assert wrong.status_code == 401, path
            allowed = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert allowed.status_code != 401, path
        assert client.get("/api/runs").json()["error"] == "this server needs its access token"
        assert client.get("/").headers["content-type"].startswith("text/html")
        # Also for a POST and for routes that do not exist: nothing is answered without it.
        assert client.post("/api/runs").status_code == 401
        assert client.get("/api/no-such-route").status_code == 401


def test_the_token_can_come_from_a_header_a_cookie_or_the_address_bar(demo_store):
    with TestClient(create_app(demo_store.db, token=TOKEN)) as client:
        assert client.get("/api/runs", headers={"X-Assay-Token": TOKEN}).status_code == 200
        first = client.get(f"/?token={TOKEN}")
        assert first.status_code == 200
        assert "HttpOnly" in first.headers["set-cookie"]
        # The cookie it set lets the next page in without the query.
        assert client.get(f"/runs/{demo_store.v1}").status_code == 200
    with TestClient(create_app(demo_store.db, token=TOKEN)) as client:
        client.cookies.set("assay_token", "nope")
        assert client.get("/").status_code == 401


def test_serving_beyond_loopback_needs_a_token(demo_store, monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", TOKEN)
    with pytest.raises(
        AssayError, match=r"refusing to serve on 0\.0\.0\.0 without an access token"
    ):
        check_binding("0.0.0.0", None)
    monkeypatch.delenv("ASSAY_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--db", demo_store.db])
    assert isinstance(result.exception, AssayError)
    assert "--token" in str(result.exception)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2fapp.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/..%5c..%5capp.py",
        "/static/....//app.py",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/assay.css%00.py",
        "/static/",
        "/static/templates",
    ],
)
def test_static_path_traversal_is_404(demo_store, path):
    with TestClient(create_app(demo_store.db)) as client:
        response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "def create_app" not in response.text


def test_static_serves_the_stylesheet(demo_store):
    with TestClient(create_app(demo_store.db)) as client:
        response = client.get("/static/assay.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "svg.forest" in response.text


def test_sample_text_with_html_and_script_is_shown_escaped(hostile_store):
    db, run_id = hostile_store
    with TestClient(create_app(db)) as client:
        pages = [
            client.get("/"),
            client.get(f"/runs/{run_id}"),
            client.get(f"/runs/{run_id}/samples/evil"),
        ]
        for page in pages:
            assert page.status_code == 200
            for raw in ("<script>", "<img src=x", "<b onmouseover", "<i>odd</i>"):
                assert raw not in page.text.split("</head>", 1)[1], (page.url, raw)
        sample = pages[2].text
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in sample
        assert "&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;" in sample
        assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in pages[0].text
        # The API returns the text unchanged (JSON is not HTML).
        data = client.get(f"/api/runs/{run_id}/samples/evil").json()
        assert data["sample"]["input"] == HOSTILE_INPUT
        assert data["results"][0]["output"]["text"] == HOSTILE_OUTPUT


def test_flaky_and_error_filters_on_a_run_with_epochs(hostile_store):
    db, run_id = hostile_store
    with TestClient(create_app(db)) as client:
        flaky = client.get(f"/api/runs/{run_id}/samples", params={"flaky": True}).json()
        assert [r["id"] for r in flaky["rows"]] == ["wobbly"]
        assert flaky["rows"][0]["subjects"][0]["scores"]["exact"] == [1.0, 0.0, 1.0]
        steady = client.get(f"/api/runs/{run_id}/samples", params={"flaky": False}).json()
        assert sorted(r["id"] for r in steady["rows"]) == ["evil", "plain"]
        odd = client.get(f"/api/runs/{run_id}/samples", params={"slice": "slice=<i>odd</i>"})
        assert [r["id"] for r in odd.json()["rows"]] == ["evil"]
        page = client.get(f"/runs/{run_id}?flaky=true")
        assert page.text.count('class="sample-row"') == 1 and "flaky</span>" in page.text


def test_short_tokens_are_refused_everywhere(demo_store):
    from assay.trace.receiver import collector_app

    for build in (
        lambda: check_binding("0.0.0.0", "short"),
        lambda: create_app(demo_store.db, token="fifteen-chars!!"),
        lambda: collector_app(demo_store.db, token="tiny"),
    ):
        with pytest.raises(AssayError, match="at least 16 are needed") as refused:
            build()
        assert "secrets.token_urlsafe" in (refused.value.fix or "")
    create_app(demo_store.db, token="x" * 16)  # sixteen is enough


def test_without_a_token_only_loopback_and_allowed_hosts_are_answered(demo_store):
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends
    `Host: evil.example`; the server must not answer it with the store."""
    from assay.web.auth import allowed_hosts

    app = create_app(demo_store.db, allowed_hosts=allowed_hosts(["assay.internal"]))
    for host, status in (
        ("127.0.0.1:8765", 200),
        ("localhost:8765", 200),
        ("[::1]:8765", 200),
        ("assay.internal", 200),
        ("evil.example:8765", 400),
        ("127.0.0.1.evil.example", 400),
    ):
        with TestClient(app, base_url=f"http://{host}") as client:
            answer = client.get("/api/runs")
        assert answer.status_code == status, host
        if status == 400:
            assert demo_store.v1 not in answer.text
    # With a token the token is the guard, so any name may reach it (behind a proxy, say).
    with TestClient(
        create_app(demo_store.db, token=TOKEN, allowed_hosts=allowed_hosts()),
        base_url="http://assay.example",
    ) as client:
        assert client.get("/api/runs", headers={"X-Assay-Token": TOKEN}).status_code == 200


def test_every_response_carries_the_security_headers(demo_store):
    with TestClient(create_app(demo_store.db)) as client:
        for path in ("/", "/api/runs", "/static/assay.css", "/no-such-page", "/docs"):
            headers = client.get(path).headers
            assert headers["x-frame-options"] == "DENY", path
            assert headers["x-content-type-options"] == "nosniff", path
            policy = headers["content-security-policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path


def test_the_api_reference_is_served_offline_from_the_schema(demo_store):
    with TestClient(create_app(demo_store.db)) as client:
        page = client.get("/docs")
        schema = client.get("/openapi.json").json()
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert "/api/runs/{run}/samples" in page.text
    assert page.text.count('class="operation"') == sum(
        1 for item in schema["paths"].values() for m in item if m in ("get", "post", "put")
    )


def test_serve_passes_allowed_hosts_and_refuses_a_short_token(demo_store, monkeypatch):
    monkeypatch.delenv("ASSAY_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--token", "abc", "--db", demo_store.db])
    assert isinstance(result.exception, AssayError)
    assert "at least 16" in str(result.exception)
