"""The review queue in the store (SQLite and PostgreSQL): lifecycle, assignment of N distinct
reviewers, the next item per reviewer, labels (latest wins), agreement against hand-computed
kappas, and labels feeding drafts and traces."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from tests.review.builders import PASS_FAIL, SCORE, add_draft, at, case_row, make_run

from assay.core import AssayError, SpecError, StoreError
from assay.review import (
    NewItem,
    UnknownReviewRef,
    add_items,
    assign_reviewers,
    create_queue,
    delete_queue,
    draft_items,
    failed_trace_ids,
    get_item,
    label_item,
    list_queues,
    load_rubric,
    next_item,
    queue_agreement,
    queue_items,
    queue_status,
    sample_items,
    trace_items,
)
from assay.store.tables import cases, review_labels, trace_scores


def _label_count(store) -> int:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(review_labels)).scalar() or 0)


def test_queue_lifecycle(store):  # type: ignore[no-untyped-def]
    make_run(store, "run-a", {"s1": 5, "s2": 2, "s3": 4})
    create_queue(store, "qa-check", PASS_FAIL, reviews_per_item=1)
    with pytest.raises(StoreError, match="already exists"):
        create_queue(store, "qa-check", PASS_FAIL)
    with pytest.raises(StoreError, match="not a queue name"):
        create_queue(store, "bad name/", PASS_FAIL)
    with pytest.raises(UnknownReviewRef, match="no review queue 'nope'"):
        add_items(store, "nope", [])

    items = sample_items(store, "run-a")
    assert [i.ref for i in items] == ["run-a:bot:s1", "run-a:bot:s2", "run-a:bot:s3"]
    assert items[0].payload == {
        "run": "run-a",
        "subject": "bot",
        "sample_id": "s1",
        "input": "question s1?",
        "target": "answer s1",
        "output": "reply to s1",
        "error": None,
    }
    report = add_items(store, "qa-check", items)
    assert len(report.added) == 3 and report.already == []
    again = add_items(store, "qa-check", items[:2])
    assert again.added == [] and again.already == ["run-a:bot:s1", "run-a:bot:s2"]
    assert [q.name for q in list_queues(store)] == ["qa-check"]

    # Queue order is the order items were added; alice works through them.
    first = next_item(store, "qa-check", "alice")
    assert first is not None and first.ref == "run-a:bot:s1"
    label_item(store, first.id[:8], rater="alice", verdict="fail", note="wrong", at=at(1))
    second = next_item(store, "qa-check", "alice")
    assert second is not None and second.ref == "run-a:bot:s2"
    assert next_item(store, "qa-check", "alice", skip=[second.id]).ref == "run-a:bot:s3"
    # With one review per item, bob only gets what alice has not labelled.
    assert next_item(store, "qa-check", "bob").ref == "run-a:bot:s2"

    # A relabel replaces the earlier label: one row, the latest verdict, time and role.
    outcome = label_item(
        store, first.id, rater="alice", role="expert", verdict="pass", correction="4", at=at(5)
    )
    assert outcome.label.verdict == "pass" and outcome.label.correction == "4"
    assert outcome.label.role == "expert" and outcome.label.created_at == at(5)
    assert outcome.label.note is None
    assert _label_count(store) == 1
    stored = get_item(store, first.id)
    assert [(lbl.rater, lbl.verdict, lbl.value) for lbl in stored.labels] == [
        ("alice", "pass", 1.0)
    ]

    status = queue_status(store, "qa-check")
    assert status["items"] == 3 and status["complete"] == 1 and status["labels"] == 1
    assert status["labels_wanted"] == 3 and status["progress"] == pytest.approx(1 / 3)
    assert status["verdicts"] == {"pass": 1, "fail": 0}
    assert status["reviewers"] == [
        {"rater": "alice", "role": "expert", "labelled": 1, "assigned_open": 0}
    ]
    assert status["agreement"] is None  # nothing has two labels

    assert delete_queue(store, "qa-check") == 3
    assert list_queues(store) == [] and _label_count(store) == 0


def test_assignment_gives_each_item_n_distinct_reviewers(store):  # type: ignore[no-untyped-def]
    create_queue(store, "pairs", PASS_FAIL, reviews_per_item=2)
    add_items(
        store, "pairs", [NewItem("sample", f"r:s:{k}", {"sample_id": str(k)}) for k in range(7)]
    )
    with pytest.raises(StoreError, match="need at least 2 reviewers"):
        assign_reviewers(store, "pairs", ["alice"])
    with pytest.raises(StoreError, match="named twice"):
        assign_reviewers(store, "pairs", ["alice", "alice"])

    counts = assign_reviewers(store, "pairs", ["alice", "bob", "carol"])
    items = queue_items(store, "pairs")
    assert all(len(set(i.assigned_to)) == 2 for i in items)
    assert counts == {"alice": 5, "bob": 5, "carol": 4}  # round-robin: 14 reviews over 3
    # Assigning again changes nothing: every review is reserved.
    assert assign_reviewers(store, "pairs", ["alice", "bob", "carol"]) == {
        "alice": 0,
        "bob": 0,
        "carol": 0,
    }
    # A reviewer sees their assigned items first; an outsider sees nothing while all is taken.
    mine = [i.id for i in items if "carol" in i.assigned_to]
    assert next_item(store, "pairs", "carol").id == mine[0]
    assert next_item(store, "pairs", "dave") is None

    # carol labels one of hers; --replace moves only unlabelled reservations to dave and erin.
    label_item(store, mine[0], rater="carol", verdict="pass")
    counts = assign_reviewers(store, "pairs", ["dave", "erin"], replace=True)
    after = {i.id: i for i in queue_items(store, "pairs")}
    assert after[mine[0]].assigned_to[0] == "carol"
    assert set(after[mine[0]].assigned_to) <= {"carol", "dave", "erin"}
    assert all(len(set(i.assigned_to)) == 2 for i in after.values())
    assert sum(counts.values()) == 13
    assert next_item(store, "pairs", "alice") is None


def test_labels_are_checked_against_the_rubric(store):  # type: ignore[no-untyped-def]
    create_queue(store, "pf", PASS_FAIL)
    create_queue(store, "scores", SCORE)
    (pf,) = add_items(store, "pf", [NewItem("sample", "a", {})]).added
    (sc,) = add_items(store, "scores", [NewItem("sample", "a", {})]).added
    bad = [
        ("pf", pf, {"verdict": "maybe"}, "verdict must be pass or fail"),
        ("pf", pf, {"score": 3}, "labels pass or fail, not scores"),
        ("scores", sc, {"verdict": "pass"}, "labels scores 1-5"),
        ("scores", sc, {}, "needs a score 1-5"),
        ("scores", sc, {"score": 6}, "not a whole number in 1-5"),
        ("scores", sc, {"score": 2.5}, "not a whole number in 1-5"),
        ("scores", sc, {"score": float("nan")}, "not a whole number"),
        ("pf", pf, {"verdict": "pass", "rater": "a,b"}, "not a reviewer name"),
        ("pf", pf, {"verdict": "pass", "rater": "  "}, "not a reviewer name"),
        ("pf", pf, {"verdict": "pass", "role": "boss"}, "unknown reviewer role"),
        ("pf", pf, {"verdict": "pass", "note": "x" * 10_001}, "more than 10,000"),
    ]
    for queue, item, kwargs, message in bad:
        kwargs = {"rater": "alice", **kwargs}
        with pytest.raises(AssayError, match=message) as error:
            label_item(store, item, queue=queue, **kwargs)
        assert error.value.fix or error.value.where
    with pytest.raises(UnknownReviewRef, match="no review item"):
        label_item(store, "0123abcd", rater="alice", verdict="pass")
    with pytest.raises(UnknownReviewRef, match="not an item id"):
        label_item(store, "x", rater="alice", verdict="pass")
    with pytest.raises(UnknownReviewRef, match="in queue 'scores'"):
        label_item(store, pf, rater="alice", verdict="pass", queue="scores")
    assert _label_count(store) == 0
    # A score on a scale with pass_at is also a verdict.
    outcome = label_item(store, sc, rater="alice", score=4.0)
    assert (outcome.label.verdict, outcome.label.value) == ("pass", 4.0)


def test_agreement_matches_hand_computed_kappas(store):  # type: ignore[no-untyped-def]
    # Two reviewers, ten items: both pass 4, a pass/b fail 1, a fail/b pass 2, both fail 3.
    # p_o = 0.7; p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    pairs = [("pass", "pass")] * 4 + [("pass", "fail")] + [("fail", "pass")] * 2
    pairs += [("fail", "fail")] * 3
    create_queue(store, "duo", PASS_FAIL, reviews_per_item=2)
    ids = add_items(store, "duo", [NewItem("sample", f"i{k}", {}) for k in range(10)]).added
    for item_id, (a, b) in zip(ids, pairs, strict=True):
        label_item(store, item_id, rater="ann", verdict=a)
        label_item(store, item_id, rater="ben", verdict=b)
    agreement = queue_status(store, "duo")["agreement"]
    assert agreement["method"] == "cohen_kappa"
    assert agreement["value"] == pytest.approx(0.4)
    assert agreement["n_items"] == 10 and agreement["n_raters"] == 2
    assert agreement["low"] < 0.4 < agreement["high"]

    # Three reviewers on four items: (pass, fail) counts [3,0], [0,3], [2,1], [1,2].
    # P_i = 1, 1, 1/3, 1/3 -> P = 2/3; p_pass = 6/12 -> P_e = 0.5; kappa = (2/3 - 0.5)/0.5 = 1/3.
    votes = [("pass",) * 3, ("fail",) * 3, ("pass", "pass", "fail"), ("pass", "fail", "fail")]
    create_queue(store, "trio", PASS_FAIL, reviews_per_item=3)
    ids = add_items(store, "trio", [NewItem("sample", f"i{k}", {}) for k in range(4)]).added
    for item_id, item_votes in zip(ids, votes, strict=True):
        for rater, verdict in zip(("a", "b", "c"), item_votes, strict=True):
            label_item(store, item_id, rater=rater, verdict=verdict)
    agreement = queue_status(store, "trio")["agreement"]
    assert agreement["method"] == "fleiss_kappa"
    assert agreement["value"] == pytest.approx(1 / 3)
    assert agreement["n_items"] == 4 and agreement["n_raters"] == 3

    # Unequal numbers of labels per item: Krippendorff's alpha, here from the two-rater pairs
    # plus an item with a single label (left out: it has no pair).
    label_item(store, add_items(store, "trio", [NewItem("sample", "lone", {})]).added[0],
               rater="a", verdict="pass")  # fmt: skip
    extra = add_items(store, "trio", [NewItem("sample", "two", {})]).added[0]
    label_item(store, extra, rater="a", verdict="pass")
    label_item(store, extra, rater="d", verdict="fail")
    agreement = queue_status(store, "trio")["agreement"]
    assert agreement["method"] == "krippendorff_alpha"
    assert agreement["n_items"] == 5 and agreement["n_raters"] == 4
    assert agreement["value"] == pytest.approx(agreement["alpha"])


def test_score_queue_with_two_reviewers_uses_weighted_kappa():
    from assay.review import ReviewItem, ReviewLabel
    from assay.stats import cohens_kappa

    a, b = [5, 4, 3, 1, 2, 5], [4, 4, 2, 1, 3, 5]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        ReviewItem(
            f"i{k}",
            "q",
            "sample",
            f"r{k}",
            {},
            (),
            now,
            (
                ReviewLabel("x", f"i{k}", "ann", "labeler", None, float(x), None, None, now),
                ReviewLabel("y", f"i{k}", "ben", "labeler", None, float(y), None, None, now),
            ),
        )
        for k, (x, y) in enumerate(zip(a, b, strict=True))
    ]
    agreement = queue_agreement(items, SCORE)
    expected = cohens_kappa(a, b, weights="quadratic", categories=[1, 2, 3, 4, 5])
    assert agreement is not None and agreement.method == "cohen_kappa"
    assert agreement.weights == "quadratic"
    assert agreement.value == pytest.approx(expected.kappa)


def test_reviewed_drafts_become_cases(store):  # type: ignore[no-untyped-def]
    add_draft(store, "case-good", question="capital of France?", bad_answer="Lyon")
    add_draft(store, "case-bad", question="hi", bad_answer="hello")
    add_draft(store, "case-tie", question="2+2?", bad_answer="5")
    add_draft(store, "case-taken", question="?", bad_answer="!")
    create_queue(store, "triage", PASS_FAIL, reviews_per_item=2)
    items = draft_items(store)
    assert [i.ref for i in items] == ["case-bad", "case-good", "case-taken", "case-tie"]
    good = next(i for i in items if i.ref == "case-good")
    assert good.payload["input"] == [{"role": "user", "content": "capital of France?"}]
    assert good.payload["negative_example"] == "Lyon"
    ids = dict(zip([i.ref for i in items], add_items(store, "triage", items).added, strict=True))

    first = label_item(store, ids["case-good"], rater="ann", verdict="pass", at=at(10))
    assert first.case_status is None and case_row(store, "case-good").status == "draft"
    done = label_item(
        store, ids["case-good"], rater="ben", verdict="pass", correction="Paris", at=at(20)
    )
    assert done.case_status == "accepted"
    row = case_row(store, "case-good")
    assert row.status == "accepted" and row.triaged_at == at(20)
    assert json.loads(row.target_json) == "Paris"
    assert json.loads(row.metadata_json)["review"] == {"queue": "triage", "pass": 2, "fail": 0}

    label_item(store, ids["case-bad"], rater="ann", verdict="fail")
    assert label_item(store, ids["case-bad"], rater="ben", verdict="fail").case_status == "rejected"
    assert case_row(store, "case-bad").status == "rejected"

    label_item(store, ids["case-tie"], rater="ann", verdict="pass")
    assert label_item(store, ids["case-tie"], rater="ben", verdict="fail").case_status is None
    assert case_row(store, "case-tie").status == "draft"

    # Someone triaged this one elsewhere first: the queue leaves their decision alone.
    with store.engine.begin() as conn:
        conn.execute(cases.update().where(cases.c.id == "case-taken").values(status="accepted"))
    label_item(store, ids["case-taken"], rater="ann", verdict="fail")
    assert label_item(store, ids["case-taken"], rater="ben", verdict="fail").case_status is None
    assert case_row(store, "case-taken").status == "accepted"

    # A relabel on a case this queue triaged follows the new majority.
    label_item(store, ids["case-good"], rater="ann", verdict="fail", at=at(30))
    assert case_row(store, "case-good").status == "accepted"  # 1-1: a tie changes nothing
    label_item(store, ids["case-good"], rater="ben", verdict="fail", at=at(40))
    assert case_row(store, "case-good").status == "rejected"
    assert queue_status(store, "triage")["drafts"] == {"rejected": 2, "undecided": 2}
    # Triaged drafts are no longer drafts to add.
    assert [i.ref for i in draft_items(store)] == ["case-tie"]


def test_a_reviewed_trace_gets_a_score_and_can_fail(store):  # type: ignore[no-untyped-def]
    from assay.trace.ingest import store_spans
    from assay.trace.model import SpanRecord

    trace_id, span_id = "0" * 31 + "1", "0" * 15 + "2"
    store_spans(
        store,
        [
            SpanRecord(
                trace_id=trace_id,
                span_id=span_id,
                name="chat",
                start_time=at(0),
                end_time=at(1),
                kind="llm",
                convention="genai",
                input=[{"role": "user", "content": "mail me at jane.doe@example.com"}],
                output=[{"role": "assistant", "content": "Sure, noted."}],
            )
        ],
    )
    with pytest.raises(StoreError, match="no trace"):
        trace_items(store, ["f" * 32])
    (item,) = trace_items(store, [trace_id.upper()])
    assert item.ref == trace_id and item.payload["output"] == "Sure, noted."
    text = json.dumps(item.payload["input"])
    assert "jane.doe@example.com" not in text and "mail me at" in text
    create_queue(store, "flagged", PASS_FAIL)
    (item_id,) = add_items(store, "flagged", [item]).added
    assert trace_id not in failed_trace_ids(store)
    label_item(store, item_id, rater="ann", verdict="fail", note="leaks the address")
    with store.engine.connect() as conn:
        scores = conn.execute(select(trace_scores)).all()
    assert [(s.trace_id, s.name, s.label, s.value, s.source) for s in scores] == [
        (trace_id, "review:flagged", "fail", 0.0, "review")
    ]
    assert "leaks the address" in scores[0].explanation
    # A fail from review marks the trace failed for the promotion policy; a relabel updates it.
    assert failed_trace_ids(store) == [trace_id]
    label_item(store, item_id, rater="ann", verdict="pass")
    assert failed_trace_ids(store) == []
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(trace_scores)).scalar() == 1


def test_rubric_files_are_validated_with_their_line(rubric_file):  # type: ignore[no-untyped-def]
    good = load_rubric(
        rubric_file(
            "scale: score\nmin: 1\nmax: 5\npass_at: 4\ncriteria: |\n  Correct?\n"
            "labels:\n  1: unusable\n  5: perfect\n"
        )
    )
    assert good.points == ["1", "2", "3", "4", "5"]
    assert good.labels == {"1": "unusable", "5": "perfect"} and good.criteria == "Correct?"
    cases = [
        ("scale: stars\ncriteria: x\n", ":1 (scale)", "scale must be pass_fail or score"),
        ("scale: pass_fail\n", ":1", "criteria must say"),
        ("scale: score\ncriteria: x\nmin: 1\n", ":1", "a score scale needs max"),
        ("scale: score\ncriteria: x\nmin: 5\nmax: 1\n", ":4 (max)", "do not make a scale"),
        ("scale: score\ncriteria: x\nmin: 1\nmax: 2.5\n", ":4 (max)", "whole number"),
        ("scale: score\ncriteria: x\nmin: 1\nmax: 5\npass_at: 9\n", ":5 (pass_at)", "outside"),
        ("scale: pass_fail\ncriteria: x\nmax: 5\n", ":3 (max)", "belongs to a score scale"),
        (
            "scale: pass_fail\ncriteria: x\nlabels:\n  maybe: hmm\n",
            ":4 (labels.maybe)",
            "not a point",
        ),
        ("scale: pass_fail\ncriteria: x\ncolour: red\n", ":3 (colour)", "unknown rubric key"),
        ("scale: pass_fail\ncriteria: [x\n", ":", "invalid YAML"),
    ]
    for text, where, message in cases:
        path = rubric_file(text, "bad.yaml")
        with pytest.raises(SpecError, match=message) as error:
            load_rubric(path)
        assert error.value.where is not None and f"bad.yaml{where}" in error.value.where, text
