"""Comparing two subjects diffs *their* manifests (issue 20, 8: "compare states something
false" — `assay compare R R --subject small:large` said the manifests match)."""

from __future__ import annotations

from assay.analyse import compare_runs
from assay.analyse.manifest_pairs import paired_manifest_changes
from assay.core import SubjectManifest

from .conftest import write_run


def _subject(name: str, model: str) -> SubjectManifest:
    return SubjectManifest(name=name, kind="model", provider="sim", requested_model=model)


def test_a_run_compared_with_itself_across_subjects_reports_the_model_change(store):
    scores = {("small", "exact"): {"a": 1.0, "b": 0.0}, ("large", "exact"): {"a": 1.0, "b": 1.0}}
    run = write_run(store, "r1", scores)
    manifest = store.get_manifest(run)
    manifest = manifest.model_copy(
        update={"subjects": [_subject("small", "sim/atlas-small"), _subject("large", "sim/big")]}
    )
    changes = paired_manifest_changes(manifest, manifest, [("small", "large")])
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("subjects.small→large.requested_model", "sim/atlas-small", "sim/big")
    ]
    assert changes[0].category == "model"
    # Same names on both sides: exactly diff_manifests (nothing changed within one run).
    assert paired_manifest_changes(manifest, manifest, [("small", "small")]) == []


def test_compare_runs_uses_the_paired_subjects(store):
    scores = {("small", "exact"): {"a": 1.0, "b": 0.0}, ("large", "exact"): {"a": 1.0, "b": 1.0}}
    run = write_run(store, "r1", scores, prompt="Q: {{ input }}")
    comparison = compare_runs(store, run, run, subjects=[("small", "large")])
    # write_run gives both subjects one model and prompt: the pair's manifests match, and the
    # verdict is not confused by the unpaired subjects.
    assert comparison.changes == []
    assert comparison.subject_pairs == [("small", "large")]


def test_the_header_points_to_json_for_the_rest_of_a_cross_subject_diff(store):
    """`assay diff R R` diffs whole runs (and says the manifests match): the header's pointer
    to the rest of a cross-subject list is --json."""
    import io

    from rich.console import Console

    from assay.cli.render_stats import comparison_view

    scores = {("small", "exact"): {"a": 1.0, "b": 0.0}, ("large", "exact"): {"a": 1.0, "b": 1.0}}
    run = write_run(store, "r1", scores)
    small = _subject("small", "sim/atlas-small").model_copy(update={"prompt_hash": "p1"})
    large = _subject("large", "sim/big").model_copy(update={"prompt_hash": "p2"})
    manifest = store.get_manifest(run).model_copy(update={"subjects": [small, large]})
    store.finish_run(run, manifest, "completed")
    comparison = compare_runs(store, run, run, subjects=[("small", "large")])
    assert len(comparison.changes) == 2
    console = Console(width=120, file=io.StringIO(), color_system=None)
    console.print(comparison_view(comparison))
    header = console.file.getvalue().splitlines()[1]  # type: ignore[attr-defined]
    assert header.startswith("What changed first: ") and header.endswith("(+1 more: `--json`)")
