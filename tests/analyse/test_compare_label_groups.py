"""``assay compare`` works out slice and cluster labels once per group of samples sharing their
labels' entry (issue 20): the same groups, codes, warnings and numbers as per sample."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import assay.analyse.compare_groups as compare_groups
from assay.analyse.compare import compare_scores
from assay.analyse.compare_types import CompareSettings
from assay.analyse.scores import RunScores, load_scores
from assay.store.score_reads import read_sample_labels

from .conftest import write_run

N = 90


def _metadata(i: int, run: str) -> dict:
    # Labels follow i % 12, so 90 samples fall in at most 12 groups. Trailing NULs: a numpy
    # string array's ``==`` ignores them, and the per-sample path grouped by it; so must the
    # grouped path.
    kind = ("arith", "arith\x00", "units", "seq")[i % 4]
    meta: dict = {"kind": kind}
    if i % 4 != 3:
        meta["template"] = f"t{i % 3}"
    if run == "b" and i % 12 == 0:
        meta["kind"] = "relabelled"  # run B labels some samples differently
    if i % 12 == 6:
        del meta["kind"]  # no label: run B's is used, else "(none)"
    return meta


def _pair(store, cluster_key: str | None = "template"):
    rng = np.random.default_rng(4)
    ids = [f"s{i:03d}" for i in range(N)]
    runs = []
    for k, run in enumerate(("a", "b")):
        values = {i: float(rng.random() < 0.5 + 0.1 * k) for i in ids}
        runs.append(
            write_run(
                store,
                f"run-{run}",
                {("m", "exact"): values, ("m", "f1"): {i: rng.random() for i in ids}},
                metadata={i: _metadata(n, run) for n, i in enumerate(ids)},
                # Samples with neither a template nor a cluster are clusters of their own.
                clusters={i: f"c{n % 3}" for n, i in enumerate(ids) if n % 12 not in (3, 7)},
                slices=("kind",),
                cluster_key=cluster_key,
                minutes=k,
            )
        )
    return [load_scores(store, run) for run in runs]


def _both_ways(scores_a, scores_b, monkeypatch, **kwargs):
    settings = CompareSettings(n_resamples=200, min_clusters=3)
    grouped = compare_scores(scores_a, scores_b, settings=settings, **kwargs).to_dict()
    with monkeypatch.context() as m:
        m.setattr(compare_groups, "_label_groups", lambda *args: None)
        per_sample = compare_scores(scores_a, scores_b, settings=settings, **kwargs).to_dict()
    return grouped, per_sample


@pytest.mark.parametrize("cluster_key", ["template", None])
def test_grouped_labels_give_the_per_sample_comparison(store, monkeypatch, cluster_key):
    scores_a, scores_b = _pair(store, cluster_key)
    shared = sorted(scores_a.per_sample("m", "exact"))
    grouped = compare_groups._label_groups(scores_a, scores_b, shared)
    assert grouped is not None and len(grouped.reps) < N / 2  # the grouped path is taken
    for kwargs in ({}, {"slices": ["kind", "template", "absent"]}):
        with_groups, per_sample = _both_ways(scores_a, scores_b, monkeypatch, **kwargs)
        assert with_groups == per_sample
    assert any("different 'kind' labels" in w for w in with_groups["warnings"])


def test_grouped_codes_and_groups_match_per_sample_ones(store):
    scores_a, scores_b = _pair(store)
    # A sample missing from run A's labels, and one whose entry is its own object.
    meta_a = dict(scores_a.sample_meta)
    del meta_a["s007"]
    meta_a["s008"] = ({"kind": "arith"}, None)
    scores_a = dataclasses.replace(scores_a, sample_meta=meta_a)
    shared = sorted(scores_a.per_sample("m", "exact"))
    grouped = compare_groups._label_groups(scores_a, scores_b, shared)
    assert grouped is not None
    codes = compare_groups._cluster_codes(scores_a, scores_b, shared, grouped)
    expected = compare_groups._cluster_codes(scores_a, scores_b, shared)
    assert codes is not None and expected is not None
    assert codes.tolist() == expected.tolist()
    for key in ("kind", "template", "absent"):
        found, mismatched = compare_groups._slice_groups(scores_a, scores_b, shared, key, grouped)
        want, want_mismatched = compare_groups._slice_groups(scores_a, scores_b, shared, key)
        assert mismatched == want_mismatched
        assert [(k, v, idx.tolist()) for k, v, idx in found] == [
            (k, v, idx.tolist()) for k, v, idx in want
        ]
    assert compare_groups._slice_groups(scores_a, scores_b, shared, "kind")[1] > 0


def test_own_label_methods_are_called_per_sample(store):
    scores_a, scores_b = _pair(store)

    class Relabelled(RunScores):
        def slice_label(self, sample_id: str, key: str) -> str:
            return sample_id[-1]

    relabelled = Relabelled(**{f.name: getattr(scores_a, f.name) for f in _init_fields()})
    shared = sorted(scores_a.per_sample("m", "exact"))
    assert compare_groups._label_groups(relabelled, scores_b, shared) is None
    comparison = compare_scores(relabelled, scores_b, settings=CompareSettings(n_resamples=0))
    values = {g.slice_value for g in comparison.metrics[0].slices}
    assert values == {str(d) for d in range(10)}


def test_samples_with_equal_labels_share_one_entry(store):
    _pair(store)
    labels = read_sample_labels(store, "run-a")
    distinct = {(repr(meta), cluster) for meta, cluster in labels.values()}
    assert len({id(entry) for entry in labels.values()}) == len(distinct) < N / 2
    assert labels["s001"] == (_metadata(1, "a"), "c1")
    assert labels["s007"] == (_metadata(7, "a"), None)


def _init_fields():
    return [f for f in dataclasses.fields(RunScores) if f.init]
