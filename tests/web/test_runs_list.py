"""The home page: labelled runs, suggested comparisons, checkboxes, paging and sorting in SQL,
compare-form defaults, gzip, and ``assay run --tag/--note``."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.store.conftest import Build
from tests.web.test_numbers import rows_of
from typer.testing import CliRunner

from assay.analyse.run_labels import label_runs
from assay.cli.app import app as cli
from assay.core import AssayError
from assay.store import Store
from assay.store.tables import run_summaries
from assay.web import create_app


@pytest.fixture(scope="module")
def client(demo_store):  # type: ignore[no-untyped-def]
    with TestClient(create_app(demo_store.db)) as c:
        yield c


def test_home_page_names_the_runs_and_suggests_v2_vs_v1(demo_store, client):  # type: ignore[no-untyped-def]
    page = client.get("/")
    assert page.status_code == 200
    suggestions = rows_of(page.text, "suggestion")
    first = suggestions.rows[0]
    assert (first["data-a"], first["data-b"]) == (demo_store.v1, demo_store.v2)
    assert "v2 vs v1" in " ".join(suggestions.texts[0])
    assert f'href="/compare/{demo_store.v1}/{demo_store.v2}">v2 vs v1</a>' in page.text
    # Audit and judge runs are never suggested.
    assert all(not r["data-b"].startswith(demo_store.judge) for r in suggestions.rows)
    rows = {r["data-run"]: (r, " ".join(t)) for r, t in zip(*_rows(page.text), strict=True)}
    v1, v1_text = rows[demo_store.v1]
    v2, v2_text = rows[demo_store.v2]
    assert (v1["data-label"], v2["data-label"]) == ("v1", "v2")
    assert v2["data-previous"] == demo_store.v1 and v1["data-previous"] == ""
    assert "prompt v1 → v2" in v2_text and "demo-qa" in v2_text and "60/60" in v2_text
    assert f'class="vs-previous" href="/compare/{demo_store.v1}/{demo_store.v2}"' in page.text
    assert 'href="/history/demo-qa"' in page.text
    assert rows[demo_store.judge][0]["data-label"] == "judge: v1 vs v2"  # the runs it judged
    # The headline metric is the run's first overall metric, as `assay show --json` has it.
    show = json.loads(
        CliRunner().invoke(cli, ["show", demo_store.v1, "--db", demo_store.db, "--json"]).stdout
    )
    first_metric = next(m for m in show["metrics"] if m["group"] == "all")
    assert f"{100 * first_metric['estimate']:.1f}%" in v1_text


def _rows(html: str):  # type: ignore[no-untyped-def]
    parsed = rows_of(html, "run-row")
    return parsed.rows, parsed.texts


def test_checkboxes_compare_the_two_picked_runs_oldest_first(demo_store, client):  # type: ignore[no-untyped-def]
    page = client.get("/")
    assert page.text.count('type="checkbox" name="run"') == len(_rows(page.text)[0])
    assert '<form method="get" action="/compare" id="pick">' in page.text
    picked = client.get(f"/compare?run={demo_store.v2}&run={demo_store.v1}", follow_redirects=False)
    assert picked.status_code == 303
    assert picked.headers["location"] == f"/compare/{demo_store.v1}/{demo_store.v2}"
    one = client.get(f"/compare?run={demo_store.v2}")
    assert one.status_code == 400 and "pick exactly two runs" in one.text
    unknown = client.get(f"/compare?run={demo_store.v2}&run=nope-nope")
    assert unknown.status_code == 404


def test_compare_form_defaults_to_the_newest_pair_not_an_audit_run(demo_store, client):  # type: ignore[no-untyped-def]
    page = client.get("/compare")
    selected = re.findall(r'<select name="(a|b)">.*?<option value="([^"]+)" selected', page.text)
    assert dict(selected) == {"a": demo_store.v1, "b": demo_store.v2}


def test_api_runs_pages_and_sorts(demo_store, client):  # type: ignore[no-untyped-def]
    everything = client.get("/api/runs").json()
    ids = [r["run"]["id"] for r in everything]
    paged = [r["run"]["id"] for k in range(0, len(ids), 2) for r in
             client.get(f"/api/runs?limit=2&offset={k}").json()]  # fmt: skip
    assert paged == ids
    by_name = client.get("/api/runs?sort=name&order=asc").json()
    names = [r["run"]["name"] for r in by_name]
    assert names == sorted(names)
    assert {r["label"]["short"] for r in everything if r["run"]["name"] == "demo-qa"} == {
        "v1",
        "v2",
    }
    assert client.get("/api/runs?sort=colour").status_code == 422
    assert client.get("/?sort=colour").status_code == 400
    assert client.get("/?size=7").status_code == 400


def test_large_pages_are_gzipped(client):  # type: ignore[no-untyped-def]
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    small = client.get("/api/runs?name=no-such-eval", headers={"Accept-Encoding": "gzip"})
    assert small.json() == [] and "content-encoding" not in small.headers


def test_home_page_paginates_thirty_runs(tmp_path):  # type: ignore[no-untyped-def]
    db = str(tmp_path / "assay.db")
    with Store(db) as store:
        for k in range(30):
            manifest = Build.manifest(f"run-{k:02d}", started_at=Build.at(k), subjects=("alpha",))
            store.create_run(manifest, Build.samples(), n_planned=3)
            store.add_results(f"run-{k:02d}", [Build.result("alpha", "q1")])
        with TestClient(create_app(store)) as client:
            first = client.get("/?size=25")
            rows = _rows(first.text)[0]
            assert len(rows) == 25 and rows[0]["data-run"] == "run-29"
            assert "30 runs · page 1 of 2" in first.text and 'rel="next"' in first.text
            second = client.get("/?size=25&page=2")
            assert [r["data-run"] for r in _rows(second.text)[0]] == [
                f"run-{k:02d}" for k in range(4, -1, -1)
            ]
            assert 'rel="prev"' in second.text and 'name="page"' in second.text
            oldest = client.get("/?size=25&sort=started&order=asc")
            assert _rows(oldest.text)[0][0]["data-run"] == "run-00"
            beyond = client.get("/?size=25&page=3")
            assert "No runs on this page" in beyond.text


def test_assay_run_tag_and_note_round_trip(demo_store, tmp_path):  # type: ignore[no-untyped-def]
    db = str(tmp_path / "copy.db")
    shutil.copy(demo_store.db, db)
    spec = str(demo_store.project / "eval_v2.yaml")
    args = ["run", spec, "--db", db, "--new", "--tag", "v3", "--tag", "rc", "--note", "retry"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        newest = store.list_runs(limit=1)[0]
        label = label_runs(store, [newest.id])[newest.id]
        assert (label.short, label.tags, label.note) == ("v3", ["v3", "rc"], "retry")
        assert label.previous == demo_store.v2
        # The runner stored the finished run's summary: the runs list reads it.
        with store.engine.connect() as conn:
            cached = set(conn.execute(select(run_summaries.c.run_id)).scalars())
        assert newest.id in cached
    with Store(db) as store:
        before = len(store.list_runs())
    bad = CliRunner().invoke(cli, ["run", spec, "--db", db, "--new", "--tag", "a,b"])
    assert isinstance(bad.exception, AssayError) and bad.exception.exit_code == 2
    assert "--tag" in str(bad.exception)
    with Store(db) as store:
        assert len(store.list_runs()) == before  # refused before running
