"""Builders of what review queues hold: a run with judge scores, draft cases, rubrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

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
from assay.review import Rubric
from assay.store import Store
from assay.store.tables import cases

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASS_FAIL = Rubric(scale="pass_fail", criteria="Is the answer correct?")
SCORE = Rubric(scale="score", criteria="How good is the answer?", min=1, max=5, pass_at=4)


def make_run(store: Store, run_id: str, judge: dict[str, float], subject: str = "bot") -> None:
    """A finished run of one subject whose ``rubric`` judge gave ``judge[sample]``."""
    ids = sorted(judge)
    manifest = RunManifest(
        run_id=run_id,
        name="qa",
        spec_hash="f" * 64,
        dataset=DatasetManifest(
            name="qa", source="qa.jsonl", content_hash="d" * 64, n_samples=len(ids), sample_ids=ids
        ),
        subjects=[
            SubjectManifest(
                name=subject,
                kind="model",
                provider="sim",
                requested_model="sim/bot",
                prompt_template="{input}",
                prompt_hash="p" * 64,
            )
        ],
        scorers=[ScorerManifest(name="rubric", version="1", kind="rubric")],
        epochs=1,
        seed=1,
        environment=EnvironmentManifest(
            assay_version="0", git_sha="abc", python="3.11", platform="linux"
        ),
        started_at=T0,
    )
    samples = [Sample(id=s, input=f"question {s}?", target=f"answer {s}") for s in ids]
    store.create_run(manifest, samples, n_planned=len(ids))
    store.add_results(
        run_id,
        [
            SampleResult(
                subject=subject,
                sample_id=s,
                output=Output(text=f"reply to {s}", model="sim-bot"),
                scores=[Score(scorer="rubric", value=judge[s])],
            )
            for s in ids
        ],
    )
    store.finish_run(run_id, manifest.model_copy(update={"finished_at": T0}), "completed")


def add_draft(store: Store, case_id: str, *, question: str, bad_answer: str) -> None:
    """A draft case as the promotion policy writes one."""
    with store.engine.begin() as conn:
        conn.execute(
            cases.insert().values(
                id=case_id,
                dataset="",
                status="draft",
                origin="incident",
                created_from="ab" * 16,
                reason="thumbs-down from end_user on prod",
                input_json=json.dumps([{"role": "user", "content": question}]),
                target_json=None,
                negative_example=bad_answer,
                metadata_json=json.dumps({"label": "failed"}),
                created_at=T0,
            )
        )


def case_row(store: Store, case_id: str) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(cases.select().where(cases.c.id == case_id)).one()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)
