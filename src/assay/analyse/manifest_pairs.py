"""What changed between the two sides of a comparison, subjects matched as they were paired.

:func:`assay.core.diff_manifests` matches subjects by name. When a comparison pairs subjects
with different names (``assay compare R R --subject small:large``), matching by name would
compare ``small`` with ``small`` and report that nothing changed, although the two sides are
different models. Here each pair's subject manifests are compared with each other instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.core import ManifestChange, RunManifest, diff_manifests


def paired_manifest_changes(
    before: RunManifest, after: RunManifest, pairs: Sequence[tuple[str, str]]
) -> list[ManifestChange]:
    """:func:`~assay.core.diff_manifests` of the two runs, with subjects matched by ``pairs``.

    When every pair has one name on both sides this is ``diff_manifests(before, after)``.
    Otherwise both manifests keep only the paired subjects, each renamed ``A→B`` (so a change
    reads ``subjects.small→large.requested_model``), and are diffed; subjects left out of
    every pair are not compared.
    """
    if all(a == b for a, b in pairs):
        return diff_manifests(before, after)
    by_name_a = {s.name: s for s in before.subjects}
    by_name_b = {s.name: s for s in after.subjects}
    subjects_a = []
    subjects_b = []
    for a, b in pairs:
        if a not in by_name_a or b not in by_name_b:
            continue
        label = a if a == b else f"{a}→{b}"
        subjects_a.append(by_name_a[a].model_copy(update={"name": label}))
        subjects_b.append(by_name_b[b].model_copy(update={"name": label}))
    return diff_manifests(
        before.model_copy(update={"subjects": subjects_a}),
        after.model_copy(update={"subjects": subjects_b}),
    )
