"""Alerts: deduplicated, with a lifecycle, delivered to sinks through a retried outbox.

A monitoring pass produces *findings* (a signal that changed for the worse, an objective
burning its budget, a segment or surface that fails while the aggregate passes). Each finding
has a ``key`` (route, signal, kind, segment). :func:`sync_alerts` reconciles them with the
stored alerts:

- a finding whose key has no open alert opens one (``firing``) and queues a ``fired``
  notification for every sink;
- a finding whose key already has an open alert (``firing`` or ``acknowledged``) updates it —
  one incident is one alert, however many passes see it;
- an open alert of a route the pass evaluated that no finding matches any more is
  ``resolved`` and queues a ``resolved`` notification.

Notifications are rows in ``alert_deliveries`` (the outbox), written in the same transaction
as the alert. :func:`deliver` sends the due ones; a sink that fails keeps its rows pending with
an exponential backoff (30 s doubling, at most an hour) and they are retried on the next pass,
in order, so an alert is never lost and a dead sink never stops monitoring.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from assay.core import AssayError
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import alert_deliveries, alerts

OPEN = ("firing", "acknowledged")
BACKOFF_START = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


@dataclass
class Finding:
    """Something a pass found that should be an alert while it holds."""

    key: str
    kind: str
    severity: str
    route: str | None
    signal: str | None
    segment: str | None
    title: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlertSync:
    """What :func:`sync_alerts` did."""

    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


def _writer(store: Store) -> Any:
    return store.engine.execution_options(**{WRITE_OPTION: True})


def payload(row: Any, event: str) -> dict[str, Any]:
    """The JSON body sinks receive: the alert with its detail (change size with interval, budget
    burn, what changed)."""
    detail = (
        json.loads(row["detail_json"]) if isinstance(row, dict) else json.loads(row.detail_json)
    )
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)

    def iso(value: Any) -> str | None:
        return value.isoformat() if isinstance(value, datetime) else value

    return {
        "event": event,
        "id": get("id"),
        "status": "resolved" if event == "resolved" else get("status"),
        "kind": get("kind"),
        "severity": get("severity"),
        "route": get("route"),
        "signal": get("signal"),
        "segment": get("segment") or None,
        "title": get("title"),
        "opened_at": iso(get("opened_at")),
        "resolved_at": iso(get("resolved_at")),
        **detail,
    }


def sync_alerts(
    store: Store,
    findings: Sequence[Finding],
    *,
    routes: Iterable[str],
    sinks: Sequence[str],
    now: datetime | None = None,
) -> AlertSync:
    """Reconcile ``findings`` with the stored alerts (see the module docstring); ``routes`` are
    the routes this pass evaluated (only their open alerts can resolve); ``sinks`` the names of
    the sinks to notify."""
    now = now or datetime.now(UTC)
    evaluated = set(routes)
    by_key: dict[str, Finding] = {}
    for f in findings:
        by_key.setdefault(f.key, f)
    result = AlertSync()
    with _writer(store).begin() as conn:
        open_rows = {
            r.key: r for r in conn.execute(select(alerts).where(alerts.c.status.in_(OPEN)))
        }
        for key, f in by_key.items():
            detail = json.dumps(f.detail, default=str, sort_keys=True)
            if key in open_rows:
                row = open_rows[key]
                conn.execute(
                    update(alerts)
                    .where(alerts.c.id == row.id)
                    .values(detail_json=detail, title=f.title, severity=f.severity, updated_at=now)
                )
                result.updated.append(row.id)
                continue
            alert_id = uuid.uuid4().hex
            values = {
                "id": alert_id,
                "key": key,
                "status": "firing",
                "kind": f.kind,
                "severity": f.severity,
                "route": f.route,
                "signal": f.signal,
                "segment": f.segment or "",
                "title": f.title,
                "detail_json": detail,
                "opened_at": now,
                "updated_at": now,
                "resolved_at": None,
                "acked_at": None,
                "acked_by": None,
                "ack_note": None,
            }
            conn.execute(alerts.insert().values(**values))
            _queue(conn, values, "fired", sinks, now)
            result.opened.append(alert_id)
        for key, row in open_rows.items():
            if key in by_key or row.route not in evaluated:
                continue
            conn.execute(
                update(alerts)
                .where(alerts.c.id == row.id)
                .values(status="resolved", resolved_at=now, updated_at=now)
            )
            values = dict(row._mapping)
            values.update(status="resolved", resolved_at=now)
            _queue(conn, values, "resolved", sinks, now)
            result.resolved.append(row.id)
    return result


def _queue(
    conn: Any, alert: dict[str, Any], event: str, sinks: Sequence[str], now: datetime
) -> None:
    body = json.dumps(payload(alert, event), default=str)
    for sink in sinks:
        conn.execute(
            alert_deliveries.insert().values(
                id=uuid.uuid4().hex,
                alert_id=alert["id"],
                sink=sink,
                event=event,
                status="pending",
                attempts=0,
                last_error=None,
                next_attempt_at=now,
                payload_json=body,
                created_at=now,
                delivered_at=None,
            )
        )


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def deliver(
    store: Store,
    senders: dict[str, Callable[[dict[str, Any]], None]],
    *,
    now: datetime | None = None,
) -> DeliveryReport:
    """Send every due pending notification through its sink's sender (oldest first). A sender
    that raises leaves its row pending with a backoff and stops that sink for this round, so
    notifications of one sink arrive in order."""
    now = now or datetime.now(UTC)
    report = DeliveryReport()
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(alert_deliveries)
            .where(
                alert_deliveries.c.status == "pending", alert_deliveries.c.next_attempt_at <= now
            )
            .order_by(
                alert_deliveries.c.created_at,
                alert_deliveries.c.event.desc(),
                alert_deliveries.c.id,
            )
        ).all()
    down: set[str] = set()
    for row in rows:
        send = senders.get(row.sink)
        if send is None or row.sink in down:
            continue
        try:
            send(json.loads(row.payload_json))
        except Exception as exc:  # any failure of a sink is retried, never fatal to a pass
            attempts = row.attempts + 1
            wait = min(BACKOFF_START * (2 ** (attempts - 1)), BACKOFF_MAX)
            with _writer(store).begin() as conn:
                conn.execute(
                    update(alert_deliveries)
                    .where(alert_deliveries.c.id == row.id)
                    .values(
                        attempts=attempts, last_error=str(exc)[:500], next_attempt_at=now + wait
                    )
                )
            report.failed += 1
            report.errors[row.sink] = str(exc)[:200]
            down.add(row.sink)
            continue
        with _writer(store).begin() as conn:
            conn.execute(
                update(alert_deliveries)
                .where(alert_deliveries.c.id == row.id)
                .values(
                    status="delivered", attempts=row.attempts + 1, delivered_at=now, last_error=None
                )
            )
        report.delivered += 1
    with store.engine.connect() as conn:
        report.pending = len(
            conn.execute(
                select(alert_deliveries.c.id).where(alert_deliveries.c.status == "pending")
            ).all()
        )
    return report


def list_alerts(
    store: Store, *, status: str | None = None, route: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Stored alerts, newest first, as JSON-ready dicts (``status``: firing, acknowledged,
    resolved, or ``open`` for the first two)."""
    query = select(alerts)
    if status == "open":
        query = query.where(alerts.c.status.in_(OPEN))
    elif status is not None:
        if status not in ("firing", "acknowledged", "resolved"):
            raise AssayError(
                f"unknown alert status {status!r}",
                where="--status",
                fix="use firing, acknowledged, resolved or open",
            )
        query = query.where(alerts.c.status == status)
    if route is not None:
        query = query.where(alerts.c.route == route)
    with store.engine.connect() as conn:
        rows = conn.execute(
            query.order_by(alerts.c.opened_at.desc(), alerts.c.id).limit(limit)
        ).all()
    out = []
    for r in rows:
        item = payload(r, r.status)
        item.update(
            status=r.status,
            updated_at=r.updated_at.isoformat(),
            acked_at=r.acked_at.isoformat() if r.acked_at else None,
            acked_by=r.acked_by,
            ack_note=r.ack_note,
        )
        item.pop("event", None)
        out.append(item)
    return out


