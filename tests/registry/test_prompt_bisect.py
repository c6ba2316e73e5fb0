"""K2: bisect finds the one edit of a 17-edit rewrite that drops a sim system's score."""

from __future__ import annotations

import math

from tests.registry.world import BAD_CLAUSES, GOOD_CLAUSES, TRIGGER, prompt, write_world

from assay.registry.bisect import bisect_prompt
from assay.registry.edits import apply_edits, diff_edits, split_clauses
from assay.registry.prompts import commit, get_version


def test_clauses_rebuild_the_text_and_edits_apply_in_any_subset() -> None:
    good, bad = prompt(GOOD_CLAUSES), prompt(BAD_CLAUSES)
    assert "".join(split_clauses(good)) == good
    edits = diff_edits(good, bad)
    assert len(edits) == 17
    assert [e.number for e in edits if TRIGGER in e.after_text] == [11]
    assert apply_edits(good, edits, set(range(1, 18))) == bad
    assert apply_edits(good, edits, set()) == good
    only_11 = apply_edits(good, edits, {11})
    assert TRIGGER in only_11 and only_11.count("style") == 16


def test_bisect_finds_edit_11_of_17_in_five_search_runs(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = write_world(tmp_path)
    commit(store, "support", prompt(GOOD_CLAUSES), author="ana", rationales=["first version"])
    commit(store, "support", prompt(BAD_CLAUSES), author="bo", rationales=["rewrite"])
    good, bad = get_version(store, "support@1"), get_version(store, "support@2")
    result = bisect_prompt(store, good, bad, spec=spec)
    assert result.culprit == 11 and not result.interaction
    assert result.search_runs <= math.ceil(math.log2(17)) == 5
    assert result.difference is not None and result.difference < -0.2
    assert result.high is not None and result.high < 0
    # 2 endpoint runs and the isolation run besides the search
    assert result.extra_runs == 3
    # Again: every probe is an already-stored eval, so nothing runs.
    again = bisect_prompt(store, good, bad, spec=spec)
    assert again.culprit == 11 and again.search_runs == 0 and again.extra_runs == 0
    assert all(p.reused for p in again.probes)


def test_bisect_reports_an_interaction_of_two_edits(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The sim effect fires on text spanning two rewritten clauses (#4's end and #5's start),
    # so the drop needs both edits: #5 is found first, and alone it does nothing.
    bad = [f"Rule {i}: use style {i}b." for i in range(1, 18)]
    bad[3] = "Rule 4: be terse."
    bad[4] = "Rule 5: skip lookups."
    spec = write_world(tmp_path, effects=[{"contains": "terse.\nRule 5: skip", "delta": -2.5}])
    commit(store, "p", prompt(GOOD_CLAUSES), author="ana", rationales=["v1"])
    commit(store, "p", prompt(bad), author="ana", rationales=["v2"])
    result = bisect_prompt(store, get_version(store, "p@1"), get_version(store, "p@2"), spec=spec)
    assert result.culprit == 5
    assert result.interaction and result.partner == 4
    assert "interaction" in result.message


def test_a_probe_across_a_changed_judge_stops_bisect_instead_of_reading_no_regression(
    store,
) -> None:  # type: ignore[no-untyped-def]
    """compare withholds a judge-graded verdict when the judge changed between two runs (C5);
    bisect must not read that as "not regressed" (it would blame a wrong edit, or none)."""
    import pytest
    from tests.analyse.conftest import write_runs_with_a_changed_judge

    from assay.core import AssayError
    from assay.data import dataset_from_records
    from assay.providers import OpenAICompatProvider
    from assay.registry.bisect import _Prober
    from assay.run import Eval, ModelSubject
    from assay.score import exact

    good, probe = write_runs_with_a_changed_judge(store, lift=-0.7)  # a drop, and a new judge
    provider = OpenAICompatProvider(base_url="http://127.0.0.1:9", api_key_env=None)
    ev = Eval(
        name="registry-world",
        dataset=dataset_from_records([{"id": "q0", "input": "x"}], name="d"),
        subjects=[ModelSubject("bot", provider=provider, model="m")],
        scorers=[exact()],
    )
    with pytest.raises(AssayError, match=r"judge behind 'quality' changed between runs") as info:
        _Prober(store, ev, 0, "quality", None).compare(good, probe)
    assert "pin the judge model's snapshot" in (info.value.fix or "")
    # A metric no judge graded is compared as before.
    metric = _Prober(store, ev, 0, "exact", None).compare(good, probe)
    assert metric.scorer == "exact" and metric.aggregate.verdict == "no detectable difference"
