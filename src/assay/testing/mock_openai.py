"""A local OpenAI-compatible chat-completions server for tests, demos and CLI integration runs.

Bound to 127.0.0.1 on a free port. It also speaks Anthropic's Messages API
(``POST /v1/messages``) with the same answers, faults and counters, so both providers are
tested against one server. Answers are deterministic (``"echo: <last user message>"`` by
default, or any ``answer(body) -> str | None``; ``None`` sends ``content: null``), usage counts
whitespace tokens, the reported model can change silently after N calls (``model_after``),
latency is fixed or lognormal, and faults are injected per call, deterministically from a seed,
so a test run is reproducible::

    async with MockOpenAIServer(model="mock-1", faults={"rate_limit": 0.1}) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)

    handle = MockOpenAIServer().start_in_thread()   # for subprocess (CLI) tests
    ...
    handle.stop()

Adding a fault kind means: a rate field on :class:`FaultConfig`, a name in :data:`FAULT_KINDS`
(its position sets the order of the cumulative draw) and a branch in
:meth:`MockOpenAIServer._inject`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import threading
from collections import Counter
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal[
    "rate_limit", "error_500", "error_503", "malformed", "drop", "truncate", "hang", "overloaded"
]
#: Fault kinds in the order the cumulative per-call draw visits them. New kinds go at the end,
#: so a given seed keeps injecting the same faults into the same calls as before.
FAULT_KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "error_500",
    "error_503",
    "malformed",
    "drop",
    "truncate",
    "hang",
    "overloaded",
)
ApiStyle = Literal["openai", "anthropic"]
_CREATED = 1767225600  # 2026-01-01T00:00:00Z: a fixed timestamp keeps responses reproducible
_STANDARD_NORMAL = NormalDist()
# Anthropic's error ``type`` for each status the mock sends.
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


class FaultConfig(BaseModel):
    """Per-call fault injection. Rates are probabilities per call and must sum to at most 1.

    - ``rate_limit``: HTTP 429 with ``Retry-After: retry_after`` (omitted when ``None``);
    - ``error_500`` / ``error_503``: HTTP 500 / 503 with a JSON error body;
    - ``malformed``: HTTP 200 whose body is not JSON;
    - ``drop``: the connection is closed before any response is sent;
    - ``truncate``: headers and part of the body are sent, then the connection is closed;
    - ``hang``: no answer for ``hang_s`` seconds (drives client timeouts);
    - ``overloaded``: HTTP 529 (Anthropic's "overloaded"; OpenAI clients see a 5xx);
    - ``latency_ms``: delay added to every call; with ``latency_sigma`` = 0 it is fixed, with
      ``latency_sigma`` > 0 call *n* waits ``latency_ms * exp(latency_sigma * z_n)``, ``z_n`` a
      standard normal drawn from (seed, n): lognormal, median ``latency_ms``, heavy right tail
      (sigma 1 puts the 99th percentile at about 10x the median);
    - ``script``: explicit faults (or ``"ok"``) for the first calls, before the rates apply;
    - ``seed``: seeds the per-call draws (call *n* always gets the same fault and latency for a
      given seed).
    """

    model_config = ConfigDict(extra="forbid")

    rate_limit: float = Field(0.0, ge=0, le=1)
    retry_after: float | None = 1.0
    error_500: float = Field(0.0, ge=0, le=1)
    error_503: float = Field(0.0, ge=0, le=1)
    malformed: float = Field(0.0, ge=0, le=1)
    drop: float = Field(0.0, ge=0, le=1)
    truncate: float = Field(0.0, ge=0, le=1)
    hang: float = Field(0.0, ge=0, le=1)
    overloaded: float = Field(0.0, ge=0, le=1)
    hang_s: float = Field(30.0, ge=0)
    latency_ms: float = Field(0.0, ge=0)
    latency_sigma: float = Field(0.0, ge=0)
    script: list[FaultKind | Literal["ok"]] = Field(default_factory=list)
    seed: int = 0

    @model_validator(mode="after")
    def _rates_sum_to_at_most_one(self) -> FaultConfig:
        total = sum(getattr(self, kind) for kind in FAULT_KINDS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates sum to {total:g}, more than 1")
        return self

    def fault_for(self, call_index: int) -> FaultKind | None:
        """The fault injected into call ``call_index`` (0-based), or ``None``."""
        if call_index < len(self.script):
            kind = self.script[call_index]
            return None if kind == "ok" else kind
        u = _uniform(f"{self.seed}|{call_index}")
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += getattr(self, kind)
            if u < edge:
                return kind
        return None

    def latency_for(self, call_index: int) -> float:
        """The delay in milliseconds before call ``call_index`` (0-based) is answered."""
        if self.latency_ms <= 0:
            return 0.0
        if self.latency_sigma <= 0:
            return self.latency_ms
        # A separate stream from the fault draw, so turning latency on moves no fault.
        u = min(max(_uniform(f"latency|{self.seed}|{call_index}"), 2.0**-53), 1.0 - 2.0**-53)
        return self.latency_ms * math.exp(self.latency_sigma * _STANDARD_NORMAL.inv_cdf(u))


def _uniform(key: str) -> float:
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def count_tokens(text: str) -> int:
    """Whitespace tokens: the mock's (and the sim's) notion of a token."""
    return len(text.split())


def echo_answer(body: dict[str, Any]) -> str:
    """The default answer: ``"echo: "`` plus the last user message."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return f"echo: {_content_text(message.get('content', ''))}"
    return "echo: "


