"""Alert sinks: a webhook (the alert as a JSON body), a Slack-compatible incoming webhook, and
a file or stdout (one JSON line per notification).

A sender takes the notification payload (:func:`assay.monitor.alerts.payload`) and raises on
failure (a connection error, a timeout, an HTTP status of 300 or more); the outbox retries it.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.monitor.spec import Sink

Sender = Callable[[dict[str, Any]], None]


class SinkError(Exception):
    """A sink did not accept a notification (the outbox retries it)."""


def _post(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> None:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status >= 300:
                raise SinkError(f"{url} answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise SinkError(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SinkError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def slack_text(alert: dict[str, Any]) -> str:
    """The one-message summary a Slack channel shows."""
    icon = ":white_check_mark:" if alert.get("event") == "resolved" else ":rotating_light:"
    lines = [f"{icon} *{alert.get('event', '').upper()}* {alert.get('title')}"]
    change = alert.get("change")
    if isinstance(change, dict) and change.get("shift"):
        s = change["shift"]
        lines.append(
            f"change: {s.get('estimate')} (95% {s.get('low')} to {s.get('high')}, "
            f"{s.get('method')})"
        )
    budget = alert.get("budget")
    if isinstance(budget, dict) and budget.get("budget_remaining") is not None:
        lines.append(f"budget remaining: {100 * budget['budget_remaining']:.0f}%")
    for item in (alert.get("what_changed") or [])[:3]:
        lines.append(f"• {item.get('description')} at {item.get('time')}")
    return "\n".join(lines)


def sender_for(sink: Sink, *, base_dir: Path | None = None, stdout: Any = None) -> Sender:
    """The sender of a configured sink."""
    options = sink.options
    if sink.kind == "webhook":
        url = options["url"]
        headers = {str(k): str(v) for k, v in (options.get("headers") or {}).items()}
        timeout = float(options.get("timeout", 10))
        return lambda alert: _post(url, alert, headers, timeout)
    if sink.kind == "slack":
        url = options["url"]
        timeout = float(options.get("timeout", 10))
        return lambda alert: _post(url, {"text": slack_text(alert)}, {}, timeout)
    path = options["path"]
    if path == "-":
        out = stdout or sys.stdout

        def to_stdout(alert: dict[str, Any]) -> None:
            out.write(json.dumps(alert, default=str) + "\n")
            out.flush()

        return to_stdout
    target = Path(path)
    if not target.is_absolute() and base_dir is not None:
        target = base_dir / target

    def to_file(alert: dict[str, Any]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert, default=str) + "\n")

    return to_file
