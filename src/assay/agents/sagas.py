"""Saga completeness (J3): a job whose completion fired without every declared step's
acknowledgement is ``partial_completion``, never ``succeeded``.

How jobs are read from traces (attributes are the span's, as stored):

* **A job** is every span carrying the same ``job.id`` attribute (its steps may arrive in
  several traces, as async work does); a trace with no ``job.id`` is one job whose id is the
  trace id. Its kind is the ``job.name`` attribute, else the root span's name; only kinds
  declared under ``jobs:`` are audited (others are counted as undeclared).
* **A step is acknowledged** by a span whose ``job.step`` attribute (or name) is the step and
  whose status is not ``error``, or by an event or log record named the job's ``ack``
  (default ``job.step.ack``) with a ``job.step`` attribute. A step span with status ``error``
  and no acknowledgement is a failed step.
* **The completion callback** is a span or event named the job's ``completion`` (default
  ``job.completed``), or a ``job.status`` attribute of ``completed``/``succeeded``.

Status of a job, in this order: completion fired and every step acknowledged → ``succeeded``;
completion fired with a step unacknowledged → ``partial_completion`` (a finding, with the
missing and failed steps); no completion and a failed step → ``failed`` (visible, so not a
finding); no completion with every step acknowledged → ``completion_missing`` (a warning);
no completion, older than the declared ``timeout`` → ``stalled`` (a finding: a silent
failure); otherwise ``in_progress``. The share of completed jobs that were partial is
reported per kind with a Wilson interval.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from assay.agents._read import SpanRow, TraceWindow, read_spans
from assay.agents.declarations import Declarations, JobRules
from assay.core import AssayError
from assay.core.findings import Finding, failed
from assay.stats.rates import rate_dict
from assay.store import Store
from assay.store.tables import traces

STATUSES = (
    "succeeded",
    "partial_completion",
    "failed",
    "completion_missing",
    "stalled",
    "in_progress",
)
_DONE = {"completed", "succeeded", "success", "done"}


@dataclass
class Job:
    """One job instance and what its spans say about it."""

    job_id: str
    kind: str
    spans: list[SpanRow]
    status: str = "in_progress"
    acked: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    undeclared_steps: list[str] = field(default_factory=list)
    completed_at: datetime | None = None

    @property
    def trace_ids(self) -> list[str]:
        return list(dict.fromkeys(s.trace_id for s in self.spans))

    @property
    def started_at(self) -> datetime:
        return min(s.start_time for s in self.spans)

    def attribute(self, key: str) -> Any:
        """The first value of attribute ``key`` on the job's spans (``None`` when absent)."""
        for span in self.spans:
            if key in span.attributes:
                return span.attributes[key]
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job": self.kind,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "acknowledged": self.acked,
            "missing_steps": self.missing,
            "failed_steps": self.failed_steps,
            "undeclared_steps": self.undeclared_steps,
            "trace_ids": self.trace_ids,
            "idempotency_key": self.attribute("job.idempotency_key"),
        }


