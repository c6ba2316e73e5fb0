"""Helpers for the contamination tests: random word texts with known overlaps, and small runs.

(Imported by name: tests/data/conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    Output,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
)
from assay.store import Store


class Words:
    """Random words from a large vocabulary: two draws share no 10-gram by accident."""

    def __init__(self, seed: int = 0, vocabulary: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.vocab = [f"w{i:05d}" for i in range(vocabulary)]

    def __call__(self, n: int) -> list[str]:
        return [self.rng.choice(self.vocab) for _ in range(n)]


def store_run(db: str, scores: dict[str, list[float | None]], subject: str = "alpha") -> str:
    """A finished run in the store at ``db`` with one scorer ``exact`` and, per sample id, one
    result per epoch carrying the given values (None: an ungradable score)."""
    ids = list(scores)
    epochs = max(len(v) for v in scores.values())
    manifest = RunManifest(
        run_id="20260101-000000-abcdef",
        name="contamination-test",
        spec_hash="f" * 64,
        dataset=DatasetManifest(
            name="eval", content_hash="d" * 64, n_samples=len(ids), sample_ids=ids
        ),
        subjects=[SubjectManifest(name=subject, kind="model")],
        scorers=[ScorerManifest(name="exact", version="1")],
        epochs=epochs,
        seed=0,
        environment=EnvironmentManifest(
            assay_version="0.1.0", git_sha="abc", python="3.11", platform="linux"
        ),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    samples = [Sample(id=i, input=f"input {i}") for i in ids]
    with Store(db) as store:
        store.create_run(manifest, samples, n_planned=len(ids) * epochs)
        results = [
            SampleResult(
                subject=subject,
                sample_id=sid,
                epoch=epoch,
                output=Output(text="answer"),
                scores=[Score(scorer="exact", value=value)],
            )
            for sid, values in scores.items()
            for epoch, value in enumerate(values)
        ]
        store.add_results(manifest.run_id, results)
        store.finish_run(
            manifest.run_id,
            manifest.model_copy(update={"finished_at": datetime(2026, 1, 1, 1, tzinfo=UTC)}),
            "completed",
        )
    return manifest.run_id
