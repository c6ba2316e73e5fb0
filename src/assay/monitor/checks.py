"""Outcome and segment checks as ``monitors.yaml`` signals (E4, E5, E6, G7).

These signals are not a series of per-trace observations but a check over the route's traffic
in the lookback; each reads the store and hands the numbers to the estimators of
:mod:`assay.monitor.cohorts` (formulas and sources there), and each flag becomes an alert:

```yaml
signals:
  - segment_satisfaction: {by: app.intent, threshold: 0.75}          # E4
  - acceptance: {cohort_by: app.cohort, correct: correctness}        # E5
  - coverage_gap: {surface_by: app.surface, cases: evals/cases.jsonl, recent: 1d}   # E6
  - tokenizer_drift: {language_by: app.language, local: app.tokens.local_input}     # G7
```

- ``segment_satisfaction``: per trace, its end users' feedback ``score`` (0–1; or the trace
  score named ``score:``, e.g. a 1–5 CSAT), per value of the root-span attribute ``by`` (the
  route's ``segment_by`` by default); ``segment_fails(<segment>)`` when the aggregate meets
  ``threshold`` and a segment's t interval lies below it.
- ``acceptance``: per trace, accepted (a feedback ``label`` in ``accepted`` — default
  ``accepted`` — is 1; another label or a correction is 0) against correct (the trace score
  ``correct:`` ≥ 0.5), per cohort (root-span attribute ``cohort_by``): ``automation_bias`` /
  ``algorithm_aversion``.
- ``coverage_gap``: traffic per surface (root-span attribute ``surface_by``) in the last
  ``recent`` against the rest of the lookback, and eval cases per surface counted in the JSONL
  dataset ``cases`` (``metadata.<case_key>`` or ``<case_key>``; default key ``surface``):
  ``coverage_gap(<surface>)``.
- ``tokenizer_drift``: per successful LLM call, the provider-reported ``input_tokens`` against
  the app's local estimate (span attribute ``local``), per language (attribute ``language_by``
  on the LLM span or its trace's root span): ``tokenizer_drift(<lang>)=<pct>%``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from assay.core import SpecError
from assay.monitor.alerts import Finding
from assay.monitor.cohorts import (
    Flag,
    acceptance_vs_correctness,
    coverage_gaps,
    segment_satisfaction,
    tokenizer_drift,
)
from assay.monitor.signals import TraceRow, _chunks, json_attribute, route_traces
from assay.monitor.spec import Route, Signal
from assay.store import Store
from assay.store.tables import feedback, spans, trace_scores

#: The check signals and their options (required ones first).
CHECK_OPTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "segment_satisfaction": (("threshold",), ("by", "score", "min_n")),
    "acceptance": (("cohort_by", "correct"), ("accepted",)),
    "coverage_gap": (("surface_by", "cases"), ("case_key", "recent", "min_share", "max_cases")),
    "tokenizer_drift": (("language_by", "local"), ("tolerance",)),
}


def check_options(name: str, options: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
    """Check a check signal's options (``SpecError`` naming ``where``); resolves paths."""
    required, optional = CHECK_OPTIONS[name]
    missing = [k for k in required if options.get(k) in (None, "")]
    if missing:
        example = ", ".join(f"{k}: …" for k in required)
        raise SpecError(
            f"{name} needs {', '.join(missing)}", where=where, fix=f"{name}: {{{example}}}"
        )
    unknown = sorted(set(options) - set(required) - set(optional))
    if unknown:
        raise SpecError(
            f"unknown option(s) {', '.join(unknown)} for signal {name}",
            where=where,
            fix=f"options of {name}: {', '.join(required + optional)}",
        )
    out = dict(options)
    for key in ("threshold", "min_share", "tolerance"):
        if key in out:
            try:
                out[key] = float(out[key])
            except (TypeError, ValueError):
                raise SpecError(f"{key} must be a number", where=where) from None
    if name == "coverage_gap":
        path = Path(str(out["cases"]))
        out["cases"] = path if path.is_absolute() else base / path
        if not out["cases"].is_file():
            raise SpecError(f"cases file not found: {path}", where=where, fix="check the path")
    if name == "acceptance":
        accepted = out.get("accepted", ["accepted"])
        out["accepted"] = [accepted] if isinstance(accepted, str) else list(accepted)
    return out


