"""A generated production population for the sampling tests: 4 weeks of traffic where the
03:00–04:00 (UTC) window holds 12% of records and none of the enterprise revenue."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from assay.data.sampling import Record

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
REVENUE = {"consumer": 5.0, "smb": 50.0, "enterprise": 500.0}


def population(size: int = 50_000, seed: int = 7) -> list[Record]:
    rng = random.Random(seed)
    other_hours = [h for h in range(24) if h != 3]
    records = []
    for i in range(size):
        in_window = i < round(size * 0.12)
        hour = 3 if in_window else rng.choice(other_hours)
        if in_window:
            segment = "consumer" if rng.random() < 0.7 else "smb"
        else:
            segment = rng.choices(["consumer", "smb", "enterprise"], [0.6, 0.3, 0.1])[0]
        moment = START + timedelta(days=rng.randrange(28), hours=hour, minutes=rng.randrange(60))
        records.append(
            Record(
                f"traffic.jsonl:{i + 1}",
                {
                    "id": f"r{i}",
                    "ts": moment.isoformat(),
                    "segment": segment,
                    "geo": rng.choice(["eu", "us"]),
                    "revenue": REVENUE[segment],
                },
            )
        )
    rng.shuffle(records)
    return records
