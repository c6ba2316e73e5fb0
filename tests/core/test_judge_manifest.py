from assay.core import JudgeManifest, RunManifest, diff_manifests, judge_changes

from .test_manifest import manifest


def judge(**changes):
    base = dict(
        name="quality",
        model="gpt-4o-mini",
        provider="openai",
        kind="pointwise",
        resolved_models=["gpt-4o-mini-2024-07-18"],
        system_fingerprints=["fp_1"],
        prompt_hash="h1",
        params={"temperature": 0},
    )
    return JudgeManifest(**{**base, **changes})


def test_old_manifests_without_the_new_judge_fields_still_load():
    old = {"name": "q", "model": "m", "resolved_models": ["m-1"], "prompt_hash": "h", "params": {}}
    loaded = JudgeManifest.model_validate(old)
    assert loaded.system_fingerprints == [] and loaded.family == [] and loaded.kind is None


def test_judge_snapshot_moves_the_fingerprint_and_ranks_first_in_the_diff():
    a = manifest(judges=[judge()])
    b = manifest(run_id="r2", judges=[judge(resolved_models=["gpt-4o-mini-2025-01-01"])])
    assert a.fingerprint != b.fingerprint
    [change] = diff_manifests(a, b)
    assert change.path == "judges.quality.resolved_models"
    assert (change.category, change.rank) == ("judge snapshot", 0)
    c = manifest(run_id="r3", judges=[judge(prompt_hash="h2")])
    [prompt] = diff_manifests(a, c)
    assert (prompt.category, prompt.rank) == ("judge", 4)


def test_judge_changes_within_and_between_runs():
    steady = manifest(judges=[judge()])
    assert judge_changes(steady) == []
    moved = manifest(judges=[judge(resolved_models=["snap-1", "snap-2"])])
    [within] = judge_changes(moved)
    assert (
        within.within_run and within.reason == "snapshot" and within.after == ["snap-1", "snap-2"]
    )
    assert "changed within the run" in within.describe()
    refingered = manifest(judges=[judge(system_fingerprints=["fp_1", "fp_2"])])
    assert [c.reason for c in judge_changes(refingered)] == ["fingerprint"]
    later = manifest(run_id="r2", judges=[judge(resolved_models=["gpt-4o-mini-2025-01-01"])])
    [between] = judge_changes(later, steady)
    assert not between.within_run and between.before == ["gpt-4o-mini-2024-07-18"]
    other_model = manifest(run_id="r2", judges=[judge(model="gpt-4o")])
    assert [c.reason for c in judge_changes(other_model, steady)] == ["model"]
    # A judge only one run has is a configuration difference, not a judge_changed flag.
    assert judge_changes(manifest(judges=[judge(name="other")]), steady) == []
    assert isinstance(steady, RunManifest)
