"""``python -m assay.testing traffic``: send simulated production traffic to a receiver.

Spans go over OTLP/HTTP (protobuf, the SDK's ``OTLPSpanExporter``) to ``URL/v1/traces``;
then the feedback and outcome records are POSTed as JSON lists to ``URL/api/feedback`` and
``URL/api/outcomes``. An endpoint answering 404 is reported and skipped (a bare ``assay
collect`` has no feedback API). Exit status: 0 when everything was accepted, 1 when something
was refused, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assay.core import AssayError, ConfigError
from assay.testing.traffic import DEFAULT_START, TrafficConfig, simulate

TOKEN_ENV = "ASSAY_TOKEN"
BATCH = 1000


def _parse_start(text: str, days: float) -> datetime:
    if text == "recent":
        # The window ends at the current hour, so "the last N days" queries see the traffic.
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return now - timedelta(days=days)
    try:
        start = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"--start {text!r} is not an ISO-8601 time",
            where="--start",
            fix="e.g. 2026-03-02T00:00:00+00:00, or 'recent'",
        ) from exc
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def check_endpoint(endpoint: str) -> None:
    """Fail early (ConfigError) when ``endpoint`` is not an http(s) URL that accepts connections."""
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            f"--endpoint {endpoint!r} is not an http(s) URL",
            where="--endpoint",
            fix="e.g. http://127.0.0.1:8765 (the base URL; /v1/traces is added)",
        )
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=5).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot connect to {endpoint}: {exc}",
            where="--endpoint",
            fix="start `assay serve` (or `assay collect`) first, or check the host and port",
        ) from exc


def post_records(url: str, records: list[dict[str, Any]], token: str | None, what: str) -> bool:
    """POST ``records`` as JSON lists of up to 1,000 to ``url``. Prints what happened; returns
    False when the server refused them (a 404 is reported and counts as skipped, not refused)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = 0
    for i in range(0, len(records), BATCH):
        body = json.dumps(records[i : i + BATCH]).encode("utf-8")
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            if exc.code == 404:
                print(
                    f"note: {url} answered 404 (this server does not accept {what}); "
                    f"{len(records) - sent} {what} not sent",
                    file=sys.stderr,
                )
                return True
            hint = f" (send the server's token: --token or {TOKEN_ENV})" if exc.code == 401 else ""
            print(f"error: {url} refused {what}: HTTP {exc.code} {detail}{hint}", file=sys.stderr)
            return False
        except (urllib.error.URLError, OSError) as exc:
            print(f"error: could not send {what} to {url}: {exc}", file=sys.stderr)
            return False
        sent += len(records[i : i + BATCH])
    print(f"sent {sent} {what} to {url}")
    return True


def main(argv: list[str]) -> int:
    """Parse ``argv``, simulate, send; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m assay.testing traffic",
        description="Send simulated production traffic (OTLP/HTTP spans, feedback, outcomes).",
    )
    parser.add_argument(
        "--endpoint", required=True, help="receiver base URL, e.g. http://127.0.0.1:8765"
    )
    parser.add_argument("--days", type=float, default=7.0, help="length of the window [7]")
    parser.add_argument("--requests", type=int, default=2000, help="requests to simulate [2000]")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated world [7]")
    parser.add_argument(
        "--start",
        default=DEFAULT_START.isoformat(),
        help="window start (ISO-8601), or 'recent' for a window ending now "
        f"[{DEFAULT_START.isoformat()}]",
    )
    parser.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV), help=f"access token [${TOKEN_ENV}]"
    )
    parser.add_argument(
        "--truth",
        type=Path,
        help="write the ground truth as JSON here (it holds the planted personal data)",
    )
    parser.add_argument("--no-signals", action="store_true", help="send spans only")
    args = parser.parse_args(argv)
    try:
        check_endpoint(args.endpoint)
        config = TrafficConfig(
            seed=args.seed,
            days=args.days,
            requests=args.requests,
            start=_parse_start(args.start, args.days),
        )
        step = max(1, config.requests // 10)
        marks = iter(range(step, config.requests + step, step))
        mark = next(marks)

        def progress(done: int, total: int) -> None:
            nonlocal mark
            while done >= mark:
                print(f"simulated {min(mark, total)}/{total} requests", file=sys.stderr, flush=True)
                mark = next(marks, total + 1)

        result = simulate(config, endpoint=args.endpoint, token=args.token, progress=progress)
    except AssayError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    base = args.endpoint.rstrip("/")
    print(
        f"sent {result.n_exported}/{result.n_spans} spans of {len(result.trace_ids)} traces "
        f"to {base}/v1/traces"
    )
    status = 0
    if result.n_export_failed:
        print(
            f"error: {result.n_export_failed} spans were refused or lost by {base}/v1/traces "
            "(see the exporter's log above)",
            file=sys.stderr,
        )
        status = 1
    if not args.no_signals:
        if not post_records(
            f"{base}/api/feedback", result.feedback, args.token, "feedback records"
        ):
            status = 1
        if not post_records(f"{base}/api/outcomes", result.outcomes, args.token, "outcome records"):
            status = 1
    if args.truth:
        args.truth.write_text(json.dumps(result.truth.to_json(), indent=1), encoding="utf-8")
        print(f"wrote the ground truth to {args.truth}")
    return status
