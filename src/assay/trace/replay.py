"""Replay failed traces through a subject and count how many it fixes (G3).

``replay(store, spec, traces)`` builds a dataset from the chosen traces — one sample per trace,
the trace id as the sample id, the trace's (redacted) input, the latest corrected answer a
rater gave as the target when there is one, and the failure's reasons in the metadata — puts
it in place of the spec's own dataset, and runs the spec's subjects and scorers on it with the
ordinary runner. The run is stored like any other (``assay show RUN`` works on it).

**When a replayed output counts as fixed** (:data:`FIX_RULE`): it must be an output (not an
error); every scorer that gave a verdict must pass it (value at least ``pass_threshold``,
0.5 by default: the pass of a 0/1 scorer); and either at least one of those verdicts judges
the content (any scorer but the pure format checks ``length``, ``format`` and ``json``), or —
when no scorer can judge it without a target (no correction was given, so ``exact`` and its
kin have nothing to compare with) — the output must differ from the observed failed output
(after folding case and whitespace) and not be empty. With several epochs a trace is fixed only
when every epoch's output is. The fraction fixed is over the chosen traces that are labelled
failed, with a Wilson interval; chosen traces that did not fail are replayed and listed
(still passing or not) but not counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.core import AssayError, SampleResult, SpecError
from assay.run import Eval, RunOptions, eval_from_spec
from assay.run import run as run_eval
from assay.run.accounting import Accounting
from assay.run.yamlfile import load_yaml
from assay.stats import Interval, wilson_interval
from assay.store import Store
from assay.store.tables import traces
from assay.trace.labels import DEFAULT_WINDOW, TraceVerdict, failed_traces, trace_verdicts
from assay.trace.material import TraceMaterial, trace_material

FIX_RULE = (
    "fixed = the replayed output is not an error, every scorer's verdict passes "
    "(value >= {threshold:g}), and either a content scorer judged it or it differs from the "
    "observed failed output; with several epochs, every epoch must be fixed"
)
#: Scorer kinds that check only the shape of an output, never whether it is right.
FORMAT_KINDS = frozenset({"length", "format", "json"})
_HEX = frozenset("0123456789abcdef")


def _is_trace_id(text: str) -> bool:
    return len(text) == 32 and set(text) <= _HEX and text.strip("0") != ""


def select_traces(store: Store, query: str, *, window: timedelta = DEFAULT_WINDOW) -> list[str]:
    """The trace ids a ``--traces`` query names: ``failed`` (every trace labelled failed or
    failed_delayed), a file of ids (one per line; ``#`` starts a comment), or ids separated by
    commas. Every id must be a stored trace."""
    text = query.strip()
    if not text:
        raise AssayError("no traces given", where="--traces", fix="give ids, `failed` or a file")
    if text == "failed":
        failed = sorted(failed_traces(store, window=window))
        found = _stored(store, failed)
        failed = [t for t in failed if t in found]
        if not failed:
            raise AssayError(
                "no stored trace is labelled failed",
                where="--traces failed",
                fix="record feedback or outcomes first (`assay traces feedback FILE`)",
            )
        return failed
    path = Path(text)
    places: list[tuple[str, str]] = []
    if "," not in text and path.is_file():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            item = line.split("#", 1)[0].strip()
            if item:
                places.append((item, f"{text}:{number}"))
    else:
        places = [(item.strip(), "--traces") for item in text.split(",") if item.strip()]
    ids: list[str] = []
    for item, where in places:
        trace_id = item.lower()
        if not _is_trace_id(trace_id):
            raise AssayError(
                f"{item!r} is not a trace id (32 hex digits)",
                where=where,
                fix="give trace ids from `assay traces list`, `failed`, or a file of ids",
            )
        if trace_id not in ids:
            ids.append(trace_id)
    if not ids:
        raise AssayError("the file holds no trace ids", where=text, fix="one trace id per line")
    found = _stored(store, ids)
    missing = [t for t in ids if t not in found]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise AssayError(
            f"no stored trace {shown}",
            where="--traces",
            fix="check the ids with `assay traces list`",
        )
    return ids


def _stored(store: Store, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 400):
            chunk = list(ids[start : start + 400])
            found.update(
                r[0] for r in conn.execute(select(traces.c.id).where(traces.c.id.in_(chunk)))
            )
    return found


def replay_eval(
    spec: str | Path,
    materials: Sequence[TraceMaterial],
    verdicts: dict[str, TraceVerdict],
) -> Eval:
    """The spec's eval with its dataset replaced by one sample per trace (see the module
    docstring); its slices, cluster key and pairwise run are dropped (traces carry none)."""
    path = Path(spec)
    if not path.is_file():
        raise SpecError(f"spec file not found: {spec}", where="--spec", fix="give a YAML spec")
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise SpecError("the spec must be a mapping", where=doc.where(()))
    records = []
    for material in materials:
        verdict = verdicts[material.trace_id]
        record: dict[str, Any] = {
            "id": material.trace_id,
            "input": material.input,
            "metadata": {
                "trace_label": verdict.label,
                "failure": "; ".join(verdict.reasons) or None,
            },
        }
        if material.target is not None:
            record["target"] = material.target
        records.append(record)
    data = dict(doc.data)
    name = str(data.get("name") or path.stem)
    data["name"] = f"{name}-replay"
    data["dataset"] = {"samples": records, "name": f"{name}-replay-traces"}
    data["slices"] = []
    for key in ("cluster", "pairwise"):
        data.pop(key, None)
    return eval_from_spec(data, base_dir=path.resolve().parent, doc=doc)


@dataclass(frozen=True)
class ReplayRow:
    """One replayed trace under one subject."""

    trace_id: str
    subject: str
    label: str
    fixed: bool
    why: str
    output: str | None


@dataclass(frozen=True)
class SubjectFix:
    """The fraction of failed traces a subject fixed, with its Wilson interval."""

    subject: str
    fixed: int
    n: int
    interval: Interval


@dataclass
class ReplayReport:
    """What :func:`replay` found."""

    run_id: str
    rule: str
    subjects: list[SubjectFix]
    rows: list[ReplayRow] = field(default_factory=list)
    not_failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def number(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 6)

        return {
            "run_id": self.run_id,
            "rule": self.rule,
            "subjects": [
                {
                    "subject": s.subject,
                    "fixed": s.fixed,
                    "n_failed": s.n,
                    "fraction_fixed": number(s.interval.estimate),
                    "low": number(s.interval.low),
                    "high": number(s.interval.high),
                    "confidence": s.interval.confidence,
                    "method": s.interval.method,
                }
                for s in self.subjects
            ],
            "traces": [
                {
                    "trace_id": r.trace_id,
                    "subject": r.subject,
                    "label": r.label,
                    "fixed": r.fixed,
                    "why": r.why,
                }
                for r in self.rows
            ],
            "not_failed": self.not_failed,
            "skipped_no_input": self.skipped,
        }


def _fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def judge_replayed(
    result: SampleResult,
    observed: str | None,
    kinds: dict[str, str],
    pass_threshold: float = 0.5,
) -> tuple[bool, str]:
    """Whether one replayed result is fixed under :data:`FIX_RULE`, and why."""
    if result.error is not None or result.output is None:
        return False, f"no output ({result.error_class or 'error'})"
    judged = [s for s in result.scores if s.value is not None]
    failing = [s for s in judged if s.value is not None and s.value < pass_threshold]
    if failing:
        worst = failing[0]
        return False, f"{worst.scorer} = {worst.value:g} < {pass_threshold:g}"
    content = [s.scorer for s in judged if kinds.get(s.scorer, s.scorer) not in FORMAT_KINDS]
    if content:
        return True, "passes " + ", ".join(content)
    text = result.output.text
    if not text.strip():
        return False, "empty output"
    if observed is not None and _fold(text) == _fold(observed):
        return False, "same output as the failed trace"
    checks = [s.scorer for s in judged]
    why = "differs from the failed output"
    return True, why + (f" and passes {', '.join(checks)}" if checks else "")


def replay(
    store: Store,
    spec: str | Path,
    trace_ids: Sequence[str],
    *,
    window: timedelta = DEFAULT_WINDOW,
    pass_threshold: float = 0.5,
    confidence: float = 0.95,
    options: RunOptions | None = None,
    on_progress: Callable[[Accounting], None] | None = None,
) -> ReplayReport:
    """Re-run the inputs of ``trace_ids`` through the spec's subjects and report the fraction
    of failed traces each fixes (see the module docstring for the rule)."""
    if not 0 < confidence < 1:
        raise AssayError("confidence must be between 0 and 1", where="--confidence")
    verdicts = trace_verdicts(store, trace_ids, window=window)
    materials: list[TraceMaterial] = []
    skipped: list[str] = []
    for trace_id in trace_ids:
        material = trace_material(store, trace_id)
        assert material is not None
        if material.input is None:
            skipped.append(trace_id)
        else:
            materials.append(material)
    if not materials:
        raise AssayError(
            "none of the chosen traces holds an input to replay",
            where="--traces",
            fix="check them with `assay traces show`",
        )
    ev = replay_eval(spec, materials, verdicts)
    outcome = run_eval(ev, db=store, options=options or RunOptions(), on_progress=on_progress)
    kinds = {s.name: str(getattr(s, "kind", None) or s.name) for s in ev.scorers}
    observed = {m.trace_id: m.output for m in materials}
    by_key: dict[tuple[str, str], list[tuple[bool, str, str | None]]] = {}
    for result in store.iter_results(outcome.run_id):
        fixed, why = judge_replayed(result, observed.get(result.sample_id), kinds, pass_threshold)
        text = result.output.text if result.output is not None else None
        by_key.setdefault((result.subject, result.sample_id), []).append((fixed, why, text))
    rows: list[ReplayRow] = []
    subjects: list[SubjectFix] = []
    for subject in ev.subjects:
        fixed_n = n = 0
        for material in materials:
            epochs = by_key.get((subject.name, material.trace_id), [])
            verdict = verdicts[material.trace_id]
            if not epochs:
                rows.append(
                    ReplayRow(
                        material.trace_id, subject.name, verdict.label, False, "no result", None
                    )
                )
                fixed = False
            else:
                fixed = all(f for f, _, _ in epochs)
                why = next((w for f, w, _ in epochs if not f), epochs[0][1])
                rows.append(
                    ReplayRow(
                        material.trace_id, subject.name, verdict.label, fixed, why, epochs[-1][2]
                    )
                )
            if verdict.failed:
                n += 1
                fixed_n += fixed
        subjects.append(
            SubjectFix(subject.name, fixed_n, n, wilson_interval(fixed_n, n, confidence))
        )
    return ReplayReport(
        run_id=outcome.run_id,
        rule=FIX_RULE.format(threshold=pass_threshold),
        subjects=subjects,
        rows=rows,
        not_failed=[m.trace_id for m in materials if not verdicts[m.trace_id].failed],
        skipped=skipped,
    )