def resolve_alert_id(store: Store, ref: str) -> str:
    """An alert id from a unique prefix (at least 4 characters)."""
    text = ref.strip().lower()
    if len(text) < 4:
        raise AssayError(
            "give at least 4 characters of the alert id",
            where="ALERT",
            fix="see `assay alerts list`",
        )
    with store.engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(select(alerts.c.id).where(alerts.c.id.like(f"{text}%")).limit(3))
        ]
    if not ids:
        raise AssayError(f"no alert {ref!r}", where="ALERT", fix="see `assay alerts list`")
    if len(ids) > 1:
        raise AssayError(
            f"{ref!r} matches several alerts", where="ALERT", fix="give more of the id"
        )
    return ids[0]


def ack_alert(
    store: Store,
    ref: str,
    *,
    by: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Acknowledge an open alert: it stays open (and deduplicates) until it resolves."""
    alert_id = resolve_alert_id(store, ref)
    now = now or datetime.now(UTC)
    with _writer(store).begin() as conn:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one()
        if row.status == "resolved":
            raise AssayError(f"alert {alert_id[:12]} is already resolved", where="ALERT")
        conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(status="acknowledged", acked_at=now, acked_by=by, ack_note=note, updated_at=now)
        )
    return next(a for a in list_alerts(store, status="acknowledged") if a["id"] == alert_id)