def _root_attribute(conn: Connection, ids: list[str], key: str) -> dict[str, str]:
    value = json_attribute(spans.c.attributes_json, key, conn.dialect.name)
    out: dict[str, str] = {}
    for chunk in _chunks(ids):
        for trace_id, v in conn.execute(
            select(spans.c.trace_id, value).where(
                spans.c.trace_id.in_(chunk), spans.c.parent_id.is_(None), value.is_not(None)
            )
        ):
            out.setdefault(trace_id, str(v))
    return out


def _trace_scores(conn: Connection, ids: list[str], name: str) -> dict[str, float]:
    out: dict[str, list[float]] = defaultdict(list)
    for chunk in _chunks(ids):
        for trace_id, v in conn.execute(
            select(trace_scores.c.trace_id, trace_scores.c.value).where(
                trace_scores.c.trace_id.in_(chunk),
                trace_scores.c.name == name,
                trace_scores.c.value.is_not(None),
            )
        ):
            out[trace_id].append(float(v))
    return {k: sum(v) / len(v) for k, v in out.items()}


def _satisfaction(conn: Connection, rows: list[TraceRow], route: Route, o: dict) -> list[Flag]:
    ids = [r.id for r in rows]
    by = o.get("by") or route.segment_by
    if not by:
        raise SpecError(
            "segment_satisfaction needs `by:` (or the route's segment_by)", where=route.name
        )
    if o.get("score"):
        values = _trace_scores(conn, ids, str(o["score"]))
    else:
        sums: dict[str, list[float]] = defaultdict(list)
        for chunk in _chunks(ids):
            for trace_id, v in conn.execute(
                select(feedback.c.trace_id, feedback.c.value).where(
                    feedback.c.trace_id.in_(chunk),
                    feedback.c.kind == "score",
                    feedback.c.rater_role == "end_user",
                    feedback.c.value.is_not(None),
                )
            ):
                sums[trace_id].append(float(v))
        values = {k: sum(v) / len(v) for k, v in sums.items()}
    segments = _root_attribute(conn, list(values), str(by))
    keep = [t for t in values if t in segments]
    return segment_satisfaction(
        [values[t] for t in keep],
        [segments[t] for t in keep],
        threshold=o["threshold"],
        min_n=int(o.get("min_n", 10)),
    )


def _acceptance(conn: Connection, rows: list[TraceRow], o: dict) -> list[Flag]:
    import math

    ids = [r.id for r in rows]
    accepted: dict[str, float] = {}
    good = {str(a).strip().lower() for a in o["accepted"]}
    for chunk in _chunks(ids):
        for trace_id, kind, label in conn.execute(
            select(feedback.c.trace_id, feedback.c.kind, feedback.c.label).where(
                feedback.c.trace_id.in_(chunk), feedback.c.kind.in_(("label", "correction"))
            )
        ):
            ok = kind == "label" and (label or "").strip().lower() in good
            # An edit (correction) or another label means not accepted unedited.
            accepted[trace_id] = min(accepted.get(trace_id, 1.0), float(ok))
    correct = _trace_scores(conn, list(accepted), str(o["correct"]))
    cohorts = _root_attribute(conn, list(accepted), str(o["cohort_by"]))
    groups: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for trace_id, a in accepted.items():
        cohort = cohorts.get(trace_id)
        if cohort is None:
            continue
        c = correct.get(trace_id)
        groups[cohort][0].append(a)
        groups[cohort][1].append(math.nan if c is None else float(c >= 0.5))
    return acceptance_vs_correctness(dict(sorted(groups.items())))


