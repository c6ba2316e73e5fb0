"""``assay compare`` reads one-value-per-sample metrics as arrays (``load_scores(...,
arrays=True)``, issue 20): the same mapping as the dict of lists, and the same comparison."""

from __future__ import annotations

import numpy as np
import pytest

import assay.analyse.compare_groups as compare_groups
from assay.analyse.compare import compare_runs, compare_scores
from assay.analyse.compare_types import CompareSettings
from assay.analyse.scores import OneScorePerSample, load_scores

from .conftest import write_run

N = 60


def _scores(k: int, *, epochs: bool = False, skip: int | None = None) -> dict:
    rng = np.random.default_rng(10 + k)
    ids = [f"s{i:03d}" for i in range(N) if i != skip]
    f1: dict = {i: float(rng.random()) for i in ids}
    if epochs:  # a sample with two epochs: that metric keeps its dict of lists
        f1[ids[5]] = [0.25, 0.5]
    return {
        ("m", "exact"): {i: float(rng.random() < 0.4 + 0.2 * k) for i in ids},
        ("m", "f1"): f1,
    }


def _write(store, *, epochs: bool = False, skip: int | None = None) -> None:
    for k, run in enumerate(("a", "b")):
        write_run(
            store,
            f"run-{run}",
            _scores(k, epochs=epochs, skip=skip if run == "b" else None),
            metadata={f"s{i:03d}": {"kind": ("x", "y", "z")[i % 3]} for i in range(N)},
            clusters={f"s{i:03d}": f"c{i % 7}" for i in range(N)},
            slices=("kind",),
            errors={"m": ["s059"]} if run == "a" else None,
            minutes=k,
        )


def test_arrays_are_the_same_mapping(store):
    _write(store, epochs=True)
    plain = load_scores(store, "run-a")
    arrays = load_scores(store, "run-a", arrays=True)
    exact = arrays.per_sample("m", "exact")
    assert isinstance(exact, OneScorePerSample)
    assert not isinstance(arrays.per_sample("m", "f1"), OneScorePerSample)  # two epochs
    for metric, values in plain.values.items():
        found = arrays.values[metric]
        assert list(found) == list(values)
        assert dict(found.items()) == values
        assert found == values
    assert exact["s010"] == plain.values["m", "exact"]["s010"]
    with pytest.raises(KeyError):
        exact["nope"]
    assert arrays.ungraded == plain.ungraded and arrays.errored == plain.errored


@pytest.mark.parametrize(
    "kwargs", [{}, {"epochs": True}, {"skip": 17}], ids=["same", "epochs", "b-lacks-one"]
)
def test_compare_with_arrays_equals_compare_with_lists(store, kwargs):
    _write(store, **kwargs)
    settings = CompareSettings(n_resamples=300, min_clusters=3)
    lists = compare_scores(
        load_scores(store, "run-a"), load_scores(store, "run-b"), settings=settings
    ).to_dict()
    arrays = compare_scores(
        load_scores(store, "run-a", arrays=True),
        load_scores(store, "run-b", arrays=True),
        settings=settings,
    ).to_dict()
    assert arrays == lists
    a = load_scores(store, "run-a", arrays=True).per_sample("m", "exact")
    b = load_scores(store, "run-b", arrays=True).per_sample("m", "exact")
    taken = compare_groups._same_samples(a, b) is not None
    assert taken == (not kwargs.get("skip"))  # the array path, when the samples match
    assert compare_runs(store, "run-a", "run-b", settings=settings).to_dict() == lists
    priced = compare_runs(store, "run-a", "run-b", settings=settings, with_cost=True).to_dict()
    assert {k: v for k, v in priced.items() if k != "cost"} == lists


def test_a_given_manifest_is_used(store):
    _write(store)
    manifest = store.get_manifest("run-a")
    calls = []
    original = store.get_manifest

    def counted(run_id):
        calls.append(run_id)
        return original(run_id)

    store.get_manifest = counted
    scores = load_scores(store, "run-a", manifest=manifest)
    assert scores.manifest is manifest and calls == []
    load_scores(store, "run-a")
    assert calls == ["run-a"]
