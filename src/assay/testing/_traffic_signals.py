"""Feedback and delayed outcomes of simulated traffic (SIMULATION ONLY).

Feedback as end users give it (thumbs on a small share of answers, far more often on bad ones),
as staff give it (testing on staging, debugging production in an internal tool) and as
labelers give it; outcomes as business systems report them days later (a support ticket
reopened, a refund issued, a conversion). The records have the shapes ``POST /api/feedback``
and ``POST /api/outcomes`` accept (see :mod:`assay.testing.traffic`).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from assay.testing._traffic_truth import SessionTruth, TraceTruth, TrafficTruth
from assay.testing._traffic_world import lognormal

_DOWN_COMMENTS = (
    "Wrong answer.",
    "It didn't understand what I asked.",
    "This is not what I needed.",
    None,
    None,
)
_LABELS = {
    "wrong_answer": "incorrect",
    "truncated": "incomplete",
    "json_invalid": "format_error",
    "missed_clarification": "should_have_asked",
    "missed_refusal": "unsafe",
    "error": "error",
    "agent_loop": "agent_loop",
}


def _feedback(
    trace: TraceTruth,
    *,
    kind: str,
    value: float | None,
    rater_id: str,
    rater_role: str,
    surface: str,
    intent: str,
    delay_s: float,
    span_id: str | None = None,
    label: str | None = None,
    correction: str | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    return {
        "trace_id": trace.trace_id,
        "span_id": span_id,
        "session_id": trace.session_id,
        "kind": kind,
        "value": value,
        "label": label,
        "correction": correction,
        "comment": comment,
        "rater_id": rater_id,
        "rater_role": rater_role,
        "surface": surface,
        "intent": intent,
        "time": (trace.end + timedelta(seconds=delay_s)).isoformat(),
    }


def make_feedback(
    rng: random.Random,
    truth: TrafficTruth,
    final_spans: dict[str, str],
    staff: list[str],
    rate: float,
    production: str,
) -> list[dict[str, Any]]:
    """Feedback records, in time order.

    * end users (``end_user``, surface ``prod``): a thumbs on a failed answer with probability
      ``min(1, 4 * rate)`` (down 85 % of the time), on a good one ``0.6 * rate`` (down 8 %);
      one down-vote in ten comes as a correction instead; API clients never rate;
    * staff on staging (``internal``, ``staging``, intent ``qa_test``): half of staging traces;
    * staff debugging production (``internal``, ``debug``, intent ``debugging``): 1 %;
    * labelers (``labeler``, ``debug``, intent ``annotation``): a label and a score on 2 % (a
      1-5 rating scaled to [0, 1]).
    """
    records: list[dict[str, Any]] = []
    for trace in truth.traces.values():
        failed = trace.failed
        if trace.environment != production:
            if staff and rng.random() < 0.5:
                up = (not failed) if rng.random() < 0.9 else failed
                records.append(
                    _feedback(
                        trace,
                        kind="thumbs",
                        value=1.0 if up else 0.0,
                        rater_id=trace.user_id,
                        rater_role="internal",
                        surface="staging",
                        intent="qa_test",
                        delay_s=lognormal(rng, 20.0, 0.8),
                    )
                )
            continue
        if trace.actor != "api_client" and rng.random() < (
            min(1.0, 4 * rate) if failed else 0.6 * rate
        ):
            down = rng.random() < (0.85 if failed else 0.08)
            delay = lognormal(rng, 40.0, 1.0)
            if down and failed and rng.random() < 0.1:
                records.append(
                    _feedback(
                        trace,
                        kind="correction",
                        value=None,
                        rater_id=trace.user_id,
                        rater_role="end_user",
                        surface="prod",
                        intent="fix_answer",
                        delay_s=delay,
                        span_id=final_spans.get(trace.trace_id),
                        correction="The right answer is in Settings > Billing.",
                    )
                )
            else:
                records.append(
                    _feedback(
                        trace,
                        kind="thumbs",
                        value=0.0 if down else 1.0,
                        rater_id=trace.user_id,
                        rater_role="end_user",
                        surface="prod",
                        intent="report_problem" if down else "rate_answer",
                        delay_s=delay,
                        comment=rng.choice(_DOWN_COMMENTS) if down else None,
                    )
                )
        if staff and rng.random() < 0.01:
            records.append(
                _feedback(
                    trace,
                    kind="thumbs",
                    value=0.0 if failed else 1.0,
                    rater_id=rng.choice(staff),
                    rater_role="internal",
                    surface="debug",
                    intent="debugging",
                    delay_s=lognormal(rng, 3600.0 * 6, 1.0),
                )
            )
        if rng.random() < 0.02:
            labeler = f"labeler_{rng.randrange(1, 6):02d}"
            delay = lognormal(rng, 86400.0, 0.7)
            label = _LABELS[trace.failure] if trace.failure else "correct"
            for kind, value, lab in (("label", None, label), ("score", _score(rng, failed), None)):
                records.append(
                    _feedback(
                        trace,
                        kind=kind,
                        value=value,
                        rater_id=labeler,
                        rater_role="labeler",
                        surface="debug",
                        intent="annotation",
                        delay_s=delay,
                        label=lab,
                    )
                )
    records.sort(key=lambda r: r["time"])
    return records


def _score(rng: random.Random, failed: bool) -> float:
    """A labeler's 1-5 rating scaled to [0, 1] (what ``POST /api/feedback`` accepts)."""
    stars = rng.choice((1, 2, 2, 3)) if failed else rng.choice((3, 4, 4, 5, 5))
    return (stars - 1) / 4


