"""Saturated and never-passed samples, and the saturated suite (A5), from runs made in the
simulated world and stored in a real store."""

from lint_testutil import make_runs, unrelated_rows, write_jsonl, write_spec

from assay.data import LintSettings, lint_dataset, load_dataset
from assay.data.lint import run_outcomes

EASY, HARD, MIDDLE = -30.0, 30.0, 0.8  # logit difficulty: always right, never right, a coin


def graded_rows():
    """q0-q4 easy, q5-q9 hard, the rest in between (atlas-large p ≈ 0.65, atlas-small 0.35)."""
    rows = unrelated_rows(30)
    for i, row in enumerate(rows):
        row["difficulty"] = EASY if i < 5 else HARD if i < 10 else MIDDLE
    return rows


def _spec(tmp_path, rows, **kwargs):
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    options = {"subjects": ["sim/atlas-large", "sim/atlas-small"], "temperature": 1.0, "epochs": 2}
    return data, write_spec(tmp_path / "eval.yaml", data, **(options | kwargs))


def test_easy_items_are_saturated_and_hard_ones_never_passed(tmp_path, store):
    data, spec = _spec(tmp_path, graded_rows())
    run_ids = make_runs(store, spec, seeds=[1, 2, 3])
    report = lint_dataset(data, store=store)
    (saturated,) = report.by_code("saturated_samples")
    (never,) = report.by_code("never_passed")
    assert saturated.sample_ids == [f"q{i}" for i in range(5)]
    assert saturated.severity == "info"
    assert never.sample_ids == [f"q{i}" for i in range(5, 10)]
    assert never.severity == "warning"
    assert never.rows[0].where == f"{data}:6"
    assert never.details["runs"] == run_ids[::-1]  # newest first
    # The runs' scorer is `exact`, so the scorer check runs from their manifests.
    assert "run_outcomes" in {c.check for c in report.checks if c.ran}
    assert "exact_match_targets" in {c.check for c in report.checks if c.ran}
    # Three runs of 30 samples: the suite (best subject well under 99%) is not saturated.
    assert report.by_code("saturated") == []


def test_too_few_runs_are_no_evidence_and_runs_limits_the_window(tmp_path, store):
    data, spec = _spec(tmp_path, graded_rows())
    make_runs(store, spec, seeds=[1, 2])
    report = lint_dataset(data, store=store)
    assert report.by_code("saturated_samples") == [] and report.by_code("never_passed") == []
    assert "run_outcomes" in {c.check for c in report.checks if c.ran}
    # With min_runs 2 the same two runs are enough ...
    two = lint_dataset(data, store=store, settings=LintSettings(min_runs=2))
    assert two.by_code("never_passed")[0].sample_ids == [f"q{i}" for i in range(5, 10)]
    # ... and --runs 1 reads only the newest run, which cannot meet min_runs 2.
    one = lint_dataset(data, store=store, settings=LintSettings(min_runs=2, runs=1))
    assert one.by_code("never_passed") == []


def test_only_runs_of_this_dataset_with_unchanged_samples_count(tmp_path, store):
    rows = graded_rows()
    data, spec = _spec(tmp_path, rows)
    make_runs(store, spec, seeds=[1, 2, 3])
    # Another dataset's runs are not read.
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    _, other_spec = _spec(other_dir, unrelated_rows(12))
    make_runs(store, other_spec, seeds=[4])
    outcomes = run_outcomes(store, load_dataset(data), runs=10)
    assert len(outcomes.runs) == 3 and outcomes.runs_searched == 4
    # Fixing a label (q5's target) starts that sample's history afresh: no longer a suspect.
    rows[5]["target"] = "a corrected answer"
    edited = write_jsonl(tmp_path / "qa-fixed.jsonl", rows)
    report = lint_dataset(edited, store=store)
    assert report.by_code("never_passed")[0].sample_ids == [f"q{i}" for i in range(6, 10)]


def test_suite_saturated_after_five_runs_at_99_percent(tmp_path, store):
    rows = unrelated_rows(100)
    for row in rows:
        row["difficulty"] = EASY
    data, spec = _spec(tmp_path, rows, subjects=["sim/atlas-large"], epochs=1)
    make_runs(store, spec, seeds=[1, 2, 3, 4])
    assert lint_dataset(data, store=store).by_code("saturated") == []  # four runs: not yet
    run_ids = make_runs(store, spec, seeds=[5])
    report = lint_dataset(data, store=store)
    (suite,) = report.by_code("saturated")
    assert suite.details["scorer"] == "exact"
    assert [r["pass_rate"] for r in suite.details["runs"]] == [1.0] * 5
    assert suite.details["runs"][0]["run_id"] == run_ids[0]
    assert suite.details["runs"][0]["subject"] == "atlas-large"


def test_suite_at_98_percent_is_not_saturated(tmp_path, store):
    rows = unrelated_rows(50)
    for i, row in enumerate(rows):
        row["difficulty"] = HARD if i == 0 else EASY  # 49/50 = 98%
    data, spec = _spec(tmp_path, rows, subjects=["sim/atlas-large"], epochs=1)
    make_runs(store, spec, seeds=[1, 2, 3, 4, 5])
    report = lint_dataset(data, store=store)
    assert report.by_code("saturated") == []
    assert report.by_code("never_passed")[0].sample_ids == ["q0"]


