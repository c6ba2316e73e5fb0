"""The prompts, models and claims pages (issue 17) over a store with two prompt versions, an
evaluated promotion, an EOL date 10 days away and a claim whose prompt has moved on: checked
through the JSON API and in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.registry.test_prompt_registry import V1, V2
from tests.registry.world import write_world
from tests.web.conftest import in_thread

from assay.store import Store
from assay.web.live import serve_in_thread


def _fill(folder: Path, db: str) -> None:
    import os

    from assay.registry.claims import add_claim
    from assay.registry.models import EolEntry, set_eol
    from assay.registry.prompts import commit, promote
    from assay.run import load_eval, run

    os.environ["ASSAY_DB"] = db
    try:
        with Store(db) as store:
            commit(store, "support", V1, author="ana", rationales=["first cut"])
            promote(store, "support@1", label="production", actor="ana", reason="launch")
            spec = write_world(folder, n=60, prompt_line="prompt: registry:support@production")
            evidence = run(load_eval(spec), db=store)
            add_claim(store, "Resolves most support questions", run=evidence.run_id)
            commit(store, "support", V2, author="bo", rationales=["tickets ran long", "legal"])
            spec.write_text(spec.read_text().replace("@production", "@2"))
            run(load_eval(spec), db=store)
            promote(store, "support@2", label="production", actor="bo", reason="evaluated")
            eol = datetime.now(UTC).date() + timedelta(days=10)
            set_eol(store, EolEntry("sim/atlas-large", eol, "sim/atlas-large-2"))
            _datasets(store, folder)
    finally:
        del os.environ["ASSAY_DB"]


def _datasets(store: Store, folder: Path) -> None:
    """support-qa@1 with an incident case, @2 dropping it with a kept reason."""
    import json

    from assay.registry.datasets import commit_dataset

    rows = [
        {"id": "a1", "input": "q1", "target": "x"},
        {"id": "i1", "input": "q2", "target": "y", "metadata": {"origin": "incident"}},
    ]
    path = folder / "support-qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    commit_dataset(store, "support-qa", path, author="ana")
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"id": "n1", "input": "q3"}) + "\n")
    commit_dataset(store, "support-qa", path, author="bo", force=True, reason="fixed upstream")


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:

    from assay.web import create_app

    folder = tmp_path_factory.mktemp("registry-pages")
    db = str(folder / "assay.db")
    in_thread(_fill, folder, db)
    store = Store(db)
    with serve_in_thread(create_app(store)) as url:
        yield url
    store.close()


def test_registry_api_answers_and_refuses_with_reasons(registry_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    prompt = httpx.get(registry_server + "/api/prompts/support").json()
    assert [v["labels"] for v in prompt["versions"]] == [[], ["production"]]
    assert [p["verdict"] for p in prompt["promotions"]][0] == "first"
    assert prompt["promotions"][1]["run_id"] == prompt["versions"][1]["approved_run"]
    assert [e["kind"] for e in prompt["diff"]["edits"]] == ["changed", "added"]
    missing = httpx.get(registry_server + "/api/prompts/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    bad = httpx.get(registry_server + "/api/prompts/support", params={"a": "9"})
    assert bad.status_code == 404
    window = httpx.get(
        registry_server + "/api/models", params={"warning_days": 5, "critical_days": 14}
    )
    assert window.status_code == 400 and "critical_days" in window.json()["error"]
    [claim] = httpx.get(registry_server + "/api/claims").json()
    assert claim["status"] == "stale_evidence" and claim["reasons"][0].startswith("prompt:")
    dataset = httpx.get(registry_server + "/api/datasets/support-qa").json()
    assert [v["version"] for v in dataset["versions"]] == [1, 2]
    assert dataset["diff"]["removed"] == {"incident": ["i1"]}
    assert dataset["versions"][1]["force_reason"] == "fixed upstream"
    for params, status in (({"a": "9"}, 404), ({"a": "x"}, 422), ({"b": "0"}, 422)):
        answer = httpx.get(registry_server + "/api/datasets/support-qa", params=params)
        assert answer.status_code == status, params
    assert httpx.get(registry_server + "/api/datasets/nope").status_code == 404


def test_registry_pages_in_chromium(registry_server, browser, screenshot) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    try:
        page.goto(registry_server + "/prompts")
        assert page.locator("#prompts .prompt-row").count() == 1
        page.click("text=support")
        blame = page.locator("#blame .blame-row")
        assert blame.count() == 4
        assert "tickets ran long" in blame.nth(1).inner_text()
        assert page.locator("#diff .edit").count() == 2
        screenshot(page, "registry-prompt")
        page.goto(registry_server + "/models")
        row = page.locator("#models .model-row.status-critical")
        assert row.count() == 1
        assert "sim/atlas-large" in row.inner_text() and "10" in row.locator("td.num").inner_text()
        assert "eval registry-world" in row.inner_text()
        screenshot(page, "registry-models")
        page.goto(registry_server + "/claims")
        assert page.locator("#claims .claim-row.status-stale_evidence").count() == 1
        screenshot(page, "registry-claims")
        page.goto(registry_server + "/datasets")
        page.click("text=support-qa")
        assert page.locator("#versions .version-row").count() == 2
        assert "fixed upstream" in page.locator("#versions").inner_text()
        removed = page.locator("#dataset-diff .diff-removed")
        assert "incident" in removed.inner_text() and "i1" in removed.inner_text()
        screenshot(page, "registry-dataset")
        page.click("a[href='/models']")  # the nav link
        assert page.url.endswith("/models")
    finally:
        context.close()
