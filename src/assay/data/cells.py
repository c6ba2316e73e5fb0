"""Text cells: how a CSV cell becomes a typed value, and how a value becomes a cell.

A CSV cell is always text, so metadata cells are read by their look: a JSON integer becomes an
``int``, a JSON decimal or exponent number a ``float``, ``true``/``false`` (any case) a
``bool``, an empty cell means "no value", and anything else stays text. Integers with leading
zeros (``007``, postcodes) stay text. :func:`to_cell` is the inverse used by the CSV writer, and
:func:`cell_round_trips` tells the writer whether a value survives the trip (a text ``"7"``
does not: it would come back as the number 7).

Chat inputs and list targets are written to a cell as JSON text; :func:`parse_text_input` and
:func:`parse_text_target` read them back.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)")
_BOOLS = {"true": True, "false": False}


def infer_cell(text: str) -> Any:
    """The typed value of a metadata cell: int, float, bool, ``None`` (empty) or the text."""
    if not text:
        return None
    first = text[0]
    if first == "-" or "0" <= first <= "9":
        if _INT.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts by default
                return text
        if _FLOAT.fullmatch(text):
            value = float(text)
            return value if math.isfinite(value) else text
        return text
    if first in "tTfF":
        return _BOOLS.get(text.lower(), text)
    return text


def to_cell(value: Any) -> str:
    """The text a scalar metadata value is written as (``None`` is the empty cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def cell_round_trips(value: Any) -> bool:
    """Whether ``infer_cell(to_cell(value))`` gives back ``value`` with the same type."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 10**4000
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        back = infer_cell(value)
        return isinstance(back, str) and back == value
    return False


def _json_list(text: str) -> list[Any] | None:
    if not text.lstrip().startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def parse_text_input(text: str) -> str | list[Any]:
    """A text cell holding an input: a JSON list of objects is a chat, anything else is text."""
    items = _json_list(text)
    if items and all(isinstance(item, dict) for item in items):
        return items
    return text


def parse_text_target(text: str) -> str | list[str] | None:
    """A text cell holding a target: empty is none, a JSON list of strings is several targets."""
    if not text:
        return None
    items = _json_list(text)
    if items is not None and all(isinstance(item, str) for item in items):
        return items
    return text
