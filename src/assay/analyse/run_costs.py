"""Cost and latency of an eval run's calls: subjects and judges (issue 15, item 7).

Subjects' calls are the run's results (tokens, latency, the provider's response body with its
usage block, so cached and reasoning tokens are priced as billed); judges' calls are the judge
outcomes kept in the scores' metadata (tokens and latency of each verdict call). Cached
responses cost nothing and are counted apart; their latency is not a call's and is left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from assay.core import RunManifest
from assay.core.prices import PriceBook
from assay.stats.quantiles import quantile_intervals
from assay.store import Store
from assay.store.score_reads import UsagePricer
from assay.trace.usage import find_usage_block

RUN_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99)
_DETAILS = {
    "cached_input_tokens": "cached_input",
    "cache_write_tokens": "cache_write",
    "reasoning_tokens": "reasoning",
    "input_audio_tokens": "input_audio",
    "output_audio_tokens": "output_audio",
    "input_image_tokens": "input_image",
}


@dataclass
class CallGroup:
    """The calls of one subject or one judge scorer."""

    name: str
    role: str
    calls: int = 0
    cached: int = 0
    errors: int = 0
    unpriced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    part_costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    per_sample: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def add(self, sample_id: str, model: str | None, priced: Any, latency: float | None) -> None:
        if model:
            self.models.add(model)
        if latency is not None and not math.isnan(latency):
            self.latencies.append(latency)
        if priced is None:
            self.unpriced += 1
            return
        self.cost += priced.total
        self.per_sample[sample_id] = self.per_sample.get(sample_id, 0.0) + priced.total
        for part, value in priced.costs.items():
            self.part_costs[part] = self.part_costs.get(part, 0.0) + value
        for note in priced.notes:
            if note not in self.notes:
                self.notes.append(note)

    def as_dict(self, confidence: float) -> dict[str, Any]:
        costs = np.fromiter(self.per_sample.values(), float, len(self.per_sample))
        lat = np.asarray(self.latencies, dtype=float)
        return {
            "name": self.name,
            "role": self.role,
            "models": sorted(self.models),
            "calls": self.calls,
            "cached": self.cached,
            "errors": self.errors,
            "unpriced": self.unpriced,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": self.cost,
            "cost_by_part": {k: v for k, v in self.part_costs.items() if v},
            "notes": self.notes,
            "cost_per_sample": [
                e.as_dict() for e in quantile_intervals(costs, RUN_QUANTILES, confidence)
            ],
            "mean_cost_per_sample": float(costs.mean()) if costs.size else None,
            "latency_ms": [e.as_dict() for e in quantile_intervals(lat, RUN_QUANTILES, confidence)],
        }


def _judge_calls(metadata: Any) -> Iterator[dict[str, Any]]:
    """Judge calls anywhere in a score's metadata: dicts naming a ``judge`` that are not a
    combination of calls (a pairwise judge's ``verdicts``, a panel)."""
    if isinstance(metadata, dict):
        if isinstance(metadata.get("judge"), str) and not (
            "verdicts" in metadata or "panel" in metadata
        ):
            yield metadata
            return
        for value in metadata.values():
            if isinstance(value, (dict, list)):
                yield from _judge_calls(value)
    elif isinstance(metadata, list):
        for value in metadata:
            yield from _judge_calls(value)


def _output(body: str | None) -> dict[str, Any]:
    """A stored output's JSON, parsed only when it has a ``raw`` response body, the one field
    read from it (:func:`token_details`): parsing every output of a 100,000-result run cost about a
    second of ``assay compare`` (issue 20)."""
    if not body or '"raw"' not in body:
        return {}
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def token_details(output: dict[str, Any]) -> dict[str, int]:
    """The priced token details (cached, reasoning, audio … tokens) of a stored output (its
    JSON form), from the provider's usage block in the raw response; what every cost in a
    run is priced with, so a page pricing one result agrees with the run's totals."""
    block = find_usage_block(output.get("raw"))
    return {_DETAILS[k]: v for k, v in block.items() if k in _DETAILS}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def run_cost_report(
    store: Store, run_id: str, *, prices: PriceBook | None = None, confidence: float = 0.95
) -> dict[str, Any]:
    """Per subject and per judge scorer: calls, cache hits, tokens, cost (by kind of token, at
    the run's date) and percentiles of cost per sample and of call latency, with intervals."""
    book = prices or PriceBook()
    manifest = store.get_manifest(run_id)
    requested = {s.name: s.requested_model for s in manifest.subjects}
    groups: dict[tuple[str, str], CallGroup] = {}
    mark = "?" if store.engine.dialect.name == "sqlite" else "%s"
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT subject, sample_id, resolved_model, input_tokens, output_tokens, latency_ms, "
            f"cached, error, output_json, created_at FROM results WHERE run_id = {mark}",
            (run_id,),
        )
        for subject, sample_id, model, tin, tout, latency, cached, error, body, created in cursor:
            if isinstance(subject, bytes):
                subject, sample_id = subject.decode(), sample_id.decode()
            group = groups.setdefault(("subject", subject), CallGroup(subject, "subject"))
            group.calls += 1
            if error:
                group.errors += 1
                continue
            if cached:
                group.cached += 1
                continue
            group.input_tokens += int(tin or 0)
            group.output_tokens += int(tout or 0)
            output = _output(body)
            name = model or requested.get(subject)
            priced = (
                book.price(name, tin, tout, token_details(output), at=_time(created))
                if tin is not None or tout is not None
                else None
            )
            group.add(sample_id, name, priced, latency)
        cursor.execute(
            "SELECT s.scorer, r.sample_id, s.metadata_json, r.created_at FROM scores s "
            f"JOIN results r ON r.id = s.result_id WHERE s.run_id = {mark} "
            f"AND s.metadata_json LIKE {mark}",
            (run_id, '%"judge"%'),
        )
        for scorer, sample_id, metadata, created in cursor:
            if isinstance(sample_id, bytes):
                sample_id = sample_id.decode()
            for call in _judge_calls(json.loads(metadata)):
                group = groups.setdefault(("judge", scorer), CallGroup(scorer, "judge"))
                group.calls += 1
                if call.get("error") == "call_failed":
                    group.errors += 1
                    continue
                if call.get("cached"):
                    group.cached += 1
                    continue
                usage = call.get("usage") or {}
                tin, tout = usage.get("input_tokens"), usage.get("output_tokens")
                group.input_tokens += int(tin or 0)
                group.output_tokens += int(tout or 0)
                model = call.get("resolved_model") or call.get("judge")
                priced = (
                    book.price(model, tin, tout, at=_time(created))
                    if tin is not None or tout is not None
                    else None
                )
                group.add(sample_id, model, priced, usage.get("latency_ms"))
        cursor.close()
    finally:
        raw.close()
    rows = [g.as_dict(confidence) for g in groups.values()]
    return {
        "run_id": run_id,
        "price_sources": book.describe(),
        "total_cost": float(sum(g.cost for g in groups.values())),
        "groups": rows,
    }


