"""The acceptance scenarios of REQUIREMENTS.md H1–H7 as stored traces with known distributions.

Each builder stores its traces and returns what the test needs to know (the truth). Lengths,
latencies and costs come from quantile grids (xᵢ = F⁻¹((i + ½)/n)), so the stated percentiles
hold exactly, not just in expectation; the order is then shuffled with a fixed seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from scipy.stats import norm
from tests.costs.traces import T0, at, child, llm, new_trace_id, root, save, tool

from assay.core.prices import PriceBook, PriceEntry, Rates

#: A price book for the scenarios: one model billed $10/M input and $30/M output (cached $1/M).
SCENARIO_PRICES = PriceBook(
    [PriceEntry("scenario-model", Rates(10.0, 30.0, cached_input=1.0, model="scenario-model"))],
    use_genai_prices=False,
    builtin=False,
)


def lognormal_grid(n: int, median: float, sigma: float, seed: int = 0) -> np.ndarray:
    """n values whose empirical quantiles are a lognormal's (median, sigma), shuffled."""
    grid = np.exp(math.log(median) + sigma * norm.ppf((np.arange(n) + 0.5) / n))
    np.random.default_rng(seed).shuffle(grid)
    return grid


def h1_lengths(n: int = 10_000, p99: int = 610, sigma: float = 0.6) -> np.ndarray:
    """Integer lengths whose type-1 p99 (the ⌈0.99·n⌉-th smallest) is exactly ``p99``."""
    raw = np.exp(sigma * norm.ppf((np.arange(n) + 0.5) / n))
    k = math.ceil(0.99 * n) - 1
    lengths = np.round(raw * p99 / raw[k]).astype(int)
    np.random.default_rng(1).shuffle(lengths)
    return lengths


def store_completions(store: Any, route: str, lengths: np.ndarray, cap: int) -> None:
    """One LLM span per trace (it is the root and names the route); lengths at or above the
    cap are cut there with finish reason ``length``."""
    spans = []
    for i, length in enumerate(lengths):
        trace = root(new_trace_id(), route, at(i * 1000.0), 1.0)
        span = llm(
            trace,
            0,
            500,
            model="gpt-4o-mini",
            output_tokens=int(min(length, cap)),
            finish="length" if length >= cap else "stop",
            cap=cap,
        )
        span.parent_id = None
        span.attributes = {"app.route": route}
        spans.append(span)
    save(store, spans)


def store_user_requests(
    store: Any,
    per_user_tokens: dict[str, list[int]],
    route: str = "chat",
    model: str = "gpt-4o-mini",
) -> None:
    """One trace per request: a root LLM span with the user and its input tokens (no output)."""
    spans = []
    i = 0
    for user, requests in per_user_tokens.items():
        for tokens in requests:
            trace = root(new_trace_id(), route, at(i * 997.0), 1.0, user=user)
            span = llm(trace, 0, 300, model=model, input_tokens=int(tokens), output_tokens=0)
            span.parent_id = None
            span.user_id = user
            span.attributes = {"app.route": route}
            spans.append(span)
            i += 1
    save(store, spans)


@dataclass(frozen=True)
class H4Truth:
    staging_per_request: float
    production_per_request: float
    multiplier: float
    context_factor: float
    retry_factor: float


def h4_environments(store: Any) -> H4Truth:
    """Staging: 700 requests over 7 days at $0.2857 each ($200/week): 20,000 prompt tokens and
    2,857 completion tokens per call. Production: the same completions with 3× the context
    (60,000 prompt tokens) and a 15% retry rate (30 of 200 requests have a failed call, billed,
    before the one that succeeds)."""
    spans = []
    for i in range(700):
        trace = root(new_trace_id(), "answer", at(i * 864_000.0), 2000, environment="staging")
        spans += [
            trace,
            llm(trace, 10, 1500, model="scenario-model", input_tokens=20_000, output_tokens=2_857),
        ]
    for i in range(200):
        trace = root(new_trace_id(), "answer", at(i * 3_024_000.0), 4000, environment="production")
        spans.append(trace)
        if i % 20 < 3:  # 30 of 200
            spans.append(
                llm(
                    trace,
                    10,
                    1500,
                    model="scenario-model",
                    input_tokens=60_000,
                    output_tokens=2_857,
                    status="error",
                )
            )
        spans.append(
            llm(trace, 2000, 1500, model="scenario-model", input_tokens=60_000, output_tokens=2_857)
        )
    save(store, spans)
    staging = (20_000 * 10 + 2_857 * 30) / 1e6
    per_call = (60_000 * 10 + 2_857 * 30) / 1e6
    production = per_call * 1.15
    return H4Truth(staging, production, production / staging, per_call / staging, 1.15)