def eval_cases_per_surface(path: Path, key: str) -> Counter[str]:
    """Cases per surface in a JSONL dataset (``metadata.<key>`` or ``<key>`` of each row);
    errors name ``file:line``."""
    counts: Counter[str] = Counter()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise SpecError(f"malformed JSON: {exc}", where=f"{path}:{number}") from None
        if not isinstance(row, dict):
            raise SpecError("each line must be a JSON object", where=f"{path}:{number}")
        meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        value = meta.get(key, row.get(key))
        if value is not None:
            counts[str(value)] += 1
    return counts


def _coverage(conn: Connection, rows: list[TraceRow], o: dict, until: datetime) -> list[Flag]:
    from assay.monitor.spec import _duration

    recent = _duration(o.get("recent", "1d"), "coverage_gap.recent")
    surfaces = _root_attribute(conn, [r.id for r in rows], str(o["surface_by"]))
    cut = until - recent
    before: Counter[str] = Counter()
    now: Counter[str] = Counter()
    for r in rows:
        surface = surfaces.get(r.id)
        if surface is not None:
            (now if r.start >= cut else before)[surface] += 1
    cases = eval_cases_per_surface(o["cases"], str(o.get("case_key", "surface")))
    return coverage_gaps(
        before,
        now,
        cases,
        min_share=o.get("min_share", 0.1),
        max_cases=int(o.get("max_cases", 0)),
    )


def _tokenizer(conn: Connection, rows: list[TraceRow], o: dict) -> list[Flag]:
    ids = [r.id for r in rows]
    dialect = conn.dialect.name
    local = json_attribute(spans.c.attributes_json, str(o["local"]), dialect)
    lang = json_attribute(spans.c.attributes_json, str(o["language_by"]), dialect)
    roots = _root_attribute(conn, ids, str(o["language_by"]))
    xs, ys, langs = [], [], []
    for chunk in _chunks(ids):
        for trace_id, provider, est, language in conn.execute(
            select(spans.c.trace_id, spans.c.input_tokens, local, lang).where(
                spans.c.trace_id.in_(chunk),
                spans.c.kind == "llm",
                spans.c.status != "error",
                spans.c.input_tokens.is_not(None),
                local.is_not(None),
            )
        ):
            language = language if language is not None else roots.get(trace_id)
            try:
                estimate = float(est)
            except (TypeError, ValueError):
                continue
            if language is None or estimate <= 0:
                continue
            xs.append(estimate)
            ys.append(float(provider))
            langs.append(str(language))
    if not xs:
        return []
    return tokenizer_drift(xs, ys, langs, tolerance=o.get("tolerance", 0.05))


def evaluate_check(
    store: Store, route: Route, signal: Signal, since: datetime, until: datetime
) -> list[Finding]:
    """The findings of one check signal on ``route`` over [since, until)."""
    with store.engine.connect() as conn:
        rows = route_traces(conn, route, since, until)
        o = signal.options
        if signal.name == "segment_satisfaction":
            flags = _satisfaction(conn, rows, route, o)
        elif signal.name == "acceptance":
            flags = _acceptance(conn, rows, o)
        elif signal.name == "coverage_gap":
            flags = _coverage(conn, rows, o, until)
        else:
            flags = _tokenizer(conn, rows, o)
    findings = []
    for flag in flags:
        kind = flag.name.split("(")[0]
        subject = (
            flag.detail.get("segment")
            or flag.detail.get("cohort")
            or flag.detail.get("surface")
            or flag.detail.get("language")
        )
        findings.append(
            Finding(
                key=f"{route.name}|{signal.name}|{subject or ''}|{kind}",
                kind=kind,
                severity="ticket",
                route=route.name,
                signal=signal.name,
                segment=str(subject) if subject is not None else None,
                title=f"{flag.name} on {route.name}",
                detail={"flag": flag.name, **flag.detail, "window": _window(since, until)},
            )
        )
    return findings


def _window(since: datetime, until: datetime) -> dict[str, str]:
    return {"since": since.isoformat(), "until": until.isoformat()}
