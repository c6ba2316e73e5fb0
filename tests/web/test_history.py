"""The per-eval history page and its JSON: the metrics of ``assay show``, the changes of
``assay diff``, and the totals of ``assay show --cost``."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from tests.web.test_numbers import rows_of
from typer.testing import CliRunner

from assay.cli.app import app as cli
from assay.web import create_app


@pytest.fixture(scope="module")
def client(demo_store):  # type: ignore[no-untyped-def]
    with TestClient(create_app(demo_store.db)) as c:
        yield c


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_history_json_has_the_numbers_of_show_and_diff(demo_store, client):  # type: ignore[no-untyped-def]
    data = client.get("/api/history/demo-qa").json()
    assert [r["run"]["id"] for r in data["runs"]] == [demo_store.v1, demo_store.v2]
    assert [(s["subject"], s["scorer"]) for s in data["series"]] == [
        ("assistant", "exact"),
        ("assistant", "includes"),
    ]
    for k, run_id in enumerate((demo_store.v1, demo_store.v2)):
        show = _cli("show", run_id, "--cost", "--db", demo_store.db)
        overall = {m["scorer"]: m for m in show["metrics"] if m["group"] == "all"}
        for line in data["series"]:
            point, expected = line["points"][k], overall[line["scorer"]]
            assert point["run_id"] == run_id
            for key in ("estimate", "low", "high", "n", "method"):
                assert point[key] == expected[key], (run_id, line["scorer"], key)
        costs = data["runs"][k]["costs"]
        groups = show["costs"]["groups"]
        assert costs["input_tokens"] == sum(g["input_tokens"] for g in groups) > 0
        assert costs["output_tokens"] == sum(g["output_tokens"] for g in groups)
        assert costs["calls"] == sum(g["calls"] for g in groups) == 60
        assert costs["cost"] == show["costs"]["total_cost"]
    # The prompt change between v1 and v2 is marked on v2, as `assay diff` finds it.
    diff = _cli("diff", demo_store.v1, demo_store.v2, "--db", demo_store.db)
    assert diff["changes"][0]["category"] == "prompt"
    assert data["marks"] == [
        {
            "run_id": demo_store.v2,
            "label": "v2",
            "started_at": data["runs"][1]["run"]["started_at"].replace("Z", "+00:00"),
            "changes": ["prompt v1 → v2"],
            "judge": False,
        }
    ]


def test_history_page_draws_a_chart_per_metric_with_the_change_marked(demo_store, client):  # type: ignore[no-untyped-def]
    page = client.get("/history/demo-qa")
    assert page.status_code == 200
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg" class="history"') == 2
    assert page.text.count(f'class="change-mark" data-run="{demo_store.v2}"') == 2
    assert page.text.count('class="band"') == 2
    rows = rows_of(page.text, "history-row")
    assert [r["data-run"] for r in rows.rows] == [demo_store.v2, demo_store.v1]  # newest first
    assert "prompt v1 → v2" in page.text
    index = client.get("/history")
    assert 'href="/history/demo-qa"' in index.text
    judge = client.get("/history/" + "audit sim/demo-judge")
    assert judge.status_code == 200


def test_an_unknown_eval_is_a_404_naming_it(client):  # type: ignore[no-untyped-def]
    page = client.get("/history/no-such-eval")
    assert page.status_code == 404 and "no-such-eval" in page.text
    api = client.get("/api/history/no-such-eval")
    assert api.status_code == 404 and "no-such-eval" in api.json()["error"]
    assert client.get("/api/history/demo-qa?limit=0").status_code == 422
