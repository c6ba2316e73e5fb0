"""Saga completeness (J3): a six-step job whose completion callback fired with steps 5-6
unacknowledged is ``partial_completion``, not ``succeeded``; acknowledgements by span or by
event; stalled jobs; and a clean system has no findings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.agents.build import T0, write
from tests.agents.jobs import STEPS, job_trace

from assay.agents import TraceWindow, load_agents_spec, saga_audit

SPEC = Path(__file__).with_name("agents.yaml")


def test_completion_without_steps_five_and_six_is_partial_completion(store):
    write(store, job_trace("job-1", acked=STEPS[:4]))
    report = saga_audit(store, load_agents_spec(SPEC))
    (job,) = report.jobs
    assert job.status == "partial_completion"
    assert job.missing == ["ship", "notify"]
    (finding,) = report.findings
    assert finding.code == "partial_completion"
    assert "4 of 6 steps" in finding.message and "ship, notify" in finding.message
    kinds = report.as_dict()["kinds"]
    assert kinds[0]["statuses"] == {"partial_completion": 1}
    assert report.failed


def test_statuses_and_the_partial_share(store):
    now = T0 + timedelta(hours=3)
    write(
        store,
        job_trace("ok-1"),
        job_trace("ok-2", ack_by_event=True),
        job_trace("partial", acked=STEPS[:4]),
        job_trace("failed-step", acked=STEPS[:2], failed=["pick"], completion=False),
        job_trace("done-no-callback", completion=False),
        job_trace("stalled", acked=STEPS[:3], completion=False),
        job_trace("running", acked=STEPS[:1], completion=False, start=now - timedelta(minutes=5)),
        job_trace("callback-after-failure", acked=STEPS[:5], failed=["notify"]),
    )
    report = saga_audit(store, load_agents_spec(SPEC), TraceWindow(until=now))
    status = {j.job_id: j.status for j in report.jobs}
    assert status == {
        "ok-1": "succeeded",
        "ok-2": "succeeded",
        "partial": "partial_completion",
        "failed-step": "failed",
        "done-no-callback": "completion_missing",
        "stalled": "stalled",
        "running": "in_progress",
        "callback-after-failure": "partial_completion",
    }
    kinds = report.as_dict()["kinds"][0]
    share = kinds["partial_among_completed"]
    assert (share["k"], share["n"]) == (2, 4)
    codes = sorted(f.code for f in report.findings)
    assert codes == ["completion_missing", "partial_completion", "partial_completion", "stalled"]
    failed_after = next(j for j in report.jobs if j.job_id == "callback-after-failure")
    assert failed_after.failed_steps == ["notify"]


def test_clean_jobs_have_no_findings(store):
    write(store, *(job_trace(f"job-{k}", ack_by_event=k % 2 == 0) for k in range(5)))
    report = saga_audit(store, load_agents_spec(SPEC))
    assert [j.status for j in report.jobs] == ["succeeded"] * 5
    assert report.findings == []
