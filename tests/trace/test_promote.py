"""Traces become tests (A3, A4, E1, E2): drafts from failed traces, promotion into a dataset
file that assay loads, triage, and deletion of incident-born cases only with a reason."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from tests.trace.casework import T0, llm_trace, plant, run_cli, thumbs_down, trace_id

from assay import load_dataset
from assay.core import AssayError
from assay.store import Store
from assay.store.tables import cases
from assay.trace.feedback import record_feedback, record_outcomes
from assay.trace.promote import (
    accept_draft,
    delete_case,
    get_case,
    list_cases,
    list_drafts,
    origin_counts,
    promote,
    promote_trace,
    reject_draft,
    sync_drafts,
)

TID = trace_id(1)
PLANTED = "bob.smith@example.com"


def _all_text(store) -> str:
    with store.engine.connect() as conn:
        return " ".join(
            str(v)
            for table in ("cases", "feedback", "spans", "span_events")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
            for v in row
        )


def test_a_thumbs_down_makes_one_draft_with_the_redacted_input(store):
    """A4/E2: a trace marked failed by a user's thumbs-down yields one draft case, its input
    redacted (the planted address is <EMAIL_1>) and linked to the trace id."""
    plant(store, llm_trace(1, question=f"Refund me, I am {PLANTED}", answer="No refunds."))
    report = record_feedback(store, [thumbs_down(TID)])
    assert len(report.drafts) == 1
    drafts = list_drafts(store)
    assert [d.id for d in drafts] == report.drafts
    draft = drafts[0]
    assert draft.created_from == TID and draft.status == "draft" and draft.origin == "incident"
    assert draft.input[-1] == {"role": "user", "content": "Refund me, I am <EMAIL_1>"}
    assert draft.negative_example == "No refunds."
    assert draft.reason == "thumbs-down from end_user on prod"
    assert PLANTED not in _all_text(store)
    # The policy is idempotent: more thumbs-downs, more syncs, still one draft.
    again = record_feedback(store, [{**thumbs_down(TID), "id": "second-click"}])
    assert again.drafts == [] and sync_drafts(store) == []
    with store.engine.connect() as conn:
        assert conn.execute(select(cases.c.id)).scalars().all() == [draft.id]


def test_a_bad_outcome_and_a_judge_make_drafts_too(store):
    from assay.trace.model import EvalResult

    plant(
        store,
        llm_trace(1, session="conv-9"),
        llm_trace(2, evaluations=[EvalResult(name="correct", label="fail", source="judge")]),
        llm_trace(3),
    )
    made = record_outcomes(
        store,
        [
            {
                "session_id": "conv-9",
                "event": "ticket_reopened",
                "time": (T0 + timedelta(days=3)).isoformat(),
            }
        ],
    )
    assert [get_case(store, d).created_from for d in made.drafts] == [TID]
    assert get_case(store, made.drafts[0]).metadata["label"] == "failed_delayed"
    # The judge's failing score was stored with the spans; the policy's next run drafts it.
    assert [get_case(store, d).created_from for d in sync_drafts(store)] == [trace_id(2)]
    assert len(list_drafts(store)) == 2


def test_promote_appends_a_case_assay_loads_with_its_provenance(store, tmp_path):
    """E1/A3: promote writes the redacted input, the observed output as negative example,
    origin incident and created_from the trace id, in a row load_dataset reads."""
    plant(
        store,
        llm_trace(1, question=f"Where is my parcel? {PLANTED}", answer="It is lost."),
        llm_trace(2, answer="It arrives Monday."),
    )
    record_feedback(
        store,
        [
            thumbs_down(TID),
            {
                **thumbs_down(TID),
                "kind": "correction",
                "value": None,
                "correction": f"Say it is delayed and write to {PLANTED}.",
            },
        ],
    )
    draft = list_drafts(store)[0]
    dataset = tmp_path / "evals" / "incidents.jsonl"
    dataset.parent.mkdir()
    dataset.write_text('{"id": "hand-1", "input": "Hello?", "target": "Hi."}\n')
    done = promote(store, TID, dataset)
    sampled = promote(store, trace_id(2), dataset, origin="sampled-production")
    assert done.created is False and done.case.id == draft.id  # the draft became the case
    assert done.case.status == "accepted" and done.case.triaged_at is not None
    loaded = load_dataset(dataset)
    assert [s.id for s in loaded] == ["hand-1", draft.id, sampled.case.id]
    case = loaded.samples[1]
    assert case.input[-1].content == "Where is my parcel? <EMAIL_1>"
    assert case.target == "Say it is delayed and write to <EMAIL_1>."
    assert case.metadata["negative_example"] == "It is lost."
    assert case.metadata["created_from"] == TID
    assert case.provenance.origin == "incident" and case.provenance.source_ref == TID
    assert case.provenance.collected_at == T0
    other = loaded.samples[2]
    assert other.provenance.origin == "sampled" and "negative_example" not in other.metadata
    # A3: counts per origin, from the file and from the store.
    assert Counter(s.provenance.origin for s in loaded) == {
        "authored": 1,
        "incident": 1,
        "sampled": 1,
    }
    assert origin_counts(list_cases(store, dataset=dataset)) == {
        "incident": 1,
        "sampled-production": 1,
        "authored": 0,
        "synthetic": 0,
    }
    assert PLANTED not in dataset.read_text() and PLANTED not in _all_text(store)
    # Promoting again changes nothing.
    repeat = promote(store, TID, dataset)
    assert (repeat.created, repeat.appended) == (False, False)
    assert len(dataset.read_text().splitlines()) == 3


def test_promote_refuses_what_it_cannot_write(store, tmp_path):
    plant(store, llm_trace(1))
    with pytest.raises(AssayError, match="JSONL"):
        promote(store, TID, tmp_path / "cases.csv")
    with pytest.raises(AssayError, match="no trace"):
        promote(store, trace_id(99), tmp_path / "cases.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a"}\n')
    with pytest.raises(AssayError, match=r"broken\.jsonl:1.*would not load"):
        promote(store, TID, broken)
    assert broken.read_text() == '{"id": "a"}\n'
    assert list_cases(store) == []  # the failed write left no case behind
    for bad in ("/etc/cases.jsonl", "../outside.jsonl", "a/../../b.jsonl"):
        with pytest.raises(AssayError, match="dataset"):
            promote_trace(store, TID, dataset=bad, base_dir=tmp_path)
    case = promote_trace(store, TID, dataset="evals.jsonl", base_dir=tmp_path)
    assert (tmp_path / "evals.jsonl").exists() and case.dataset == str(tmp_path / "evals.jsonl")


def test_an_incident_born_case_is_deleted_only_with_force_and_a_reason(store, tmp_path):
    plant(store, llm_trace(1), llm_trace(2))
    record_feedback(store, [thumbs_down(TID)])
    dataset = tmp_path / "cases.jsonl"
    case = promote(store, TID, dataset).case
    sampled = promote(store, trace_id(2), dataset, origin="sampled-production").case
    with pytest.raises(AssayError, match="without --force and a reason") as caught:
        delete_case(store, case.id)
    assert "--reason" in (caught.value.fix or "")
    with pytest.raises(AssayError, match="without --force and a reason"):
        delete_case(store, case.id, force=True, reason="  ")
    assert get_case(store, case.id).status == "accepted"
    assert len(load_dataset(dataset)) == 2
    deleted, removed = delete_case(store, case.id, force=True, reason="the policy changed")
    assert removed and deleted.status == "deleted"
    row = get_case(store, case.id)  # the row stays, marked
    assert row.deleted_at is not None and row.delete_reason == "the policy changed"
    assert [s.id for s in load_dataset(dataset)] == [sampled.id]
    assert [c.id for c in list_cases(store)] == [sampled.id]
    assert [c.id for c in list_cases(store, status="deleted")] == [case.id]
    # A case that is not incident-born needs neither; the emptied file stays a file.
    delete_case(store, sampled.id)
    assert dataset.read_text() == ""
    with pytest.raises(AssayError, match="already deleted"):
        delete_case(store, case.id, force=True, reason="again")
    # A deleted (or rejected) case is not drafted again by the policy.
    assert sync_drafts(store) == []


def test_triage_backlog_accept_and_reject(store, tmp_path):
    plant(store, *(llm_trace(n) for n in range(1, 4)))
    made = record_feedback(store, [thumbs_down(trace_id(n)) for n in range(1, 4)]).drafts
    assert len(made) == 3
    later = datetime.now(UTC) + timedelta(days=8)
    assert len(list_drafts(store, older_than=timedelta(days=7))) == 0
    backlog = list_drafts(store, older_than=timedelta(days=7), now=later)
    assert len(backlog) == 3 and backlog[0].age(later) > timedelta(days=7)
    accepted = accept_draft(store, made[0][:9], tmp_path / "in.jsonl")  # a unique prefix
    assert accepted.status == "accepted" and len(load_dataset(tmp_path / "in.jsonl")) == 1
    kept = accept_draft(store, made[1])
    assert kept.status == "accepted" and kept.dataset == ""
    rejected = reject_draft(store, made[2], "duplicate of another incident")
    assert get_case(store, rejected.id).metadata["rejected_because"].startswith("duplicate")
    assert list_drafts(store) == []
    with pytest.raises(AssayError, match="not a draft"):
        reject_draft(store, made[0])
    with pytest.raises(AssayError, match="no case"):
        accept_draft(store, "case-nope")


def test_the_cli_surface(tmp_path, monkeypatch, capsys):
    """feedback → drafts → promote → cases list → delete, through `assay traces …`."""
    # On a SQLite file only: the CLI takes a store URL; the tests above cover PostgreSQL.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url)
    plant(store, llm_trace(1, question=f"Hi, {PLANTED} here"), llm_trace(2))
    store.close()
    db = ["--db", url]
    fb = tmp_path / "fb.jsonl"
    fb.write_text(json.dumps(thumbs_down(TID)) + "\n")
    code, out, err = run_cli(monkeypatch, capsys, "traces", "feedback", str(fb), *db)
    assert code == 0, err
    assert "1 feedback events stored" in out and "1 new draft cases" in out
    fb.write_text(json.dumps({**thumbs_down(TID), "rater_role": "ceo"}) + "\n")
    code, _, err = run_cli(monkeypatch, capsys, "traces", "feedback", str(fb), *db)
    assert code == 2 and "fb.jsonl:1 (rater_role)" in err and "Traceback" not in err
    code, out, _ = run_cli(monkeypatch, capsys, "traces", "drafts", *db, "--json")
    drafts = json.loads(out)
    assert drafts["n"] == 1 and drafts["drafts"][0]["created_from"] == TID
    assert PLANTED not in out
    code, out, _ = run_cli(monkeypatch, capsys, "traces", "drafts", "--older-than", "7d", *db)
    assert code == 0 and "0 drafts" in out
    dataset = tmp_path / "incidents.jsonl"
    code, out, err = run_cli(
        monkeypatch, capsys, "traces", "promote", TID, "--to", str(dataset), *db
    )
    assert code == 0, err
    assert "with a negative example" in out
    case_id = json.loads(dataset.read_text())["id"]
    code, out, _ = run_cli(monkeypatch, capsys, "traces", "cases", "list", *db, "--json")
    listed = json.loads(out)
    assert listed["origins"]["incident"] == 1 and listed["cases"][0]["id"] == case_id
    code, out, err = run_cli(monkeypatch, capsys, "traces", "cases", "delete", case_id, *db)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--force" in errors[0] and "Traceback" not in err
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "traces",
        "cases",
        "delete",
        case_id,
        "--force",
        "--reason",
        "superseded",
        *db,
    )
    assert code == 0 and "deleted" in out and dataset.read_text() == ""
    code, _, err = run_cli(monkeypatch, capsys, "traces", "drafts", "--window", "7 days", *db)
    assert code == 2 and "--window" in err
    export = tmp_path / "sft.jsonl"
    code, out, _ = run_cli(monkeypatch, capsys, "traces", "feedback-export", "-o", str(export), *db)
    assert code == 0 and "1 feedback rows written" in out
    code, _, err = run_cli(
        monkeypatch, capsys, "traces", "feedback-export", "-o", str(export), "--surface", "x", *db
    )
    assert code == 2 and "--surface" in err
    code, out, _ = run_cli(monkeypatch, capsys, "traces", "labels", "--failed", *db, "--json")
    assert json.loads(out) == [
        {"trace_id": TID, "label": "failed", "reasons": ["thumbs-down from end_user on prod"]}
    ]
