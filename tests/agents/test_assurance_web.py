"""The assurance pages (tool reliability, the escalation graph, the DLQ, corpus health): their
API is the CLI's JSON, and in Chromium the pages show the same figures, draw the cycle's edges
red, and keep hostile text as text. Screenshots go where tests/web/conftest.py puts them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.agents.build import TraceBuilder, write
from tests.agents.escalations import circuit, healthy
from tests.agents.jobs import job_trace
from tests.trace.casework import run_cli
from tests.web.conftest import (  # noqa: F401  (fixtures)
    browser,
    free_port,
    screenshot,
    screenshot_dirs,
)

from assay.agents import load_agents_spec, validate_jobs
from assay.corpus import corpus_health, read_documents, save_report
from assay.store import Store
from assay.web import create_app

SPEC = Path(__file__).with_name("agents.yaml")
HOSTILE = '<img src=x onerror="window.__pwned=1">'
REFUND = "Refunds within {d} days of delivery, to the original payment method, minus no fee at all."


def plant(folder: Path) -> str:
    db = str(folder / "assay.db")
    with Store(db) as store:
        builders = []
        for k in range(40):
            b = TraceBuilder(route="agent-orders")
            failing = k % 5 == 0
            b.tool(
                "lookup_order",
                {"order_id": f"O{k}"},
                offset_ms=0,
                error="timed out" if failing else None,
                result=None if failing else {"ok": 1},
            )
            b.tool("send_email", {"to": "x"}, offset_ms=100, result={"ok": 1})
            builders.append(b)
        builders += [circuit(f"loop-{k}", k) for k in range(4)] + [healthy("ok-1", 10)]
        builders.append(job_trace("invented", output={"sku": HOSTILE, "quantity": 1}, key="idem-1"))
        write(store, *builders)
        validate_jobs(store, load_agents_spec(SPEC))
        docs = folder / "kb.jsonl"
        docs.write_text(
            "\n".join(
                json.dumps(d)
                for d in [
                    {
                        "id": "refund-new",
                        "text": REFUND.format(d=30),
                        "owner": "ops",
                        "updated_at": "2026-02-01",
                    },
                    {
                        "id": "refund-old",
                        "text": REFUND.format(d=14),
                        "owner": "ops",
                        "updated_at": "2024-01-01",
                    },
                    {
                        "id": "faq",
                        "text": "Opening hours are nine to five.",
                        "updated_at": "2026-02-01",
                    },
                ]
            )
        )
        save_report(store, corpus_health(read_documents(docs), corpus="kb"))
    return db


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> str:
    return plant(tmp_path_factory.mktemp("assurance"))


def test_api_matches_the_cli_json(planted, monkeypatch, capsys):
    client = TestClient(create_app(planted))
    for route, args in (
        ("/api/agents/tools", ["agents", "tools"]),
        ("/api/agents/escalations", ["agents", "escalations"]),
    ):
        api = client.get(route).json()
        code, out, _ = run_cli(monkeypatch, capsys, *args, "--db", planted, "--json")
        assert code == 1  # both hold findings
        assert api == json.loads(out), route
    dlq = client.get("/api/jobs/dlq").json()
    code, out, _ = run_cli(monkeypatch, capsys, "jobs", "dlq", "--db", planted, "--json")
    assert dlq["letters"] == json.loads(out)
    assert dlq["summary"]["by_reason"] == {"semantic:unknown_sku": 1}
    corpus = client.get("/api/corpus").json()
    assert [(c["a"], c["b"]) for c in corpus["report"]["conflicts"]] == [
        ("refund-new", "refund-old")
    ]
    assert client.get("/api/corpus", params={"report": "ffff"}).status_code == 404
    assert client.get("/api/agents/tools", params={"since": "yesterday-ish"}).status_code == 400
    assert client.get("/api/agents/escalations", params={"sla": "1e999d"}).status_code == 400
    assert client.get("/api/jobs/dlq", params={"status": "lost"}).status_code == 422
    assert client.get("/agents/tools", params={"max_failure_rate": "x"}).status_code == 400


def test_pages_on_an_empty_store(tmp_path):
    client = TestClient(create_app(str(tmp_path / "empty.db")))
    for path, marker in (
        ("/agents/tools", 'id="no-calls"'),
        ("/agents/escalations", 'id="no-escalations"'),
        ("/jobs/dlq", 'id="dlq-empty"'),
        ("/corpus", 'id="no-report"'),
    ):
        response = client.get(path)
        assert response.status_code == 200 and marker in response.text, path


@pytest.fixture(scope="module")
def server(planted: str) -> Iterator[str]:
    import uvicorn

    store = Store(planted)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    yield context.new_page()
    context.close()


def test_tool_reliability_page(server, page, screenshot):  # noqa: F811
    page.goto(server + "/agents/tools")
    rows = page.locator("tr.tool-row")
    assert rows.evaluate_all(
        "r => r.map(x => [x.dataset.tool, x.dataset.failures, x.dataset.calls])"
    ) == [["lookup_order", "8", "40"], ["send_email", "0", "40"], ["escalate_to_human", "0", "9"]]
    rate = page.locator('tr.tool-row[data-tool="lookup_order"] .rate')
    assert float(rate.get_attribute("data-rate")) == pytest.approx(0.2)
    assert page.locator("#top-failing").inner_text() == "lookup_order"
    assert page.locator('tr.finding[data-code="high_failure_rate"]').count() == 1
    screenshot(page, "agents-tools")


def test_escalation_graph_draws_the_cycle_in_red(server, page, screenshot):  # noqa: F811
    page.goto(server + "/agents/escalations")
    nodes = page.locator("#escalation-graph g.node")
    assert sorted(nodes.evaluate_all("n => n.map(x => x.dataset.actor)")) == [
        "specialist-agent",
        "support-desk",
        "triage-agent",
        "zendesk",
    ]
    red = page.locator("#escalation-graph g.edge.in-cycle")
    assert sorted(red.evaluate_all("e => e.map(x => x.dataset.from + '>' + x.dataset.to)")) == [
        "specialist-agent>zendesk",
        "triage-agent>specialist-agent",
        "zendesk>triage-agent",
    ]
    assert red.first.locator("path").get_attribute("stroke") == "#cf222e"
    assert (
        page.locator("#escalation-graph g.edge:not(.in-cycle)").count() == 1
    )  # zendesk>support-desk
    row = page.locator("tr.cycle-row")
    assert (
        row.get_attribute("data-path")
        == "specialist-agent > zendesk > triage-agent > specialist-agent"
    )
    assert float(page.locator("#no-human-touch .rate").get_attribute("data-rate")) == pytest.approx(
        0.8
    )
    box = page.locator("#escalation-graph").bounding_box()
    assert box and box["width"] > 400
    screenshot(page, "agents-escalations")


def test_dlq_page_shows_the_reason_and_keeps_text_as_text(server, page, screenshot):  # noqa: F811
    page.goto(server + "/jobs/dlq")
    row = page.locator("tr.dlq-row")
    assert row.count() == 1 and row.get_attribute("data-reason") == "semantic:unknown_sku"
    assert '"sku": "<img src=x onerror=' in row.locator("pre.out").inner_text()
    assert HOSTILE in row.inner_text()  # the detail names the invented SKU, as text
    assert page.evaluate("window.__pwned") is None and page.locator("main img").count() == 0
    assert "idem-1" in row.inner_text()
    screenshot(page, "jobs-dlq")


def test_corpus_page(server, page, screenshot):  # noqa: F811
    page.goto(server + "/corpus")
    conflict = page.locator("tr.conflict-row")
    assert (conflict.get_attribute("data-a"), conflict.get_attribute("data-b")) == (
        "refund-new",
        "refund-old",
    )
    assert "within 14 days" in conflict.inner_text()
    assert page.locator('tr.flagged-row[data-document="faq"]').inner_text().endswith("ownerless")
    page.click("#assurance-nav >> text=tool reliability")
    page.wait_for_url("**/agents/tools")
    page.goto(server + "/corpus")
    screenshot(page, "corpus-health")
