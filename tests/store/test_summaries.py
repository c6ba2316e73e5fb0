"""The run summary cache, the paginated runs list and run labels, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from assay.analyse import summarise_run
from assay.analyse.compare import default_runs
from assay.analyse.run_labels import (
    default_pair,
    label_runs,
    oldest_first,
    previous_run,
    run_tags,
    set_run_tags,
    suggested_pairs,
)
from assay.analyse.summary_cache import cached_entries, cached_summary, refresh_summary
from assay.core import AssayError
from assay.store.summaries import page_runs, read_summaries
from assay.store.tables import run_summaries, runs


def _run(store, build, run_id, minutes, *, name="arith", temperature=0.7, finish=True):  # type: ignore[no-untyped-def]
    manifest = build.manifest(run_id, started_at=build.at(minutes), subjects=("alpha",))
    subject = manifest.subjects[0].model_copy(update={"params": {"temperature": temperature}})
    manifest = manifest.model_copy(update={"name": name, "subjects": [subject]})
    store.create_run(manifest, build.samples(), n_planned=6)
    store.add_results(
        run_id,
        [
            build.result("alpha", "q1", value=1.0),
            build.result("alpha", "q2", value=0.0),
            build.result("alpha", "q1", 1, value=1.0),
        ],
    )
    if finish:
        store.finish_run(
            run_id, manifest.model_copy(update={"finished_at": build.at(minutes + 1)}), "completed"
        )
    return manifest


def _cached_rows(store) -> set[str]:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return set(conn.execute(select(run_summaries.c.run_id)).scalars())


def test_cached_summary_equals_a_fresh_one_and_is_dropped_on_every_write(store, build):  # type: ignore[no-untyped-def]
    manifest = _run(store, build, "run-a", 0)
    fresh = summarise_run(store, "run-a")
    assert cached_summary(store, "run-a").as_dict() == fresh.as_dict()  # computed and stored
    assert _cached_rows(store) == {"run-a"}
    assert cached_summary(store, "run-a").as_dict() == fresh.as_dict()  # read back
    exact = cached_summary(store, "run-a").metric("alpha", "exact")
    assert (exact.interval.n, exact.interval.estimate) == (2, 0.5)

    # A new result drops the row; the next read sees it.
    store.add_results("run-a", [build.result("alpha", "q3", value=1.0)])
    assert _cached_rows(store) == set()
    after = cached_summary(store, "run-a").metric("alpha", "exact")
    assert (after.interval.n, after.interval.estimate) == (3, pytest.approx(2 / 3))
    assert _cached_rows(store) == {"run-a"}

    # A replayed (already stored) result changes nothing and keeps the row.
    store.add_results("run-a", [build.result("alpha", "q3", value=0.0)])
    assert _cached_rows(store) == {"run-a"}

    # Resuming drops it, and a running run is never cached.
    store.resume_run("run-a")
    assert _cached_rows(store) == set()
    cached_summary(store, "run-a")
    assert _cached_rows(store) == set()
    store.add_results("run-a", [build.result("alpha", "q2", 1, error="rate limited")])
    store.finish_run("run-a", manifest.model_copy(update={"finished_at": build.at(9)}), "failed")
    refresh_summary(store, "run-a")
    assert _cached_rows(store) == {"run-a"}
    assert store.delete_errors("run-a") == 1
    assert _cached_rows(store) == set()


def test_a_row_from_before_a_resume_is_not_trusted(store, build):  # type: ignore[no-untyped-def]
    _run(store, build, "run-a", 0)
    refresh_summary(store, "run-a")
    info = store.get_run("run-a")
    assert read_summaries(store, [info])
    # A row whose finish time is not the run's (a reader racing with a resume) is ignored.
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == "run-a").values(finished_at=build.at(30)))
    assert read_summaries(store, [store.get_run("run-a")]) == {}
    entry = cached_entries(store, [store.get_run("run-a")])["run-a"]
    assert {m["scorer"] for m in entry["metrics"]} == {"exact"}


def test_page_runs_pages_sorts_and_filters_in_sql(store, build):  # type: ignore[no-untyped-def]
    for k in range(7):
        _run(store, build, f"run-{k}", k, name="arith" if k % 2 else "geo")
    _run(store, build, "run-live", 20, finish=False)
    listed = {i.id: i for i in store.list_runs()}
    infos, total = page_runs(store, limit=3)
    assert total == 8 and [i.id for i in infos] == ["run-live", "run-6", "run-5"]
    infos, _ = page_runs(store, limit=3, offset=6)
    assert [i.id for i in infos] == ["run-1", "run-0"]
    # Counts equal the store's, cached or not.
    refresh_summary(store, "run-1")
    for info in page_runs(store, limit=100)[0]:
        assert (info.n_results, info.n_errors) == (
            listed[info.id].n_results,
            listed[info.id].n_errors,
        )
    by_name, _ = page_runs(store, sort="name", descending=False, limit=100)
    assert [i.name for i in by_name] == sorted(i.name for i in by_name)
    geo, total = page_runs(store, name="GE", limit=100)
    assert total == 4 and {i.name for i in geo} == {"geo"}
    running, total = page_runs(store, status="running")
    assert total == 1 and running[0].id == "run-live"
    assert page_runs(store, status="failed") == ([], 0)
    exact, total = page_runs(store, eval_name="arith", limit=100)
    assert total == 4 and {i.name for i in exact} == {"arith"}
    with pytest.raises(ValueError):
        page_runs(store, sort="colour")  # type: ignore[arg-type]


def test_labels_tags_and_default_pairs(store, build):  # type: ignore[no-untyped-def]
    _run(store, build, "run-1", 1, temperature=0.0)
    _run(store, build, "run-2", 2, temperature=0.7)
    _run(store, build, "run-3", 3, temperature=0.7, name="audit arith")
    _run(store, build, "run-4", 4, name="other")
    set_run_tags(store, "run-2", ["v2", " v2 ", "hot"], "warmer sampling")
    assert run_tags(store, ["run-2", "run-1"]) == {"run-2": (["v2", "hot"], "warmer sampling")}
    labels = label_runs(store, ["run-1", "run-2", "run-3", "nope"])
    assert set(labels) == {"run-1", "run-2", "run-3"}
    assert labels["run-2"].short == "v2" and labels["run-2"].tags == ["v2", "hot"]
    assert labels["run-2"].changes == ["temperature 0.0 → 0.7"]
    assert labels["run-2"].previous == "run-1" and labels["run-2"].git_sha == "abc123"
    assert labels["run-1"].short == "temperature 0.0"  # named against the run after it
    assert labels["run-3"].derived and labels["run-3"].previous is None
    # The pairing is assay compare's default pairing.
    for run_id in ("run-1", "run-2", "run-3", "run-4"):
        try:
            expected = default_runs(store, run_id)[0]
        except AssayError:
            expected = None
        assert previous_run(store, run_id) == expected
    assert suggested_pairs(store) == [("run-1", "run-2")]
    assert default_pair(store) == ("run-1", "run-2")  # not the newest (a single run)
    assert oldest_first(store, ["run-2", "run-1"]) == ["run-1", "run-2"]
    set_run_tags(store, "run-2", [], None)
    assert run_tags(store, ["run-2"]) == {"run-2": ([], None)}
    with pytest.raises(AssayError):
        set_run_tags(store, "run-2", ["a,b"], None)
    with pytest.raises(AssayError):
        set_run_tags(store, "nope", ["x"], None)


def test_neighbours_break_ties_on_start_time_as_compare_does(store, build):  # type: ignore[no-untyped-def]
    """Runs started in the same instant are ordered by creation, then id (the row-value seek
    in ``_neighbour_rows`` must agree with ``assay compare``'s default pairing)."""
    for run_id in ("run-c", "run-a", "run-b"):
        _run(store, build, run_id, 5)
    _run(store, build, "run-z", 1)
    _run(store, build, "run-late", 9)
    with store.engine.begin() as conn:  # one creation instant too: the id breaks the tie
        stamp = conn.execute(select(runs.c.created_at).where(runs.c.id == "run-c")).scalar_one()
        conn.execute(update(runs).where(runs.c.id.in_(["run-a", "run-b"])).values(created_at=stamp))
    order = ["run-z", "run-a", "run-b", "run-c", "run-late"]
    labels = label_runs(store, order)
    for before, run_id in zip([None, *order], order, strict=False):
        assert previous_run(store, run_id) == before
        assert labels[run_id].previous == before
        if before is not None:
            assert default_runs(store, run_id)[0] == before


def test_label_parts_are_cached_and_follow_the_neighbours(store, build):  # type: ignore[no-untyped-def]
    from assay.store.summaries import read_labels

    _run(store, build, "run-1", 1, temperature=0.0)
    _run(store, build, "run-2", 2, temperature=0.7)
    for run_id in ("run-1", "run-2"):
        refresh_summary(store, run_id)
    fresh = label_runs(store, ["run-1", "run-2"])
    cached = read_labels(store, ["run-1", "run-2"])
    assert cached["run-2"]["changes"] == ["temperature 0.0 → 0.7"]
    assert label_runs(store, ["run-1", "run-2"]) == fresh  # read back from the cache
    # A newer run changes run-2's neighbours: its cached parts no longer match and are redone.
    _run(store, build, "run-3", 3, temperature=1.0)
    labels = label_runs(store, ["run-2", "run-3"])
    assert labels["run-3"].changes == ["temperature 0.7 → 1.0"]
    assert labels["run-2"] == fresh["run-2"]
    assert read_labels(store, ["run-2"])["run-2"]["key"] != cached["run-2"]["key"]
