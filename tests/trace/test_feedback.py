"""Feedback and outcomes in (D6, E3): validation, redaction, idempotence, the training view,
and the labels a pure function of the store gives traces."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from tests.trace.casework import T0, llm_trace, plant, thumbs_down, trace_id

from assay.core import AssayError
from assay.store.tables import feedback, outcomes
from assay.trace.feedback import (
    parse_event,
    read_events,
    record_feedback,
    record_file,
    record_outcomes,
)
from assay.trace.feedback_export import FeedbackView, export_feedback, feedback_counts
from assay.trace.labels import parse_duration, trace_labels, trace_verdicts
from assay.trace.model import EvalResult

TID = trace_id(1)
GOOD_FEEDBACK = {
    "trace_id": TID,
    "kind": "thumbs",
    "value": 1,
    "rater_role": "end_user",
    "surface": "prod",
}
GOOD_OUTCOME = {"session_id": "conv-1", "event": "ticket_reopened", "time": T0.isoformat()}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"kind": "thumb"}, "kind", "thumbs"),
        ({"value": 0.5}, "value", "1 (up) or 0 (down)"),
        ({"value": None}, "value", "1 (up) or 0 (down)"),
        ({"kind": "score", "value": 3}, "value", "between 0 and 1"),
        ({"kind": "correction", "value": None}, "correction", "corrected answer"),
        ({"kind": "label"}, "label", "non-empty label"),
        ({"trace_id": "abc"}, "trace_id", "pattern"),
        ({"trace_id": "0" * 32}, "trace_id", "all-zero"),
        ({"span_id": "xyz"}, "span_id", "pattern"),
        ({"rater_role": "boss"}, "rater_role", "end_user"),
        ({"surface": "prod-eu"}, "surface", "staging"),
        ({"time": "yesterday"}, "time", "datetime"),
        ({"ratr_role": "end_user"}, "ratr_role", "Extra inputs"),
    ],
)
def test_a_bad_feedback_row_names_the_place_and_the_field(change, field, words):
    row = {**GOOD_FEEDBACK, **change}
    with pytest.raises(AssayError) as caught:
        parse_event("feedback", row, "fb.jsonl:7")
    assert caught.value.where == f"fb.jsonl:7 ({field})"
    assert words in caught.value.message
    assert caught.value.fix


def test_feedback_needs_its_role_and_surface():
    row = {k: v for k, v in GOOD_FEEDBACK.items() if k != "rater_role"}
    with pytest.raises(AssayError, match=r"fb:1 \(rater_role\)"):
        parse_event("feedback", row, "fb:1")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"event": "moon_landing"}, "bad", 'say whether it is bad with "bad"'),
        ({"session_id": None}, "trace_id", "session_id (the conversation) or a trace_id"),
        ({"time": None}, "time", "valid datetime"),
        ({"value": float("nan")}, "value", "finite"),
        ({"attributes": "x"}, "attributes", "dictionary"),
    ],
)
def test_a_bad_outcome_row_names_the_field(change, field, words):
    with pytest.raises(AssayError) as caught:
        parse_event("outcome", {**GOOD_OUTCOME, **change}, "out.csv:3")
    assert caught.value.where == f"out.csv:3 ({field})"
    assert words in caught.value.message


def test_outcome_badness_defaults_from_the_event_name():
    assert parse_event("outcome", GOOD_OUTCOME, "x").bad is True
    assert parse_event("outcome", {**GOOD_OUTCOME, "event": "Conversion"}, "x").bad is False
    odd = parse_event("outcome", {**GOOD_OUTCOME, "event": "moon_landing", "bad": False}, "x")
    assert odd.bad is False
    assert parse_event("outcome", {**GOOD_OUTCOME, "time": "2025-03-03T10:00:00"}, "x").time == T0


def test_files_are_read_as_jsonl_json_and_csv(tmp_path):
    jsonl = tmp_path / "fb.jsonl"
    jsonl.write_text(json.dumps(GOOD_FEEDBACK) + "\n\n" + json.dumps(GOOD_FEEDBACK) + "\n")
    assert len(list(read_events("feedback", jsonl))) == 2
    single = tmp_path / "one.json"
    single.write_text(json.dumps(GOOD_OUTCOME, indent=2))
    assert [e.event for e in read_events("outcome", single)] == ["ticket_reopened"]
    csv_file = tmp_path / "out.csv"
    csv_file.write_text(
        "session_id,event,value,bad,time,attributes\n"
        'conv-1,refund_issued,12.5,,2025-03-05T10:00:00Z,"{""amount"": 12.5}"\n'
        "conv-2,nps_response,3,false,2025-03-05T11:00:00Z,\n"
    )
    rows = list(read_events("outcome", csv_file))
    assert [(r.event, r.value, r.bad) for r in rows] == [
        ("refund_issued", 12.5, True),
        ("nps_response", 3.0, False),
    ]
    assert rows[0].attributes == {"amount": 12.5}
    broken = tmp_path / "bad.jsonl"
    broken.write_text(json.dumps(GOOD_FEEDBACK) + "\n" + json.dumps({**GOOD_FEEDBACK, "value": 7}))
    with pytest.raises(AssayError, match=r"bad\.jsonl:2 \(value\)"):
        list(read_events("feedback", broken))


def test_free_text_is_redacted_with_the_traces_own_placeholders(store):
    plant(store, llm_trace(1, question="I am bob@example.com, where is my refund?"))
    report = record_feedback(
        store,
        [
            {
                **thumbs_down(TID),
                "kind": "correction",
                "value": None,
                "correction": "Tell bob@example.com (or alice@example.org) it takes 30 days.",
                "comment": "call me on +44 20 7946 0958",
                "rater_id": "carol@example.com",
                "session_id": "dave@example.com",
            }
        ],
    )
    assert report.stored == 1 and report.findings == {"EMAIL": 2, "PHONE": 1}
    with store.engine.connect() as conn:
        row = conn.execute(select(feedback)).one()
        dump = " ".join(str(v) for v in row)
        every_text = " ".join(
            str(v)
            for table in ("feedback", "spans", "traces", "cases")
            for r in conn.execute(text(f"SELECT * FROM {table}"))
            for v in r
        )
    # The address the trace already numbered keeps its number; a new one takes the next.
    assert row.correction == "Tell <EMAIL_1> (or <EMAIL_2>) it takes 30 days."
    assert row.comment == "call me on <PHONE_1>"
    assert row.rater_id.startswith("user-") and row.session_id.startswith("user-")
    # "7946 0958" with its space: the bare digits can occur inside a random hex id.
    for planted in ("bob@example.com", "alice@example.org", "7946 0958", "carol@", "dave@"):
        assert planted not in dump and planted not in every_text


def test_a_file_is_stored_whole_or_not_at_all_and_only_once(store, tmp_path):
    path = tmp_path / "fb.jsonl"
    rows = [GOOD_FEEDBACK, {**GOOD_FEEDBACK, "value": 0}, {**GOOD_FEEDBACK, "surface": "qa"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(AssayError, match=r"fb\.jsonl:3 \(surface\)"):
        record_file(store, "feedback", path)
    with store.engine.connect() as conn:
        assert conn.execute(select(feedback.c.id)).all() == []
    rows[2] = {**GOOD_FEEDBACK, "rater_role": "labeler"}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole = record_file(store, "feedback", path)
    assert (whole.received, whole.stored) == (3, 3)
    events = [thumbs_down(TID), {**thumbs_down(TID), "id": "evt-1", "time": None}]
    first = record_feedback(store, events)
    again = record_feedback(store, [*events, {**thumbs_down(TID), "id": "evt-1", "time": None}])
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.stored, again.duplicates) == (0, 3)
    outcome = {**GOOD_OUTCOME, "attributes": {"note": "mail eve@example.com"}}
    assert record_outcomes(store, [outcome]).stored == 1
    assert record_outcomes(store, [outcome]).duplicates == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(outcomes.c.attributes_json)).scalar() == (
            '{"note": "mail <EMAIL_1>"}'
        )


def test_d6_the_default_export_is_the_training_signal(store, tmp_path):
    """100 thumbs-down, 40 of them from internal raters on staging: the default export has 60."""
    plant(store, *(llm_trace(n) for n in range(10)))
    events = []
    for i in range(100):
        staging = i < 40
        events.append(
            thumbs_down(
                trace_id(i % 10),
                id=f"click-{i}",
                rater_role="internal" if staging else "end_user",
                surface="staging" if staging else "prod",
                intent="refund" if i % 2 else "billing",
            )
        )
    assert record_feedback(store, events, sync=False).stored == 100
    out = tmp_path / "sft.jsonl"
    assert export_feedback(store, out) == 60
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 60
    assert {r["surface"] for r in rows} == {"prod"} and {r["rater_role"] for r in rows} == {
        "end_user"
    }
    assert rows[0]["input"][1] == {"role": "user", "content": "What is the refund window?"}
    assert rows[0]["output"] == "30 days."
    assert export_feedback(store, out, FeedbackView.everything()) == 100
    counts = feedback_counts(store)
    assert counts["total"] == 60 and counts["kind"] == {"thumbs_down": 60}
    refund = FeedbackView(intents=("refund",))
    assert feedback_counts(store, refund)["total"] == 30
    staging = FeedbackView(surfaces=("staging",), rater_roles=None)
    assert feedback_counts(store, staging)["rater_role"] == {"internal": 40}


def test_labels_come_from_feedback_judges_and_delayed_outcomes(store):
    judge_fail = EvalResult(name="faithfulness", value=0.2, source="judge")
    judge_pass = EvalResult(name="faithfulness", value=0.1, label="pass", source="judge")
    labelled = EvalResult(name="toxicity", label="Toxic")
    plant(
        store,
        llm_trace(1),
        llm_trace(2),
        llm_trace(3, evaluations=[judge_fail]),
        llm_trace(4, evaluations=[judge_pass]),
        llm_trace(5, evaluations=[labelled]),
        llm_trace(6),
        llm_trace(7),
    )
    record_feedback(
        store,
        [
            thumbs_down(trace_id(1)),
            {**thumbs_down(trace_id(2)), "value": 1},
            {**thumbs_down(trace_id(6)), "kind": "label", "value": None, "label": "off-topic"},
            {**thumbs_down(trace_id(7)), "kind": "label", "value": None, "label": "great"},
        ],
        sync=False,
    )
    labels = trace_labels(store, [trace_id(n) for n in range(1, 9)])
    assert labels == {
        trace_id(1): "failed",
        trace_id(2): "ok",
        trace_id(3): "failed",
        trace_id(4): "ok",
        trace_id(5): "failed",
        trace_id(6): "failed",
        trace_id(7): "ok",
        trace_id(8): "unlabelled",
    }
    verdicts = trace_verdicts(store, [trace_id(1), trace_id(3)])
    assert verdicts[trace_id(1)].reasons == ("thumbs-down from end_user on prod",)
    assert verdicts[trace_id(3)].reasons == ("judge score 'faithfulness' = 0.2 < 0.5",)
    stricter = trace_verdicts(store, [trace_id(3)], thresholds={"faithfulness": 0.1})
    assert stricter[trace_id(3)].label == "ok"
    assert set(trace_labels(store)) == {trace_id(n) for n in range(1, 8)}


def test_ticket_reopened_three_days_later_is_failed_delayed(store):
    """E3: an interaction at t0 and ticket_reopened at t0 + 3 days in the same conversation."""
    plant(
        store,
        llm_trace(1, session="conv-1"),
        llm_trace(2, session="conv-2"),
        llm_trace(3, session="conv-3"),
        llm_trace(4, session="conv-4", start=T0 + timedelta(days=10)),
    )
    report = record_outcomes(
        store,
        [
            {**GOOD_OUTCOME, "session_id": "conv-1", "time": (T0 + timedelta(days=3)).isoformat()},
            {**GOOD_OUTCOME, "session_id": "conv-2", "time": (T0 + timedelta(days=20)).isoformat()},
            {**GOOD_OUTCOME, "session_id": "conv-3", "event": "conversion"},
            # Before the trace started: it cannot be the trace's outcome.
            {**GOOD_OUTCOME, "session_id": "conv-4", "time": (T0 + timedelta(days=9)).isoformat()},
        ],
        sync=False,
    )
    assert report.stored == 4
    ids = [trace_id(n) for n in range(1, 5)]
    assert trace_labels(store, ids) == {
        ids[0]: "failed_delayed",
        ids[1]: "ok",
        ids[2]: "ok",
        ids[3]: "ok",
    }
    reasons = trace_verdicts(store, ids[:1])[ids[0]].reasons
    assert reasons == ("ticket_reopened 3.0 days after the trace (same conversation)",)
    wider = trace_labels(store, ids, window=timedelta(days=30))
    assert wider[ids[1]] == "failed_delayed"
    assert trace_labels(store, ids, window=timedelta(days=2))[ids[0]] == "ok"
    # An outcome naming the trace itself joins without a session.
    record_outcomes(
        store,
        [
            {
                "trace_id": ids[2],
                "event": "refund_issued",
                "time": (T0 + timedelta(hours=5)).isoformat(),
            }
        ],
        sync=False,
    )
    assert trace_labels(store, [ids[2]]) == {ids[2]: "failed_delayed"}


def test_durations_parse_and_mistakes_name_the_option():
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration(" 36h") == timedelta(hours=36)
    assert parse_duration("2w") == timedelta(days=14)
    assert parse_duration("1.5d") == timedelta(hours=36)
    with pytest.raises(AssayError, match="--older-than: '7 days' is not a duration"):
        parse_duration("7 days", "--older-than")
