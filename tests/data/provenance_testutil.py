"""Datasets and stored runs for the provenance tests: subject S's rows across versions."""

from __future__ import annotations

from datetime import UTC, datetime

from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    Provenance,
    RunManifest,
    Sample,
    SubjectManifest,
)

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def row(sample_id: str, subject: str | None, **prov) -> Sample:
    return Sample(
        id=sample_id,
        input=f"question {sample_id}",
        target="answer",
        provenance=Provenance(subject_id=subject, licence="CC-BY-4.0", **prov),
    )


def manifest(run_id: str, samples: list[Sample], subject: str = "model-a") -> RunManifest:
    return RunManifest(
        run_id=run_id,
        name=f"eval-{run_id}",
        spec_hash="f" * 64,
        dataset=DatasetManifest(
            name="d", content_hash="d" * 64, n_samples=len(samples),
            sample_ids=[s.id for s in samples],
        ),
        subjects=[
            SubjectManifest(
                name=subject, kind="model", provider="sim", requested_model=subject,
                prompt_template="{input}", prompt_hash="p" * 64,
            )
        ],
        scorers=[],
        epochs=1,
        seed=0,
        environment=EnvironmentManifest(
            assay_version="0", git_sha="0", python="3.11", platform="linux"
        ),
        started_at=T0,
    )  # fmt: skip
