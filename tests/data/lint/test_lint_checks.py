"""Every file-, spec- and KB-level smell is found on a crafted dataset and not on a clean one."""

import pytest
from lint_testutil import unrelated_rows, write_jsonl, write_spec

from assay.data import LintSettings, lint_dataset
from assay.data.kb_pinning import document_hash
from assay.data.lint import SpecFacts, is_control
from assay.run.spec import load_eval
from assay.stats import two_proportion_mde, two_proportion_sample_size

LONG_TARGET = (
    "Photosynthesis turns light energy into chemical energy: chlorophyll absorbs light and the "
    "plant builds glucose from water and carbon dioxide, releasing oxygen."
)
CORPUS = {"doc1": document_hash("refunds within 30 days"), "doc2": document_hash("no returns")}


def smelly_rows():
    rows = unrelated_rows(60, slice_size=40)  # slices s0 (40) and s1 (20)
    for row in rows:
        row.pop("control", None)
        row["provenance"] = {"origin": "authored"}
    rows[3]["target"] = LONG_TARGET
    rows[4]["target"] = [LONG_TARGET, "short"]
    rows[5] = {**rows[5], "input": rows[6]["input"].upper()}  # exact duplicate of row 6
    rows[7]["gold_docs"] = {"doc1": document_hash("refunds within 14 days")}  # changed since
    rows[8]["gold_docs"] = {"doc9": document_hash("gone")}  # removed from the KB
    rows[9]["gold_docs"] = {"doc2": CORPUS["doc2"]}  # still valid
    return rows


def clean_rows():
    rows = unrelated_rows(120, slice_size=60)  # slices s0 and s1, 60 each
    rows[9]["gold_docs"] = {"doc2": CORPUS["doc2"]}
    return rows


def _lint(tmp_path, rows, judge, **settings):
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    spec = write_spec(
        tmp_path / "eval.yaml",
        data,
        scorers=f"[exact, {{rubric: sim/{judge}}}]",
        slices=["slice"],
    )
    return data, lint_dataset(
        data, spec=load_eval(spec), kb=CORPUS, settings=LintSettings(**settings)
    )


def test_crafted_dataset_shows_every_file_spec_and_kb_smell(tmp_path):
    data, report = _lint(tmp_path, smelly_rows(), "judge-atlas")
    assert set(report.codes()) == {
        "exact_duplicate",
        "exact_match_long_target",
        "underpowered_slice",
        "museum",
        "no_control_set",
        "same_lineage_judge",
        "stale_kb_reference",
    }
    assert report.worst() == "error" and report.fails("warning")

    (long,) = report.by_code("exact_match_long_target")
    assert long.sample_ids == ["q3", "q4"]
    assert [r.where for r in long.rows] == [f"{data}:4", f"{data}:5"]
    assert long.rows[0].note == f"{len(LONG_TARGET.split())} words"
    assert long.details["scorers"] == ["exact"]

    slices = report.by_code("underpowered_slice")
    assert [(s.details["slice_value"], s.details["n"]) for s in slices] == [("s0", 40), ("s1", 20)]
    assert slices[0].details["mde"] == round(two_proportion_mde(0.5, 40), 4)  # 0.2949
    assert slices[0].details["n_needed"] == two_proportion_sample_size(0.5, 0.55) == 1565
    assert slices[0].sample_ids == [f"q{i}" for i in range(40)]

    (museum,) = report.by_code("museum")
    assert museum.details["origins"] == {"authored": 60} and museum.rows == ()

    (judge,) = report.by_code("same_lineage_judge")
    assert judge.details["judge_model"] == "sim/judge-atlas"
    assert [g["model"] for g in judge.details["graded"]] == ["atlas-large"]
    assert judge.details["graded"][0]["families"] == ["sim:atlas"]

    missing, changed = report.by_code("stale_kb_reference")
    assert (missing.severity, missing.sample_ids) == ("error", ["q8"])
    assert (changed.severity, changed.sample_ids) == ("warning", ["q7"])
    assert changed.rows[0].note == "gold_changed: doc1" and changed.rows[0].where == f"{data}:8"


