"""Online judges: a run whose dataset is a sample of production traces.

Monitoring never calls a model itself. :func:`judge_traffic` picks the units to grade
(:mod:`assay.monitor.sampling`: stratified by route and segment, failed and flagged traces
always included), turns each into a sample — the (redacted) input the app received, the
output it gave as a precomputed subject's output — and runs the judge's scorers through the
ordinary runner, with its cache, pacing, retries and store. The run is stored like any other
(``assay show RUN`` shows each judge call's prompt, model, tokens, cost and latency), and each
score is written back against the trace as a ``trace_scores`` row (``source='judge'``), linked
to its run and result in ``online_judgements``.

**Scopes.** ``span``: every successful LLM call of a trace, graded on its own messages.
``trace``: the whole request (its first LLM input, its final answer). ``session``: the
conversation (every turn's input and answer, the last answer graded). A unit is judged once it
is complete: its last span ended at least ``quiet`` before ``now`` (for a session, its last
trace). Units already judged by the same judge are skipped, so passes can repeat and a
``--since`` in the past backfills a historical window with the same evaluator.

**Judge drift.** Give the judge ``anchors:`` (a frozen set of input/output pairs): every run
re-scores them with fresh calls, and their fingerprint, with the judge's resolved snapshots and
``system_fingerprint``s, lands in the run's manifest; the substrate timeline turns a change of
any of them into a ``judge`` event (:func:`assay.monitor.substrate.detect_judge_changes`), and
"what changed" ranks it first for a judge-score change, so "the judge moved" is told apart
from "the app moved".

A score is named after the judge (``name:``) when the judge has one scorer, else
``<judge>.<scorer>``; watch it with the ``judge_score: {name: …}`` signal.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.core import AssayError, SpecError, content_hash
from assay.monitor.sampling import Chosen, Unit, choose
from assay.monitor.signals import route_traces
from assay.monitor.spec import JudgeSpec, Monitors
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import online_judgements, spans, trace_scores

_IN_CHUNK = 400


@dataclass
class JudgeReport:
    """What one judge's pass did."""

    judge: str
    scope: str
    candidates: int
    chosen: int
    reasons: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    scores: int = 0
    errors: int = 0
    skipped_no_input: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "scope": self.scope,
            "candidates": self.candidates,
            "chosen": self.chosen,
            "reasons": self.reasons,
            "run_id": self.run_id,
            "scores": self.scores,
            "errors": self.errors,
            "skipped_no_input": self.skipped_no_input,
        }


