"""Stored runs built directly from numbers, so analyses can be checked against known truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    JudgeManifest,
    Output,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
)
from assay.store import Store

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def write_run(
    store: Store,
    run_id: str,
    scores: dict[tuple[str, str], dict[str, list[float] | float]],
    *,
    metadata: dict[str, dict] | None = None,
    clusters: dict[str, str] | None = None,
    slices: tuple[str, ...] = (),
    cluster_key: str | None = None,
    errors: dict[str, list[str]] | None = None,
    prompt: str = "Q: {{ input }}",
    minutes: int = 0,
) -> str:
    """Store a finished run: ``scores[(subject, scorer)][sample_id]`` is one value or a list
    (one per epoch); ``errors[subject]`` lists sample ids whose call failed."""
    metadata = metadata or {}
    clusters = clusters or {}
    subjects = list(dict.fromkeys(s for s, _ in scores))
    scorers = list(dict.fromkeys(c for _, c in scores))
    ids = sorted(
        {i for per in scores.values() for i in per}
        | {i for v in (errors or {}).values() for i in v}
    )
    samples = [
        Sample(
            id=i,
            input=f"question {i}",
            target="x",
            metadata=metadata.get(i, {}),
            cluster=clusters.get(i),
        )
        for i in ids
    ]
    started = T0 + timedelta(minutes=minutes)
    manifest = RunManifest(
        run_id=run_id,
        name="stats-test",
        spec_hash="s" * 64,
        dataset=DatasetManifest(
            name="d", content_hash="d" * 64, n_samples=len(ids), sample_ids=ids
        ),
        subjects=[
            SubjectManifest(
                name=s,
                kind="model",
                provider="sim",
                requested_model="sim/x",
                prompt_template=prompt,
                prompt_hash=str(hash(prompt)),
            )
            for s in subjects
        ],
        scorers=[ScorerManifest(name=c, version="1") for c in scorers],
        epochs=1,
        seed=0,
        slices=list(slices),
        cluster=cluster_key,
        environment=EnvironmentManifest(
            assay_version="0", git_sha="0", python="3.11", platform="linux"
        ),
        started_at=started,
        finished_at=started + timedelta(seconds=30),
    )
    store.create_run(manifest, samples, n_planned=len(ids) * len(subjects))
    results: list[SampleResult] = []
    for subject in subjects:
        by_sample: dict[str, list[tuple[str, float]]] = {}
        for (s, scorer), per in scores.items():
            if s != subject:
                continue
            for sample_id, value in per.items():
                values = value if isinstance(value, list) else [value]
                for epoch, v in enumerate(values):
                    by_sample.setdefault((sample_id, epoch), []).append((scorer, v))
        for (sample_id, epoch), graded in sorted(by_sample.items()):
            results.append(
                SampleResult(
                    subject=subject,
                    sample_id=sample_id,
                    epoch=epoch,
                    output=Output(text="x", model="sim:x@1"),
                    scores=[Score(scorer=c, value=v) for c, v in graded],
                )
            )
        for sample_id in (errors or {}).get(subject, []):
            results.append(
                SampleResult(
                    subject=subject, sample_id=sample_id, error="boom", error_class="server_error"
                )
            )
    store.add_results(run_id, results)
    store.finish_run(run_id, manifest, "completed")
    return run_id


@pytest.fixture
def store(tmp_path, new_store_db):
    s = Store(f"sqlite:///{new_store_db(tmp_path / 'assay.db')}")
    yield s
    s.close()


def binary_pair(rng: np.random.Generator, n: int, p_a: float, p_b: float, rho: float = 0.0):
    """Correlated pass/fail outcomes for two runs on the same n samples."""
    shared = rng.random(n)
    own_a, own_b = rng.random(n), rng.random(n)
    use_shared = rng.random(n) < rho
    a = np.where(use_shared, shared, own_a) < p_a
    b = np.where(use_shared, shared, own_b) < p_b
    return a.astype(float), b.astype(float)


def write_runs_with_a_changed_judge(store: Store, *, lift: float = 0.7) -> tuple[str, str]:
    """Two runs whose rubric metric ``quality`` was graded by one judge name resolved to two
    snapshots (``judge-2025-01``, then ``judge-2026-03``): every score moves by ``lift``, the
    judge's doing, not the system's. ``exact`` (no judge) is unchanged. The samples carry a
    ``topic`` slice (two values), so each metric has three groups."""
    ids = [f"q{i}" for i in range(200)]
    before = {i: 2.0 + (k % 3 == 0) for k, i in enumerate(ids)}  # a 1-5 rubric, say
    after = {i: v + lift for i, v in before.items()}
    exact = {i: float(k % 2) for k, i in enumerate(ids)}
    slices = ("topic",)
    metadata = {i: {"topic": "maths" if k % 4 < 2 else "history"} for k, i in enumerate(ids)}
    scores_a = {("bot", "quality"): before, ("bot", "exact"): exact}
    scores_b = {("bot", "quality"): after, ("bot", "exact"): exact}
    a = write_run(store, "ra", scores_a, metadata=metadata, slices=slices)
    b = write_run(store, "rb", scores_b, metadata=metadata, slices=slices, minutes=5)
    for run_id, snapshot in ((a, "judge-2025-01"), (b, "judge-2026-03")):
        manifest = store.get_manifest(run_id)
        judge = JudgeManifest(
            name="quality", model="openai/judge", kind="pointwise", prompt_hash="p",
            resolved_models=[snapshot],
        )  # fmt: skip
        store.finish_run(run_id, manifest.model_copy(update={"judges": [judge]}), "completed")
    return a, b
