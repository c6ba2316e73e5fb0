"""What production traffic costs, tail first (H2, H3, item 6 of issue 15).

Per request (a trace) and per user: percentiles with distribution-free intervals and the
sample-adequacy warnings that say which percentiles the sample cannot support; concentration
(Gini, top shares, Lorenz curve) by user, customer and route; cost per success; a forecast for
a target volume that resamples users, not requests; and the priced breakdown by kind of token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analyse.pricing import PartBreakdown, part_breakdown, span_costs
from assay.analyse.trace_frame import (
    Columns,
    TrafficWindow,
    dialect_of,
    epoch_seconds,
    fetch_columns,
    window_sql,
)
from assay.core.prices import PriceBook
from assay.stats.concentration import concentration
from assay.stats.forecast import forecast_total
from assay.stats.intervals import Interval, wilson_interval
from assay.stats.quantiles import adequacy_warnings, quantile_intervals

COST_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99, 0.995)
#: Root-span attributes that name a customer (tenant, organisation), first found wins.
CUSTOMER_KEYS: tuple[str, ...] = ("customer.id", "tenant.id", "app.customer", "organization.id")


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _interval(iv: Interval) -> dict[str, float | None]:
    return {"estimate": _num(iv.estimate), "low": _num(iv.low), "high": _num(iv.high)}


def ratio_interval(
    numerator: NDArray[np.float64], denominator: NDArray[np.float64], confidence: float = 0.95
) -> Interval:
    """R = Σy/Σx with the linearised (delta-method) interval of the ratio estimator:
    Var(R) ≈ Σ(yᵢ − R·xᵢ)² / (n(n − 1)·x̄²) (Cochran 1977, *Sampling Techniques*, eq. 6.9), R ±
    z·√Var. Used for cost per success, where xᵢ is 1 for a successful request."""
    y = np.asarray(numerator, dtype=float)
    x = np.asarray(denominator, dtype=float)
    n = int(y.size)
    method = "ratio (delta method)"
    if n < 2 or x.sum() <= 0:
        return Interval(math.nan, math.nan, math.nan, n, method, confidence)
    from scipy.special import ndtri

    r = float(y.sum() / x.sum())
    resid = y - r * x
    se = math.sqrt(float((resid**2).sum()) / (n * (n - 1))) / float(x.mean())
    z = float(ndtri(1 - (1 - confidence) / 2))
    return Interval(r, r - z * se, r + z * se, n, method, confidence, se)


@dataclass
class CostDistribution:
    """Percentiles of per-unit cost (per request or per user) with intervals and warnings."""

    unit: str
    n: int
    total: float
    mean: float
    quantiles: list[dict[str, Any]]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "n": self.n,
            "total": self.total,
            "mean": _num(self.mean),
            "quantiles": self.quantiles,
            "warnings": self.warnings,
        }


def cost_distribution(
    unit: str,
    values: NDArray[np.float64],
    quantiles: tuple[float, ...] = COST_QUANTILES,
    confidence: float = 0.95,
) -> CostDistribution:
    """Percentiles of ``values`` with order-statistic intervals, and an
    ``insufficient_samples_for_pX`` warning for each percentile ``n`` cannot support
    (:func:`assay.stats.quantiles.samples_needed`)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    estimates = quantile_intervals(x, quantiles, confidence)
    return CostDistribution(
        unit,
        int(x.size),
        float(x.sum()),
        float(x.mean()) if x.size else math.nan,
        [e.as_dict() for e in estimates],
        adequacy_warnings(int(x.size), quantiles),
    )


@dataclass
class CostReport:
    window: TrafficWindow
    price_sources: str
    requests: int
    priced_requests: int
    total_cost: float
    per_request: CostDistribution
    per_user: CostDistribution
    by_route: list[dict[str, Any]]
    concentration: dict[str, dict[str, Any]]
    forecast: dict[str, Any] | None
    breakdown: PartBreakdown
    days: float
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_dict(),
            "price_sources": self.price_sources,
            "requests": self.requests,
            "priced_requests": self.priced_requests,
            "total_cost": self.total_cost,
            "days": self.days,
            "per_request": self.per_request.as_dict(),
            "per_user": self.per_user.as_dict(),
            "by_route": self.by_route,
            "concentration": self.concentration,
            "forecast": self.forecast,
            "breakdown": self.breakdown.as_dict(),
            "warnings": self.warnings,
        }


