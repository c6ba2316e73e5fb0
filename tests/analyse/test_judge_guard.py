"""`compare` across a changed judge (issue 20, 7 / C5): said on the first line, and no
improved/regressed/no-difference label for the metrics that judge graded, on any surface (the
analysis, the terminal table, --markdown, --json, the gate), without a migration note. The
figures stay."""

from __future__ import annotations

import io
import json

from rich.console import Console
from typer.testing import CliRunner

from assay.analyse import CompareSettings, compare_runs, gate
from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.cli.app import app as cli
from assay.cli.render_stats import comparison_view

from .conftest import write_runs_with_a_changed_judge

NOTE = "bridge run R: new judge scores +0.7 on the overlap"


def _cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result.stdout


def _section(text: str, scorer: str) -> list[str]:
    """The lines of one metric's block of the terminal view (its header to the next one)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"bot / {scorer}:"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(("bot / ", "Δ = "))),
        len(lines),
    )
    return lines[start:end]


def test_a_changed_judge_withholds_every_label_and_says_so_first(store):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    comparison = compare_runs(store, a, b)
    by_scorer = {m.scorer: m for m in comparison.metrics}
    quality = by_scorer["quality"]
    assert quality.verdict == JUDGE_CHANGED  # +0.7 would have read "improved"
    assert [g.group for g in quality.groups] == ["all", "topic=history", "topic=maths"]
    assert {g.verdict for g in quality.groups} == {JUDGE_CHANGED}  # every row, not just the head
    for g in quality.groups:  # the figures are still shown
        assert abs(g.difference - 0.7) < 1e-9
        assert g.interval.low - 1e-9 <= g.difference <= g.interval.high + 1e-9
        assert g.p_adjusted < 0.05
    assert quality.regressed_slices == []
    exact = by_scorer["exact"]  # exact match had no judge: its labels stand
    assert exact.verdict != JUDGE_CHANGED
    assert JUDGE_CHANGED not in {g.verdict for g in exact.groups}
    assert comparison.verdict == JUDGE_CHANGED
    assert comparison.warnings[0].startswith("judge_changed: judge 'quality'")
    assert comparison.warnings[0].count("judge_changed") == 1  # the flag is said once
    assert "--migration-note" in comparison.warnings[0]
    assert comparison.to_dict()["judge_changes"][0]["judge"] == "quality"
    console = Console(width=100, file=io.StringIO(), color_system=None)
    console.print(comparison_view(comparison))
    first = console.file.getvalue().splitlines()[0]  # type: ignore[attr-defined]
    assert "JUDGE CHANGED (quality)" in first


def test_a_migration_note_restores_the_verdict(store):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    comparison = compare_runs(store, a, b, settings=CompareSettings(migration_note=NOTE))
    quality = next(m for m in comparison.metrics if m.scorer == "quality")
    assert quality.verdict == "improved"
    assert [g.verdict for g in quality.groups] == ["improved"] * 3
    assert NOTE in comparison.warnings[0]


def test_no_detectable_difference_is_withheld_too(store):  # type: ignore[no-untyped-def]
    # A new judge that grades as the old one did on these samples still cannot vouch for
    # "no difference": a more lenient judge can hide a real drop.
    a, b = write_runs_with_a_changed_judge(store, lift=0.0)

    def quality(settings: CompareSettings):  # type: ignore[no-untyped-def]
        return next(
            m for m in compare_runs(store, a, b, settings=settings).metrics if m.scorer == "quality"
        )

    noted = quality(CompareSettings(min_effect=1.0, migration_note=NOTE))
    assert noted.verdict == "no detectable difference"  # what a note lets it say
    withheld = quality(CompareSettings(min_effect=1.0))
    assert withheld.verdict == JUDGE_CHANGED
    assert {g.verdict for g in withheld.groups} == {JUDGE_CHANGED}


def test_the_terminal_table_withholds_every_row(store, tmp_path):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    db = str(tmp_path / "assay.db")
    text = _cli("compare", a, b, "--db", db)
    assert "JUDGE CHANGED (quality)" in text.splitlines()[0]
    rows = [line for line in _section(text, "quality")[2:] if "+0.7" in line]
    assert len(rows) == 3  # all and both topics, each with its figure
    assert all(row.rstrip().endswith(JUDGE_CHANGED) for row in rows), rows
    assert "improved" not in "\n".join(_section(text, "quality"))
    assert JUDGE_CHANGED not in "\n".join(_section(text, "exact"))
    noted = _cli("compare", a, b, "--db", db, "--migration-note", NOTE)
    rows = [line for line in _section(noted, "quality")[2:] if "+0.7" in line]
    assert len(rows) == 3 and all(row.rstrip().endswith("improved") for row in rows), rows
    assert JUDGE_CHANGED not in noted


def test_markdown_withholds_every_row(store, tmp_path):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    db = str(tmp_path / "assay.db")
    text = _cli("compare", a, b, "--db", db, "--markdown")
    block = text.split("#### bot / quality:")[1].split("####")[0]
    assert block.startswith(f" **{JUDGE_CHANGED}**")
    rows = [line for line in block.splitlines() if line.startswith("| ") and "+0.7" in line]
    assert len(rows) == 3
    assert all(row.endswith(f"| {JUDGE_CHANGED} |") for row in rows), rows
    assert "improved" not in block
    noted = _cli("compare", a, b, "--db", db, "--markdown", "--migration-note", NOTE)
    block = noted.split("#### bot / quality:")[1].split("####")[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and "+0.7" in line]
    assert len(rows) == 3 and all(row.endswith("| improved |") for row in rows), rows


def test_json_withholds_every_group_and_keeps_the_numbers(store, tmp_path):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    db = str(tmp_path / "assay.db")
    data = json.loads(_cli("compare", a, b, "--db", db, "--json"))
    assert data["verdict"] == JUDGE_CHANGED
    quality = next(m for m in data["metrics"] if m["scorer"] == "quality")
    assert quality["verdict"] == JUDGE_CHANGED
    assert len(quality["groups"]) == 3
    for g in quality["groups"]:
        assert g["verdict"] == JUDGE_CHANGED
        assert abs(g["difference"] - 0.7) < 1e-9
        assert g["interval"]["low"] is not None and g["p_adjusted"] < 0.05
    assert quality["regressed_slices"] == []
    exact = next(m for m in data["metrics"] if m["scorer"] == "exact")
    assert JUDGE_CHANGED not in {exact["verdict"], *(g["verdict"] for g in exact["groups"])}
    noted = json.loads(_cli("compare", a, b, "--db", db, "--json", "--migration-note", NOTE))
    quality_noted = next(m for m in noted["metrics"] if m["scorer"] == "quality")
    assert [g["verdict"] for g in quality_noted["groups"]] == ["improved"] * 3
    # The same numbers either way: only the labels were withheld.
    for g, h in zip(quality["groups"], quality_noted["groups"], strict=True):
        assert {k: v for k, v in g.items() if k != "verdict"} == {
            k: v for k, v in h.items() if k != "verdict"
        }


def test_the_gate_says_no_pass_for_a_metric_whose_judge_changed(store, tmp_path):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    db = str(tmp_path / "assay.db")
    text = _cli("gate", a, b, "--db", db, code=1)
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith("PASS bot/quality")]
    line = next(line for line in lines if line.startswith("FAIL bot/quality:"))
    assert "overall +0.7 [" in line and JUDGE_CHANGED in line
    assert any(line.startswith("PASS bot/exact:") for line in lines)  # no judge: unchanged
    noted = _cli("gate", a, b, "--db", db, "--migration-note", NOTE)
    line = next(line for line in noted.splitlines() if line.startswith("PASS bot/quality:"))
    assert line.endswith("improved")


def test_a_margin_verdict_is_withheld_too(store):  # type: ignore[no-untyped-def]
    a, b = write_runs_with_a_changed_judge(store)
    comparison = compare_runs(store, a, b, settings=CompareSettings(margin=0.1))
    quality = next(m for m in comparison.metrics if m.scorer == "quality")
    assert {g.margin_verdict for g in quality.groups} == {JUDGE_CHANGED}
    check = next(
        c
        for c in gate(comparison, non_inferior=True).checks
        if c.name == "bot/quality non-inferiority"
    )
    assert not check.passed
    noted = compare_runs(store, a, b, settings=CompareSettings(margin=0.1, migration_note=NOTE))
    quality = next(m for m in noted.metrics if m.scorer == "quality")
    assert {g.margin_verdict for g in quality.groups} == {"non-inferior"}
