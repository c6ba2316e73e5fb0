"""The response cache and the store side of resuming a run, on SQLite and PostgreSQL."""

from __future__ import annotations

from assay.core import Output, SampleResult, Usage


def test_cache_round_trip_and_first_write_wins(store, build):
    out = Output(
        text="four", model="m-2026", usage=Usage(input_tokens=3, output_tokens=1), raw={"id": "x"}
    )
    assert store.get_cached("k1") is None
    store.put_cached([("k1", "openai", "m", out), ("k1", "openai", "m", Output(text="dup"))])
    store.put_cached([("k1", "openai", "m", Output(text="later"))])
    assert store.get_cached("k1") == out


def test_results_and_cache_entries_land_in_one_call(store, build):
    store.create_run(build.manifest(), build.samples(), n_planned=6)
    result = build.result("alpha", "q1")
    store.add_results("run-0001", [result], cache_entries=[("k2", "sim", "m", result.output)])
    assert store.get_cached("k2").text == "4"
    assert [r.sample_id for r in store.iter_results("run-0001")] == ["q1"]


def test_delete_errors_keeps_successes(store, build):
    store.create_run(build.manifest(), build.samples(), n_planned=6)
    store.add_results(
        "run-0001",
        [
            build.result("alpha", "q1"),
            build.result("alpha", "q2", error="429"),
            build.result("beta", "q1", error="500"),
        ],
    )
    assert store.delete_errors("run-0001") == 2
    assert store.completed_keys("run-0001") == {("alpha", "q1", 0)}
    # A retried sample can now be written.
    store.add_results("run-0001", [build.result("alpha", "q2", text="7")])
    texts = {r.sample_id: r.output.text for r in store.iter_results("run-0001", "alpha")}
    assert texts == {"q1": "4", "q2": "7"}
    assert store.get_run("run-0001").n_errors == 0


def test_resolved_models_in_order_of_first_appearance(store, build):
    store.create_run(build.manifest(), build.samples(), n_planned=6)
    first = build.result("alpha", "q1")
    upgraded = SampleResult(
        subject="alpha",
        sample_id="q2",
        epoch=0,
        output=Output(text="x", model="sim-alpha-2025-01-01", system_fingerprint="fp_2"),
    )
    store.add_results("run-0001", [first])
    store.add_results("run-0001", [upgraded, build.result("alpha", "q3")])
    assert store.resolved_models("run-0001") == {
        "alpha": (["sim-alpha-2024-08-06", "sim-alpha-2025-01-01"], ["fp_1", "fp_2"])
    }


def test_find_runs_by_spec_hash(store, build):
    store.create_run(build.manifest("r1", started_at=build.at(0)), build.samples(), n_planned=6)
    store.create_run(build.manifest("r2", started_at=build.at(5)), build.samples(), n_planned=6)
    assert [r.id for r in store.find_runs(spec_hash="f" * 64)] == ["r2", "r1"]
    assert store.find_runs(spec_hash="0" * 64) == []