def _outcome(
    session: SessionTruth,
    trace: TraceTruth,
    rng: random.Random,
    event: str,
    *,
    bad: bool,
    delay_days: float,
    value: float | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    session.outcomes.append(event)
    session.failed_delayed = session.failed_delayed or bad
    return {
        "session_id": session.session_id,
        "trace_id": trace.trace_id if rng.random() < 0.5 else None,
        "event": event,
        "value": value,
        "bad": bad,
        "time": (trace.end + timedelta(days=delay_days)).isoformat(),
        "attributes": attributes or {},
    }


def make_outcomes(
    rng: random.Random,
    truth: TrafficTruth,
    loop_orders: list[tuple[str, str, float, str]],
    production: str,
) -> list[dict[str, Any]]:
    """Delayed outcome records (production sessions only), in time order; every delay is at
    most five days, so a seven-day join window catches them all.

    * support-qa: ``ticket_reopened`` (bad) 1–5 days later for 40 % of failed sessions and 3 %
      of the others; ``ticket_resolved`` for a fifth of the good ones;
    * agent-orders: ``refund_issued`` (bad, reason ``duplicate_order``) for every order the
      runaway agent created twice; (bad) for 30 % of other failed sessions; (not bad) after a
      cancellation;
    * json-extract: ``manual_review_required`` (bad) hours later for half the sessions whose
      JSON did not parse;
    * support-qa and rag-search, free segment: ``conversion`` (an upgrade, value 29.0) for 4 %
      of good sessions.
    """
    records: list[dict[str, Any]] = []
    duplicates: dict[str, list[tuple[str, float, str]]] = {}
    for session_id, order, total, key in loop_orders:
        duplicates.setdefault(session_id, []).append((order, total, key))
    for session in truth.sessions.values():
        if session.environment == production:
            created = duplicates.get(session.session_id, [])
            records.extend(_session_outcomes(rng, truth, session, created))
    records.sort(key=lambda r: r["time"])
    return records


def _session_outcomes(
    rng: random.Random,
    truth: TrafficTruth,
    session: SessionTruth,
    created: list[tuple[str, float, str]],
) -> list[dict[str, Any]]:
    """The outcomes of one production session (see :func:`make_outcomes`)."""
    traces = [truth.traces[t] for t in session.trace_ids]
    last = traces[-1]
    failed = any(t.failed for t in traces)
    session.failed = failed
    records: list[dict[str, Any]] = []

    def add(
        event: str, bad: bool, days: tuple[float, float], value: float | None = None, **attrs: Any
    ) -> None:
        delay = rng.uniform(*days)
        outcome = _outcome(
            session, last, rng, event, bad=bad, delay_days=delay, value=value, attributes=attrs
        )
        records.append(outcome)

    route = session.route
    if route == "support-qa" and rng.random() < (0.4 if failed else 0.03):
        add("ticket_reopened", True, (1.0, 5.0), source="helpdesk")
    elif route == "support-qa" and not failed and rng.random() < 0.2:
        add("ticket_resolved", False, (0.1, 2.0), source="helpdesk")
    elif route == "agent-orders":
        for order, total, key in created[1:]:  # every order after the first is a duplicate
            attrs = {"order_id": order, "idempotency_key": key, "source": "billing"}
            add("refund_issued", True, (1.0, 2.0), total, reason="duplicate_order", **attrs)
        if not created and failed and rng.random() < 0.3:
            value = round(rng.uniform(9, 120), 2)
            add("refund_issued", True, (0.5, 4.0), value, reason="wrong_order", source="billing")
        elif not failed and any(t.intent == "cancel_order" for t in traces):
            value = round(rng.uniform(9, 200), 2)
            add("refund_issued", False, (0.5, 3.0), value, reason="cancellation", source="billing")
    elif (
        route == "json-extract"
        and any(t.failure == "json_invalid" for t in traces)
        and rng.random() < 0.5
    ):
        add("manual_review_required", True, (0.05, 0.5), source="ops")
    free = truth.users[session.user_id].segment == "free"
    if route in ("support-qa", "rag-search") and not failed and free and rng.random() < 0.04:
        add("conversion", False, (0.02, 3.0), 29.0, plan="pro", source="billing")
    return records
