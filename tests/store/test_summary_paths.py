"""A run's summary from plain rows (small runs, no numpy) and from flat columns into arrays
(large runs) gives identical numbers (issue 20, section 2: ``assay run`` of a small spec must
not import numpy for its end-of-run summary). On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assay.analyse import summary as summary_module
from assay.analyse.summary import SMALL_RUN_RESULTS, summarise, summarise_run

#: (subject, sample, epoch) of every result: two subjects, three samples, two epochs.
CELLS = [(s, q, e) for s in ("beta", "alpha") for q in ("q3", "q1", "q2") for e in (1, 0)]
FAILED = ("beta", "q1", 1)  # this call errored


def _stored(store: Any, build: Any, values: dict[tuple[str, str, int], float | None]) -> str:
    """The run of :data:`CELLS`, one errored; ``values`` gives some exact scores, the others
    are 1.0."""
    manifest = build.manifest("run-0001")
    store.create_run(manifest, build.samples(), n_planned=len(CELLS))
    store.add_results(
        "run-0001",
        [
            build.result(*cell, error="429")
            if cell == FAILED
            else build.result(*cell, value=values.get(cell, 1.0))
            for cell in CELLS
        ],
    )
    finished = manifest.model_copy(update={"finished_at": build.at(30)})
    store.finish_run("run-0001", finished, "completed")
    return "run-0001"


def _both(store: Any, run_id: str, slices: list[str] | None) -> tuple[str, str]:
    info, manifest = store.get_run(run_id), store.get_manifest(run_id)
    by_rows = summarise(store, info, manifest, slices=slices, arrays=False)
    by_arrays = summarise(store, info, manifest, slices=slices, arrays=True)
    # JSON text: NaN bounds (a single value's t interval) compare equal as text.
    return (
        json.dumps(by_rows.as_dict(), sort_keys=True, default=str),
        json.dumps(by_arrays.as_dict(), sort_keys=True, default=str),
    )


# One ungraded score each; pass/fail, or graded (t intervals, epoch means).
PASS_FAIL = {("alpha", "q2", 0): None, ("beta", "q3", 0): 0.0, ("alpha", "q1", 1): 0.0}
GRADED = {
    ("beta", "q3", 0): 0.25,
    ("beta", "q2", 1): 0.7,
    ("alpha", "q3", 1): 0.0,
    ("alpha", "q1", 0): 0.5,
    ("alpha", "q2", 0): None,
}


@pytest.mark.parametrize("values", [PASS_FAIL, GRADED], ids=["pass-fail", "graded"])
@pytest.mark.parametrize("slices", [None, ["topic"], ["topic", "difficulty"]])
def test_rows_and_arrays_give_identical_summaries(store, build, values, slices):  # type: ignore[no-untyped-def]
    run_id = _stored(store, build, values)
    by_rows, by_arrays = _both(store, run_id, slices)
    assert by_rows == by_arrays
    assert '"n_ungraded": 1' in by_rows  # the ungraded score is counted, on both paths


def test_small_runs_take_the_row_path_and_large_ones_the_arrays(store, build, monkeypatch):  # type: ignore[no-untyped-def]
    run_id = _stored(store, build, PASS_FAIL)
    calls: list[str] = []
    real = summary_module.read_score_columns

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("columns")
        return real(*args, **kwargs)

    monkeypatch.setattr(summary_module, "read_score_columns", spy)
    small = summarise_run(store, run_id)
    assert calls == []  # 12 results: plain rows
    monkeypatch.setattr(summary_module, "SMALL_RUN_RESULTS", 11)
    large = summarise_run(store, run_id)
    assert calls == ["columns"]
    assert json.dumps(small.as_dict(), default=str) == json.dumps(large.as_dict(), default=str)
    assert SMALL_RUN_RESULTS >= 1000  # a 1,000-sample eval's summary needs no numpy
