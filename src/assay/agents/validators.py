"""Semantic output validators for jobs, the dead-letter queue, and replay (J4).

A job can "succeed" and still be wrong: it invents a SKU, drops the key clause, cites the
wrong source. The validators declared under ``jobs.<kind>.validators`` (a catalog lookup or a
Python function) check each job's **output**; a job that fails one lands in the dead-letter
queue (``dead_letters``) with the reason ``semantic:<validator name>``, the detail, the model
step's input and output, and the job's idempotency key.

* **The output** of a job is its ``job.output`` attribute (JSON text is parsed), else the
  answer of its last LLM span (JSON when it parses, after stripping a Markdown code fence; else
  the text).
* **The model step** is the job's last LLM span: its input messages and requested model.
* **The idempotency key** is the ``job.idempotency_key`` attribute, else the first idempotency
  key of a tool call in the job's traces.

:func:`replay_dead_letter` re-runs the model step through the ordinary runner (a stored run:
``assay show RUN`` opens it) with a fix — a new model, a new system prompt, or a whole eval
spec whose subjects replace the original — passing the same idempotency key in the sample's
metadata (an HTTP subject receives it in the body and as the ``Idempotency-Key`` header). The
replayed output is checked by every validator of the job; the replay is recorded
(``dead_letter_replays``) and the dead letter becomes ``resolved`` or ``replay_failed``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from assay.agents._read import TraceWindow
from assay.agents.declarations import Declarations, JobRules
from assay.agents.sagas import Job, read_jobs
from assay.core import AssayError, SpecError, StoreError
from assay.core.findings import Finding, failed
from assay.stats.rates import rate_dict
from assay.store import Store
from assay.store.tables import dead_letter_replays, dead_letters, tool_calls
from assay.trace.messages import as_messages, messages_from_events

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n\s*```\s*$", re.S)
DLQ_STATUSES = ("open", "resolved", "replay_failed")


def parse_output(value: Any) -> Any:
    """A job output as data: JSON text (optionally fenced as Markdown code) is parsed."""
    if not isinstance(value, str):
        return value
    text = value
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except ValueError:
        return value


def _llm_spans(job: Job) -> list[Any]:
    return [s for s in job.spans if s.kind == "llm"]


def _span_messages(span: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inputs = as_messages(span.input)
    outputs = as_messages(span.output)
    if inputs is None or outputs is None:
        ev_in, ev_out = messages_from_events(span.events)
        inputs = inputs if inputs is not None else ev_in
        outputs = outputs if outputs is not None else ev_out
    return inputs or [], outputs or []


def job_output(job: Job) -> Any:
    """The job's output (rules in the module docstring); ``None`` when it has none."""
    declared = job.attribute("job.output")
    if declared is not None:
        return parse_output(declared)
    llm = _llm_spans(job)
    if not llm:
        return None
    _, outputs = _span_messages(llm[-1])
    answers = [m for m in outputs if m.get("role") == "assistant" and m.get("content")]
    if answers:
        return parse_output(answers[-1]["content"])
    return parse_output(llm[-1].output) if llm[-1].output is not None else None


def model_step(job: Job) -> tuple[list[dict[str, str]], str | None]:
    """The last LLM span's input as ``{role, content}`` messages, and its requested model."""
    llm = _llm_spans(job)
    if not llm:
        return [], None
    inputs, _ = _span_messages(llm[-1])
    roles = {"system", "user", "assistant", "tool"}
    messages = [
        {
            "role": m["role"] if m.get("role") in roles else "user",
            "content": str(m.get("content") or ""),
        }
        for m in inputs
    ]
    return messages, llm[-1].model


def _job_key(store: Store, job: Job) -> str | None:
    key = job.attribute("job.idempotency_key")
    if key:
        return str(key)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(tool_calls.c.idempotency_key)
            .where(
                tool_calls.c.trace_id.in_(job.trace_ids),
                tool_calls.c.idempotency_key.is_not(None),
            )
            .order_by(tool_calls.c.trace_id, tool_calls.c.span_id, tool_calls.c.position)
            .limit(1)
        ).first()
    return row[0] if row else None


