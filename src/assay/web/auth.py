"""The access token ``assay serve`` demands when it listens beyond the loopback interface, the
host names it answers to without one, and the security headers on every response.

Checked on every request (pages, API, static files, the OpenAPI schema) before any route runs.
A client presents it as ``Authorization: Bearer TOKEN``, an ``X-Assay-Token`` header, the
``assay_token`` cookie, or once as ``?token=TOKEN`` in a browser's address bar, which sets
that cookie (HttpOnly, SameSite=Strict) so the links that follow work.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "assay_token"

#: Shorter tokens are refused: a token is the only thing between the network and the store.
MIN_TOKEN_LENGTH = 16

#: The names a browser uses for this machine. Without a token, ``assay serve`` answers only
#: requests whose ``Host`` is one of these (or an ``--allowed-host``): a page on another site
#: that rebinds its own name to 127.0.0.1 (DNS rebinding) then gets a 400, not the store.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")

#: Sent with every response. Pages load scripts and styles from ``/static`` only (inline
#: ``style=`` attributes are allowed; inline scripts are not), and no other site may frame them.
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def check_token(token: str, where: str = "--token") -> str:
    """``token`` if it is long enough to guard a store, else an :class:`AssayError`."""
    from assay.core import AssayError

    if len(token) < MIN_TOKEN_LENGTH:
        raise AssayError(
            f"the access token is {len(token)} characters; at least {MIN_TOKEN_LENGTH} are needed",
            where=where,
            fix='make one with: python -c "import secrets; print(secrets.token_urlsafe(24))"',
        )
    return token


def allowed_hosts(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The ``Host`` names served without a token: loopback names plus ``extra`` (each may be
    a ``*.example.com`` wildcard, as Starlette's ``TrustedHostMiddleware`` reads it)."""
    return [*LOOPBACK_HOSTS, *(h.strip().lower() for h in extra if h.strip())]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response that does not
    set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _presented(scope: Scope) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the query string."""
    headers = Headers(scope=scope)
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), False
    if "x-assay-token" in headers:
        return headers["x-assay-token"], False
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header carries no token
        cookie = SimpleCookie()
    if COOKIE in cookie:
        return cookie[COOKIE].value, False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    return None, False


class TokenGuard:
    """ASGI middleware: 401 for any request without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("TokenGuard needs a non-empty token")
        check_token(token)
        self.app = app
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token, from_query = _presented(scope)
        if token is None or not hmac.compare_digest(token.encode("utf-8"), self._token):
            await self._refuse(scope, send)
            return
        if not from_query:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        api = scope.get("path", "").startswith("/api") or scope.get("path") == "/openapi.json"
        message = "this server needs its access token"
        fix = "send 'Authorization: Bearer TOKEN', or open the page once with ?token=TOKEN"
        if api:
            body = json.dumps({"error": message, "fix": fix}).encode()
            content_type = b"application/json"
        else:
            body = (
                "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>401 · assay"
                f"</title></head><body><h1>401 · unauthorised</h1><p>{message}.</p>"
                f"<p>How to fix it: {fix}.</p></body></html>"
            ).encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="assay"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
