"""Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, Ollama, llama.cpp, the mock.

The session, the credential and transport errors are shared with the other HTTP providers
(:mod:`assay.providers._http`). The provider never retries: it maps every failure to a
:class:`~assay.core.ProviderError` with a stable ``error_class`` and a ``retryable`` flag, and
the runner decides what to do. The API key never appears in ``repr``, outputs, errors or a
pickle.
"""

from __future__ import annotations

from typing import Any

from assay.core import ModelRequest, Output, Usage
from assay.core.construct import construct_checked
from assay.providers._http import (
    HttpReply,
    JsonHttpProvider,
    int_or_none,
    parse_retry_after,
    str_or_none,
    truncate,
)

__all__ = ["DEFAULT_OPENAI_BASE_URL", "OpenAICompatProvider", "parse_retry_after"]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatProvider(JsonHttpProvider):
    """Chat completions over HTTP against any OpenAI-compatible server.

    ``api_key_env`` names the environment variable holding the API key (``None`` for servers
    without auth); ``headers`` are extra request headers; ``timeout`` is the total time allowed
    for one call in seconds; ``where`` names the config location used in error messages.
    """

    _key_header = "Authorization"
    _key_prefix = "Bearer "

    def __init__(
        self,
        name: str = "openai",
        base_url: str = DEFAULT_OPENAI_BASE_URL,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60,
        headers: dict[str, str] | None = None,
        where: str | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.where = where or name
        self._url = f"{self.base_url}/chat/completions"
        self._init_http(headers)

    def __repr__(self) -> str:
        return (
            f"OpenAICompatProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r}, timeout={self.timeout!r})"
        )

    # -- the call --------------------------------------------------------------------------

    def _payload(self, request: ModelRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        payload.update(request.params)
        if request.seed is not None and "seed" not in request.params:
            payload["seed"] = request.seed
        return payload

    # -- response handling ------------------------------------------------------------------

    def _parse(self, reply: HttpReply) -> Output:
        body = self._parse_json_object(reply)
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._error(
                f"response has no choices: {truncate(reply.text)!r}",
                "malformed_response",
                retryable=True,
                status=reply.status,
            )
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            raise self._error(
                "response choice has no message",
                "malformed_response",
                retryable=True,
                status=reply.status,
            )
        usage = body.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        metadata: dict[str, Any] = {}
        request_id = reply.headers.get("x-request-id") if reply.headers is not None else None
        if request_id:
            metadata["request_id"] = request_id
        # Every value already has its field's type (text, text or None, int or None, a float,
        # the body's dict), so the output is built without validation: once per call.
        tokens = {
            "input_tokens": int_or_none(usage.get("prompt_tokens")),
            "output_tokens": int_or_none(usage.get("completion_tokens")),
            "total_tokens": int_or_none(usage.get("total_tokens")),
        }
        return construct_checked(
            Output,
            {
                "text": _content_text(message.get("content")),
                "model": str_or_none(body.get("model")),
                "system_fingerprint": str_or_none(body.get("system_fingerprint")),
                "finish_reason": str_or_none(choice.get("finish_reason")),
                "usage": construct_checked(Usage, tokens),
                "latency_ms": None if reply.latency_ms is None else float(reply.latency_ms),
                "raw": body,
                "metadata": metadata,
            },
        )


# -- helpers ---------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return str(content)