def request_key(model: Any, messages: Any) -> str:
    """A stable hash of a request's content (model and messages), the key of
    :meth:`MockOpenAIServer.request_counts`.

    Messages are ``{"role", "content"}`` mappings; content given as Anthropic content blocks is
    flattened to its text, so the same conversation has the same key whichever API sent it
    (an Anthropic top-level ``system`` counts as a leading system message). From a
    :class:`~assay.core.ModelRequest`: ``request_key(r.model, [m.model_dump() for m in
    r.messages])``.
    """
    normalised = [
        {"role": str(m.get("role")), "content": _content_text(m.get("content"))}
        if isinstance(m, dict)
        else {"role": None, "content": repr(m)}
        for m in (messages if isinstance(messages, list) else [])
    ]
    text = json.dumps([model, normalised], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _content_text(content: Any) -> str:
    """A message's text: a string as it is, content blocks joined by their ``text``."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(
            str(block.get("text", "")) if isinstance(block, dict) else str(block)
            for block in content
        )
    return str(content)


def _anthropic_messages(body: dict[str, Any]) -> list[Any]:
    """An Anthropic body's conversation with its top-level ``system`` as a first message."""
    messages = body.get("messages")
    messages = list(messages) if isinstance(messages, list) else []
    system = body.get("system")
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


class MockOpenAIServer:
    """A mock serving ``POST /v1/chat/completions`` and ``GET /v1/models`` (OpenAI style) and
    ``POST /v1/messages`` (Anthropic style: ``x-api-key`` auth, ``max_tokens`` required,
    ``{"type": "error", "error": {...}}`` error bodies).

    The counters cover both APIs: ``calls`` counts every request received (including faulted
    and rejected ones) and is the call index the fault and latency draws use; ``requests``
    holds their JSON bodies; ``answered`` counts successful answers; ``faults_injected`` lists
    ``(call_index, kind)``; :meth:`request_counts` counts requests per content.
    ``model_after=(n, "model-2")`` reports ``model-2`` from the (n+1)-th successful answer on
    (a silent upgrade). ``logprobs(body, text)`` returns the ``choices[0].logprobs`` object of
    an OpenAI-style answer (``None`` by default, as when they were not requested).
    """

    def __init__(
        self,
        model: str = "mock-1",
        *,
        answer: Callable[[dict[str, Any]], str | None] | None = None,
        system_fingerprint: str | None = "fp_mock",
        model_after: tuple[int, str] | None = None,
        logprobs: Callable[[dict[str, Any], str | None], dict[str, Any] | None] | None = None,
        require_api_key: str | None = None,
        faults: FaultConfig | dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.model = model
        self.answer = answer or echo_answer
        self.system_fingerprint = system_fingerprint
        self.model_after = model_after
        self.logprobs = logprobs
        self.require_api_key = require_api_key
        self.faults = (
            faults if isinstance(faults, FaultConfig) else FaultConfig.model_validate(faults or {})
        )
        self.host = host
        self.port = port
        self.calls = 0
        self.answered = 0
        self.requests: list[Any] = []
        self.faults_injected: list[tuple[int, str]] = []
        self._request_counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()  # read from other threads via ThreadedMockServer
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    def __repr__(self) -> str:  # never show require_api_key
        return f"MockOpenAIServer(model={self.model!r}, base_url={self.base_url_or_none()!r})"

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (only while running)."""
        url = self.base_url_or_none()
        if url is None:
            raise RuntimeError("the mock server is not running")
        return url

    def base_url_or_none(self) -> str | None:
        if self._runner is None:
            return None
        return f"http://{self.host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``http://127.0.0.1:<port>``, the API root an Anthropic client appends ``/v1/messages``
        to (only while running)."""
        return self.base_url[: -len("/v1")]

    def request_counts(self) -> Counter[str]:
        """How many requests arrived per content, keyed by :func:`request_key` (model and
        messages); a count above 1 means the same request was sent again. A copy."""
        with self._counts_lock:
            return Counter(self._request_counts)

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        return app

    async def start(self) -> MockOpenAIServer:
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> MockOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> ThreadedMockServer:
        """Run the server on its own event loop in a daemon thread (for subprocess tests)."""
        return ThreadedMockServer(self)

    # -- handlers --------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check_auth(request, "openai")) is not None:
            return denied
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "mock"}]}
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "openai")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "anthropic")

    async def _serve(self, request: web.Request, style: ApiStyle) -> web.StreamResponse:
        """The pipeline both APIs share: count, parse, auth, validate, delay, fault, answer."""
        index = self.calls
        self.calls += 1
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            self.requests.append(raw.decode("utf-8", errors="replace"))
            return _error(style, 400, "request body is not valid JSON", "invalid_request_error")
        self.requests.append(body)
        if isinstance(body, dict):
            messages = _anthropic_messages(body) if style == "anthropic" else body.get("messages")
            key = request_key(body.get("model"), messages)
            with self._counts_lock:
                self._request_counts[key] += 1

        if (denied := self._check_auth(request, style)) is not None:
            return denied
        if (invalid := _validate(body, style)) is not None:
            return _error(style, 400, invalid, "invalid_request_error")

        delay_ms = self.faults.latency_for(index)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000.0)
        fault = self.faults.fault_for(index)
        if fault is not None:
            self.faults_injected.append((index, fault))
            return await self._inject(fault, request, style)

        text = self.answer(body)
        model = self.model
        if self.model_after is not None and self.answered >= self.model_after[0]:
            model = self.model_after[1]
        self.answered += 1
        if style == "anthropic":
            return self._anthropic_answer(body, index, model, text)
        return self._openai_answer(body, index, model, text)

    def _openai_answer(
        self, body: dict[str, Any], index: int, model: str, text: str | None
    ) -> web.Response:
        prompt_tokens = sum(
            count_tokens(_content_text(m.get("content")))
            for m in body["messages"]
            if isinstance(m, dict)
        )
        completion_tokens = count_tokens(text or "")
        payload: dict[str, Any] = {
            "id": f"chatcmpl-mock-{index}",
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": self.logprobs(body, text) if self.logprobs else None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if self.system_fingerprint is not None:
            payload["system_fingerprint"] = self.system_fingerprint
        return web.json_response(payload, headers={"x-request-id": f"req-mock-{index}"})

    def _anthropic_answer(
        self, body: dict[str, Any], index: int, model: str, text: str | None
    ) -> web.Response:
        input_tokens = sum(
            count_tokens(_content_text(m.get("content")))
            for m in _anthropic_messages(body)
            if isinstance(m, dict)
        )
        # A ``None`` answer is a reply with no text block (say, only a tool call).
        content = [] if text is None else [{"type": "text", "text": text}]
        payload = {
            "id": f"msg_mock_{index}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": count_tokens(text or "")},
        }
        return web.json_response(payload, headers={"request-id": f"req_mock_{index}"})

    def _check_auth(self, request: web.Request, style: ApiStyle = "openai") -> web.Response | None:
        if self.require_api_key is None:
            return None
        if style == "anthropic":
            if request.headers.get("x-api-key") == self.require_api_key:
                return None
            return _error(style, 401, "invalid x-api-key", "authentication_error")
        if request.headers.get("Authorization") == f"Bearer {self.require_api_key}":
            return None
        return _error(style, 401, "Incorrect API key provided.", "invalid_request_error", 401)

    async def _inject(
        self, fault: FaultKind, request: web.Request, style: ApiStyle = "openai"
    ) -> web.StreamResponse:
        if fault == "rate_limit":
            headers = {}
            if self.faults.retry_after is not None:
                headers["Retry-After"] = f"{self.faults.retry_after:g}"
            return _error(
                style, 429, "Rate limit reached (mock).", "rate_limit_exceeded", headers=headers
            )
        if fault == "error_500":
            return _error(style, 500, "The server had an error (mock).", "server_error")
        if fault == "error_503":
            return _error(style, 503, "The server is overloaded (mock).", "server_error")
        if fault == "overloaded":
            return _error(style, 529, "Overloaded (mock).", "overloaded_error")
        if fault == "malformed":
            start = '{"content": [ {"oops' if style == "anthropic" else '{"choices": [ {"oops'
            return web.Response(status=200, text=start, content_type="application/json")
        if fault == "drop":
            _close_connection(request)
            return web.Response(status=200)
        if fault == "truncate":
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            response.content_length = 4096
            await response.prepare(request)
            start = (
                '{"id": "msg_mock_truncated", "content": ['
                if style == "anthropic"
                else ('{"id": "chatcmpl-mock-truncated", "choices": [')
            )
            await response.write(start.encode("utf-8"))
            _close_connection(request)
            return response
        if fault == "hang":
            stopping = self._stopping
            if stopping is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.faults.hang_s)
            else:
                await asyncio.sleep(self.faults.hang_s)
            _close_connection(request)
            return web.Response(status=200)
        raise AssertionError(f"unknown fault {fault!r}")  # pragma: no cover


