"""Messages as the trace pages show them, whichever form a convention carried them in.

A stored LLM span holds its messages in ``input_json``/``output_json`` (assay's message list).
When a client sent the content only as GenAI events or log records correlated to the span, the
messages are rebuilt here from those events:

- ``gen_ai.system.message``, ``gen_ai.user.message``, ``gen_ai.assistant.message`` and
  ``gen_ai.tool.message`` (input, in event order), ``gen_ai.choice`` (output; body
  ``{index, finish_reason, message}``);
- ``gen_ai.client.inference.operation.details``, whose attributes hold
  ``gen_ai.system_instructions``, ``gen_ai.input.messages`` and ``gen_ai.output.messages`` in
  the GenAI "parts" form (``{"role", "parts": [{"type": "text", "content"}, …]}``);
- the older ``gen_ai.content.prompt``/``gen_ai.content.completion`` events (attributes
  ``gen_ai.prompt``/``gen_ai.completion``, JSON text).

Every message comes out as ``{"role", "content", "tool_calls", "tool_call_id",
"finish_reason"}`` with ``content`` a string (text parts joined; other parts as compact JSON)
and ``tool_calls`` a list of ``{"id", "name", "arguments"}``. Display only: nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Message = dict[str, Any]

#: GenAI message events and the role each carries.
EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
LEGACY_PROMPT_EVENT = "gen_ai.content.prompt"
LEGACY_COMPLETION_EVENT = "gen_ai.content.completion"
#: Every event name whose content becomes messages (the rest are listed as plain events).
MESSAGE_EVENTS = frozenset(
    {*EVENT_ROLES, CHOICE_EVENT, DETAILS_EVENT, LEGACY_PROMPT_EVENT, LEGACY_COMPLETION_EVENT}
)


def _json_value(value: Any) -> Any:
    """``value``, or what it holds when it is JSON text of a list or an object."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _text_of(content: Any) -> str:
    """Message content as one string: text parts joined, anything else as compact JSON."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and part.get("type") in ("text", "input_text", None):
                text = part.get("content", part.get("text"))
                pieces.append(text if isinstance(text, str) else _compact(part))
            else:
                pieces.append(_compact(part))
        return "\n".join(pieces)
    return _compact(content)


def _tool_call(call: Any) -> dict[str, Any]:
    """An OpenAI-style (``{id, function: {name, arguments}}``) or GenAI-part tool call."""
    if not isinstance(call, dict):
        return {"id": None, "name": None, "arguments": call}
    found = call.get("function")
    function: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "id": call.get("id"),
        "name": call.get("name", function.get("name")),
        "arguments": _json_value(call.get("arguments", function.get("arguments"))),
    }


def normalise_message(raw: Any, role: str | None = None) -> Message:
    """One message in the display form (see the module docstring)."""
    if not isinstance(raw, dict):
        return {
            "role": role or "unknown",
            "content": _text_of(raw),
            "tool_calls": [],
            "tool_call_id": None,
            "finish_reason": None,
        }
    inner = raw.get("message")
    message: dict[str, Any] = inner if isinstance(inner, dict) else raw
    tool_calls = [_tool_call(c) for c in message.get("tool_calls") or () if c is not None]
    tool_call_id = message.get("tool_call_id")
    content: Any = message.get("content")
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = []
        for part in parts:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "tool_call":
                tool_calls.append(_tool_call(part))
            elif kind == "tool_call_response":
                tool_call_id = tool_call_id or part.get("id")
                response = part.get("response")
                texts.append(response if isinstance(response, str) else _compact(response))
            else:
                texts.append(part)
        content = texts
    if role == "tool" and tool_call_id is None:
        tool_call_id = message.get("id")
    return {
        "role": str(message.get("role") or role or "unknown"),
        "content": _text_of(content),
        "tool_calls": tool_calls,
        "tool_call_id": tool_call_id,
        "finish_reason": raw.get("finish_reason") or message.get("finish_reason"),
    }


def as_messages(value: Any) -> list[Message] | None:
    """``value`` as a message list when it is one (a list of objects with a role, or GenAI
    parts messages), else ``None`` (a plain value: a query, a tool's arguments)."""
    value = _json_value(value)
    if isinstance(value, dict) and ("role" in value or "parts" in value):
        value = [value]
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(m, dict) and ("role" in m or "parts" in m) for m in value):
        return None
    return [normalise_message(m) for m in value]


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    """Where an event keeps its content: the log record's body, else the event's attributes."""
    body = _json_value(event.get("body"))
    if isinstance(body, dict):
        return body
    attributes = event.get("attributes") or {}
    if body is not None:
        return {**attributes, "content": body}
    return attributes


def messages_from_events(
    events: Iterable[dict[str, Any]],
) -> tuple[list[Message], list[Message]]:
    """The input and output messages carried by a span's events, in event order.

    ``events`` are dicts with ``name``, ``body`` and ``attributes``. When an
    ``operation.details`` record is present it is the complete picture and wins over the
    per-message events (the instrumentations that emit both repeat the same content).
    """
    events = list(events)
    details = [e for e in events if e.get("name") == DETAILS_EVENT]
    if details:
        inputs: list[Message] = []
        outputs: list[Message] = []
        for event in details:
            attributes = {**(event.get("attributes") or {}), **_payload(event)}
            system = _json_value(attributes.get("gen_ai.system_instructions"))
            if system:
                inputs.append(normalise_message({"role": "system", "parts": system}))
            inputs.extend(as_messages(attributes.get("gen_ai.input.messages")) or [])
            outputs.extend(as_messages(attributes.get("gen_ai.output.messages")) or [])
        return inputs, outputs
    inputs, outputs = [], []
    for event in events:
        name = event.get("name")
        if name in EVENT_ROLES:
            payload = _payload(event)
            inputs.append(normalise_message(payload, payload.get("role") or EVENT_ROLES[name]))
        elif name == CHOICE_EVENT:
            outputs.append(normalise_message(_payload(event), "assistant"))
        elif name == LEGACY_PROMPT_EVENT:
            inputs.extend(as_messages((event.get("attributes") or {}).get("gen_ai.prompt")) or [])
        elif name == LEGACY_COMPLETION_EVENT:
            completion = (event.get("attributes") or {}).get("gen_ai.completion")
            outputs.extend(as_messages(completion) or [])
    return inputs, outputs
