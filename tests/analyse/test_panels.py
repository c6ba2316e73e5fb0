"""B5 in a run: a panel scorer reports its effective number of judges, and a "majority of 3"
whose members err together is warned ``correlated_panel`` (issue 20)."""

import math

import numpy as np
import pytest

from assay.analyse import summarise_run
from assay.analyse.panels import panel_reports
from assay.cli.render import summary_tables
from assay.run import run_async
from assay.stats import effective_sample_size

from ..score.judge_testutil import sim_eval


def _panel(names, **judges):
    return {
        "rubric": {"name": "major3", "judge": names, "scale": "pass_fail", "aggregate": "majority"}
    }


async def _summary(tmp_path, store, judges):
    names = [f"sim/{name}" for name in judges]
    ev = sim_eval(tmp_path, n=300, judges=judges, scorers=["exact", _panel(names)])
    outcome = await run_async(ev, db=store)
    return summarise_run(store, outcome.run_id)


async def test_a_panel_whose_judges_share_a_bias_is_warned(tmp_path, store):
    # Three judges that pass many of the same wrong answers (a shared
    # leniency far above their own noise): they err together.
    shared = {"leniency": 2.0, "noise": 0.3}
    summary = await _summary(tmp_path, store, {"a": shared, "b": shared, "c": shared})
    (panel,) = summary.panels
    assert panel.reference == "exact" and panel.judges == ("sim/a", "sim/b", "sim/c")
    assert panel.error_correlation > 0.3 and panel.n_eff < 2 and panel.correlated
    assert panel.n_eff == pytest.approx(effective_sample_size(3, panel.error_correlation))
    flags = [f for f in summary.flags if f.flag == "correlated_panel"]
    assert len(flags) == 1 and "worth fewer than 2 independent judges" in flags[0].message
    assert summary.as_dict()["panels"][0]["correlated_panel"] is True


async def test_a_panel_of_independent_judges_is_reported_not_warned(tmp_path, store):
    # Pure noise, drawn per judge: independent errors, n_eff near 3.
    noisy = {"noise": 2.5}
    summary = await _summary(tmp_path, store, {"x": noisy, "y": noisy, "z": noisy})
    (panel,) = summary.panels
    assert abs(panel.error_correlation) < 0.2 and panel.n_eff > 2.3 and not panel.correlated
    assert not [f for f in summary.flags if f.flag == "correlated_panel"]
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(summary_tables(summary))
    assert "panel major3 (3 judges): n_eff = " in console.export_text()


def test_without_a_pass_fail_reference_n_eff_is_unknown_and_says_why():
    outs = [{"judge": j, "value": 1.0} for j in ("p", "q", "r")]
    members = {("s", "major3"): [(("1", 0), outs), (("2", 0), outs)]}
    values = {("s", ("1", 0)): {"major3": 1.0, "stars": 4.0}, ("s", ("2", 0)): {"major3": 1.0}}
    (report,) = panel_reports(members, values, ["stars", "major3"])
    assert report.reference is None and math.isnan(report.n_eff) and not report.correlated
    assert "assay audit judge" in report.describe()


def test_the_b5_example_through_the_report():
    # REQUIREMENTS B5: three graders with pairwise error correlation 0.6 are worth 1.36.
    rng = np.random.default_rng(5)
    n = 20_000
    common = rng.random(n) < 0.3
    errs = [common & (rng.random(n) < 0.8) | (~common & (rng.random(n) < 0.05)) for _ in "abc"]
    members, values = {("s", "p"): []}, {}
    for i in range(n):
        outs = [{"judge": j, "value": float(not e[i])} for j, e in zip("abc", errs, strict=True)]
        members[("s", "p")].append(((str(i), 0), outs))
        values[("s", (str(i), 0))] = {"exact": 1.0}
    (report,) = panel_reports(members, values, ["exact", "p"])
    rho = float(np.mean([np.corrcoef(errs[a], errs[b])[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))]))
    assert report.error_correlation == pytest.approx(rho)
    assert report.n_eff == pytest.approx(3 / (1 + 2 * rho)) and report.correlated
