"""Retention conformance (I5): a deletion or retention job must not delete the context of a
still-active session without an explicit marker, and must delete what its policy says.

The retention sibling's incident: a worker deleted messages older than 30 days inside a session
that was still going, and at turn 41 the assistant no longer knew what it had agreed to. The
declaration (``retention.yaml``)::

    policy: {max_age: 30d, active_within: 7d}   # active: a turn in the last 7 days
    turns:                                      # where conversation turns live
      kind: database                            # or jsonl (a snapshot file)
      url: sqlite:///chat.db
      table: messages
      columns: {session: session_id, turn: id, time: created_at, tombstone: deleted}
    tombstones:                                 # optional: a separate table of markers
      kind: database
      url: sqlite:///chat.db
      table: deletion_markers
      columns: {session: session_id, turn: turn_id}
    job: {command: "python retention_job.py chat.db", timeout: 120}
    activity: trace_store                       # optional: session activity from assay's store

With ``job``, the harness snapshots the turns, runs the job, and snapshots again; without it,
give two snapshots as ``before:`` and ``after:`` (each a turn source). Rules, at ``now`` (the
time of the check, or ``--now``):

* a session is **active** when its last activity — its newest turn in the *before* snapshot,
  or its newest trace in the assay store with ``activity: trace_store`` — is within
  ``active_within`` of now;
* a turn **vanished** when it is in *before* and not in *after*; it is **marked** when a
  tombstone names it (a truthy tombstone column on a row still present, or a row of the
  tombstones source with its session and turn, or its whole session);
* a vanished, unmarked turn of an active session → ``active_session_context_deleted`` (fail);
* a vanished turn younger than ``max_age`` in an inactive session → ``deleted_too_early``
  (fail);
* a turn older than ``max_age`` in an inactive session still present (and unmarked) after the
  job → ``retention_not_applied`` (fail: the policy's promise is broken the other way).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.core import AssayError, SpecError
from assay.core.findings import Finding, failed
from assay.corpus.contracts import parse_datetime
from assay.run.declarations import load_declaration, parse_duration, resolve_path
from assay.run.yamlfile import LocatedYaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Columns(_Strict):
    session: str = "session_id"
    turn: str = "id"
    time: str = "created_at"
    tombstone: str | None = None


class TurnSource(_Strict):
    kind: Literal["database", "jsonl"]
    url: str | None = None
    table: str | None = None
    path: str | None = None
    columns: Columns = Field(default_factory=Columns)

    @model_validator(mode="after")
    def _where(self) -> TurnSource:
        if self.kind == "database" and not (self.url and self.table):
            raise ValueError("a database source needs `url` and `table`")
        if self.kind == "jsonl" and not self.path:
            raise ValueError("a jsonl source needs `path`")
        return self


class Policy(_Strict):
    max_age: str | float
    active_within: str | float = "7d"


class Job(_Strict):
    command: str
    timeout: float = Field(default=300.0, gt=0)


class RetentionSpec(_Strict):
    policy: Policy
    turns: TurnSource | None = None
    before: TurnSource | None = None
    after: TurnSource | None = None
    tombstones: TurnSource | None = None
    job: Job | None = None
    activity: Literal["turns", "trace_store"] = "turns"

    @model_validator(mode="after")
    def _mode(self) -> RetentionSpec:
        harness = self.turns is not None and self.job is not None
        snapshots = self.before is not None and self.after is not None
        if harness == snapshots:
            raise ValueError(
                "give either `turns` and `job` (run the job between two snapshots) or "
                "`before` and `after` (two snapshots)"
            )
        return self


@dataclass(frozen=True)
class Turn:
    session: str
    turn: str
    time: datetime | None
    tombstone: bool = False


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "null")
    return bool(value)


def read_turns(
    source: TurnSource, doc: LocatedYaml | None, where: str, *, need_time: bool = True
) -> list[Turn]:
    """Every turn a source holds (a tombstones source needs no time column)."""
    cols = source.columns
    rows: list[dict[str, Any]] = []
    if source.kind == "jsonl":
        path = resolve_path(doc, str(source.path))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"file {source.path!r} not found", where=where) from None
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise SpecError(f"not JSON: {exc}", where=f"{path}:{number}") from None
    else:
        from sqlalchemy import MetaData, Table, create_engine, select
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.pool import NullPool

        from assay.store.engine import sqlite_file

        file = sqlite_file(str(source.url))
        if file is not None and not file.exists():
            raise SpecError(f"no database file at {file}", where=where)
        engine = create_engine(str(source.url), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                table = Table(str(source.table), MetaData(), autoload_with=conn)
                names = [cols.session, cols.turn] + ([cols.time] if need_time else [])
                names += [cols.tombstone] if cols.tombstone else []
                missing = [n for n in names if n not in table.c]
                if missing:
                    raise SpecError(
                        f"table {source.table} has no column {missing[0]!r}",
                        where=where,
                        fix="name the columns under `columns:`",
                    )
                rows = [dict(r._mapping) for r in conn.execute(select(table))]
        except SQLAlchemyError as exc:
            raise AssayError(
                f"cannot read turns: {str(exc).splitlines()[0]}", where=where
            ) from None
        finally:
            engine.dispose()
    turns = []
    for row in rows:
        if cols.session not in row or cols.turn not in row:
            continue
        turns.append(
            Turn(
                session=str(row[cols.session]),
                turn=str(row[cols.turn]),
                time=parse_datetime(row.get(cols.time)),
                tombstone=_truthy(row.get(cols.tombstone)) if cols.tombstone else False,
            )
        )
    return turns


@dataclass
class RetentionReport:
    """What :func:`retention_conformance` found."""

    now: datetime
    max_age: timedelta
    active_within: timedelta
    sessions: list[dict[str, Any]]
    vanished: int
    findings: list[Finding]
    job: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "max_age_days": self.max_age.total_seconds() / 86400,
            "active_within_days": self.active_within.total_seconds() / 86400,
            "turns_vanished": self.vanished,
            "sessions": self.sessions,
            "job": self.job,
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def retention_conformance(
    before: list[Turn],
    after: list[Turn],
    *,
    max_age: timedelta,
    active_within: timedelta,
    now: datetime,
    tombstones: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    activity: dict[str, datetime] | None = None,
) -> RetentionReport:
    """Compare two snapshots around a retention job (rules in the module docstring)."""
    present = {(t.session, t.turn): t for t in after}
    marked = set(tombstones) | {(t.session, t.turn) for t in after if t.tombstone}
    marked_sessions = {s for s, turn in tombstones if turn in ("", "*")}
    last: dict[str, datetime] = dict(activity or {})
    first: dict[str, datetime] = {}
    for t in before:
        if t.time is None:
            continue
        last[t.session] = max(last.get(t.session, t.time), t.time)
        first[t.session] = min(first.get(t.session, t.time), t.time)
    by_session: dict[str, dict[str, list[Turn]]] = defaultdict(
        lambda: {"vanished": [], "unmarked": [], "too_early": [], "kept_expired": []}
    )
    vanished = 0
    for t in before:
        key = (t.session, t.turn)
        is_marked = key in marked or t.session in marked_sessions
        active = t.session in last and now - last[t.session] <= active_within
        old = t.time is not None and now - t.time > max_age
        if key not in present:
            vanished += 1
            by_session[t.session]["vanished"].append(t)
            if active and not is_marked:
                by_session[t.session]["unmarked"].append(t)
            elif not active and not old and not is_marked:
                by_session[t.session]["too_early"].append(t)
        elif not active and old and not is_marked:
            by_session[t.session]["kept_expired"].append(t)
    findings: list[Finding] = []
    sessions = []
    for session, groups in sorted(by_session.items()):
        age_days = (now - first[session]).total_seconds() / 86400 if session in first else None
        info = {
            "session": session,
            "active": session in last and now - last[session] <= active_within,
            "first_turn": first[session].isoformat() if session in first else None,
            "last_activity": last[session].isoformat() if session in last else None,
            "age_days": age_days,
            "vanished": len(groups["vanished"]),
            "vanished_unmarked_while_active": len(groups["unmarked"]),
        }
        sessions.append(info)
        refs = [{"session": session, "turns": [t.turn for t in groups["unmarked"]][:20]}]
        if groups["unmarked"]:
            findings.append(
                Finding(
                    code="active_session_context_deleted",
                    message=f"session {session} (active, {age_days or 0:.0f} days old, last "
                    f"activity {info['last_activity']}) lost {len(groups['unmarked'])} turns "
                    "without a tombstone",
                    fix="skip sessions active within the window, or write a tombstone the "
                    "assistant can see (a summary marker) before deleting context",
                    refs=refs,
                    details=info,
                )
            )
        if groups["too_early"]:
            findings.append(
                Finding(
                    code="deleted_too_early",
                    message=f"session {session}: {len(groups['too_early'])} turns younger than "
                    f"{max_age.days} days were deleted",
                    refs=[{"session": session, "turns": [t.turn for t in groups["too_early"]]}],
                )
            )
        if groups["kept_expired"]:
            findings.append(
                Finding(
                    code="retention_not_applied",
                    message=f"session {session}: {len(groups['kept_expired'])} turns older than "
                    f"{max_age.days} days are still there",
                    fix="the retention job must delete (or tombstone) expired turns",
                    refs=[{"session": session, "turns": [t.turn for t in groups["kept_expired"]]}],
                )
            )
    return RetentionReport(now, max_age, active_within, sessions, vanished, findings)


def _trace_activity(store: Any) -> dict[str, datetime]:
    from sqlalchemy import func, select

    from assay.store.tables import traces

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(traces.c.session_id, func.max(traces.c.end_time))
            .where(traces.c.session_id.is_not(None))
            .group_by(traces.c.session_id)
        ).all()
    return {str(s): t if t.tzinfo else t.replace(tzinfo=UTC) for s, t in rows}


def check_retention(
    path: str | Path, *, now: datetime | None = None, store: Any = None
) -> RetentionReport:
    """Run the retention conformance check a declaration file describes."""
    spec, doc = load_declaration(path, RetentionSpec, "a retention declaration")
    max_age = parse_duration(spec.policy.max_age, where=doc.where(("policy", "max_age")))
    active = parse_duration(spec.policy.active_within, where=doc.where(("policy", "active_within")))
    job_info = None
    if spec.job is not None:
        assert spec.turns is not None
        before = read_turns(spec.turns, doc, doc.where(("turns",)))
        moment = now or datetime.now(UTC)
        base = Path(doc.filename).resolve().parent
        try:
            done = subprocess.run(
                shlex.split(spec.job.command),
                cwd=base,
                capture_output=True,
                text=True,
                timeout=spec.job.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AssayError(
                f"the retention job did not run: {exc}", where=doc.where(("job", "command"))
            ) from None
        job_info = {"command": spec.job.command, "exit_code": done.returncode}
        if done.returncode != 0:
            raise AssayError(
                f"the retention job exited {done.returncode}: {done.stderr.strip()[-300:]}",
                where=doc.where(("job", "command")),
            )
        after = read_turns(spec.turns, doc, doc.where(("turns",)))
    else:
        assert spec.before is not None and spec.after is not None
        before = read_turns(spec.before, doc, doc.where(("before",)))
        after = read_turns(spec.after, doc, doc.where(("after",)))
        moment = now or datetime.now(UTC)
    tombstones: set[tuple[str, str]] = set()
    if spec.tombstones is not None:
        marks = read_turns(spec.tombstones, doc, doc.where(("tombstones",)), need_time=False)
        tombstones = {(t.session, t.turn) for t in marks}
    activity = None
    if spec.activity == "trace_store":
        if store is None:
            raise AssayError("activity: trace_store needs a store", where="--db")
        activity = _trace_activity(store)
    report = retention_conformance(
        before,
        after,
        max_age=max_age,
        active_within=active,
        now=moment,
        tombstones=tombstones,
        activity=activity,
    )
    report.job = job_info
    return report
