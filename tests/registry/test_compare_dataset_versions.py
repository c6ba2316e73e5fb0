"""`assay compare` says so when two runs used different dataset versions, naming the shared
cases the paired comparison is limited to (issue 17, item 6)."""

from __future__ import annotations

from assay.analyse import compare_runs
from assay.core import Output, SampleResult, Score
from assay.store import Store


def _run(store: Store, build, run_id: str, sample_ids: tuple[str, ...], digest: str) -> None:  # type: ignore[no-untyped-def]
    manifest = build.manifest(run_id, sample_ids=sample_ids, subjects=("alpha",))
    manifest.dataset.content_hash = digest * 64
    samples = [s for s in build.samples() if s.id in sample_ids]
    store.create_run(manifest, samples, n_planned=len(samples))
    store.add_results(
        run_id,
        [
            SampleResult(
                subject="alpha",
                sample_id=s.id,
                epoch=0,
                output=Output(text="x"),
                scores=[Score(scorer="exact", value=1.0)],
            )
            for s in samples
        ],
    )
    store.finish_run(run_id, manifest, "completed")


def test_different_dataset_versions_are_named_with_the_shared_cases(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    _run(store, build, "run-a", ("q1", "q2", "q3"), "a")
    _run(store, build, "run-b", ("q1", "q2"), "b")
    _run(store, build, "run-c", ("q1", "q2", "q3"), "a")
    warned = compare_runs(store, "run-a", "run-b").warnings
    assert any("different dataset versions" in w and "2 shared cases" in w for w in warned)
    assert "1 only in run-a" in " ".join(warned)
    same = compare_runs(store, "run-a", "run-c").warnings
    assert not any("dataset versions" in w for w in same)
