"""Token usage as providers bill it: cached input, cache writes, reasoning, audio and image.

One reading for every source, the GenAI conventions' and OpenAI's: ``input_tokens`` counts
*every* input token, of which ``cached_input_tokens`` (read from a provider's prompt cache),
``cache_write_tokens``, ``input_audio_tokens`` and ``input_image_tokens`` are parts;
``output_tokens`` counts every output token, of which ``reasoning_tokens`` and
``output_audio_tokens`` are parts. Anthropic reports its cache counts *beside* ``input_tokens``,
so they are added in; Gemini reports thinking tokens beside ``candidatesTokenCount``, so they are
added to the output.

Sources, by precedence: the span's attributes (GenAI ``gen_ai.usage.cache_read.input_tokens``,
``gen_ai.usage.cache_creation.input_tokens``, ``gen_ai.usage.reasoning.output_tokens``;
OpenInference ``llm.token_count.prompt_details.{cache_read,cache_write,audio}``,
``llm.token_count.completion_details.{reasoning,audio}``), then a provider usage block found in
the response body (OpenAI ``prompt_tokens_details``/``completion_tokens_details`` or the
Responses API's ``input_tokens_details``/``output_tokens_details``, Anthropic
``cache_creation_input_tokens``/``cache_read_input_tokens``, Gemini ``usageMetadata``).

Times: first token from ``gen_ai.response.time_to_first_chunk`` (GenAI) or
``gen_ai.latency.time_to_first_token`` (vLLM's spans), queue time from
``gen_ai.latency.time_in_queue`` (vLLM) or ``gen_ai.server.time_in_queue``; all in seconds on the
wire, milliseconds in the store.
"""

from __future__ import annotations

import json
from typing import Any

#: SpanRecord fields this module fills.
DETAIL_FIELDS = (
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
)