def h5_latency(store: Any, n: int = 3000) -> np.ndarray:
    """Traces whose total latency has p50 = 800 ms and p99 = 28 s (lognormal grid); almost all
    of it is the model call, whose completion tokens grow with it (≈ 40 ms per token, ±20%);
    a 20 ms retrieval that does not."""
    sigma = math.log(35.0) / norm.ppf(0.99)
    totals = lognormal_grid(n, 800.0, sigma, seed=5)
    noise = np.random.default_rng(6).lognormal(0.0, 0.2, n)
    spans = []
    for i, total in enumerate(totals):
        trace = root(new_trace_id(), "chat", at(i * 60_000.0), float(total))
        spans += [
            trace,
            child(trace, "retrieval", 0, 20.0),
            llm(trace, 20, float(total) - 20.0, output_tokens=max(1, int(total / 40.0 * noise[i]))),
        ]
    save(store, spans)
    return totals


def h6_probes(store: Any) -> None:
    """A week of synthetic probes, two per hour: 450 ms at 02:00 UTC, 25 s at 09:00, 600 ms at
    other hours; then two load tests: one at 02:00 on day 8, one at 09:00 on day 9."""
    spans = []
    for day in range(7):
        for hour in range(24):
            latency = {2: 450.0, 9: 25_000.0}.get(hour, 600.0)
            for k in range(2):
                start = T0 + timedelta(days=day, hours=hour, minutes=10 + 20 * k)
                spans.append(root(new_trace_id(), "probe", start, latency * (1 + 0.02 * k)))
    for day, hour, latency in ((7, 2, 430.0), (8, 9, 24_000.0)):
        for k in range(20):
            start = T0 + timedelta(days=day, hours=hour, minutes=2 * k)
            spans.append(root(new_trace_id(), "probe", start, latency, environment="load-test"))
    save(store, spans)


def h7_jobs(store: Any) -> None:
    """Three routes over 22 days. ``agent-orders`` spends $127/week (5 traces a day) for 21 days,
    then $1,300 on day 21, most of it one session calling ``lookup_order`` with the same
    arguments 30 times. ``summaries`` spikes as much with no repeated call; ``poller`` repeats
    a status call 5 times in every trace without spending more than usual."""
    spans = []
    daily = 127.0 / 7

    def trace_with(
        route: str, day: int, k: int, cost: float, calls: list[tuple[str, dict]]
    ) -> None:
        start = T0 + timedelta(days=day, hours=10, minutes=k)
        t = root(new_trace_id(), route, start, 5000, session=f"{route}-{day}-{k}", user=f"u{k}")
        spans.append(t)
        spans.append(llm(t, 10, 800, model="scenario-model", cost=cost))
        for j, (name, args) in enumerate(calls):
            spans.append(tool(t, 900 + j, 1, name, args))

    for day in range(21):
        for k in range(5):
            trace_with(
                "agent-orders", day, k, daily / 5, [("lookup_order", {"order_id": f"A{day}-{k}"})]
            )
            trace_with("summaries", day, k, daily / 5, [])
            trace_with("poller", day, k, daily / 5, [("get_status", {"job": "nightly"})] * 5)
    loop = [
        ("lookup_order", {"order_id": "A-777"}),
        ("create_order", {"sku": "X", "idempotency_key": "k1"}),
    ] * 15
    trace_with("agent-orders", 21, 0, 1250.0, loop)
    for k in range(1, 5):
        trace_with("agent-orders", 21, k, 12.5, [("lookup_order", {"order_id": f"B{k}"})])
    for k in range(5):
        trace_with("summaries", 21, k, 260.0, [])
        trace_with("poller", 21, k, daily / 5, [("get_status", {"job": "nightly"})] * 5)
    save(store, spans)
