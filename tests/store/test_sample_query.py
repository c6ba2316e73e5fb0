"""The sample browser's SQL (assay.store.sample_query) on SQLite and PostgreSQL: search with
escaped wildcards, filters on several scorers at once, slices, errors, flaky samples, sorting,
pagination, neighbours in the browser's order, and single-sample lookups by key."""

from __future__ import annotations

import pytest

from assay.core import Message, Output, Sample, SampleResult, Score, ScorerManifest, Usage
from assay.store import Store
from assay.store.sample_lookup import get_sample, runs_with_sample, sample_results
from assay.store.sample_query import SampleBrowser, SampleQuery, like_pattern

SAMPLES = [
    Sample(id="s01", input="What is 2+2?", target="4", metadata={"topic": "add"}),
    Sample(id="s02", input="100% sure_thing", target="yes", metadata={"topic": "add"}),
    Sample(id="s03", input='She said "hi"', target="hi", metadata={"topic": "quote"}),
    Sample(id="s04", input="plain 100 percent", target="x", metadata={"topic": "quote"}),
    Sample(id="s05", input="the tea", target=None, metadata={}),
    Sample(
        id="s06",
        input=(Message(role="system", content="Be brief."), Message(role="user", content="Café?")),
        target=("a", "b"),
        metadata={"topic": 3},
    ),
]
#: sample → per epoch: (output, exact, judge); None is a failed call.
ANSWERS = {
    "s01": [("4", 1, 1), ("4", 1, 1)],
    "s02": [("no", 0, 1), ("no", 0, 1)],
    "s03": [("oh hi there", 0, 0), ("oh hi there", 0, 0)],
    "s04": [("x", 1, 0), ("x", 1, 0)],
    "s05": [None, ("tea", 1, 1)],
    "s06": [("a", 1, 1), ("c", 0, 1)],
}


def _result(sample_id: str, epoch: int, answer: tuple[str, int, int] | None) -> SampleResult:
    if answer is None:
        return SampleResult(
            subject="alpha",
            sample_id=sample_id,
            epoch=epoch,
            error="slow down",
            error_class="rate_limited",
        )
    text, exact, judge = answer
    return SampleResult(
        subject="alpha",
        sample_id=sample_id,
        epoch=epoch,
        output=Output(text=text, model="sim-alpha", usage=Usage(input_tokens=10, output_tokens=2)),
        scores=[Score(scorer="exact", value=exact), Score(scorer="judge", value=judge)],
    )


def _run(store: Store, build, run_id: str, at: int, samples=SAMPLES) -> str:  # type: ignore[no-untyped-def]
    manifest = build.manifest(
        run_id,
        started_at=build.at(at),
        subjects=("alpha",),
        sample_ids=tuple(s.id for s in samples),
    ).model_copy(
        update={
            "scorers": [
                ScorerManifest(name="exact", version="1"),
                ScorerManifest(name="judge", version="1"),
            ]
        }
    )
    store.create_run(manifest, samples, n_planned=2 * len(samples))
    store.add_results(
        run_id,
        [
            _result(s.id, epoch, answer)
            for s in samples
            for epoch, answer in enumerate(ANSWERS[s.id])
        ],
    )
    return run_id


@pytest.fixture
def browser(store: Store, build) -> SampleBrowser:  # type: ignore[no-untyped-def]
    run_id = _run(store, build, "run-b", 10)
    return SampleBrowser(store, run_id, ["alpha"], ["exact", "judge"])


def ids(browser: SampleBrowser, limit: int = 50, offset: int = 0, **query: object) -> list[str]:
    page = browser.page(SampleQuery(**query), limit=limit, offset=offset)  # type: ignore[arg-type]
    return [s.id for s in page.samples]


def test_search_covers_id_input_target_and_output_case_insensitively(browser) -> None:  # type: ignore[no-untyped-def]
    assert ids(browser, search="THERE") == ["s03"]  # the output only
    assert ids(browser, search="s04") == ["s04"]  # the id
    assert ids(browser, search="yes") == ["s02"]  # the target
    assert ids(browser, search="café") == ["s06"]  # a chat message's content
    assert ids(browser, search='said "hi"') == ["s03"]  # quotes, stored escaped in JSON
    assert ids(browser, search="hi") == ["s02", "s03"]  # sure_tHIng and "hi"


def test_percent_and_underscore_in_a_search_are_literal(browser) -> None:  # type: ignore[no-untyped-def]
    assert ids(browser, search="100%") == ["s02"]  # not "100 percent"
    assert ids(browser, search="e_t") == ["s02"]  # not "the tea"
    assert ids(browser, search="!") == []
    assert like_pattern("a!%_") == "%a!!!%!_%"


def test_filters_on_several_scorers_at_once(browser) -> None:  # type: ignore[no-untyped-def]
    assert ids(browser, verdicts=(("exact", "pass"),)) == ["s01", "s04", "s05", "s06"]
    assert ids(browser, verdicts=(("exact", "fail"),)) == ["s02", "s03"]
    assert ids(browser, verdicts=(("exact", "fail"), ("judge", "pass"))) == ["s02"]
    assert ids(browser, verdicts=(("exact", "pass"), ("judge", "fail"))) == ["s04"]
    assert ids(browser, verdicts=(("exact", "pass"),), search="tea") == ["s05"]
    assert ids(browser, scorer="exact", score_min=0.25, score_max=0.75) == ["s06"]


