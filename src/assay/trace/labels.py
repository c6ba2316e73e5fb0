"""Which traces failed: a pure function of the store (feedback, scores and outcomes).

A trace is

- ``failed`` when a rater said so — a thumbs-down, a score below 0.5, a corrected answer (a
  correction says the output was wrong) or a failing label (:data:`FAILING_LABELS`) — or when
  a score on it fails: an online judge's or an evaluation computed elsewhere
  (``trace_scores``), failing when its label is a failing label or, without a label assay
  knows, when its value is below its threshold (``thresholds[name]``, default 0.5);
- ``failed_delayed`` when nothing failed it at the time, but a bad outcome (E3) for its session
  (the conversation) or for the trace itself occurred after the trace started and within the
  window (14 days by default, as E3 asks; every trace of the conversation in that window gets
  the label, since the outcome does not say which turn caused it);
- ``ok`` when it has feedback, scores or outcomes and none of them fails it;
- ``unlabelled`` when nothing at all is known about it.

Nothing is cached: the labels of any past window can be recomputed from the stored events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from assay.core import AssayError
from assay.store import Store
from assay.store.tables import feedback, outcomes, trace_scores, traces

TraceLabel = Literal["failed", "failed_delayed", "ok", "unlabelled"]
FAILED_LABELS: tuple[str, ...] = ("failed", "failed_delayed")
#: E3's default join window for delayed outcomes.
DEFAULT_WINDOW = timedelta(days=14)
#: The value below which a score without a known label fails (0/1 scorers: a fail).
DEFAULT_THRESHOLD = 0.5

#: Labels (from raters or judges) that mean the output failed; compared in lower case with
#: ``-`` and spaces as ``_``.
FAILING_LABELS = frozenset(
    {
        "fail",
        "failed",
        "failure",
        "bad",
        "wrong",
        "incorrect",
        "unsafe",
        "toxic",
        "harmful",
        "hallucination",
        "hallucinated",
        "irrelevant",
        "unhelpful",
        "not_helpful",
        "off_topic",
        "unfaithful",
        "false",
        "no",
    }
)
#: Labels that mean it passed (a judge's label wins over its value).
PASSING_LABELS = frozenset(
    {"pass", "passed", "good", "correct", "right", "safe", "relevant", "helpful", "faithful"}
    | {"true", "yes", "ok"}
)
#: The longest duration :func:`parse_duration` accepts (ten years).
MAX_DURATION = timedelta(days=3650)
_IN_CHUNK = 400
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, where: str = "--window") -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s`` or ``2w`` as a timedelta; an :class:`AssayError`
    naming ``where`` for anything else."""
    match = _DURATION.match(text or "")
    if match is None:
        raise AssayError(
            f"{text!r} is not a duration", where=where, fix="write e.g. 7d, 12h, 30m or 2w"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise AssayError(
            f"{text!r} is longer than {MAX_DURATION.days} days",
            where=where,
            fix="give a shorter duration",
        )
    return timedelta(seconds=seconds)


def normalise_label(label: str | None) -> str:
    """A label as compared with :data:`FAILING_LABELS`: lower case, ``-``/spaces as ``_``."""
    return (label or "").strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class TraceVerdict:
    """A trace's label and every reason for it (one line each, safe to show: redacted)."""

    trace_id: str
    label: TraceLabel
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.label in FAILED_LABELS


def _chunks(ids: Sequence[str] | None) -> Iterator[Sequence[str] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]


def _restricted(query: Any, column: Any, chunk: Sequence[str] | None) -> Any:
    return query if chunk is None else query.where(column.in_(list(chunk)))


def feedback_failure(
    kind: str, value: float | None, label: str | None, role: str, surface: str
) -> str | None:
    """Why this feedback fails its trace, or ``None`` when it does not."""
    who = f"{role} on {surface}"
    if kind == "thumbs" and value is not None and value < 1:
        return f"thumbs-down from {who}"
    if kind == "score" and value is not None and value < DEFAULT_THRESHOLD:
        return f"score {value:g} from {who}"
    if kind == "correction":
        return f"corrected by {who}"
    if kind == "label" and normalise_label(label) in FAILING_LABELS:
        return f"labelled {label!r} by {who}"
    return None


def score_failure(
    name: str,
    value: float | None,
    label: str | None,
    source: str,
    thresholds: Mapping[str, float] | None = None,
) -> str | None:
    """Why this trace score fails its trace, or ``None``: a failing label fails it, a passing
    label passes it, and otherwise a value below the threshold for ``name`` fails it."""
    norm = normalise_label(label)
    if norm in FAILING_LABELS:
        return f"{source} score {name!r} labelled {label!r}"
    if norm in PASSING_LABELS or value is None:
        return None
    threshold = (thresholds or {}).get(name, DEFAULT_THRESHOLD)
    if value < threshold:
        return f"{source} score {name!r} = {value:g} < {threshold:g}"
    return None


def _delay(days: float) -> str:
    if days >= 1:
        return f"{days:.1f} days"
    return f"{days * 24:.1f} hours"


def trace_verdicts(
    store: Store,
    trace_ids: Iterable[str] | None = None,
    *,
    window: timedelta = DEFAULT_WINDOW,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, TraceVerdict]:
    """The verdict of each trace in ``trace_ids`` (every one gets a verdict), or, with
    ``None``, of every trace that has any feedback, score or outcome (see the module
    docstring for the rules)."""
    ids = None if trace_ids is None else sorted(set(trace_ids))
    immediate: dict[str, list[str]] = {}
    delayed: dict[str, list[str]] = {}
    seen: set[str] = set()
    with store.engine.connect() as conn:
        for chunk in _chunks(ids):
            query = select(
                feedback.c.trace_id,
                feedback.c.kind,
                feedback.c.value,
                feedback.c.label,
                feedback.c.rater_role,
                feedback.c.surface,
            ).where(feedback.c.trace_id.is_not(None))
            for trace_id, kind, value, tag, role, surface in conn.execute(
                _restricted(query, feedback.c.trace_id, chunk)
            ):
                seen.add(trace_id)
                reason = feedback_failure(kind, value, tag, role, surface)
                if reason is not None:
                    immediate.setdefault(trace_id, []).append(reason)
            query = select(
                trace_scores.c.trace_id,
                trace_scores.c.name,
                trace_scores.c.value,
                trace_scores.c.label,
                trace_scores.c.source,
            )
            for trace_id, name, value, tag, source in conn.execute(
                _restricted(query, trace_scores.c.trace_id, chunk)
            ):
                seen.add(trace_id)
                reason = score_failure(name, value, tag, source, thresholds)
                if reason is not None:
                    immediate.setdefault(trace_id, []).append(reason)
            for join, how in (
                (outcomes.c.session_id == traces.c.session_id, "conversation"),
                (outcomes.c.trace_id == traces.c.id, "trace"),
            ):
                query = select(
                    traces.c.id,
                    traces.c.start_time,
                    outcomes.c.event,
                    outcomes.c.bad,
                    outcomes.c.occurred_at,
                ).join(outcomes, join)
                for trace_id, start, event, bad, occurred in conn.execute(
                    _restricted(query, traces.c.id, chunk)
                ):
                    seen.add(trace_id)
                    if bad and _within(start, occurred, window):
                        days = (occurred - start).total_seconds() / 86400
                        reason = f"{event} {_delay(days)} after the trace (same {how})"
                        if reason not in delayed.get(trace_id, ()):
                            delayed.setdefault(trace_id, []).append(reason)
    verdicts: dict[str, TraceVerdict] = {}
    for trace_id in ids if ids is not None else sorted(seen):
        reasons = _counted(immediate.get(trace_id, []) + delayed.get(trace_id, []))
        label: TraceLabel
        if trace_id in immediate:
            label = "failed"
        elif trace_id in delayed:
            label = "failed_delayed"
        elif trace_id in seen:
            label = "ok"
        else:
            label = "unlabelled"
        verdicts[trace_id] = TraceVerdict(trace_id, label, reasons)
    return verdicts


def _counted(reasons: list[str]) -> tuple[str, ...]:
    """Each reason once, in first-seen order, with ``(n×)`` when it occurred n > 1 times."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return tuple(r if n == 1 else f"{r} ({n}×)" for r, n in counts.items())


def _within(start: datetime, occurred: datetime, window: timedelta) -> bool:
    # A difference, not start + window: a trace stamped near the year 9999 must not overflow.
    return start <= occurred and occurred - start <= window


def trace_labels(
    store: Store,
    trace_ids: Iterable[str] | None = None,
    window: timedelta = DEFAULT_WINDOW,
    *,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """``{trace_id: label}``: ``failed``, ``failed_delayed``, ``ok`` or ``unlabelled`` (see
    :func:`trace_verdicts`)."""
    verdicts = trace_verdicts(store, trace_ids, window=window, thresholds=thresholds)
    return {trace_id: verdict.label for trace_id, verdict in verdicts.items()}


def failed_traces(
    store: Store,
    trace_ids: Iterable[str] | None = None,
    *,
    window: timedelta = DEFAULT_WINDOW,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, TraceVerdict]:
    """The verdicts of the traces labelled ``failed`` or ``failed_delayed``."""
    verdicts = trace_verdicts(store, trace_ids, window=window, thresholds=thresholds)
    return {t: v for t, v in verdicts.items() if v.failed}