@dataclass(frozen=True)
class _Material:
    unit: Unit
    input: Any
    output: str
    model: str | None
    span_id: str | None


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _root_attributes(store: Store, ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            for trace_id, attrs in conn.execute(
                select(spans.c.trace_id, spans.c.attributes_json).where(
                    spans.c.trace_id.in_(chunk), spans.c.parent_id.is_(None)
                )
            ):
                out.setdefault(trace_id, _loads(attrs) or {})
    return out


def _judged(store: Store, judge: str) -> set[tuple[str, str | None]]:
    with store.engine.connect() as conn:
        return {
            (r.trace_id, r.span_id)
            for r in conn.execute(
                select(online_judgements.c.trace_id, online_judgements.c.span_id).where(
                    online_judgements.c.judge == judge
                )
            )
        }


def candidate_units(
    store: Store,
    monitors: Monitors,
    judge: JudgeSpec,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
) -> list[Unit]:
    """The complete, not-yet-judged units of the judge's routes in [since, until)."""
    from assay.monitor.spec import _duration
    from assay.trace.labels import failed_traces

    quiet = _duration(judge.quiet, f"judges.{judge.name}.quiet")
    rows = []
    with store.engine.connect() as conn:
        for name in judge.routes:
            route = monitors.route(name)
            rows.extend((name, r) for r in route_traces(conn, route, since, until))
    ids = [r.id for _, r in rows]
    attrs = _root_attributes(store, ids) if judge.sample.by else {}
    # Failed by evidence other than the online judges' own scores (feedback, outcomes,
    # evaluations sent with the trace): otherwise one judge's verdicts would keep growing the
    # "always included" part of every other judge's sample, pass after pass.
    verdicts = failed_traces(store, ids) if "failed" in judge.sample.always and ids else {}
    failed = {t for t, v in verdicts.items() if any(not r.startswith("judge ") for r in v.reasons)}
    judged = _judged(store, judge.name)
    cutoff = now - quiet

    def stratum(route: str, trace_id: str) -> tuple[str, ...]:
        a = attrs.get(trace_id, {})
        return (route, *(str(a.get(k)) for k in judge.sample.by))

    units: list[Unit] = []
    if judge.scope == "trace":
        for route, r in rows:
            if r.end <= cutoff and (r.id, None) not in judged:
                units.append(
                    Unit(r.id, r.id, stratum(route, r.id), r.id in failed, r.status == "error")
                )
    elif judge.scope == "session":
        sessions: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for route, r in rows:
            sessions[r.session_id or f"trace:{r.id}"].append((route, r))
        for sid, items in sessions.items():
            last = max(items, key=lambda x: x[1].end)[1]
            if last.end > cutoff or (last.id, None) in judged:
                continue
            units.append(
                Unit(
                    f"session:{sid}",
                    last.id,
                    stratum(items[0][0], items[0][1].id),
                    any(r.id in failed for _, r in items),
                    any(r.status == "error" for _, r in items),
                )
            )
    else:
        by_trace = {r.id: (route, r) for route, r in rows if r.end <= cutoff}
        with store.engine.connect() as conn:
            keys = list(by_trace)
            for start in range(0, len(keys), _IN_CHUNK):
                for trace_id, span_id in conn.execute(
                    select(spans.c.trace_id, spans.c.span_id)
                    .where(
                        spans.c.trace_id.in_(keys[start : start + _IN_CHUNK]),
                        spans.c.kind == "llm",
                        spans.c.status != "error",
                    )
                    .order_by(spans.c.start_time)
                ):
                    if (trace_id, span_id) in judged:
                        continue
                    route, r = by_trace[trace_id]
                    units.append(
                        Unit(
                            f"{trace_id}:{span_id}",
                            trace_id,
                            stratum(route, trace_id),
                            trace_id in failed,
                            False,
                        )
                    )
    return units


def _materials(store: Store, judge: JudgeSpec, chosen: list[Chosen]) -> tuple[list[_Material], int]:
    from assay.trace.material import _as_input, _as_output, trace_material

    out: list[_Material] = []
    skipped = 0
    if judge.scope == "span":
        keys = [tuple(c.unit.id.split(":")) for c in chosen]
        rows: dict[tuple[str, str], Any] = {}
        with store.engine.connect() as conn:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                from sqlalchemy import tuple_

                for row in conn.execute(
                    select(
                        spans.c.trace_id,
                        spans.c.span_id,
                        spans.c.input_json,
                        spans.c.output_json,
                        spans.c.model_resolved,
                        spans.c.model_requested,
                    ).where(tuple_(spans.c.trace_id, spans.c.span_id).in_(chunk))
                ):
                    rows[(row.trace_id, row.span_id)] = row
        for c in chosen:
            trace_id, span_id = c.unit.id.split(":")
            row = rows.get((trace_id, span_id))
            inp = _as_input(_loads(row.input_json)) if row is not None else None
            outp = _as_output(_loads(row.output_json)) if row is not None else None
            if inp is None or outp is None:
                skipped += 1
                continue
            out.append(
                _Material(c.unit, inp, outp, row.model_resolved or row.model_requested, span_id)
            )
        return out, skipped
    if judge.scope == "trace":
        for c in chosen:
            m = trace_material(store, c.unit.trace_id, missing_ok=True)
            if m is None or m.input is None or m.output is None:
                skipped += 1
                continue
            out.append(_Material(c.unit, m.input, m.output, None, None))
        return out, skipped
    # session: every turn of the conversation, the last answer graded
    from assay.store.tables import traces as traces_t

    for c in chosen:
        sid = c.unit.id.removeprefix("session:")
        if sid.startswith("trace:"):
            ids = [sid.removeprefix("trace:")]
        else:
            with store.engine.connect() as conn:
                ids = [
                    r[0]
                    for r in conn.execute(
                        select(traces_t.c.id)
                        .where(traces_t.c.session_id == sid)
                        .order_by(traces_t.c.start_time)
                    )
                ]
        turns: list[dict[str, str]] = []
        last_output = None
        for trace_id in ids:
            m = trace_material(store, trace_id, missing_ok=True)
            if m is None or m.input is None:
                continue
            text = (
                m.input
                if isinstance(m.input, str)
                else next(
                    (x["content"] for x in reversed(m.input) if x.get("role") == "user"), None
                )
            )
            if last_output is not None:
                turns.append({"role": "assistant", "content": last_output})
            if text:
                turns.append({"role": "user", "content": text})
            last_output = m.output
        if not turns or last_output is None:
            skipped += 1
            continue
        out.append(_Material(c.unit, turns, last_output, None, None))
    return out, skipped


def _score_name(judge: JudgeSpec, scorer: str, n_scorers: int) -> str:
    return judge.name if n_scorers == 1 else f"{judge.name}.{scorer}"


def judge_traffic(
    store: Store,
    monitors: Monitors,
    judge_name: str | None = None,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    options: Any = None,
    on_progress: Callable[[Any], None] | None = None,
) -> list[JudgeReport]:
    """Run the online judges (one, or all) over complete, unjudged traffic in [since, until)
    (default: the monitors' lookback up to ``now``); see the module docstring."""
    from assay.run import RunOptions, eval_from_spec
    from assay.run import run as run_eval
    from assay.store.codec import result_id

    now = (now or datetime.now(UTC)).astimezone(UTC)
    until = until or now
    since = since or (until - monitors.lookback)
    judges = [j for j in monitors.judges if judge_name is None or j.name == judge_name]
    if not judges:
        raise AssayError(
            f"no online judge {judge_name!r} in {monitors.source}"
            if judge_name
            else f"{monitors.source} declares no `judges:`",
            where="--judge" if judge_name else monitors.source,
            fix="declare one under `judges:` (name, routes, scope, sample, scorers)",
        )
    reports = []
    for judge in judges:
        units = candidate_units(store, monitors, judge, since=since, until=until, now=now)
        chosen = choose(
            units,
            rate=judge.sample.rate,
            seed=judge.sample.seed,
            always=judge.sample.always,
            limit=judge.sample.max,
        )
        report = JudgeReport(judge.name, judge.scope, len(units), len(chosen))
        for c in chosen:
            report.reasons[c.reason] = report.reasons.get(c.reason, 0) + 1
        materials, report.skipped_no_input = _materials(store, judge, chosen)
        reports.append(report)
        if not materials:
            continue
        with tempfile.TemporaryDirectory(prefix="assay-judge-") as tmp:
            outputs = Path(tmp) / "outputs.jsonl"
            with outputs.open("w", encoding="utf-8") as fh:
                for m in materials:
                    fh.write(
                        json.dumps({"id": m.unit.id, "output": m.output, "model": m.model}) + "\n"
                    )
            data: dict[str, Any] = {
                "name": f"online-{judge.name}",
                "dataset": {
                    "name": f"traces-{judge.name}",
                    "samples": [
                        {
                            "id": m.unit.id,
                            "input": m.input,
                            "metadata": {
                                "route": m.unit.stratum[0],
                                "stratum": "/".join(m.unit.stratum),
                                "trace_id": m.unit.trace_id,
                                "scope": judge.scope,
                            },
                        }
                        for m in materials
                    ],
                },
                "subjects": [{"name": "production", "outputs": str(outputs)}],
                "scorers": judge.scorers,
                "seed": judge.sample.seed,
                "concurrency": judge.concurrency,
            }
            if judge.providers:
                data["providers"] = judge.providers
            if judge.anchors:
                anchors = Path(judge.anchors)
                data["anchors"] = str(
                    anchors if anchors.is_absolute() else monitors.base_dir / anchors
                )
            try:
                ev = eval_from_spec(data, base_dir=monitors.base_dir)
            except SpecError as exc:
                raise SpecError(
                    exc.message, where=f"{monitors.source} (judges.{judge.name})", fix=exc.fix
                ) from None
            outcome = run_eval(
                ev, db=store, options=options or RunOptions(), on_progress=on_progress
            )
        report.run_id = outcome.run_id
        by_id = {m.unit.id: m for m in materials}
        reasons = {c.unit.id: c.reason for c in chosen}
        created = datetime.now(UTC)
        score_rows: list[dict[str, Any]] = []
        link_rows: list[dict[str, Any]] = []
        for result in store.iter_results(outcome.run_id):
            m = by_id.get(result.sample_id)
            if m is None:
                continue
            rid = result_id(outcome.run_id, result.subject, result.sample_id, result.epoch)
            for score in result.scores:
                name = _score_name(judge, score.scorer, len(ev.scorers))
                sid = content_hash([outcome.run_id, rid, score.scorer])[:32]
                if score.value is None:
                    report.errors += 1
                else:
                    report.scores += 1
                score_rows.append(
                    {
                        "id": sid,
                        "trace_id": m.unit.trace_id,
                        "span_id": m.span_id,
                        "name": name,
                        "value": score.value,
                        "label": "error" if score.value is None else score.answer,
                        "explanation": score.explanation
                        if score.value is not None
                        else score.error,
                        "response_id": None,
                        "source": "judge",
                        "created_at": created,
                    }
                )
                link_rows.append(
                    {
                        "trace_score_id": sid,
                        "trace_id": m.unit.trace_id,
                        "span_id": m.span_id,
                        "scope": judge.scope,
                        "judge": judge.name,
                        "run_id": outcome.run_id,
                        "result_id": rid,
                        "reason": reasons.get(m.unit.id, "stratum"),
                        "created_at": created,
                    }
                )
        from assay.trace.ingest import insert_ignore

        writer = store.engine.execution_options(**{WRITE_OPTION: True})
        with writer.begin() as conn:
            insert_ignore(conn, trace_scores, score_rows)
            insert_ignore(conn, online_judgements, link_rows)
    return reports


def judgements_of(store: Store, trace_id: str) -> list[dict[str, Any]]:
    """The online judgements of a trace with the run and result that hold the judge's call."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                online_judgements,
                trace_scores.c.name,
                trace_scores.c.value,
                trace_scores.c.explanation,
            )
            .join(trace_scores, trace_scores.c.id == online_judgements.c.trace_score_id)
            .where(online_judgements.c.trace_id == trace_id)
            .order_by(online_judgements.c.created_at)
        ).all()
    return [
        {
            "score": r.name,
            "value": r.value,
            "explanation": r.explanation,
            "scope": r.scope,
            "span_id": r.span_id,
            "judge": r.judge,
            "run_id": r.run_id,
            "result_id": r.result_id,
            "reason": r.reason,
        }
        for r in rows
    ]