def _text(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def collect_jobs(spans: Sequence[SpanRow]) -> list[Job]:
    """Group spans into jobs (by ``job.id``, else by trace) and name each job's kind."""
    by_trace: dict[str, list[SpanRow]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    jobs: dict[str, Job] = {}
    for trace_id, members in by_trace.items():
        ids = [_text(s.attributes.get("job.id")) for s in members]
        job_id = next((i for i in ids if i), trace_id)
        names = [_text(s.attributes.get("job.name")) for s in members]
        span_ids = {s.span_id for s in members}
        roots = [s for s in members if s.parent_id is None or s.parent_id not in span_ids]
        kind = next((n for n in names if n), roots[0].name if roots else members[0].name)
        job = jobs.get(job_id)
        if job is None:
            jobs[job_id] = Job(job_id, kind, list(members))
        else:
            job.spans.extend(members)
            if job.kind != kind and any(names):
                job.kind = kind
    for job in jobs.values():
        job.spans.sort(key=lambda s: (s.start_time, s.span_id))
    return sorted(jobs.values(), key=lambda j: (j.started_at, j.job_id))


def judge_job(job: Job, rules: JobRules, now: datetime) -> Job:
    """Set the job's status (rules in the module docstring)."""
    acked: dict[str, datetime] = {}
    failed_steps: set[str] = set()
    undeclared: set[str] = set()
    completions: list[datetime] = []
    declared = set(rules.steps)
    for span in job.spans:
        step = _text(span.attributes.get("job.step")) or (
            span.name if span.name in declared else None
        )
        if step is not None:
            if step not in declared:
                undeclared.add(step)
            elif span.status == "error":
                failed_steps.add(step)
            else:
                acked.setdefault(step, span.end_time)
        if span.name == rules.completion or (
            str(span.attributes.get("job.status", "")).lower() in _DONE
        ):
            completions.append(span.end_time)
        for event in span.events:
            name = event["name"]
            if name == rules.ack:
                event_step = _text(event["attributes"].get("job.step"))
                if event_step is None and isinstance(event["body"], dict):
                    event_step = _text(event["body"].get("job.step"))
                if event_step is not None:
                    if event_step in declared:
                        acked.setdefault(event_step, event["time"])
                    else:
                        undeclared.add(event_step)
            elif name == rules.completion:
                completions.append(event["time"])
    job.acked = [s for s in rules.steps if s in acked]
    job.missing = [s for s in rules.steps if s not in acked]
    job.failed_steps = [s for s in rules.steps if s in failed_steps and s not in acked]
    job.undeclared_steps = sorted(undeclared)
    job.completed_at = min(completions) if completions else None
    if job.completed_at is not None:
        job.status = "partial_completion" if job.missing else "succeeded"
    elif job.failed_steps:
        job.status = "failed"
    elif not job.missing:
        job.status = "completion_missing"
    elif rules.timeout is not None and now - job.started_at > rules.timeout:
        job.status = "stalled"
    else:
        job.status = "in_progress"
    return job


@dataclass
class SagaReport:
    """What :func:`saga_audit` found."""

    window: TraceWindow
    jobs: list[Job]
    undeclared: Counter[str]
    findings: list[Finding]

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def per_kind(self) -> list[dict[str, Any]]:
        kinds: dict[str, Counter[str]] = defaultdict(Counter)
        for job in self.jobs:
            kinds[job.kind][job.status] += 1
        out = []
        for kind, counts in sorted(kinds.items()):
            completed = counts["succeeded"] + counts["partial_completion"]
            out.append(
                {
                    "job": kind,
                    "jobs": sum(counts.values()),
                    "statuses": {s: counts[s] for s in STATUSES if counts[s]},
                    "partial_among_completed": rate_dict(counts["partial_completion"], completed),
                }
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_dict(),
            "kinds": self.per_kind(),
            "jobs": [j.as_dict() for j in self.jobs],
            "undeclared_job_kinds": dict(self.undeclared),
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def judge_jobs(
    jobs: Sequence[Job], declarations: Declarations, now: datetime, window: TraceWindow
) -> SagaReport:
    """Judge every declared job (a pure function of the collected jobs)."""
    judged: list[Job] = []
    undeclared: Counter[str] = Counter()
    findings: list[Finding] = []
    for job in jobs:
        rules = declarations.jobs.get(job.kind)
        if rules is None:
            undeclared[job.kind] += 1
            continue
        judged.append(judge_job(job, rules, now))
    for job in judged:
        refs = [{"job_id": job.job_id, "trace_id": t} for t in job.trace_ids]
        if job.status == "partial_completion":
            failed_part = f"; failed: {', '.join(job.failed_steps)}" if job.failed_steps else ""
            findings.append(
                Finding(
                    code="partial_completion",
                    message=f"{job.kind} {job.job_id}: completion fired with "
                    f"{len(job.acked)} of {len(job.acked) + len(job.missing)} steps "
                    f"acknowledged (missing: {', '.join(job.missing)}{failed_part})",
                    fix="make the completion callback wait for every step's acknowledgement",
                    refs=refs,
                    details={"missing_steps": job.missing, "failed_steps": job.failed_steps},
                )
            )
        elif job.status == "stalled":
            findings.append(
                Finding(
                    code="stalled",
                    message=f"{job.kind} {job.job_id}: no completion since "
                    f"{job.started_at.isoformat()} (missing: {', '.join(job.missing)})",
                    fix="find where the job stopped; add a timeout that fails it visibly",
                    refs=refs,
                    details={"missing_steps": job.missing},
                )
            )
        elif job.status == "completion_missing":
            findings.append(
                Finding(
                    code="completion_missing",
                    severity="warn",
                    message=f"{job.kind} {job.job_id}: every step acknowledged, but the "
                    "completion callback never fired",
                    refs=refs,
                )
            )
        if job.undeclared_steps:
            findings.append(
                Finding(
                    code="undeclared_step",
                    severity="warn",
                    message=f"{job.kind} {job.job_id}: steps not in the declaration: "
                    + ", ".join(job.undeclared_steps),
                    fix="declare them under jobs.<name>.steps, or fix the step names",
                    refs=refs,
                )
            )
    return SagaReport(window, judged, undeclared, findings)


def read_jobs(store: Store, declarations: Declarations, window: TraceWindow) -> list[Job]:
    """Every job in the window: traces with a ``job.*`` attribute or a root named as a job."""
    marked = read_spans(store, window, attribute_like=('"job.',))
    trace_ids = {s.trace_id for s in marked}
    names = list(declarations.jobs)
    if names:
        query = select(traces.c.id).where(traces.c.root_name.in_(names))
        if window.since is not None:
            query = query.where(traces.c.start_time >= window.since)
        if window.until is not None:
            query = query.where(traces.c.start_time < window.until)
        with store.engine.connect() as conn:
            trace_ids.update(r[0] for r in conn.execute(query))
    if not trace_ids:
        return []
    spans = read_spans(store, trace_ids=sorted(trace_ids), with_events=True, with_io=True)
    return collect_jobs(spans)


def saga_audit(
    store: Store,
    declarations: Declarations,
    window: TraceWindow = TraceWindow(),
    *,
    now: datetime | None = None,
) -> SagaReport:
    """The J3 audit of every declared job kind in ``window``."""
    if not declarations.jobs:
        raise AssayError(
            "no job is declared",
            where=declarations.doc.filename if declarations.doc else "--spec",
            fix="declare jobs with their steps under `jobs:`",
        )
    jobs = read_jobs(store, declarations, window)
    moment = now or window.until or datetime.now(UTC)
    return judge_jobs(jobs, declarations, moment, window)
