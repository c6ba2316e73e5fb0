from datetime import UTC, datetime

import pytest

from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    RunManifest,
    ScorerManifest,
    SubjectManifest,
    diff_manifests,
)


def manifest(**changes):
    subject = SubjectManifest(
        name="bot",
        kind="model",
        provider="openai",
        requested_model="gpt-x",
        resolved_models=["gpt-x-2026-01"],
        prompt_template="Q: {{ input }}",
        prompt_hash="p1",
        params={"temperature": 0},
    )
    base = dict(
        run_id="r1",
        name="qa",
        spec_hash="s",
        epochs=1,
        seed=0,
        dataset=DatasetManifest(name="qa", content_hash="d1", n_samples=2, sample_ids=["a", "b"]),
        subjects=[subject],
        scorers=[ScorerManifest(name="exact", version="1")],
        environment=EnvironmentManifest(
            assay_version="0.1.0", git_sha="abc", python="3.11", platform="x"
        ),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    for key, value in changes.items():
        if key.startswith("subject_"):
            subject = subject.model_copy(update={key.removeprefix("subject_"): value})
            base["subjects"] = [subject]
        else:
            base[key] = value
    return RunManifest(**base)


def test_fingerprint_ignores_run_id_and_clock():
    a = manifest()
    b = manifest(run_id="r2", started_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert a.fingerprint == b.fingerprint
    assert diff_manifests(a, b) == []


@pytest.mark.parametrize(
    "change",
    [
        {"subject_prompt_hash": "p2"},
        {"subject_resolved_models": ["gpt-x-2026-03"]},
        {"subject_params": {"temperature": 0.7}},
        {"seed": 1},
        {"epochs": 3},
        {"scorers": [ScorerManifest(name="exact", version="2")]},
        {"embedding_model": "emb-3"},
        {"index_snapshot": "idx-42"},
    ],
)
def test_any_recorded_change_moves_the_fingerprint(change):
    assert manifest(**change).fingerprint != manifest().fingerprint


def test_diff_names_the_prompt_first_when_only_the_prompt_changed():
    a = manifest()
    b = manifest(
        run_id="r2", subject_prompt_hash="p2", subject_prompt_template="Think. Q: {{ input }}"
    )
    changes = diff_manifests(a, b)
    assert [c.category for c in changes] == ["prompt", "prompt"]
    assert changes[0].path == "subjects.bot.prompt_hash"
    assert (changes[0].before, changes[0].after) == ("p1", "p2")


def test_diff_puts_a_moved_snapshot_before_code_changes():
    a = manifest()
    b = manifest(
        subject_resolved_models=["gpt-x-2026-03"],
        environment=EnvironmentManifest(
            assay_version="0.2.0", git_sha="def", python="3.11", platform="x"
        ),
    )
    changes = diff_manifests(a, b)
    assert changes[0].category == "model snapshot"
    assert {c.category for c in changes[1:]} == {"code"}