def test_clean_dataset_shows_no_smell(tmp_path):
    _, report = _lint(tmp_path, clean_rows(), "judge-fair", useful_effect=0.3)
    assert report.smells == ()
    assert report.worst() is None and not report.fails("info")
    ran = {c.check for c in report.checks if c.ran}
    assert ran == {
        "duplicates",
        "exact_match_targets",
        "slice_power",
        "museum",
        "control_set",
        "judge_lineage",
        "kb",
    }
    assert [c.reason for c in report.checks if not c.ran] == ["no store given: --db or ASSAY_DB"]


def test_slice_power_flags_only_slices_whose_mde_exceeds_the_useful_effect(tmp_path):
    # MDE at n = 60 is 0.2455 and at n = 40 0.2949: a useful effect of 0.27 splits them.
    rows = unrelated_rows(100, slice_size=60)
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    report = lint_dataset(path, settings=LintSettings(useful_effect=0.27))
    assert [s.details["slice_value"] for s in report.by_code("underpowered_slice")] == ["s1"]


def test_control_convention_and_control_slice_is_not_a_power_problem(tmp_path):
    rows = unrelated_rows(64, slice_size=60)
    for row in rows:
        row.pop("control", None)
    assert "no_control_set" in lint_dataset(write_jsonl(tmp_path / "a.jsonl", rows)).codes()
    rows[-1]["slice"] = rows[-2]["slice"] = "control"  # the other convention
    report = lint_dataset(write_jsonl(tmp_path / "b.jsonl", rows), settings=LintSettings(
        useful_effect=0.3))  # fmt: skip
    assert "no_control_set" not in report.codes()
    assert [s.details["slice_value"] for s in report.by_code("underpowered_slice")] == ["s1"]


@pytest.mark.parametrize(
    ("metadata", "control"),
    [({"control": True}, True), ({"control": "yes"}, True), ({"control": 1}, True),
     ({"control": False}, False), ({"control": "no"}, False), ({"slice": "control"}, True),
     ({"slice": "controls"}, False), ({}, False)],
)  # fmt: skip
def test_is_control(metadata, control):
    from assay.core import Sample

    assert is_control(Sample(id="s", input="?", metadata=metadata)) is control


def test_museum_is_lifted_by_one_incident_sample(tmp_path):
    rows = unrelated_rows(20)
    for row in rows:
        row["provenance"] = {"origin": "synthetic"}
    assert "museum" in lint_dataset(write_jsonl(tmp_path / "a.jsonl", rows)).codes()
    rows[0]["provenance"] = {"origin": "incident"}
    assert "museum" not in lint_dataset(write_jsonl(tmp_path / "b.jsonl", rows)).codes()


def test_long_targets_with_a_judge_only_spec_are_fine(tmp_path):
    rows = unrelated_rows(20)
    rows[0]["target"] = LONG_TARGET
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    judged = lint_dataset(path, spec=SpecFacts(scorer_kinds=("rubric",)))
    assert "exact_match_long_target" not in judged.codes()
    exact = lint_dataset(path, spec=SpecFacts(scorer_kinds=("includes",)))
    assert exact.by_code("exact_match_long_target")[0].sample_ids == ["q0"]
    lenient = lint_dataset(
        path, spec=SpecFacts(scorer_kinds=("exact",)), settings=LintSettings(long_target_words=40)
    )
    assert "exact_match_long_target" not in lenient.codes()


def test_skip_drops_codes_and_unknown_codes_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", smelly_rows())
    report = lint_dataset(path, settings=LintSettings(skip=frozenset({"museum", "no_control_set"})))
    assert "museum" not in report.codes() and "no_control_set" not in report.codes()
    assert {"museum": "skipped (--skip)"}.items() <= {
        c.check: c.reason for c in report.checks
    }.items()
    with pytest.raises(ValueError, match="unknown smell code"):
        lint_dataset(path, settings=LintSettings(skip=frozenset({"musuem"})))
