"""What every HTTP provider shares: the aiohttp session, the credential, transport errors.

:class:`JsonHttpProvider` posts one JSON body to one URL and hands back the status, the body
text and the headers, having mapped every transport failure (timeout, refused or dropped
connection, bad URL) to a :class:`~assay.core.ProviderError`. Subclasses build the payload,
parse a success and map an error status, which is where APIs differ.

One :class:`aiohttp.ClientSession` per provider, created lazily inside the running event loop
(aiohttp was chosen for its low CPU cost per request, see docs/design.md). The API key is read
from the environment once, at construction, and lives only inside the header dict handed to
aiohttp. It is not an attribute, not in ``repr``, not in any output or error (response text
that happens to echo it is scrubbed), and it is dropped when the provider is pickled (the
unpickled copy reads the variable again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from assay.core import ConfigError, ModelRequest, Output, ProviderError

#: ``json.dumps(value, ensure_ascii=False)`` with its encoder built once (``json.dumps`` builds
#: a new one on every call that passes an option): a request body, once per call.
_encode_body = json.JSONEncoder(ensure_ascii=False).encode

if TYPE_CHECKING:
    import aiohttp

_NOT_FOUND_FIX = "check base_url and the model name"

ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A response as the providers see it: status, body text (key scrubbed), headers, timing."""

    status: int
    text: str
    headers: Any
    latency_ms: float