def _validate(body: Any, style: ApiStyle) -> str | None:
    """What is wrong with a request body, in the API's own words, or ``None``."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "'messages' is a required list" if style == "openai" else "messages: Field required"
    if not body.get("model"):
        return "'model' is required" if style == "openai" else "model: Field required"
    if style == "anthropic":
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            return "max_tokens: Field required (an integer)"
        for n, message in enumerate(body["messages"]):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("user", "assistant"):
                return (
                    f"messages.{n}.role: Input should be 'user' or 'assistant' "
                    "(system prompts go in the top-level 'system' field)"
                )
    return None


def _close_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _error(
    style: ApiStyle,
    status: int,
    message: str,
    kind: str,
    code: int | str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error response in the API's style: OpenAI's ``{"error": {message, type, param,
    code}}`` or Anthropic's ``{"type": "error", "error": {type, message}}``."""
    body: dict[str, Any]
    if style == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(status, kind)
        body = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


class ThreadedMockServer:
    """A :class:`MockOpenAIServer` running in a background thread; ``stop()`` shuts it down."""

    def __init__(self, server: MockOpenAIServer, *, start_timeout: float = 10.0) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="assay-mock-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout):
            raise RuntimeError("the mock server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the mock server failed to start: {self._error}") from self._error
        self._base_url = server.base_url

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    @property
    def base_url(self) -> str:
        """The server's ``.../v1`` URL (kept after ``stop()``)."""
        return self._base_url

    @property
    def anthropic_base_url(self) -> str:
        """The server's API root for Anthropic clients (kept after ``stop()``)."""
        return self._base_url[: -len("/v1")]

    @property
    def calls(self) -> int:
        return self.server.calls

    @property
    def answered(self) -> int:
        return self.server.answered

    @property
    def requests(self) -> list[Any]:
        return self.server.requests

    def request_counts(self) -> Counter[str]:
        """See :meth:`MockOpenAIServer.request_counts`."""
        return self.server.request_counts()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> ThreadedMockServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m assay.testing [--port N] [--model M] [--faults JSON]``.

    Prints ``mock OpenAI server on <base_url>`` once listening (``--port 0`` picks a free port)
    and serves until interrupted.
    """
    import argparse

    parser = argparse.ArgumentParser(description="assay's OpenAI-compatible mock server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--model", default="mock-1")
    parser.add_argument("--faults", default="{}", help="FaultConfig as JSON")
    args = parser.parse_args(argv)

    async def serve() -> None:
        server = MockOpenAIServer(
            args.model, faults=json.loads(args.faults), host=args.host, port=args.port
        )
        async with server:
            print(f"mock OpenAI server on {server.base_url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
