"""Anthropic's Messages API (``POST /v1/messages``), over aiohttp, without the Anthropic SDK.

The session, the credential (sent as ``x-api-key``) and transport errors are shared with the
OpenAI-compatible provider (:mod:`assay.providers._http`), and failures map to the same
``error_class`` names, plus ``overloaded`` for Anthropic's HTTP 529 (retryable; a scheduler
should treat it like a rate limit and back off).

Request mapping from the provider-neutral :class:`~assay.core.ModelRequest`:

- ``system`` messages (wherever they appear) are joined into the top-level ``system`` field;
  ``user`` and ``assistant`` messages are sent as they are, in order;
- ``max_tokens`` comes from the params (``max_tokens`` or ``max_completion_tokens``), else
  ``default_max_tokens`` (the API requires it);
- ``temperature``, ``top_p``, ``top_k`` pass through, ``stop`` becomes ``stop_sequences``
  (a string becomes a one-item list); any other param is passed through unchanged;
- ``request.seed`` is not sent: the Messages API has no seed and rejects unknown fields.

Response mapping: ``text`` is the concatenated ``text`` of the ``text`` content blocks, ``model``
the response's (resolved) model, ``finish_reason`` its ``stop_reason``, usage
``input_tokens``/``output_tokens`` (total = their sum; prompt-cache token counts stay in
``raw``), and ``metadata["request_id"]`` the ``request-id`` header.
"""

from __future__ import annotations

import json
from typing import Any

from assay.core import ModelRequest, Output, ProviderError, Usage
from assay.providers._http import (
    HttpReply,
    JsonHttpProvider,
    int_or_none,
    str_or_none,
    truncate,
)

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
#: HTTP status Anthropic uses when its API is temporarily overloaded.
OVERLOADED_STATUS = 529


class AnthropicProvider(JsonHttpProvider):
    """Claude models through Anthropic's Messages API (or any server that speaks it).

    ``base_url`` is the API root without ``/v1`` (``https://api.anthropic.com``); a root that
    already ends in ``/v1`` is accepted too. ``api_key_env`` names the environment variable
    holding the key (``None`` for a proxy that adds it); ``anthropic_version`` is sent as the
    ``anthropic-version`` header; ``default_max_tokens`` is used when the request's params set
    no ``max_tokens``; ``timeout`` is the total time for one call in seconds; ``headers`` are
    extra request headers (``anthropic-beta``, say); ``where`` names the config location used
    in error messages.
    """

    _key_header = "x-api-key"
    _key_prefix = ""

    def __init__(
        self,
        name: str = "anthropic",
        base_url: str = DEFAULT_ANTHROPIC_BASE_URL,
        api_key_env: str | None = "ANTHROPIC_API_KEY",
        timeout: float = 60,
        anthropic_version: str = DEFAULT_ANTHROPIC_VERSION,
        default_max_tokens: int = 1024,
        headers: dict[str, str] | None = None,
        where: str | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.anthropic_version = anthropic_version
        self.default_max_tokens = int(default_max_tokens)
        self.where = where or name
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        self._url = f"{root}/v1/messages"
        self._init_http(headers)

    def __repr__(self) -> str:
        return (
            f"AnthropicProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r}, timeout={self.timeout!r}, "
            f"anthropic_version={self.anthropic_version!r})"
        )

    def _base_headers(self) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": self.anthropic_version,
        }

    # -- the call --------------------------------------------------------------------------

    def _payload(self, request: ModelRequest) -> dict[str, Any]:
        system: list[str] = []
        messages: list[dict[str, str]] = []
        for message in request.messages:
            if message.role == "system":
                system.append(message.content)
            else:
                messages.append({"role": message.role, "content": message.content})
        params = dict(request.params)
        max_tokens = params.pop("max_tokens", None)
        alias = params.pop("max_completion_tokens", None)
        if max_tokens is None:
            max_tokens = alias if alias is not None else self.default_max_tokens
        payload: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens}
        if system:
            payload["system"] = "\n\n".join(system)
        payload["messages"] = messages
        if "stop" in params:
            stop = params.pop("stop")
            if stop is not None:
                payload["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        payload.update(params)  # temperature, top_p, top_k and anything else, unchanged
        return payload

    # -- response handling ------------------------------------------------------------------

    def _parse(self, reply: HttpReply) -> Output:
        body = self._parse_json_object(reply)
        content = body.get("content")
        if body.get("type") == "error" or not isinstance(content, list):
            raise self._error(
                f"response has no content blocks: {truncate(reply.text)!r}",
                "malformed_response",
                retryable=True,
                status=reply.status,
            )
        text = "".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
        usage = body.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        input_tokens = int_or_none(usage.get("input_tokens"))
        output_tokens = int_or_none(usage.get("output_tokens"))
        total = (
            input_tokens + output_tokens
            if input_tokens is not None and output_tokens is not None
            else None
        )
        metadata: dict[str, Any] = {}
        request_id = reply.headers.get("request-id") if reply.headers is not None else None
        if request_id:
            metadata["request_id"] = request_id
        return Output(
            text=text,
            model=str_or_none(body.get("model")),
            finish_reason=str_or_none(body.get("stop_reason")),
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=total),
            latency_ms=reply.latency_ms,
            raw=body,
            metadata=metadata,
        )

    def _status_error(self, reply: HttpReply) -> ProviderError:
        kind = _error_type(reply.text)
        status = reply.status
        return self._http_status_error(
            reply,
            label=f"HTTP {status}, {kind}" if kind else None,
            overloaded=status == OVERLOADED_STATUS
            or (status >= 500 and kind == "overloaded_error"),
            fixes={413: "the request is too large: shorten the prompt"},
        )


def _error_type(text: str) -> str | None:
    """Anthropic's ``error.type`` (``invalid_request_error``, ``overloaded_error``…), if any."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = body["error"].get("type")
        return kind if isinstance(kind, str) and kind else None
    return None
