"""A slice row that is not significantly worse but fell by at least its MDE says why it counts
as a slice regression (B9), in the terminal table and in --markdown."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from assay.analyse.compare_types import GroupComparison
from assay.cli.render_stats import DROP_BEYOND_MDE, _verdict_text
from assay.stats import Interval


def _group(verdict: str, difference: float, mde: float, slice_key: str | None = "task") -> Any:
    return GroupComparison(
        slice_key=slice_key,
        slice_value="sequences" if slice_key else None,
        n=133,
        mean_a=0.835,
        mean_b=0.767,
        difference=difference,
        interval=Interval(difference, difference - 0.03, difference + 0.03, 133, "clustered-cr2"),
        test="clustered-cr2",
        p_value=0.013,
        p_adjusted=0.052,
        mde=mde,
        verdict=verdict,
        se_paired=0.01,
        se_unpaired=0.02,
        correlation=0.8,
        n_clusters=4,
        se_clustered=0.006,
        binary=True,
        a_only=None,
        b_only=None,
        bootstrap=None,
        permutation_p=None,
    )


def _text(group: GroupComparison) -> str:
    console = Console(width=200, record=True)
    console.print(_verdict_text(group.verdict, group, True))
    return console.export_text()


def test_a_slice_that_fell_by_its_mde_says_it_counts_as_a_regression() -> None:
    # The demo's sequences slice: -6.8 pts, Holm p 0.052, MDE 3.9 pts on CR2's 1.8 df.
    text = _text(_group("underpowered", -0.068, 0.039))
    assert "underpowered (MDE 3.9 pts)" in text and DROP_BEYOND_MDE in text


def test_rows_that_are_not_slice_regressions_say_nothing_more() -> None:
    assert DROP_BEYOND_MDE not in _text(_group("underpowered", -0.02, 0.039))  # within its MDE
    assert DROP_BEYOND_MDE not in _text(_group("regressed", -0.068, 0.039))  # says so already
    assert DROP_BEYOND_MDE not in _text(_group("improved", 0.068, 0.039))
    assert DROP_BEYOND_MDE not in _text(_group("underpowered", -0.068, 0.039, slice_key=None))
