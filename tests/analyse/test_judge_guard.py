"""`compare` across a changed judge (issue 20, 7 / C5): said on the first line, and no
improved/regressed for the metrics that judge graded without a migration note."""

from __future__ import annotations

import io

from rich.console import Console

from assay.analyse import CompareSettings, compare_runs
from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.cli.render_stats import comparison_view
from assay.core import JudgeManifest

from .conftest import write_run


def _runs_with_a_changed_judge(store):  # type: ignore[no-untyped-def]
    ids = [f"q{i}" for i in range(200)]
    before = {i: 2.0 + (k % 3 == 0) for k, i in enumerate(ids)}  # a 1-5 rubric, say
    after = {i: v + 0.7 for i, v in before.items()}  # +0.7 everywhere: the judge, not the system
    exact = {i: float(k % 2) for k, i in enumerate(ids)}
    a = write_run(store, "ra", {("bot", "quality"): before, ("bot", "exact"): exact})
    b = write_run(store, "rb", {("bot", "quality"): after, ("bot", "exact"): exact}, minutes=5)
    for run_id, snapshot in ((a, "judge-2025-01"), (b, "judge-2026-03")):
        manifest = store.get_manifest(run_id)
        judge = JudgeManifest(
            name="quality", model="openai/judge", kind="pointwise", prompt_hash="p",
            resolved_models=[snapshot],
        )  # fmt: skip
        store.finish_run(run_id, manifest.model_copy(update={"judges": [judge]}), "completed")
    return a, b


def test_a_changed_judge_withholds_improved_and_says_so_first(store):  # type: ignore[no-untyped-def]
    a, b = _runs_with_a_changed_judge(store)
    comparison = compare_runs(store, a, b)
    by_scorer = {m.scorer: m for m in comparison.metrics}
    assert by_scorer["quality"].verdict == JUDGE_CHANGED  # +0.7 would have read "improved"
    assert by_scorer["quality"].aggregate.verdict == "improved"  # the figures are still shown
    assert by_scorer["exact"].verdict != JUDGE_CHANGED  # exact match had no judge
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
    a, b = _runs_with_a_changed_judge(store)
    note = "bridge run R: new judge scores +0.7 on the overlap"
    comparison = compare_runs(store, a, b, settings=CompareSettings(migration_note=note))
    by_scorer = {m.scorer: m for m in comparison.metrics}
    assert by_scorer["quality"].verdict == "improved"
    assert note in comparison.warnings[0]