class JsonHttpProvider:
    """Base class: one session, one credential header, one POST per call, no retries.

    Subclasses set ``_key_header`` (the header that carries the key) and ``_key_prefix`` (say
    ``"Bearer "``), call :meth:`_init_http` from ``__init__``, and use :meth:`_post`.
    """

    name: str
    base_url: str
    api_key_env: str | None
    timeout: float
    where: str
    _url: str
    _key_header: str = "Authorization"
    _key_prefix: str = ""
    _key_fix: str = "api_key_env: null"

    def _init_http(self, extra_headers: dict[str, str] | None) -> None:
        self._extra_headers = dict(extra_headers or {})
        self._headers: dict[str, str] | None = self._build_headers()
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    # -- credential ------------------------------------------------------------------------

    def _base_headers(self) -> dict[str, str]:
        """Headers every call sends besides the credential (content type, API version)."""
        return {"Content-Type": "application/json", "Accept": "application/json"}

    def _build_headers(self) -> dict[str, str]:
        headers = self._base_headers()
        headers.update(self._extra_headers)
        if self.api_key_env is not None:
            key = os.environ.get(self.api_key_env, "")
            if not key.strip():
                raise ConfigError(
                    f"environment variable {self.api_key_env} is not set",
                    where=self.where,
                    fix=(
                        f"export {self.api_key_env}=... or set api_key_env in the provider "
                        f"config; use {self._key_fix} for servers without auth"
                    ),
                )
            headers[self._key_header] = f"{self._key_prefix}{key.strip()}"
        return headers

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle the credential (or a live session); the copy re-reads the env variable.
        state = self.__dict__.copy()
        state["_headers"] = None
        state["_session"] = None
        state["_session_loop"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._headers = self._build_headers()

    def _scrub(self, text: str) -> str:
        """Remove the API key from text a server sent back (some servers echo it)."""
        value = self._headers.get(self._key_header) if self._headers else None
        if value:
            prefix = self._key_prefix
            key = value[len(prefix) :] if prefix and value.startswith(prefix) else value
            if key and key in text:
                text = text.replace(key, "***")
        return text

    # -- session ---------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        import aiohttp  # 0.15-0.3 s: paid by runs that call an HTTP endpoint, not by every command

        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            if session is not None and not session.closed:
                abandon_session(session, self._session_loop)
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                raise_for_status=False,
            )
            self._session = session
            self._session_loop = loop
        return session

    @property
    def enforced_timeout(self) -> float | None:
        """Seconds within which :meth:`generate` ends by itself (an output, or a retryable
        ``timeout`` error), or ``None`` when nothing bounds it.

        The session's total timeout covers the whole call (connecting, sending, reading the
        body); the rest of :meth:`generate` does not wait on anything. aiohttp schedules a
        timeout of 5 s or more at the next whole second, so the bound is ``timeout`` plus one
        second. The runner's gateway needs no timer of its own when this is no longer than
        the policy's timeout. A subclass that replaces :meth:`generate` or :meth:`_post` could
        wait on something else, so it makes no such promise."""
        session = self._session
        # The open session's own total (``timeout`` may have changed since it was made);
        # otherwise the one the next session will be made with.
        total = (
            session.timeout.total if session is not None and not session.closed else self.timeout
        )
        if not total or total <= 0:  # aiohttp: a total of 0 (or None) means no timeout
            return None
        cls = type(self)
        if cls.generate is not JsonHttpProvider.generate or cls._post is not JsonHttpProvider._post:
            return None
        return total + 1.0

    async def aclose(self) -> None:
        """Close the HTTP session (a later call opens a new one)."""
        session, self._session, self._session_loop = self._session, None, None
        if session is not None and not session.closed:
            await session.close()

    # -- the request/response cycle (subclasses supply the three wire-format hooks) ---------

    def _payload(self, request: ModelRequest) -> dict[str, Any]:
        raise NotImplementedError

    def _parse(self, reply: HttpReply) -> Output:
        raise NotImplementedError

    def _status_error(self, reply: HttpReply) -> ProviderError:
        """The error for a non-2xx reply (subclasses pass their differences to
        :meth:`_http_status_error`)."""
        return self._http_status_error(reply)

    def _http_status_error(
        self,
        reply: HttpReply,
        *,
        label: str | None = None,
        overloaded: bool = False,
        fixes: Mapping[int, str] | None = None,
    ) -> ProviderError:
        """Map an HTTP error status to a :class:`ProviderError`, the same way for every HTTP
        provider: 429 ``rate_limited``; ``overloaded`` when the provider says so (Anthropic's
        529); 408 ``timeout``; 5xx ``server_error`` (all retryable, honouring
        ``Retry-After``); anything else a non-retryable ``client_error``.

        ``label`` names the status in the message (default ``HTTP <status>``); ``fixes`` adds
        or overrides the fix suggested for a client-error status (401/403: the key; 404: the
        URL and model).
        """
        status, headers = reply.status, reply.headers
        detail = error_detail(reply.text)
        label = label or f"HTTP {status}"
        suffix = f": {detail}" if detail else ""
        if status == 429:
            return self._error(
                f"rate limited ({label}){suffix}",
                "rate_limited",
                retryable=True,
                retry_after=parse_retry_after(headers),
                status=status,
            )
        if overloaded:
            return self._error(
                f"API overloaded ({label}){suffix}",
                "overloaded",
                retryable=True,
                retry_after=parse_retry_after(headers),
                status=status,
            )
        if status == 408:
            return self._error(
                f"server timed out ({label}){suffix}", "timeout", retryable=True, status=status
            )
        if status >= 500:
            return self._error(
                f"server error ({label}){suffix}",
                "server_error",
                retryable=True,
                retry_after=parse_retry_after(headers),
                status=status,
            )
        known = {401: self._auth_fix(), 403: self._auth_fix(), 404: _NOT_FOUND_FIX}
        fix = {**known, **(fixes or {})}.get(status)
        return self._error(
            f"request rejected ({label}){suffix}",
            "client_error",
            retryable=False,
            status=status,
            fix=fix,
        )

    async def generate(self, request: ModelRequest) -> Output:
        """Send one call in the subclass's wire format; its output, or a ProviderError."""
        reply = await self._post(self._payload(request))
        if not 200 <= reply.status < 300:
            raise self._status_error(reply)
        return self._parse(reply)

    # -- the call --------------------------------------------------------------------------

    async def _post(self, payload: dict[str, Any]) -> HttpReply:
        """POST ``payload`` as JSON to ``self._url``; transport failures raise ProviderError."""
        import aiohttp

        session = self._get_session()
        body = _encode_body(payload).encode("utf-8")
        start = time.perf_counter()
        try:
            async with session.post(self._url, data=body) as response:
                status = response.status
                data = await response.read()
                headers = response.headers
        except TimeoutError as exc:  # includes aiohttp's ServerTimeoutError
            raise self._error(
                f"request timed out after {self.timeout:g}s",
                "timeout",
                retryable=True,
                fix="raise the provider timeout or lower concurrency",
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise self._error(
                f"invalid URL {self._url!r}",
                "client_error",
                retryable=False,
                fix="check base_url in the provider config",
            ) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise self._error(
                f"connection to {self.base_url} failed: {type(exc).__name__}: {exc}",
                "connection",
                retryable=True,
            ) from exc
        except aiohttp.ClientError as exc:
            raise self._error(
                f"HTTP client error: {type(exc).__name__}: {exc}", "connection", retryable=True
            ) from exc
        latency_ms = (time.perf_counter() - start) * 1000.0
        text = self._scrub(data.decode("utf-8", errors="replace"))
        return HttpReply(status, text, headers, latency_ms)

    def _parse_json_object(self, reply: HttpReply) -> dict[str, Any]:
        """The reply's body as a JSON object, or a retryable ``malformed_response`` error."""
        try:
            body = json.loads(reply.text)
        except ValueError as exc:
            raise self._error(
                f"response is not valid JSON: {truncate(reply.text)!r}",
                "malformed_response",
                retryable=True,
                status=reply.status,
            ) from exc
        if not isinstance(body, dict):
            raise self._error(
                "response JSON is not an object",
                "malformed_response",
                retryable=True,
                status=reply.status,
            )
        return body

    def _auth_fix(self) -> str:
        return (
            f"check the key in {self.api_key_env}"
            if self.api_key_env
            else "this server needs auth: set api_key_env in the provider config"
        )

    def _error(
        self,
        message: str,
        error_class: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        fix: str | None = None,
    ) -> ProviderError:
        return ProviderError(
            self._scrub(message),
            error_class=error_class,
            retryable=retryable,
            retry_after=retry_after,
            status=status,
            where=self.where,
            fix=fix,
        )


# -- helpers ---------------------------------------------------------------------------------


def abandon_session(session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop | None) -> None:
    """Let go of a session left behind by another event loop (say an earlier ``asyncio.run``).

    Its connections belong to that loop and cannot be awaited from this one: close it there if
    that loop still runs, else just mark it closed so it does not warn when collected.
    """
    if loop is not None and not loop.is_closed() and loop.is_running():
        asyncio.run_coroutine_threadsafe(session.close(), loop)
        return
    connector = session.connector
    session.detach()
    if connector is not None:
        with contextlib.suppress(Exception):
            connector._close()


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def truncate(text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
    """``text`` stripped and cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_detail(text: str) -> str:
    """The server's error message: ``error.message``, ``error``, ``detail``, ``message`` or the
    raw text (OpenAI, Anthropic and most gateways use one of these shapes)."""
    try:
        body = json.loads(text)
    except ValueError:
        return truncate(text)
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error
        elif error:
            message = error
        elif "detail" in body:
            message = body["detail"]
        elif "message" in body:
            message = body["message"]
    if message is None:
        message = body
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    return truncate(message)


def str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def int_or_none(value: Any) -> int | None:
    """An integer token count, or ``None`` for anything else (bools, fractions, strings)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
