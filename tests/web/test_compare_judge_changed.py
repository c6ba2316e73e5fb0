"""The compare page across a changed judge (issue 20, 7 / C5): the same withheld label as
`assay compare` on every row of the metric that judge graded, with the figures kept."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.web.test_numbers import rows_of

from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.web import create_app


def test_the_compare_page_withholds_every_row_of_a_metric_whose_judge_changed(  # type: ignore[no-untyped-def]
    judge_changed_db,
):
    db, a, b = judge_changed_db
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


def test_the_forest_plot_is_wide_enough_for_a_withheld_verdict():
    # "judge changed: verdict withheld" is longer than the plot's usual text column: the SVG
    # must widen instead of cutting the verdict at its right edge.
    import re

    from assay.web.svg import forest_plot, text_width

    def group(verdict: str) -> dict:
        return {
            "slice_key": None,
            "group": "all",
            "n": 60,
            "mean_a": 1.67,
            "mean_b": 3.67,
            "difference": 2.0,
            "interval": {"low": 2.0, "high": 2.0},
            "verdict": verdict,
        }

    metric = {"subject_a": "bot", "subject_b": "bot", "scorer": "rubric", "min_effect": 0.09}
    widths = {}
    for verdict in ("improved", JUDGE_CHANGED):
        svg = forest_plot({**metric, "groups": [group(verdict)]})
        width = float(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1))
        text = re.search(r'<text x="([\d.]+)"[^>]*>([^<]*· ' + verdict + ")</text>", svg)
        assert text is not None, svg
        assert float(text.group(1)) + text_width(text.group(2), 12) <= width
        widths[verdict] = width
    assert widths[JUDGE_CHANGED] >= widths["improved"]
