"""The compare page across a changed judge (issue 20, 7 / C5): the same withheld label as
`assay compare` on every row of the metric that judge graded, with the figures kept."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.analyse.conftest import write_runs_with_a_changed_judge
from tests.web.test_numbers import rows_of

from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.store import Store
from assay.web import create_app


def test_the_compare_page_withholds_every_row_of_a_metric_whose_judge_changed(  # type: ignore[no-untyped-def]
    tmp_path, new_store_db
):
    db = new_store_db(tmp_path / "assay.db")
    store = Store(f"sqlite:///{db}")
    try:
        a, b = write_runs_with_a_changed_judge(store)
    finally:
        store.close()
    with TestClient(create_app(db)) as client:
        page = client.get(f"/compare/{a}/{b}")
        api = client.get(f"/api/compare/{a}/{b}").json()
    assert page.status_code == 200
    headline = rows_of(page.text, "metric")  # one <section class="metric"> per metric
    assert [r["data-scorer"] for r in headline.rows] == ["quality", "exact"]
    table = rows_of(page.text, "compare-row")
    groups = [(m["scorer"], g) for m in api["metrics"] for g in m["groups"]]
    assert len(table.rows) == len(groups) == 2 * 3
    for row, text, (scorer, g) in zip(table.rows, table.texts, groups, strict=True):
        assert row["data-verdict"] == g["verdict"]
        assert float(row["data-difference"]) == g["difference"]
        if scorer == "quality":
            assert g["verdict"] == JUDGE_CHANGED
            assert abs(g["difference"] - 0.7) < 1e-9  # the figure is still shown
            assert text[-1] == JUDGE_CHANGED  # the verdict cell
            assert "improved" not in text
        else:
            assert g["verdict"] != JUDGE_CHANGED  # exact match had no judge
    assert f'data-verdict="{JUDGE_CHANGED}"' in page.text.split('id="headline"')[1][:200]
    section = page.text.split('data-scorer="quality"')[1].split('data-scorer="exact"')[0]
    assert "improved" not in section
