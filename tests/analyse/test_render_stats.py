"""The statistics surfaces render what the analyses return (markdown, JUnit XML, tables)."""

import xml.etree.ElementTree as ET

import numpy as np
from rich.console import Console

from assay.analyse import compare_runs, gate, plan_proportions, run_precision
from assay.cli.render_stats import (
    comparison_markdown,
    comparison_view,
    gate_junit,
    gate_view,
    precision_json,
    precision_tables,
    proportion_plan_view,
)

from .conftest import binary_pair, write_run


def _render(renderable) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _runs(store):
    rng = np.random.default_rng(2)
    a_vals, b_vals, meta = {}, {}, {}
    for topic, (p_a, p_b) in {"math": (0.6, 0.75), "code": (0.7, 0.55)}.items():
        a, b = binary_pair(rng, 400, p_a, p_b, 0.7)
        for i in range(400):
            sid = f"{topic}{i}"
            a_vals[sid], b_vals[sid], meta[sid] = a[i], b[i], {"topic": topic}
    write_run(store, "A", {("bot", "exact"): a_vals}, metadata=meta, slices=("topic",))
    write_run(
        store,
        "B",
        {("bot", "exact"): b_vals},
        metadata=meta,
        slices=("topic",),
        minutes=1,
        prompt="v2 {{ input }}",
    )
    return compare_runs(store, "A", "B")


def test_markdown_is_a_pull_request_table(store):
    c = _runs(store)
    md = comparison_markdown(c)
    assert md.startswith("### assay compare `A` → `B`: **")
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| group |"))
    assert lines[header + 1].startswith("|---|")
    rows = lines[header + 2 : header + 5]
    assert [r.split("|")[1].strip() for r in rows] == ["**all**", "topic=code", "topic=math"]
    assert "regressed" in rows[1] and "improved" in rows[2]
    assert "What changed first: **prompt**" in md


def test_terminal_view_and_gate_junit(store):
    c = _runs(store)
    text = _render(comparison_view(c))
    assert "bot / exact: mixed: slice regression" in text and "Pairing by sample id" in text
    result = gate(c, thresholds={"exact": 0.99})
    assert "FAIL bot/exact >= 0.99" in _render(gate_view(result))
    root = ET.fromstring(gate_junit(result).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "2"
    names = [case.get("name") for case in suite.findall("testcase")]
    assert names == ["bot/exact", "bot/exact >= 0.99"]


def test_plan_and_precision_views(store):
    text = _render(proportion_plan_view(plan_proportions(0.82, 0.85, n=100)))
    assert "n ≈ 2,402 per arm" in text and "MDE ≈ 12.6 pts" in text
    write_run(
        store,
        "R",
        {("m", "exact"): {"x": [1.0, 0.0, 1.0], "y": [1.0, 1.0, 1.0], "z": [0.0, 0.0, 0.0]}},
    )
    rows = run_precision(store, "R", n_resamples=200)
    assert "flaky under exact: x (2 of 3 epochs passed)" in _render(precision_tables(rows))
    data = precision_json(rows)
    assert data[0]["flaky"] == [{"sample_id": "x", "mean": 2 / 3, "n_answers": 3}]


def test_show_prints_a_pass_rate_over_epochs_as_a_percentage_and_flaky_shares_in_words(store):
    # Issue 20: on a pass/fail scorer with epochs (a t interval on per-sample pass rates),
    # `assay show` printed "0.667 [...]" where `--intervals` printed "66.7%", and flaky samples
    # read "(0.67 of 3)". Scores that are not 0/1 stay plain numbers.
    from assay.analyse.summary_cache import show_summary
    from assay.cli.render import summary_tables

    passfail = {"x": [1.0, 0.0, 1.0], "y": [1.0, 1.0, 1.0], "z": [0.0, 0.0, 1.0]}
    graded = {"x": [0.5, 0.25, 0.5], "y": [0.75, 0.75, 0.75], "z": [0.0, 0.25, 0.25]}
    write_run(store, "R", {("m", "exact"): passfail, ("m", "overlap"): graded})
    for _ in range(2):  # computed and cached, then read back from the cache
        summary = show_summary(store, "R")
        assert summary.metric("m", "exact").interval.method == "t"
        assert [m.rate for m in summary.metrics] == [True, False]
        lines = _render(summary_tables(summary)).splitlines()
        (exact,) = [line for line in lines if line.startswith("exact")]
        (overlap,) = [line for line in lines if line.startswith("overlap")]
        assert "66.7%  [" in exact and "%]" in exact
        assert "0.444  [" in overlap and "%" not in overlap
    rows = run_precision(store, "R", n_resamples=200)
    text = _render(precision_tables(rows))
    assert "66.7%" in text
    assert "x (2 of 3 epochs passed)" in text and "z (1 of 3 epochs passed)" in text
    assert "x (mean 0.417 over 3 epochs)" in text