def test_slices_errors_and_flaky_samples(browser) -> None:  # type: ignore[no-untyped-def]
    assert browser.slice_labels("topic") == {
        "(none)": [None],
        "3": ["3"],
        "add": ['"add"'],
        "quote": ['"quote"'],
    }
    assert ids(browser, slice="topic=add") == ["s01", "s02"]
    assert ids(browser, slice="topic=3") == ["s06"]
    assert ids(browser, slice="topic=(none)") == ["s05"]
    assert ids(browser, slice="topic=nothing") == []
    assert ids(browser, error=True) == ["s05"]
    assert ids(browser, error=False) == ["s01", "s02", "s03", "s04", "s06"]
    assert ids(browser, flaky=True) == ["s06"]
    assert len(ids(browser, flaky=False)) == 5


def test_sorting_and_pagination(browser) -> None:  # type: ignore[no-untyped-def]
    assert ids(browser) == ["s01", "s02", "s03", "s04", "s05", "s06"]
    assert ids(browser, sort="-score:exact") == ["s01", "s04", "s05", "s06", "s02", "s03"]
    assert ids(browser, sort="score:judge") == ["s03", "s04", "s01", "s02", "s05", "s06"]
    assert ids(browser, sort="output") == ["s01", "s06", "s02", "s03", "s05", "s04"]
    assert ids(browser, sort="-error")[0] == "s05"
    assert ids(browser, sort="-id") == ["s06", "s05", "s04", "s03", "s02", "s01"]
    page = browser.page(SampleQuery(sort="-id"), limit=2, offset=2)
    assert page.total == 6 and [s.id for s in page.samples] == ["s04", "s03"]
    beyond = browser.page(SampleQuery(), limit=2, offset=10)
    assert beyond.total == 6 and beyond.samples == []


def test_a_page_carries_each_subjects_scores_output_and_flags(browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.page(SampleQuery(search="s0"), limit=10, offset=4)
    assert [s.id for s in page.samples] == ["s05", "s06"]
    assert set(page.cells) == {"s05", "s06"}  # only this page's samples were read
    s05, s06 = page.cells["s05"]["alpha"], page.cells["s06"]["alpha"]
    assert s05.error and s05.scores == {"exact": [1.0], "judge": [1.0]} and s05.output == "tea"
    assert s06.scores["exact"] == [1.0, 0.0] and s06.flaky and s06.output == "a"


def test_neighbours_follow_the_browsers_order(browser) -> None:  # type: ignore[no-untyped-def]
    query = SampleQuery(verdicts=(("exact", "pass"),), sort="-score:exact")
    place = browser.neighbours(query, "s05")
    assert (place.index, place.total, place.previous, place.next) == (3, 4, "s04", "s06")
    first = browser.neighbours(query, "s01")
    assert (first.index, first.previous, first.next) == (1, None, "s04")
    outside = browser.neighbours(query, "s02")
    assert outside.index is None and outside.total == 4


def test_single_sample_lookups_by_key(store: Store, build, browser) -> None:  # type: ignore[no-untyped-def]
    sample = get_sample(store, "run-b", "s06")
    assert sample is not None and sample.targets == ("a", "b")
    assert sample.messages[1].content == "Café?"
    assert get_sample(store, "run-b", "nope") is None
    found = sample_results(store, "run-b", "s05", ["alpha"])
    assert [(r.epoch, r.error_class) for r, _ in found] == [(0, "rate_limited"), (1, None)]
    assert [s.scorer for s in found[1][0].scores] == ["exact", "judge"]
    assert found[1][1].tzinfo is not None
    _run(store, build, "run-a", 0, SAMPLES[:3])
    _run(store, build, "run-c", 20, SAMPLES[3:])
    assert [r["id"] for r in runs_with_sample(store, "arith", "s02")] == ["run-b", "run-a"]
    assert [r["id"] for r in runs_with_sample(store, "arith", "s05")] == ["run-c", "run-b"]


def test_other_runs_of_a_sample_show_a_dead_run_as_interrupted(store: Store, build) -> None:  # type: ignore[no-untyped-def]
    """The sample page's "other runs" table shows the status the runs list shows: a run stored
    as ``running`` whose lease expired (its process died on another host) is interrupted."""
    from .test_run_leases import OTHER, _hand_over

    _run(store, build, "run-live", 0, SAMPLES[:2])
    _run(store, build, "run-dead", 10, SAMPLES[:2])
    _hand_over(store, "run-dead", OTHER, -1.0)  # expired a second ago, no write since
    _hand_over(store, "run-live", OTHER, 60.0)
    shown = {r["id"]: r["status"] for r in runs_with_sample(store, "arith", "s01")}
    assert shown == {"run-live": "running", "run-dead": "interrupted"}