_GENAI_DETAILS = {
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cached_tokens"),
    "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens",),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"),
    "input_audio_tokens": ("gen_ai.usage.audio.input_tokens",),
    "output_audio_tokens": ("gen_ai.usage.audio.output_tokens",),
    "input_image_tokens": ("gen_ai.usage.image.input_tokens",),
}
_OPENINFERENCE_DETAILS = {
    "cached_input_tokens": ("llm.token_count.prompt_details.cache_read",),
    "cache_write_tokens": ("llm.token_count.prompt_details.cache_write",),
    "reasoning_tokens": ("llm.token_count.completion_details.reasoning",),
    "input_audio_tokens": ("llm.token_count.prompt_details.audio",),
    "output_audio_tokens": ("llm.token_count.completion_details.audio",),
    "input_image_tokens": ("llm.token_count.prompt_details.image",),
}
_TTFT_SECONDS = (
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.latency.time_to_first_token",
    "gen_ai.server.time_to_first_token",
)
_QUEUE_SECONDS = ("gen_ai.latency.time_in_queue", "gen_ai.server.time_in_queue")
_MAX_TOKENS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "maxOutputTokens")


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _seconds_as_ms(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds * 1000.0 if seconds >= 0 else None


def _get(block: dict[str, Any], *path: str) -> Any:
    value: Any = block
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def usage_block(block: Any) -> dict[str, int]:
    """A provider's usage block (OpenAI chat or Responses, Anthropic, Gemini) in assay's reading
    (see the module docstring): ``input_tokens``, ``output_tokens`` and whichever details it
    carries. Anything that is not a usage block gives ``{}``."""
    if not isinstance(block, dict):
        return {}
    out: dict[str, int | None] = {}
    if "promptTokenCount" in block or "candidatesTokenCount" in block:  # Gemini usageMetadata
        thoughts = _int(block.get("thoughtsTokenCount"))
        candidates = _int(block.get("candidatesTokenCount"))
        out["input_tokens"] = _int(block.get("promptTokenCount"))
        out["output_tokens"] = (
            None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
        )
        out["cached_input_tokens"] = _int(block.get("cachedContentTokenCount"))
        out["reasoning_tokens"] = thoughts
    elif "prompt_tokens" in block or "completion_tokens" in block:  # OpenAI chat completions
        out["input_tokens"] = _int(block.get("prompt_tokens"))
        out["output_tokens"] = _int(block.get("completion_tokens"))
        out["cached_input_tokens"] = _int(_get(block, "prompt_tokens_details", "cached_tokens"))
        out["input_audio_tokens"] = _int(_get(block, "prompt_tokens_details", "audio_tokens"))
        out["input_image_tokens"] = _int(_get(block, "prompt_tokens_details", "image_tokens"))
        out["reasoning_tokens"] = _int(_get(block, "completion_tokens_details", "reasoning_tokens"))
        out["output_audio_tokens"] = _int(_get(block, "completion_tokens_details", "audio_tokens"))
    elif "cache_creation_input_tokens" in block or "cache_read_input_tokens" in block:
        # Anthropic: input_tokens excludes the cache reads and writes.
        fresh = _int(block.get("input_tokens"))
        read = _int(block.get("cache_read_input_tokens"))
        write = _int(block.get("cache_creation_input_tokens"))
        out["input_tokens"] = None if fresh is None else fresh + (read or 0) + (write or 0)
        out["output_tokens"] = _int(block.get("output_tokens"))
        out["cached_input_tokens"] = read
        out["cache_write_tokens"] = write
    elif "input_tokens" in block or "output_tokens" in block:  # OpenAI Responses API
        out["input_tokens"] = _int(block.get("input_tokens"))
        out["output_tokens"] = _int(block.get("output_tokens"))
        out["cached_input_tokens"] = _int(_get(block, "input_tokens_details", "cached_tokens"))
        out["reasoning_tokens"] = _int(_get(block, "output_tokens_details", "reasoning_tokens"))
    return {k: v for k, v in out.items() if v is not None}


def find_usage_block(body: Any) -> dict[str, int]:
    """The usage block inside a response body (``usage`` or Gemini's ``usageMetadata``)."""
    if isinstance(body, str) and body[:1] == "{":
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    if not isinstance(body, dict):
        return {}
    for key in ("usage", "usageMetadata", "usage_metadata"):
        found = usage_block(body.get(key))
        if found:
            return found
    return {}


def _max_tokens(attrs: dict[str, Any]) -> int | None:
    direct = _int(attrs.get("gen_ai.request.max_tokens"))
    if direct is not None:
        return direct
    params = attrs.get("llm.invocation_parameters")
    if isinstance(params, str) and params[:1] == "{":
        try:
            params = json.loads(params)
        except ValueError:
            params = None
    if isinstance(params, dict):
        for key in _MAX_TOKENS:
            value = _int(params.get(key))
            if value is not None:
                return value
    return None


def apply_usage_details(record: Any, attrs: dict[str, Any], body: Any = None) -> None:
    """Fill a :class:`~assay.trace.model.SpanRecord`'s usage details, times and requested
    ``max_tokens`` from its attributes, then from a usage block in ``body`` (the response)."""
    names = _OPENINFERENCE_DETAILS if record.convention == "openinference" else _GENAI_DETAILS
    for field_name, keys in names.items():
        for key in keys:
            value = _int(attrs.get(key))
            if value is not None:
                setattr(record, field_name, value)
                break
    block = find_usage_block(body) if body is not None else {}
    if block:
        if record.input_tokens is None:
            record.input_tokens = block.get("input_tokens")
        if record.output_tokens is None:
            record.output_tokens = block.get("output_tokens")
        for field_name in DETAIL_FIELDS:
            if getattr(record, field_name) is None and field_name in block:
                setattr(record, field_name, block[field_name])
    for key in _TTFT_SECONDS:
        ttft = _seconds_as_ms(attrs.get(key))
        if ttft is not None:
            record.ttft_ms = ttft
            break
    for key in _QUEUE_SECONDS:
        queue = _seconds_as_ms(attrs.get(key))
        if queue is not None:
            record.queue_ms = queue
            break
    record.request_max_tokens = _max_tokens(attrs)
