"""Stratifying by many variables keeps every variable's marginal shares (issue 20, 7 / D1)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from assay.data.sampling import Record, StrataSpec, composition, draw_stratified

SEGMENTS = ["consumer", "smb", "enterprise", "education", "public"]
GEOS = ["na", "emea", "apac", "latam", "anz"]
INTENTS = ["billing", "login", "how-to", "bug", "cancel"]
ACTORS = ["human", "automation"]


def _population(n: int = 20_000, seed: int = 20) -> list[Record]:
    """Traffic in which enterprise and automation are 20% each, spread over many small cells."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    records = []
    for i in range(n):
        records.append(
            Record(
                f"traffic.jsonl:{i + 1}",
                {
                    "timestamp": (
                        start + timedelta(minutes=rng.randrange(7 * 24 * 60))
                    ).isoformat(),
                    "segment": rng.choices(SEGMENTS, [40, 25, 20, 10, 5])[0],
                    "geography": rng.choices(GEOS, [40, 30, 15, 10, 5])[0],
                    "intent": rng.choice(INTENTS),
                    "actor": rng.choices(ACTORS, [80, 20])[0],
                },
            )
        )
    return records


def test_five_strata_keep_every_marginal_within_tolerance():
    population = _population()
    spec = StrataSpec(("hour_of_week", "segment", "geography", "intent", "actor"))
    drawn = draw_stratified(population, spec, 500, seed=1)
    assert len(drawn.records) == 500
    report = composition(drawn.records, population, spec)
    shares = {
        (name, v.value): (v.sample_share, v.population_share)
        for name, values in report.variables.items()
        for v in values
    }
    sample, production = shares[("segment", "enterprise")]
    assert abs(sample - production) <= 0.02  # was 4% of the sample against 20% of traffic
    sample, production = shares[("actor", "automation")]
    assert abs(sample - production) <= 0.02  # was 0.6% against 20%
    assert [f for f in report.flags if f.code == "marginal_off"] == []


def test_a_sample_that_misses_a_marginal_is_flagged():
    population = _population(4000)
    spec = StrataSpec(("segment", "actor"))
    humans_only = [r for r in population if r.values["actor"] == "human"][:400]
    report = composition(humans_only, population, spec)
    off = {
        (f.details["variable"], f.details["value"])
        for f in report.flags
        if f.code == "marginal_off"
    }
    assert ("actor", "automation") in off and ("actor", "human") in off