def load_traces(
    store: Any, window: TrafficWindow, *, customers: bool = True, ids: bool = False
) -> Columns:
    """One row per trace in ``window``: route, user, status, start (Unix s) and cost (NaN when
    nothing in it was priced); the customer named by a root span attribute
    (:data:`CUSTOMER_KEYS`) when ``customers``; trace and session ids when ``ids`` (coding a
    string per row is most of the cost of this read, so it is only done when asked)."""
    dialect = dialect_of(store)
    clauses, params = window_sql(window, dialect)
    root_span = "FROM spans r WHERE r.trace_id = t.id AND r.parent_id IS NULL LIMIT 1"
    if customers and dialect == "sqlite":
        keys = ", ".join(f"json_extract(r.attributes_json, '$.\"{k}\"')" for k in CUSTOMER_KEYS)
        customer = f"(SELECT COALESCE({keys}) {root_span})"
    elif customers:
        keys = ", ".join(f"(r.attributes_json::json ->> '{k}')" for k in CUSTOMER_KEYS)
        customer = f"(SELECT COALESCE({keys}) {root_span})"
    else:
        customer = "NULL"
    sql = (
        f"SELECT {'t.id, t.session_id' if ids else 'NULL, NULL'}, t.route, t.user_id, "
        f"t.status, {epoch_seconds('t.start_time', dialect)}, t.cost, {customer} FROM traces t"
        + (" WHERE " + " AND ".join(clauses) if clauses else "")
    )
    spec = [
        ("trace", "s"),
        ("session", "s"),
        ("route", "s"),
        ("user", "s"),
        ("status", "s"),
        ("start", "f"),
        ("cost", "f"),
        ("customer", "s"),
    ]
    return fetch_columns(store, sql, params, spec)


