"""Server time on every response, as a W3C ``Server-Timing`` header.

``Server-Timing: app;dur=12.345`` is the time, in milliseconds (three decimals: a page from
:mod:`assay.web.page_cache` takes well under a tenth of one), from the request reaching the
application to its response starting: routing, the handler, its SQL, template rendering and
gzip (the gzip middleware starts a response only once its first body chunk is compressed).
It leaves out the network and the client. Browsers expose it to the page as
``performance.getEntriesByType("navigation")[0].serverTiming`` (a secure context is needed;
``127.0.0.1`` and ``localhost`` are one), which is how the browser tests and
``benchmarks/web_pages.py`` read page times.

Header format: https://www.w3.org/TR/server-timing/ (``metric;dur=<ms>``).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The metric name in the header.
METRIC = "app"


def server_time_ms(header: str | None) -> float | None:
    """The ``app`` duration in milliseconds from a ``Server-Timing`` header value (``None``
    when it is absent or names no such metric)."""
    for entry in (header or "").split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        if name != METRIC:
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                try:
                    return float(value)
                except ValueError:
                    return None
    return None


class ServerTiming:
    """ASGI middleware adding ``Server-Timing: app;dur=<ms>`` to every HTTP response (add it
    last, so it is the outermost layer and times the others too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = 1000 * (time.perf_counter() - start)
                value = f"{METRIC};dur={elapsed:.3f}".encode("latin-1")
                message["headers"] = [*message.get("headers", []), (b"server-timing", value)]
            await send(message)

        await self.app(scope, receive, send_timed)
