"""Pricing stored spans: by kind of token, by date, and again under other prices.

Spans are priced when they are stored (:func:`assay.trace.ingest.store_spans`, with the
default :class:`~assay.core.prices.PriceBook`) unless the client reported a cost. This module
re-prices them for reports: the breakdown by kind of token (what cached reads, cache writes,
reasoning and audio cost, and which of them fell back to a base rate), and every span's cost
under a user's price file. Rates are linear in tokens within a (model, provider, day), so the
work is one aggregate query, or one pass of numpy over the span rows grouped by that key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analyse.trace_frame import (
    Columns,
    TrafficWindow,
    dialect_of,
    epoch_seconds,
    fetch_columns,
    window_sql,
)
from assay.core.prices import TOKEN_PARTS, PriceBook, Rates
from assay.store import Store

#: The spans table's column for each detail part.
DETAIL_COLUMNS = {
    "cached_input": "cached_input_tokens",
    "cache_write": "cache_write_tokens",
    "input_audio": "input_audio_tokens",
    "input_image": "input_image_tokens",
    "reasoning": "reasoning_tokens",
    "output_audio": "output_audio_tokens",
}
_INPUT_DETAILS = ("cached_input", "cache_write", "input_audio", "input_image")
_OUTPUT_DETAILS = ("reasoning", "output_audio")


def _day_sql(dialect: str) -> str:
    return "date(s.start_time)" if dialect == "sqlite" else "CAST(s.start_time AS DATE)"


def split_token_arrays(
    input_tokens: NDArray[np.float64],
    output_tokens: NDArray[np.float64],
    details: dict[str, NDArray[np.float64]],
) -> dict[str, NDArray[np.float64]]:
    """Tokens per part for many calls at once (the array form of
    :func:`assay.core.prices.split_usage`): details capped by what is left of their total,
    ``input``/``output`` the remainder. NaN counts are zero."""
    left = np.nan_to_num(input_tokens)
    parts: dict[str, NDArray[np.float64]] = {}
    for p in _INPUT_DETAILS:
        parts[p] = np.minimum(np.nan_to_num(details.get(p, np.zeros_like(left))), left)
        left = left - parts[p]
    parts["input"] = left
    left = np.nan_to_num(output_tokens)
    for p in _OUTPUT_DETAILS:
        parts[p] = np.minimum(np.nan_to_num(details.get(p, np.zeros_like(left))), left)
        left = left - parts[p]
    parts["output"] = left
    return {p: parts[p] for p in TOKEN_PARTS}


def price_arrays(
    rates: Rates, tokens: dict[str, NDArray[np.float64]], total_input: NDArray[np.float64]
) -> tuple[dict[str, NDArray[np.float64]], list[str]]:
    """Cost per part for many calls under one :class:`Rates` (tiers applied per call by its
    input tokens), and the fallback notes of parts that had tokens."""
    costs: dict[str, NDArray[np.float64]] = {}
    notes: list[str] = []
    for part in TOKEN_PARTS:
        count = tokens[part]
        base_rate, note = rates.rate(part, 0)
        rate = np.full(count.shape, base_rate)
        priced_as = (
            part
            if getattr(rates, part) is not None
            else ("output" if part in _OUTPUT_DETAILS else "input")
        )
        for threshold, tier_rate in rates.tiers.get(priced_as, ()):
            rate = np.where(total_input > threshold, tier_rate, rate)
        costs[part] = count * rate / 1e6
        if note and float(count.sum()) > 0:
            notes.append(note)
    return costs, notes


@dataclass
class PartBreakdown:
    """Priced tokens and cost per kind of token over a window, with the fallbacks used and
    the calls no price covered (by model)."""

    tokens: dict[str, float] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unpriced: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(sum(self.costs.values()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "costs": self.costs,
            "total": self.total,
            "notes": self.notes,
            "unpriced_calls": self.unpriced,
            "price_sources": self.sources,
        }


def part_breakdown(
    store: Store, window: TrafficWindow, book: PriceBook, *, group: str | None = None
) -> dict[str | None, PartBreakdown]:
    """Tokens and cost per kind of token for the LLM and embedding spans in ``window``, priced
    by ``book`` at each span's date (one aggregate query by model, provider and day). Keyed
    by the trace's ``group`` column (``route`` or ``environment``), else under ``None``."""
    if group not in (None, "route", "environment"):
        raise ValueError(f"group must be route or environment, not {group!r}")
    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    sums = ", ".join(f"SUM(s.{c})" for c in DETAIL_COLUMNS.values())
    route = f"t.{group}" if group else "NULL"
    group_key = f"{route}, " if group else ""
    sql = (
        f"SELECT {route}, COALESCE(s.model_resolved, s.model_requested), s.provider, "
        f"{_day_sql(dialect)}, COUNT(*), SUM(s.input_tokens), SUM(s.output_tokens), {sums} "
        "FROM spans s JOIN traces t ON t.id = s.trace_id "
        "WHERE s.kind IN ('llm', 'embedding') AND "
        "(s.input_tokens IS NOT NULL OR s.output_tokens IS NOT NULL)"
        + "".join(f" AND {c}" for c in clauses)
        + f" GROUP BY {group_key}COALESCE(s.model_resolved, s.model_requested), s.provider, "
        f"{_day_sql(dialect)}"
    )
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        raw.close()
    out: dict[str | None, PartBreakdown] = {}
    for row in rows:
        key, model, provider, day, calls, tokens_in, tokens_out, *detail = row
        report = out.setdefault(key, PartBreakdown())
        when = day if not isinstance(day, str) else datetime.fromisoformat(day).date()
        details = {p: int(v or 0) for p, v in zip(DETAIL_COLUMNS, detail, strict=True)}
        priced = book.price(
            model, int(tokens_in or 0), int(tokens_out or 0), details, provider=provider, at=when
        )
        if priced is None:
            name = str(model)
            report.unpriced[name] = report.unpriced.get(name, 0) + int(calls)
            continue
        for part in TOKEN_PARTS:
            report.tokens[part] = report.tokens.get(part, 0.0) + priced.tokens[part]
            report.costs[part] = report.costs.get(part, 0.0) + priced.costs[part]
        for note in priced.notes:
            if note not in report.notes:
                report.notes.append(note)
        source = priced.rates.source
        if source not in report.sources:
            report.sources.append(source)
    return out


