"""The sample browser's state in the URL: reading it from a query string, and writing links that
keep it (sort headers, pages, a sample's previous/next, the way back to the list).

State parameters: ``q`` (search), ``slice`` (``KEY=VALUE``), ``f`` (``SCORER:pass`` or
``SCORER:fail``, repeatable), ``error`` and ``flaky`` (true/false), ``sort`` (a column, ``-`` for
descending) and the older score range ``scorer``/``score_min``/``score_max``. Paging is
``limit`` and ``offset`` (or ``page``, 1-based, from the page-jump form).
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assay.core import AssayError
from assay.store.sample_query import SampleQuery

STATE_KEYS = ("q", "slice", "f", "error", "flaky", "sort", "scorer", "score_min", "score_max")
PAGE_SIZES = (25, 50, 100, 200, 500)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def parse_flag(name: str, text: str | None) -> bool | None:
    """``true``/``false`` (and 1/0, yes/no); empty or ``any`` is no filter."""
    text = (text or "").strip().lower()
    if text in ("", "any"):
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise AssayError(f"{name} must be true or false, got {text!r}", where=name)


def _number(name: str, text: str | None, cast: Any) -> Any:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = cast(text)
    except ValueError:
        raise AssayError(f"{name} must be a number, got {text!r}", where=name) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise AssayError(f"{name} must be a finite number, got {text!r}", where=name)
    return value


def parse_verdicts(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``f`` values as ``(scorer, verdict)`` pairs; empty values (a form's "any") are skipped."""
    out = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        scorer, sep, wanted = value.rpartition(":")
        if not sep or not scorer or wanted not in ("pass", "fail"):
            raise AssayError(
                f"cannot read filter {value!r}", where="f", fix="write SCORER:pass or SCORER:fail"
            )
        out.append((scorer, wanted))
    return tuple(dict.fromkeys(out))


def build_query(
    *,
    search: str | None = None,
    slice: str | None = None,
    verdicts: Sequence[str] = (),
    error: bool | None = None,
    flaky: bool | None = None,
    sort: str | None = None,
    scorer: str | None = None,
    score_min: float | None = None,
    score_max: float | None = None,
) -> SampleQuery:
    """A :class:`SampleQuery` from already-typed values (the API's parameters)."""
    return SampleQuery(
        search=(search or "").strip() or None,
        slice=slice or None,
        verdicts=parse_verdicts(verdicts),
        scorer=scorer or None,
        score_min=score_min,
        score_max=score_max,
        error=error,
        flaky=flaky,
        sort=(sort or "").strip() or "position",
    )


def query_from(params: Any) -> SampleQuery:
    """The browser's query from a request's query parameters (a Starlette ``QueryParams``)."""
    return build_query(
        search=params.get("q"),
        slice=params.get("slice"),
        verdicts=params.getlist("f"),
        error=parse_flag("error", params.get("error")),
        flaky=parse_flag("flaky", params.get("flaky")),
        sort=params.get("sort"),
        scorer=params.get("scorer"),
        score_min=_number("score_min", params.get("score_min"), float),
        score_max=_number("score_max", params.get("score_max"), float),
    )


def paging_from(params: Any) -> tuple[int, int]:
    """``(limit, offset)``; ``page`` (1-based) wins over ``offset``."""
    limit = _number("limit", params.get("limit"), int)
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise AssayError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", where="limit")
    page = _number("page", params.get("page"), int)
    if page is not None:
        if not 1 <= page <= 10**9:
            raise AssayError(f"page must be 1 or more, got {page}", where="page")
        return limit, (page - 1) * limit
    offset = _number("offset", params.get("offset"), int) or 0
    if not 0 <= offset <= 10**12:
        raise AssayError(f"offset must be 0 or more, got {offset}", where="offset")
    return limit, offset


def state_pairs(params: Any) -> list[tuple[str, str]]:
    """The browser's filter and sort parameters of a request, in order, empty ones dropped."""
    return [(k, v) for k, v in params.multi_items() if k in STATE_KEYS and v.strip()]


def encode(pairs: Iterable[tuple[str, str]], **changes: Any) -> str:
    """A query string of ``pairs`` with ``changes`` replacing (``None``: removing) keys."""
    kept = [(k, v) for k, v in pairs if k not in changes]
    kept += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urllib.parse.urlencode(kept)


def next_sort(current: str, column: str) -> str:
    """What a header link sorts by: ``column`` ascending, or descending when it is already the
    ascending sort."""
    return f"-{column}" if current == column else column


def verdict_of(query: Mapping[str, Any], scorer: str) -> str:
    """The ``f`` value selected for ``scorer`` in a page's query dict (``""`` for any)."""
    for v in query.get("verdicts", []):
        if v["scorer"] == scorer:
            return f"{scorer}:{v['verdict']}"
    return ""
