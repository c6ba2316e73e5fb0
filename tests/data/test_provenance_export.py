"""The training-export filter: debug-surface feedback left out (D6), unspecified licences
refused (D5), and every exclusion recorded with its reason."""

import pytest

from assay.core import Provenance, Sample
from assay.data import Dataset
from assay.data.provenance import (
    UnspecifiedLicenceError,
    debug_feedback_reason,
    select_for_export,
)


def thumbs_down(i, surface, rater, licence="CC-BY-4.0"):
    return Sample(
        id=f"fb{i}",
        input=f"conversation {i}",
        target="better answer",
        metadata={"feedback": "thumbs_down", "surface": surface, "rater_role": rater},
        provenance=Provenance(licence=licence),
    )


def feedback():
    debug = [thumbs_down(i, "staging", "internal") for i in range(40)]
    real = [thumbs_down(i, "production", "user") for i in range(40, 100)]
    return Dataset("feedback", debug + real, source="feedback.jsonl")


def test_default_export_keeps_60_of_100_and_records_the_40_excluded():
    selection = select_for_export(feedback())
    assert len(selection.kept) == 60
    assert selection.kept.sample_ids == [f"fb{i}" for i in range(40, 100)]
    assert len(selection.excluded) == 40
    assert {e.reason for e in selection.excluded} == {
        "debug_feedback: surface=staging, rater_role=internal"
    }
    assert selection.to_json()["excluded"][0] == {
        "sample_id": "fb0",
        "reason": "debug_feedback: surface=staging, rater_role=internal",
    }


def test_include_debug_feedback_keeps_all_100():
    selection = select_for_export(feedback(), include_debug_feedback=True)
    assert len(selection.kept) == 100 and selection.excluded == []


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"surface": "debug"}, "debug_feedback: surface=debug"),
        ({"surface": "Staging"}, "debug_feedback: surface=Staging"),
        ({"rater": "internal"}, "debug_feedback: rater_role=internal"),
        ({"surface": "production", "rater_role": "vendor"}, None),
        ({}, None),
    ],
)
def test_debug_feedback_rule(metadata, reason):
    assert debug_feedback_reason(Sample(id="s", input="x", metadata=metadata)) == reason


def test_unspecified_licence_fails_unless_allowed():
    rows = [*feedback(), thumbs_down(100, "production", "user", licence="unspecified")]
    dataset = Dataset("feedback", rows, source="feedback.jsonl")
    with pytest.raises(UnspecifiedLicenceError) as info:
        select_for_export(dataset)
    assert info.value.exit_code == 1
    assert info.value.where == "feedback.jsonl (sample fb100)"
    assert "--allow-unspecified-licence" in info.value.fix
    selection = select_for_export(dataset, allow_unspecified_licence=True)
    assert len(selection.kept) == 61
    assert selection.allowed_unspecified_licence == ["fb100"]


def test_unspecified_licence_on_excluded_debug_row_does_not_fail():
    rows = [*feedback(), thumbs_down(100, "debug", "user", licence="unspecified")]
    selection = select_for_export(Dataset("feedback", rows))
    assert len(selection.kept) == 60 and len(selection.excluded) == 41