def usage_pricer(book: PriceBook, manifest: RunManifest) -> UsagePricer:
    """Prices subject calls as :func:`run_cost_report` does (its model, or the subject's
    requested model; the day it was made; the token details of its raw response), each
    distinct call once: per-call parsing and pricing were a third of ``assay compare`` at
    100,000 results (issue 20)."""
    return _CallPricer(book, {s.name: s.requested_model for s in manifest.subjects})


class _CallPricer:
    """:func:`usage_pricer`'s pricer (:class:`~assay.store.score_reads.UsagePricer`)."""

    def __init__(self, book: PriceBook, requested: dict[str, str | None]) -> None:
        self.book = book
        self.requested = requested
        self.days: dict[Any, Any] = {}
        self.prices: dict[tuple[Any, ...], float | None] = {}

    def _days(self, created: Any) -> None:
        from assay.core.prices import _day

        for value in dict.fromkeys(created).keys() - self.days.keys():
            at = _time(value)
            self.days[value] = None if at is None else _day(at)

    def _price(
        self, subject: str, model: Any, day: Any, tin: Any, tout: Any, body: Any
    ) -> float | None:
        name = model or self.requested.get(subject)
        details = token_details(_output(body)) if body else {}
        priced = self.book.price(name, tin, tout, details, at=day)
        return None if priced is None else priced.total

    def __call__(self, calls: list[tuple[Any, ...]]) -> list[float | None]:
        self._days(call[4] for call in calls)
        days = self.days
        keys = [(s, m, days[created], tin, tout, b) for s, m, tin, tout, created, b in calls]
        for key in dict.fromkeys(keys).keys() - self.prices.keys():
            self.prices[key] = self._price(*key)
        return list(map(self.prices.__getitem__, keys))

    def prices_any(self, keys: list[tuple[Any, ...]]) -> bool:
        """Whether the book has rates for any ``(subject, model, created_at)``: the model (or
        the subject's requested model) on that day. When it has none, every call of those
        keys prices to ``None`` (:meth:`PriceBook.price` needs rates), so they need not be
        read."""
        self._days(key[2] for key in keys)
        return any(
            self.book.rates(model or self.requested.get(subject), at=self.days[created]) is not None
            for subject, model, created in keys
        )