def test_same_lineage_judge_is_read_from_stored_manifests(tmp_path, store):
    data, spec = _spec(
        tmp_path,
        unrelated_rows(12),
        subjects=["sim/atlas-large"],
        epochs=1,
        scorers="[exact, {rubric: sim/judge-atlas}]",
    )
    (run_id,) = make_runs(store, spec, seeds=[1])
    (judge,) = lint_dataset(data, store=store).by_code("same_lineage_judge")
    assert judge.details["found_in"] == [f"run {run_id}"]
    assert "atlas-large" in judge.details["graded"][0]["model"]


def test_no_store_and_no_matching_run_are_reported_as_not_checked(tmp_path, store):
    data = write_jsonl(tmp_path / "qa.jsonl", unrelated_rows(12))
    reasons = {c.check: c.reason for c in lint_dataset(data, store=store).checks}
    assert reasons["run_outcomes"] == "none of the 0 stored run(s) used this dataset's samples"


def _two_slices(tmp_path):
    """The graded rows in slices s1 (20 samples) and s2, and a one-subject spec of them."""
    rows = graded_rows()
    for i, row in enumerate(rows):
        row["slice"] = "s1" if i < 20 else "s2"
    return _spec(tmp_path, rows, subjects=["sim/atlas-large"], epochs=1)


def _slice_lint(data, store):
    return lint_dataset(data, store=store, settings=LintSettings(useful_effect=0.01))


def test_slice_power_uses_the_paired_design_when_two_runs_exist_and_says_so(tmp_path, store):
    # Issue 20 (one MDE story): with stored runs, lint's slice MDE is the paired one that
    # `assay compare` uses, and every figure names its design.
    import statistics

    from assay.stats import paired_minimum_detectable_effect

    data, spec = _two_slices(tmp_path)
    unpaired = _slice_lint(data, None)
    (first,) = [
        s for s in unpaired.by_code("underpowered_slice") if s.details["slice_value"] == "s1"
    ]
    assert first.details["design"] == "unpaired" and "unpaired two-proportion" in first.message
    older, newer = make_runs(store, spec, seeds=[1, 2])
    paired = _slice_lint(data, store)
    (smell,) = [s for s in paired.by_code("underpowered_slice") if s.details["slice_value"] == "s1"]
    assert smell.details["design"] == "paired" and smell.details["clustered"] is False
    assert f"paired design from runs {older} and {newer}" in smell.message
    outcomes = {r.run_id: r for r in run_outcomes(store, load_dataset(data)).runs}
    key = ("atlas-large", "exact")
    diffs = [
        outcomes[newer].scores[key][f"q{i}"] - outcomes[older].scores[key][f"q{i}"]
        for i in range(20)
    ]
    expected = paired_minimum_detectable_effect(20, statistics.variance(diffs))
    assert smell.details["mde"] == round(expected, 4)


def test_slice_mde_is_in_points_like_compare_and_run_ids_are_never_folded(tmp_path, store):
    # Issue 20: lint said "9.5%" where `assay compare` and `assay plan` say "9.5 pts" for the
    # same kind of figure (5, one MDE story); and at 80 columns the run ids the paired design
    # names broke mid-id ("…-9a4ef" / "2"), though the id is the handle a user copies (4).
    import io
    import re

    from rich.console import Console

    from assay.cli.data_lint_commands import lint_view

    data, spec = _two_slices(tmp_path)
    unpaired = _slice_lint(data, store)
    older, newer = make_runs(store, spec, seeds=[1, 2])
    paired = _slice_lint(data, store)
    for report, design in ((unpaired, "unpaired two-proportion"), (paired, "paired design")):
        smells = report.by_code("underpowered_slice")
        assert smells
        for smell in smells:
            mde = smell.details["mde"]
            seen = "no change is detectable" if mde is None else f"MDE {100 * mde:.1f} pts"
            assert f"{seen} (at α=0.05, power 80%; {design}" in smell.message
            assert "the 1.0 pts worth detecting" in smell.message
            assert "unclustered" in smell.message
            assert not re.search(r"\d%", smell.message.replace("power 80%", ""))
    for width in (80, 150):
        console = Console(width=width, file=io.StringIO(), color_system=None)
        console.print(lint_view(paired))
        out = console.file.getvalue()  # type: ignore[attr-defined]
        assert max(map(len, out.splitlines())) <= width
        for run_id in (older, newer):
            assert len(run_id) == 22
            # Whole on one line, once per underpowered slice (two slices).
            assert sum(line.count(run_id) for line in out.splitlines()) == 2, out


def test_the_unpaired_design_says_why_the_runs_could_not_be_paired():
    # Two stored runs exist, but on this slice they agree everywhere (ω² = 0) or share fewer
    # than two graded samples: the message must not claim there are no runs to pair.
    from types import SimpleNamespace

    from assay.core import Sample
    from assay.data.lint.slices import _paired_mde

    members = [Sample(id=f"s{i}", input="q") for i in range(4)]
    key = ("bot", "exact")
    same = {f"s{i}": 1.0 for i in range(4)}
    older = SimpleNamespace(run_id="run-old", scores={key: same})
    newer = SimpleNamespace(run_id="run-new", scores={key: dict(same)})
    assert _paired_mde((older, newer, key), members, 0.05, 0.8) == (
        "runs run-old and run-new agree on every sample of it"
    )
    newer.scores = {key: {"s0": 0.0}}
    assert _paired_mde((older, newer, key), members, 0.05, 0.8) == (
        "runs run-old and run-new share 1 graded sample(s) of it"
    )
    newer.scores = {key: {"s0": 0.0, "s1": 1.0, "s2": 0.0, "s3": 1.0}}
    mde, n, omega2 = _paired_mde((older, newer, key), members, 0.05, 0.8)
    assert n == 4 and omega2 > 0 and mde > 0
