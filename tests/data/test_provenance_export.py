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


def _with_credentials(n: int = 1000, leaked: tuple[int, ...] = (7, 250, 499, 731, 998)):
    """A 1,000-row set in which 0.5% of the rows carry a credential (I3's example)."""
    rows = []
    for i in range(n):
        text = f"How do I reset my router, ticket {i}?"
        if i in leaked:
            text += " My token is ghp_8aK2mZq9Lr4Xv7Nc1Pb6Tw3Ys5Ud0Fe2Hg4J"
        rows.append(Sample(id=f"r{i}", input=text, provenance=Provenance(licence="CC-BY-4.0")))
    return Dataset("tickets", rows, source="tickets.jsonl")


def test_an_export_with_credentials_fails_listing_the_row_ids():
    from assay.data.provenance import ExportPiiError

    with pytest.raises(ExportPiiError) as info:
        select_for_export(_with_credentials())
    assert info.value.exit_code == 1
    message = str(info.value)
    assert "5 of 1000 row(s) to export contain SECRET: r7, r250, r499, r731, r998" in message
    assert "--redact-pii" in info.value.fix and "--pii-waiver" in info.value.fix


def test_a_waiver_needs_a_reason_and_is_recorded():
    selection = select_for_export(_with_credentials(), pii_waiver="synthetic tokens")
    assert len(selection.kept) == 1000
    record = selection.to_json()["pii_scan"]
    assert record["action"] == "waived" and record["waiver"] == "synthetic tokens"
    assert [r["sample_id"] for r in record["rows"]] == ["r7", "r250", "r499", "r731", "r998"]
    assert record["rows"][0]["types"] == ["SECRET"] and record["rows"][0]["fields"] == ["input"]
    from assay.core import AssayError

    with pytest.raises(AssayError, match="needs a reason"):
        select_for_export(_with_credentials(), pii_waiver="  ")


def test_redacting_exports_placeholders_instead():
    selection = select_for_export(_with_credentials(), redact_pii=True)
    by_id = {s.id: s for s in selection.kept}
    assert "ghp_" not in by_id["r7"].input and "<SECRET_1>" in by_id["r7"].input
    assert by_id["r8"].input == "How do I reset my router, ticket 8?"
    assert selection.pii_action == "redacted"