def _sums_by(codes: NDArray[Any], values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum of ``values`` per non-negative code (codes < 0, e.g. no user, are left out)."""
    keep = codes >= 0
    if not keep.any():
        return np.empty(0)
    sums = np.bincount(codes[keep], weights=values[keep])
    present = np.bincount(codes[keep]) > 0
    return sums[present]


def cost_report(
    store: Any,
    window: TrafficWindow = TrafficWindow(),
    *,
    prices: PriceBook | None = None,
    target_requests: float | None = None,
    quantiles: tuple[float, ...] = COST_QUANTILES,
    confidence: float = 0.95,
    n_resamples: int = 400,
    seed: int = 0,
    customers: bool = False,
) -> CostReport:
    """The cost report of the traces in ``window``.

    Costs are the stored span costs (priced at ingest, or reported by the client) unless
    ``prices`` is given, in which case every span without a reported cost is re-priced with it.
    ``customers`` adds concentration by customer (a root span attribute, :data:`CUSTOMER_KEYS`;
    reading it costs a look-up per trace, so it is asked for).
    ``target_requests`` asks for a forecast of that many requests (users resampled with their
    requests: the number of users is the target over the observed requests per user).
    """
    book = prices or PriceBook()
    traces = load_traces(store, window, customers=customers, ids=prices is not None)
    n = len(traces)
    cost = traces["cost"].copy()
    if prices is not None and n:
        spans = span_costs(store, window, prices)
        lookup = {tid: k for k, tid in enumerate(traces.vocab["trace"])}
        index = np.array(
            [lookup.get(spans.vocab["trace"][c], -1) for c in spans["trace"]], dtype=np.int64
        )
        priced = ~np.isnan(spans["cost"]) & (index >= 0)
        repriced = (
            np.bincount(traces["trace"][index[priced]], weights=spans["cost"][priced], minlength=n)
            if priced.any()
            else np.zeros(n)
        )
        touched = (
            np.bincount(traces["trace"][index[priced]], minlength=n) > 0
            if priced.any()
            else np.zeros(n, bool)
        )
        cost = np.where(touched, repriced, np.nan)
    priced_mask = ~np.isnan(cost)
    cost0 = np.where(priced_mask, cost, 0.0)
    warnings: list[str] = []
    if n and not priced_mask.all():
        warnings.append(
            f"{int((~priced_mask).sum())} of {n} requests have no priced call "
            "(their models have no price: add them with --prices FILE)"
        )
    per_request = cost_distribution("request", cost[priced_mask], quantiles, confidence)
    user_costs = _sums_by(traces["user"], cost0)
    per_user = cost_distribution("user", user_costs, quantiles, confidence)
    by_route = _by_route(traces, cost, confidence)
    conc: dict[str, dict[str, Any]] = {}
    for name, codes in (
        ("user", traces["user"]),
        ("customer", traces["customer"]),
        ("route", traces["route"]),
    ):
        values = _sums_by(codes, cost0)
        if values.size >= 2 and values.sum() > 0:
            conc[name] = concentration(
                values, n_resamples=n_resamples, seed=seed, confidence=confidence
            ).as_dict()
    span = float(traces["start"].max() - traces["start"].min()) if n else 0.0
    days = max(span / 86400.0, 1 / 24) if n else 0.0
    forecast = None
    if user_costs.size:
        forecast = _forecast(traces, user_costs, target_requests, n_resamples, seed)
        warnings.extend(w for w in per_request.warnings if w not in warnings)
    breakdown = part_breakdown(store, window, book).get(None, PartBreakdown())
    return CostReport(
        window=window,
        price_sources=book.describe(),
        requests=n,
        priced_requests=int(priced_mask.sum()),
        total_cost=float(cost0.sum()),
        per_request=per_request,
        per_user=per_user,
        by_route=by_route,
        concentration=conc,
        forecast=forecast,
        breakdown=breakdown,
        days=days,
        warnings=warnings,
    )


def _by_route(
    traces: Columns, cost: NDArray[np.float64], confidence: float
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ok_code = traces.codes_of("status", "error")
    for code in np.unique(traces["route"]):
        rows = traces["route"] == code
        c = cost[rows]
        priced = c[~np.isnan(c)]
        success = (traces["status"][rows] != ok_code).astype(float)
        c0 = np.nan_to_num(c)
        per_success = ratio_interval(c0, success, confidence)
        p50, p99 = quantile_intervals(priced, (0.5, 0.99), confidence)
        successes = int(success.sum())
        out.append(
            {
                "route": traces.text("route", int(code)),
                "requests": int(rows.sum()),
                "total": float(c0.sum()),
                "mean": _num(float(priced.mean())) if priced.size else None,
                "p50": p50.as_dict(),
                "p99": p99.as_dict(),
                "p99_over_p50": _num(p99.estimate / p50.estimate) if p50.estimate else None,
                "success_rate": _interval(wilson_interval(successes, int(rows.sum()), confidence)),
                "cost_per_success": _interval(per_success),
            }
        )
    out.sort(key=lambda r: -r["total"])
    for row in out:
        row["frontier"] = not any(
            other is not row
            and other["mean"] is not None
            and row["mean"] is not None
            and other["mean"] <= row["mean"]
            and (other["success_rate"]["estimate"] or 0) >= (row["success_rate"]["estimate"] or 0)
            and (
                other["mean"] < row["mean"]
                or (other["success_rate"]["estimate"] or 0) > (row["success_rate"]["estimate"] or 0)
            )
            for other in out
        )
    return out


def _forecast(
    traces: Columns,
    user_costs: NDArray[np.float64],
    target_requests: float | None,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    """The forecast at the target volume, and its fan over volumes from ¼× to 4× the target
    (or the observed volume when no target is given)."""
    with_user = int((traces["user"] >= 0).sum())
    per_user = with_user / user_costs.size
    observed = float(len(traces))
    target = float(target_requests) if target_requests else observed
    main = forecast_total(user_costs, target / per_user, n_resamples=n_resamples, seed=seed)
    fan = []
    for multiple in (0.25, 0.5, 1.0, 2.0, 4.0):
        volume = target * multiple
        point = forecast_total(user_costs, volume / per_user, n_resamples=n_resamples, seed=seed)
        fan.append({"requests": volume, **point.as_dict()})
    return {
        "target_requests": target,
        "observed_requests": observed,
        "requests_per_user": per_user,
        "users": target / per_user,
        **main.as_dict(),
        "fan": fan,
        "warnings": adequacy_warnings(int(observed), COST_QUANTILES),
    }