def span_costs(store: Store, window: TrafficWindow, book: PriceBook) -> Columns:
    """Every LLM and embedding span of ``window`` with its cost under ``book`` (a client's
    reported cost is kept): columns ``trace`` (string code), ``cost`` (NaN when unpriced),
    ``source`` (``reported``/``priced``/``unpriced`` as codes in ``vocab['source']``)."""
    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    details = ", ".join(f"s.{c}" for c in DETAIL_COLUMNS.values())
    sql = (
        "SELECT s.trace_id, COALESCE(s.model_resolved, s.model_requested), s.provider, "
        f"{epoch_seconds('s.start_time', dialect)}, s.input_tokens, s.output_tokens, {details}, "
        "s.cost, s.cost_source "
        "FROM spans s JOIN traces t ON t.id = s.trace_id "
        "WHERE s.kind IN ('llm', 'embedding')" + "".join(f" AND {c}" for c in clauses)
    )
    spec = [
        ("trace", "s"),
        ("model", "s"),
        ("provider", "s"),
        ("start", "f"),
        ("input", "f"),
        ("output", "f"),
        *((f"d_{p}", "f") for p in DETAIL_COLUMNS),
        ("stored_cost", "f"),
        ("cost_source", "s"),
    ]
    cols = fetch_columns(store, sql, params, spec)
    n = len(cols)
    cost = np.full(n, np.nan)
    reported = cols.codes_of("cost_source", "reported")
    keep = (cols["cost_source"] == reported) & ~np.isnan(cols["stored_cost"])
    cost[keep] = cols["stored_cost"][keep]
    days = np.floor(cols["start"] / 86400.0).astype(np.int64) if n else np.empty(0, np.int64)
    key = cols["model"].astype(np.int64) * (len(cols.vocab["provider"]) + 2) + cols["provider"]
    combined = key * 1_000_000 + days
    todo = ~keep & ~(np.isnan(cols["input"]) & np.isnan(cols["output"]))
    for value in np.unique(combined[todo]):
        rows = np.flatnonzero(todo & (combined == value))
        first = rows[0]
        model = cols.text("model", int(cols["model"][first]))
        provider = cols.text("provider", int(cols["provider"][first]))
        when = datetime.fromtimestamp(float(days[first]) * 86400.0 + 43200.0, UTC)
        rates = book.rates(model, provider, when)
        if rates is None:
            continue
        tokens = split_token_arrays(
            cols["input"][rows],
            cols["output"][rows],
            {p: cols[f"d_{p}"][rows] for p in DETAIL_COLUMNS},
        )
        parts, _notes = price_arrays(rates, tokens, np.nan_to_num(cols["input"][rows]))
        cost[rows] = sum(parts.values())
    cols.data["cost"] = cost
    return cols
