"""What a reviewer reads: an item's payload as titled plain-text sections, the same in the
terminal and in the browser (both show them as text, never as markup)."""

from __future__ import annotations

import json
from typing import Any

from assay.review.queue import ReviewItem

#: The sections each kind of item shows, in order: (payload key, title).
_SECTIONS = {
    "draft": (
        ("input", "input"),
        ("negative_example", "negative example (the output that failed)"),
        ("target", "target"),
    ),
    "trace": (("input", "input"), ("output", "output"), ("correction", "correction from feedback")),
    "sample": (("input", "input"), ("output", "output"), ("target", "target")),
}
#: Facts shown in one line above the sections: (payload key, name).
_FACTS = {
    "draft": (("dataset", "dataset"), ("created_from", "from trace"), ("reason", "reason")),
    "trace": (("trace_id", "trace"), ("root_name", "name"), ("status", "status")),
    "sample": (("run", "run"), ("subject", "subject"), ("sample_id", "sample")),
}


def _part(part: Any) -> str:
    if isinstance(part, dict) and isinstance(part.get("text"), str):
        return str(part["text"])
    if isinstance(part, dict) and isinstance(part.get("content"), str):
        return str(part["content"])
    return json.dumps(part, ensure_ascii=False)


def _message(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        body = "\n".join(_part(p) for p in content)
    elif content is None:
        body = ""
    else:
        body = str(content)
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            inner = call.get("function")
            function: dict[str, Any] = inner if isinstance(inner, dict) else call
            name = function.get("name") or call.get("tool") or "tool"
            arguments = function.get("arguments", call.get("arguments"))
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            body += f"\n→ {name}({arguments})"
    return f"{message.get('role', 'message')}: {body.strip()}"


def as_text(value: Any) -> str:
    """A stored value as text: a list of chat messages one per paragraph, text as it is,
    anything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, dict) and "role" in m for m in value)
    ):
        return "\n\n".join(_message(m) for m in value)
    if isinstance(value, dict) and "role" in value:
        return _message(value)
    return json.dumps(value, ensure_ascii=False, indent=2)


def item_sections(item: ReviewItem) -> list[tuple[str, str]]:
    """``[(title, text)]`` of the item's content; an absent output says why."""
    out = []
    for key, title in _SECTIONS.get(item.kind, ()):
        value = item.payload.get(key)
        if value is None or value == "":
            if key == "output" and item.payload.get("error"):
                out.append((title, f"(no output: {item.payload['error']})"))
            elif key in ("target", "negative_example", "correction"):
                continue
            else:
                out.append((title, "(none)"))
            continue
        out.append((title, as_text(value)))
    return out


def item_facts(item: ReviewItem) -> list[tuple[str, str]]:
    """``[(name, value)]``: where the item comes from."""
    return [
        (name, str(item.payload[key]))
        for key, name in _FACTS.get(item.kind, ())
        if item.payload.get(key) not in (None, "")
    ]