def run_validators(
    rules: JobRules, output: Any, context: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """``(validator name, reason, detail)`` for every validator the output fails. A validator
    that raises is a usage error naming its declaration line (never a silent pass)."""
    failures = []
    for validator in rules.validators:
        try:
            detail = validator.check(output, context)
        except AssayError:
            raise
        except Exception as exc:
            raise SpecError(
                f"validator {validator.name!r} raised {type(exc).__name__}: {exc}",
                where=validator.where,
                fix="a validator returns None (pass) or a reason; it must not raise",
            ) from None
        if detail is not None:
            failures.append((validator.name, validator.reason, detail))
    return failures


def dead_letter_id(job: str, job_id: str, reason: str) -> str:
    """The dead letter's id: a hash of (job kind, job id, reason), so re-validating is
    idempotent."""
    return hashlib.blake2b(f"{job}\x00{job_id}\x00{reason}".encode(), digest_size=16).hexdigest()


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


@dataclass
class ValidationReport:
    """What :func:`validate_jobs` found and queued."""

    window: TraceWindow
    checked: Counter[str]
    failures: list[dict[str, Any]]
    queued: int
    no_output: list[str]
    findings: list[Finding]
    per_validator: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_dict(),
            "jobs_checked": dict(self.checked),
            "validators": [
                {
                    "job": job,
                    "validator": name,
                    "failure_rate": rate_dict(counts["failed"], counts["checked"]),
                }
                for job, by in sorted(self.per_validator.items())
                for name, counts in sorted(by.items())
            ],
            "dead_letters": self.failures,
            "newly_queued": self.queued,
            "jobs_without_output": self.no_output,
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def validate_jobs(
    store: Store,
    declarations: Declarations,
    window: TraceWindow = TraceWindow(),
    *,
    write: bool = True,
) -> ValidationReport:
    """Run every declared validator over every job's output; failures go to the DLQ."""
    kinds = {k: r for k, r in declarations.jobs.items() if r.validators}
    if not kinds:
        raise AssayError(
            "no job declares validators",
            where=declarations.doc.filename if declarations.doc else "--spec",
            fix="add `validators:` (catalog or python) under jobs.<kind>",
        )
    checked: Counter[str] = Counter()
    per_validator: dict[str, dict[str, Counter[str]]] = {}
    failures: list[dict[str, Any]] = []
    no_output: list[str] = []
    rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for job in read_jobs(store, declarations, window):
        rules = kinds.get(job.kind)
        if rules is None:
            continue
        output = job_output(job)
        if output is None:
            no_output.append(job.job_id)
            continue
        checked[job.kind] += 1
        key = _job_key(store, job)
        context = {"job": job.kind, "job_id": job.job_id, "idempotency_key": key}
        found = run_validators(rules, output, context)
        by = per_validator.setdefault(job.kind, {})
        for validator in rules.validators:
            counts = by.setdefault(validator.name, Counter())
            counts["checked"] += 1
            counts["failed"] += any(name == validator.name for name, _, _ in found)
        if not found:
            continue
        messages, model = model_step(job)
        for _, reason, detail in found:
            entry = {
                "id": dead_letter_id(job.kind, job.job_id, reason),
                "job": job.kind,
                "job_id": job.job_id,
                "trace_id": job.trace_ids[0],
                "reason": reason,
                "detail": detail,
                "idempotency_key": key,
            }
            failures.append(entry)
            rows.append(
                {
                    **entry,
                    "input_json": _dumps(messages or None),
                    "output_json": _dumps(output),
                    "model": model,
                    "status": "open",
                    "created_at": now,
                    "updated_at": now,
                }
            )
    queued = _queue(store, rows) if write else 0
    findings = [
        Finding(
            code="semantic_failure",
            message=f"{f['job']} {f['job_id']}: {f['reason']} ({f['detail']})",
            fix=f"assay jobs replay {f['id'][:12]} --model … or --system … (a fix), then check",
            refs=[{"dead_letter": f["id"], "job_id": f["job_id"], "trace_id": f["trace_id"]}],
            details={"reason": f["reason"]},
        )
        for f in failures
    ]
    return ValidationReport(window, checked, failures, queued, no_output, findings, per_validator)


def _queue(store: Store, rows: list[dict[str, Any]]) -> int:
    """Insert dead letters not already queued; the number inserted."""
    if not rows:
        return 0
    with store.engine.begin() as conn:
        known = {
            r[0]
            for r in conn.execute(
                select(dead_letters.c.id).where(dead_letters.c.id.in_([r["id"] for r in rows]))
            )
        }
        fresh = [r for r in rows if r["id"] not in known]
        if fresh:
            conn.execute(dead_letters.insert(), fresh)
    return len(fresh)


# -- reading the queue ----------------------------------------------------------------------------


def _letter(row: Any) -> dict[str, Any]:
    def load(text: str | None) -> Any:
        return None if text is None else json.loads(text)

    return {
        "id": row.id,
        "job": row.job,
        "job_id": row.job_id,
        "trace_id": row.trace_id,
        "reason": row.reason,
        "detail": row.detail,
        "input": load(row.input_json),
        "output": load(row.output_json),
        "model": row.model,
        "idempotency_key": row.idempotency_key,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _replay_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "run_id": row.run_id,
        "fix": json.loads(row.fix_json),
        "output": None if row.output_json is None else json.loads(row.output_json),
        "passed": bool(row.passed),
        "reason": row.reason,
        "idempotency_key": row.idempotency_key,
        "created_at": row.created_at.isoformat(),
    }


def list_dead_letters(
    store: Store, *, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The dead-letter queue, newest first (optionally one status), with each letter's replays."""
    if status is not None and status not in DLQ_STATUSES:
        raise AssayError(
            f"unknown status {status!r}", where="status", fix="use " + ", ".join(DLQ_STATUSES)
        )
    query = (
        select(dead_letters)
        .order_by(dead_letters.c.created_at.desc(), dead_letters.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(dead_letters.c.status == status)
    with store.engine.connect() as conn:
        letters = [_letter(r) for r in conn.execute(query)]
        ids = [d["id"] for d in letters]
        replays: dict[str, list[dict[str, Any]]] = {}
        if ids:
            for r in conn.execute(
                select(dead_letter_replays)
                .where(dead_letter_replays.c.dead_letter_id.in_(ids))
                .order_by(dead_letter_replays.c.created_at, dead_letter_replays.c.id)
            ):
                replays.setdefault(r.dead_letter_id, []).append(_replay_dict(r))
    for letter in letters:
        letter["replays"] = replays.get(letter["id"], [])
    return letters


def dlq_summary(store: Store) -> dict[str, Any]:
    """Counts by status and by reason (the DLQ page's header)."""
    from sqlalchemy import func

    with store.engine.connect() as conn:
        by_status: dict[str, int] = dict(
            conn.execute(
                select(dead_letters.c.status, func.count()).group_by(dead_letters.c.status)
            ).all()
        )
        by_reason: dict[str, int] = dict(
            conn.execute(
                select(dead_letters.c.reason, func.count()).group_by(dead_letters.c.reason)
            ).all()
        )
    return {
        "total": sum(by_status.values()),
        "by_status": {s: int(by_status.get(s, 0)) for s in DLQ_STATUSES},
        "by_reason": {k: int(v) for k, v in sorted(by_reason.items())},
    }


def get_dead_letter(store: Store, ref: str) -> dict[str, Any]:
    """One dead letter by id or unique id prefix (at least 4 characters)."""
    text = ref.strip().lower()
    if len(text) < 4 or not re.fullmatch(r"[0-9a-f]+", text):
        raise StoreError(
            f"{ref!r} is not a dead-letter id",
            where="ID",
            fix="give an id (or a prefix of 4+ hex digits) from `assay jobs dlq`",
        )
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(dead_letters).where(dead_letters.c.id.like(text + "%")).limit(3)
        ).all()
    if not rows:
        raise StoreError(
            f"no dead letter {ref!r}", where="ID", fix="list the queue with `assay jobs dlq`"
        )
    if len(rows) > 1:
        raise StoreError(
            f"{ref!r} names more than one dead letter", where="ID", fix="give more of the id"
        )
    letter = _letter(rows[0])
    with store.engine.connect() as conn:
        letter["replays"] = [
            _replay_dict(r)
            for r in conn.execute(
                select(dead_letter_replays)
                .where(dead_letter_replays.c.dead_letter_id == letter["id"])
                .order_by(dead_letter_replays.c.created_at, dead_letter_replays.c.id)
            )
        ]
    return letter


# -- replay ---------------------------------------------------------------------------------------


@dataclass
class ReplayOutcome:
    """One replay of a dead letter: the run, the new output, and the validators' verdict."""

    dead_letter: dict[str, Any]
    run_id: str
    output: Any
    passed: bool
    failures: list[tuple[str, str, str]]
    idempotency_key: str | None
    fix: dict[str, Any]
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dead_letter": self.dead_letter["id"],
            "job": self.dead_letter["job"],
            "job_id": self.dead_letter["job_id"],
            "original_reason": self.dead_letter["reason"],
            "run_id": self.run_id,
            "fix": self.fix,
            "idempotency_key": self.idempotency_key,
            "output": self.output,
            "passed": self.passed,
            "error": self.error,
            "failures": [{"validator": n, "reason": r, "detail": d} for n, r, d in self.failures],
            "status": "resolved" if self.passed else "replay_failed",
        }


def _replay_eval(
    letter: dict[str, Any],
    declarations: Declarations,
    *,
    spec: str | Path | None,
    model: str | None,
    system: str | None,
    subject: Any,
) -> tuple[Any, dict[str, Any]]:
    from assay.run import Eval, eval_from_spec
    from assay.run.yamlfile import load_yaml

    messages = letter["input"] or []
    if not messages:
        raise AssayError(
            f"dead letter {letter['id'][:12]} holds no model input to replay",
            where="ID",
            fix="the job's trace has no LLM span with input messages",
        )
    record = {
        "id": letter["id"],
        "input": messages,
        "metadata": {
            "idempotency_key": letter["idempotency_key"],
            "job": letter["job"],
            "job_id": letter["job_id"],
            "dead_letter": letter["id"],
        },
    }
    name = f"dlq-replay-{letter['job']}"
    if subject is not None:
        from assay.data import dataset_from_records

        fix = {"subject": getattr(subject, "name", "subject"), "kind": subject.kind}
        ev = Eval(
            name=name,
            dataset=dataset_from_records([record], name=name),
            subjects=[subject],
            scorers=[],
            concurrency=1,
        )
        return ev, fix
    if spec is not None:
        path = Path(spec)
        if not path.is_file():
            raise SpecError(f"spec file not found: {spec}", where="--spec")
        doc = load_yaml(path)
        if not isinstance(doc.data, dict):
            raise SpecError("the spec must be a mapping", where=doc.where(()))
        data = dict(doc.data)
        data["name"] = name
        data["dataset"] = {"samples": [record], "name": name}
        data["slices"] = []
        data["scorers"] = []
        for key in ("cluster", "pairwise", "anchors"):
            data.pop(key, None)
        subjects = []
        for s in data.get("subjects") or []:
            if (
                isinstance(s, dict)
                and isinstance(s.get("http"), dict)
                and letter["idempotency_key"]
            ):
                http = dict(s["http"])
                http["headers"] = {
                    **(http.get("headers") or {}),
                    "Idempotency-Key": letter["idempotency_key"],
                }
                s = {**s, "http": http}
            subjects.append(s)
        data["subjects"] = subjects
        fix = {
            "spec": str(path),
            "subjects": [s.get("name") for s in subjects if isinstance(s, dict)],
        }
        return eval_from_spec(data, base_dir=path.resolve().parent, doc=doc), fix
    chosen = model or letter["model"]
    if not chosen:
        raise AssayError(
            "the dead letter records no model and none was given",
            where="--model",
            fix="give --model <provider>/<model> (and --system for a new system prompt)",
        )
    if "/" not in chosen:
        raise AssayError(
            f"model {chosen!r} does not name a provider",
            where="--model",
            fix="write <provider>/<model>, e.g. openai/gpt-4o-mini",
        )
    subject_spec: dict[str, Any] = {"name": "fix", "model": chosen}
    if system is not None:
        subject_spec["system"] = system
    data = {
        "name": name,
        "dataset": {"samples": [record], "name": name},
        "subjects": [subject_spec],
        "scorers": [],
        "providers": declarations.providers,
    }
    base = declarations.base_dir or Path.cwd()
    fix = {"model": chosen, "system": system}
    return eval_from_spec(data, base_dir=base), fix


def replay_dead_letter(
    store: Store,
    ref: str,
    declarations: Declarations,
    *,
    spec: str | Path | None = None,
    model: str | None = None,
    system: str | None = None,
    subject: Any = None,
    options: Any = None,
) -> ReplayOutcome:
    """Re-run a dead letter's model step with a fix, validate the new output, record it."""
    from assay.run import RunOptions
    from assay.run import run as run_eval

    letter = get_dead_letter(store, ref)
    rules = declarations.jobs.get(letter["job"])
    if rules is None or not rules.validators:
        raise AssayError(
            f"the declaration has no validators for job {letter['job']!r}",
            where=declarations.doc.filename if declarations.doc else "--spec",
            fix="give the declaration file the dead letter was queued with",
        )
    if system is not None and Path(system).is_file():
        system = Path(system).read_text(encoding="utf-8")
    ev, fix = _replay_eval(
        letter, declarations, spec=spec, model=model, system=system, subject=subject
    )
    outcome = run_eval(ev, db=store, options=options or RunOptions(cache=False))
    results = list(store.iter_results(outcome.run_id))
    output: Any = None
    error: str | None = None
    failures: list[tuple[str, str, str]] = []
    if not results or results[0].output is None:
        error = results[0].error if results else "the run stored no result"
        failures = [("run", "replay_error", error or "no output")]
    else:
        output = parse_output(results[0].output.text)
        context = {
            "job": letter["job"],
            "job_id": letter["job_id"],
            "idempotency_key": letter["idempotency_key"],
        }
        failures = run_validators(rules, output, context)
    passed = not failures
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        conn.execute(
            dead_letter_replays.insert(),
            [
                {
                    "id": uuid.uuid4().hex,
                    "dead_letter_id": letter["id"],
                    "run_id": outcome.run_id,
                    "fix_json": json.dumps(fix, default=str),
                    "output_json": _dumps(output),
                    "passed": passed,
                    "reason": "; ".join(f"{r}: {d}" for _, r, d in failures) or None,
                    "idempotency_key": letter["idempotency_key"],
                    "created_at": now,
                }
            ],
        )
        conn.execute(
            update(dead_letters)
            .where(dead_letters.c.id == letter["id"])
            .values(status="resolved" if passed else "replay_failed", updated_at=now)
        )
    return ReplayOutcome(
        letter, outcome.run_id, output, passed, failures, letter["idempotency_key"], fix, error
    )
