"""Staging is not production: what production's request mix costs, and why (H4).

Both environments' model calls are priced with the same price book, so the only differences
are the traffic's. The cost of a request is, exactly on the totals,

    cost/request = L·(1 + r)·[I·((1 − h)·p_in + h·p_cached) + O·p_out]

with L the successful model calls per request (tool steps, agent turns), r the retry rate
(failed calls per successful call), I the prompt tokens per call (context length), h the
cache-hit rate (cached prompt tokens over prompt tokens), O the completion tokens per call, and
the p's the token-weighted prices (the model mix; cache writes, audio and image input are in
p_in, reasoning and audio output in p_out). The production/staging multiplier is split between
those six drivers by their Shapley factors (:func:`assay.stats.decomposition.shapley_factors`),
which multiply to the whole multiplier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.analyse.pricing import part_breakdown
from assay.analyse.trace_frame import TrafficWindow, dialect_of, epoch_seconds, window_sql
from assay.core import AssayError
from assay.core.prices import PriceBook
from assay.stats.decomposition import shapley_factors
from assay.store import Store

DRIVERS = {
    "calls": "model calls per request (tool steps, agent turns)",
    "retries": "retry rate",
    "context": "prompt tokens per call (context length)",
    "cache": "cache-hit rate",
    "output": "completion tokens per call",
    "prices": "price per token (model mix)",
}
_CACHED = ("cached_input",)
_OUTPUT = ("output", "reasoning", "output_audio")


@dataclass
class EnvironmentMix:
    """One environment's request mix (the drivers' values) and what it cost."""

    environment: str
    requests: int
    days: float
    cost: float
    drivers: dict[str, Any]

    @property
    def cost_per_request(self) -> float:
        return cost_per_request(self.drivers)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.drivers)
        d["prices"] = _show(d["prices"])
        return {
            "environment": self.environment,
            "requests": self.requests,
            "days": self.days,
            "cost": self.cost,
            "cost_per_week": self.cost / self.days * 7 if self.days else None,
            "cost_per_request": self.cost_per_request,
            "drivers": d,
        }


def cost_per_request(d: Mapping[str, Any]) -> float:
    """The identity of the module docstring."""
    p_in, p_cached, p_out = d["prices"]
    per_call = (
        d["context"] * ((1 - d["cache"]) * p_in + d["cache"] * p_cached) + d["output"] * p_out
    )
    return float(d["calls"] * (1 + d["retries"]) * per_call)


def environment_mix(
    store: Store, window: TrafficWindow, environment: str, book: PriceBook
) -> EnvironmentMix:
    """The drivers of ``environment``'s traffic in ``window``, priced with ``book``."""
    dialect = dialect_of(store)
    scoped = TrafficWindow(window.route, window.since, window.until, environment)
    clauses, params = window_sql(scoped, dialect)
    where = " AND ".join(clauses)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        start, end = epoch_seconds("t.start_time", dialect), epoch_seconds("t.end_time", dialect)
        cursor.execute(
            f"SELECT COUNT(*), MIN({start}), MAX({end}) FROM traces t WHERE {where}", params
        )
        requests, first, last = cursor.fetchone()
        cursor.execute(
            "SELECT SUM(CASE WHEN s.status = 'error' THEN 0 ELSE 1 END), "
            "SUM(CASE WHEN s.status = 'error' THEN 1 ELSE 0 END) "
            f"FROM spans s JOIN traces t ON t.id = s.trace_id WHERE s.kind = 'llm' AND {where}",
            params,
        )
        ok_calls, failed_calls = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    requests = int(requests or 0)
    if requests == 0:
        raise AssayError(
            f"no traces in environment {environment!r} in this window",
            where="--staging/--production",
            fix="check the environment names with `assay traces list` (deployment.environment)",
        )
    ok_calls, failed_calls = int(ok_calls or 0), int(failed_calls or 0)
    parts = part_breakdown(store, scoped, book).get(None)
    tokens = parts.tokens if parts else {}
    costs = parts.costs if parts else {}
    calls = ok_calls + failed_calls
    prompt = sum(v for k, v in tokens.items() if k not in _OUTPUT)
    cached = sum(tokens.get(k, 0.0) for k in _CACHED)
    completion = sum(tokens.get(k, 0.0) for k in _OUTPUT)
    fresh_cost = sum(v for k, v in costs.items() if k not in _OUTPUT and k not in _CACHED)
    cached_cost = sum(costs.get(k, 0.0) for k in _CACHED)
    output_cost = sum(costs.get(k, 0.0) for k in _OUTPUT)

    def rate(cost: float, count: float) -> float:
        return cost / count if count else 0.0

    drivers = {
        "calls": ok_calls / requests,
        "retries": failed_calls / ok_calls if ok_calls else 0.0,
        "context": prompt / calls if calls else 0.0,
        "cache": cached / prompt if prompt else 0.0,
        "output": completion / calls if calls else 0.0,
        "prices": (
            rate(fresh_cost, prompt - cached),
            rate(cached_cost, cached),
            rate(output_cost, completion),
        ),
    }
    days = max((float(last) - float(first)) / 86400.0, 1 / 24) if first is not None else 0.0
    return EnvironmentMix(environment, requests, days, float(sum(costs.values())), drivers)