def _per_sample_costs(store: Store, run_id: str, book: PriceBook) -> dict[str, dict[str, float]]:
    """Subject -> sample id -> the cost of its priced calls (every subject with results has an
    entry; epochs add up in order), reading only the columns pricing needs."""
    from assay.store.score_reads import paused_gc

    price = usage_pricer(book, store.get_manifest(run_id))
    mark = "?" if store.engine.dialect.name == "sqlite" else "%s"
    out: dict[str, dict[str, float]] = {}
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT DISTINCT subject FROM results WHERE run_id = {mark}", (run_id,))
        for (subject,) in cursor.fetchall():
            out[subject.decode() if isinstance(subject, bytes) else subject] = {}
        cursor.execute(
            "SELECT subject, sample_id, resolved_model, input_tokens, output_tokens, created_at, "
            f"CASE WHEN output_json LIKE {mark} THEN output_json END FROM results "
            f"WHERE run_id = {mark} AND NOT cached AND (error IS NULL OR error = '') "
            "AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL) "
            "ORDER BY subject, sample_id, epoch",
            ('%"raw"%', run_id),
        )
        with paused_gc():
            while rows := cursor.fetchmany(20_000):
                subjects, sample_ids, *call = (
                    [v.decode() if isinstance(v, bytes) else v for v in column]
                    for column in zip(*rows, strict=True)
                )
                costs = price(list(zip(subjects, *call, strict=True)))
                for subject, sample_id, total in zip(subjects, sample_ids, costs, strict=True):
                    if total is not None:
                        per_sample = out[subject]
                        per_sample[sample_id] = per_sample.get(sample_id, 0.0) + total
        cursor.close()
    finally:
        raw.close()
    return out


def cost_delta(
    store: Store,
    run_a: str,
    run_b: str,
    *,
    prices: PriceBook | None = None,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """Per subject present in both runs: the mean per-sample cost difference B − A, paired by
    sample id (:func:`assay.stats.paired.paired_difference`: mean of the differences with a
    paired t interval), so a prompt change's cost moves beside its quality delta. Samples that
    one run did not price are left out (counted in ``unpaired``)."""
    book = prices or PriceBook()
    a = _per_sample_costs(store, run_a, book)
    b = _per_sample_costs(store, run_b, book)
    return paired_cost_delta(a, b, confidence=confidence)


def paired_cost_delta(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], *, confidence: float = 0.95
) -> list[dict[str, Any]]:
    """:func:`cost_delta` of two runs' per-sample costs (subject -> sample id -> cost)."""
    from assay.stats.paired import paired_difference

    out = []
    for subject in sorted(set(a) & set(b)):
        shared = sorted(set(a[subject]) & set(b[subject]))
        row: dict[str, Any] = {
            "subject": subject,
            "n": len(shared),
            "unpaired": len(set(a[subject]) ^ set(b[subject])),
        }
        if shared:
            x = np.array([a[subject][s] for s in shared])
            y = np.array([b[subject][s] for s in shared])
            d = paired_difference(x, y, confidence=confidence)
            row.update(
                mean_a=float(x.mean()),
                mean_b=float(y.mean()),
                difference=d.difference,
                low=d.interval.low if math.isfinite(d.interval.low) else None,
                high=d.interval.high if math.isfinite(d.interval.high) else None,
                ratio=float(y.mean() / x.mean()) if x.mean() > 0 else None,
            )
        out.append(row)
    return out


def priced_cost_delta(store: Store, run_a: str, run_b: str) -> list[dict[str, Any]]:
    """:func:`cost_delta` as ``assay compare`` (terminal, ``--json`` and web) reports it: only
    subjects with priced calls paired in both runs."""
    return priced_only(cost_delta(store, run_a, run_b))


def priced_only(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of :func:`cost_delta` that ``assay compare`` reports: subjects with priced
    calls paired in both runs."""
    return [row for row in rows if row.get("n") and row.get("difference") is not None]
