"""``assay review`` from the command line, and ``assay audit humans --queue`` (C8) reading a
queue's labels exactly as it reads the same labels from a CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tests.review.builders import make_run
from typer.testing import CliRunner

from assay.cli.app import app
from assay.core import AssayError
from assay.review import add_items, create_queue, label_item, queue_items, sample_items
from assay.review.rubric import Rubric
from assay.store import Store

RUBRIC = "scale: pass_fail\ncriteria: Is the reply right?\nlabels:\n  pass: right\n  fail: wrong\n"


@pytest.fixture
def db(tmp_path):  # type: ignore[no-untyped-def]
    path = str(tmp_path / "assay.db")
    with Store(path) as store:
        make_run(store, "run-a", {"s1": 5, "s2": 1, "s3": 3})
    return path


def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "160"})


def ok(*args: str, input: str | None = None) -> str:
    result = invoke(*args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_review_commands_end_to_end(db, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "r.yaml").write_text(RUBRIC)
    rubric = str(tmp_path / "r.yaml")
    made = ok("review", "queue", "create", "triage", "--rubric", rubric, "--reviews-per-item",
              "2", "--db", db)  # fmt: skip
    assert "created review queue triage: pass_fail" in made
    assert "added 3 items" in ok("review", "add", "triage", "--run", "run-a", "--db", db)
    assert "3 already there" in ok("review", "add", "triage", "--run", "run-a", "--db", db)
    assigned = json.loads(ok("review", "assign", "triage", "--to", "alice,bob", "--db", db,
                             "--json"))  # fmt: skip
    assert assigned == {"alice": 3, "bob": 3}

    shown = json.loads(ok("review", "next", "triage", "--as", "alice", "--json", "--db", db))
    assert shown["item"]["ref"] == "run-a:bot:s1"
    assert shown["item"]["content"]["output"] == "reply to s1"

    # Interactive: pass with a note, a bad answer re-asked, skip, fail with a correction, quit.
    session = ok(
        "review", "next", "triage", "--as", "alice", "--db", db,
        input="p\nlooks right\n\nmaybe\ns\nf\n\nreply to s3, corrected\nq\n",
    )  # fmt: skip
    assert "question s1?" in session and "reply to s1" in session and "answer s1" in session
    assert "criteria: Is the reply right?" in session and "pass = right" in session
    assert "not an answer: 'maybe'" in session
    assert "labelled" in session and "2 labelled now" in session
    with Store(db) as store:
        labels = {
            i.ref: [(lbl.rater, lbl.verdict, lbl.note, lbl.correction) for lbl in i.labels]
            for i in queue_items(store, "triage")
        }
    assert labels == {
        "run-a:bot:s1": [("alice", "pass", "looks right", None)],
        "run-a:bot:s2": [],
        "run-a:bot:s3": [("alice", "fail", None, "reply to s3, corrected")],
    }
    item = shown["item"]["id"]
    labelled = ok("review", "label", item[:8], "--as", "bob", "--verdict", "fail", "--db", db)
    assert "labelled" in labelled and "2/2 reviews" in labelled

    status = json.loads(ok("review", "status", "triage", "--json", "--db", db))
    assert status["complete"] == 1 and status["labels"] == 3 and status["labels_wanted"] == 6
    assert status["agreement"]["method"] == "cohen_kappa"
    assert status["agreement"]["n_items"] == 1
    text = ok("review", "status", "triage", "--db", db)
    assert "1/3 items complete, 3/6 labels (50%)" in text and "Cohen's κ" in text
    assert "alice" in text and "bob" in text
    listing = ok("review", "items", "triage", "--db", db)
    assert "alice: pass" in listing and "bob: fail" in listing
    assert "triage" in ok("review", "queue", "list", "--db", db)

    # Mistakes are one clear error each.
    for args, message in [
        (("review", "add", "triage"), "say which items to add"),
        (("review", "label", item, "--as", "bob", "--score", "3"), "labels pass or fail"),
        (("review", "label", item, "--as", "bob"), "verdict must be pass or fail"),
        (("review", "next", "nope", "--as", "bob"), "no review queue 'nope'"),
        (("review", "add", "triage", "--run", "run-a", "--sample", "zz"), "no sample 'zz'"),
        (("review", "queue", "delete", "triage"), "add --yes"),
    ]:
        result = invoke(*args, "--db", db)
        assert isinstance(result.exception, AssayError), (args, result.output)
        assert message in str(result.exception)
    (tmp_path / "bad.yaml").write_text("scale: pass_fail\ncriteria: x\npass_at: 3\n")
    result = invoke("review", "queue", "create", "x", "--rubric", str(tmp_path / "bad.yaml"))
    assert isinstance(result.exception, AssayError)
    assert "bad.yaml:3 (pass_at)" in str(result.exception)
    assert "deleted review queue triage" in ok("review", "queue", "delete", "triage", "--yes",
                                               "--db", db)  # fmt: skip


def test_audit_humans_reads_a_queue_as_it_reads_the_csv(tmp_path):  # type: ignore[no-untyped-def]
    db = str(tmp_path / "assay.db")
    judge = {f"s{k:02d}": float(1 + (k * 7) % 5) for k in range(12)}
    rows = ["sample,rater,label,time"]
    with Store(db) as store:
        make_run(store, "run-jan", judge)
        make_run(store, "run-feb", judge)
        create_queue(
            store, "humans", Rubric("score", "How good?", min=1, max=5), reviews_per_item=2
        )
        for run, month, lenient in (("run-jan", 1, 0), ("run-feb", 2, 1)):
            add_items(store, "humans", sample_items(store, run, sample_n=10, seed=3))
            items = [i for i in queue_items(store, "humans") if i.payload["run"] == run]
            for k, item in enumerate(items):
                sample = item.payload["sample_id"]
                for rater in (f"r{k % 3}", f"r{3 + k % 2}"):
                    value = min(5, int(judge[sample]) + (lenient if k % 2 == 0 else 0))
                    value = max(1, value - (1 if rater == "r4" and k % 3 == 0 else 0))
                    time = datetime(2026, month, 1 + k, 10, 0, tzinfo=UTC)
                    label_item(store, item.id, rater=rater, score=value, at=time)
                    rows.append(f"{sample},{rater},{value},{time.isoformat()}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    common = ["--run", "run-jan=2026-01", "--run", "run-feb=2026-02", "--scorer", "rubric"]
    common += ["--db", db, "--json"]
    from_csv = json.loads(ok("audit", "humans", str(tmp_path / "labels.csv"), *common))
    from_queue = json.loads(ok("audit", "humans", "--queue", "humans", *common))
    assert from_queue == from_csv
    assert [p["period"] for p in from_queue["periods"]] == ["2026-01", "2026-02"]
    assert from_queue["periods"][0]["n_labels"] == 20
    assert from_queue["attribution"] is not None

    both = invoke("audit", "humans", str(tmp_path / "labels.csv"), "--queue", "humans", *common)
    assert isinstance(both.exception, AssayError) and "one of the two" in str(both.exception)
    with Store(db) as store:
        create_queue(store, "empty", Rubric("pass_fail", "ok?"))
    empty = invoke("audit", "humans", "--queue", "empty", *common)
    assert isinstance(empty.exception, AssayError)
    assert "holds no labelled run samples" in str(empty.exception)