def _fill_prices(base: EnvironmentMix, target: EnvironmentMix) -> None:
    """A price that one side never used (no cached tokens there) takes the other side's, so a
    driver that is absent on one side does not count as free."""
    a, b = list(base.drivers["prices"]), list(target.drivers["prices"])
    for k in range(3):
        if a[k] == 0.0 and b[k] > 0.0:
            a[k] = b[k]
        elif b[k] == 0.0 and a[k] > 0.0:
            b[k] = a[k]
    base.drivers["prices"], target.drivers["prices"] = tuple(a), tuple(b)


def cost_projection(
    store: Store,
    window: TrafficWindow = TrafficWindow(),
    *,
    staging: str = "staging",
    production: str = "production",
    prices: PriceBook | None = None,
) -> dict[str, Any]:
    """Production's cost projected from staging's: the multiplier (production cost per
    request over staging's, both priced with ``prices``) and its drivers' Shapley factors; the
    staging weekly spend times the multiplier is what staging's volume would cost with
    production's request mix."""
    book = prices or PriceBook()
    base = environment_mix(store, window, staging, book)
    target = environment_mix(store, window, production, book)
    _fill_prices(base, target)
    if base.cost_per_request <= 0 or target.cost_per_request <= 0:
        raise AssayError(
            "cannot project: one environment's calls have no price",
            where="--prices",
            fix="add the models' prices with --prices FILE",
        )
    multiplier = target.cost_per_request / base.cost_per_request
    factors = shapley_factors(cost_per_request, base.drivers, target.drivers)
    staging_week = base.cost / base.days * 7 if base.days else math.nan
    drivers = []
    for name, factor in sorted(factors.items(), key=lambda kv: -abs(math.log(kv[1]))):
        alone = dict(base.drivers)
        alone[name] = target.drivers[name]
        drivers.append(
            {
                "driver": name,
                "label": DRIVERS[name],
                "staging": _show(base.drivers[name]),
                "production": _show(target.drivers[name]),
                "factor": factor,
                "alone": cost_per_request(alone) / base.cost_per_request,
            }
        )
    return {
        "staging": base.as_dict(),
        "production": target.as_dict(),
        "multiplier": multiplier,
        "staging_cost_per_week": staging_week,
        "projected_cost_per_week_at_staging_volume": staging_week * multiplier,
        "projected_cost_per_week_at_production_volume": target.cost / target.days * 7
        if target.days
        else None,
        "drivers": drivers,
        "price_sources": book.describe(),
    }


def _show(value: Any) -> Any:
    """Prices (USD per token inside) as USD per million tokens for reports."""
    if isinstance(value, tuple):
        return {k: v * 1e6 for k, v in zip(("input", "cached_input", "output"), value, strict=True)}
    return value
