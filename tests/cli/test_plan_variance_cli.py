"""``assay plan --omega2`` / ``--sd-diff``: a paired design without stored runs (issue 20, 1b)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assay.analyse import plan_paired
from assay.cli import app
from assay.core import AssayError


def _plan(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", *args])
    return result.exit_code, result.output


def test_millers_worked_example_runs_from_the_cli() -> None:
    # Miller (2024), "Adding Error Bars to Evals", §4: δ = 3 points, ω² = 1/9 → n = 969.
    code, out = _plan("--delta", "0.03", "--omega2", str(1 / 9), "--json")
    assert code == 0, out
    plan = json.loads(out)["paired_from_variance"]
    assert plan["n_required"] == 969
    # The same from the SD of the per-sample differences (1/3), in the terminal.
    code, out = _plan("--delta", "0.03", "--sd-diff", str(1 / 3))
    assert code == 0 and "n ≈ 969 paired samples" in out


def test_mde_and_power_at_a_given_n() -> None:
    plan = plan_paired(omega2=1 / 9, delta=0.03, n=969)
    assert plan.mde_at_n == pytest.approx(0.03, rel=1e-3)
    assert plan.power_at_n == pytest.approx(0.80, abs=0.002)
    # Epochs divide the answer noise: ω² + σ²/K.
    noisy = plan_paired(omega2=1 / 9, within_variance=0.2, epochs=4, delta=0.03)
    assert noisy.n_required == plan_paired(omega2=1 / 9 + 0.05, delta=0.03).n_required


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["--omega2", "-1", "--delta", "0.03"], "--omega2"),
        (["--omega2", "0.1", "--sd-diff", "0.3", "--delta", "0.03"], "--omega2"),
        (["--omega2", "0.1"], "assay plan"),
        (["--sd-diff", "0", "--delta", "0.03"], "--sd-diff"),
    ],
)
def test_bad_values_exit_2_naming_the_option(args: list[str], where: str) -> None:
    result = CliRunner().invoke(app, ["plan", *args])
    error = result.exception
    assert isinstance(error, AssayError), result.output
    assert error.exit_code == 2  # main() prints it as one line and exits with this code
    assert where in str(error)


def test_plan_paired_refuses_zero_variance() -> None:
    with pytest.raises(AssayError, match="both 0"):
        plan_paired(omega2=0.0, delta=0.03)


def test_pairs_from_without_a_difference_names_the_flag_once() -> None:
    result = CliRunner().invoke(app, ["plan", "--pairs-from", "a", "b"])
    error = result.exception
    assert isinstance(error, AssayError) and error.exit_code == 2, result.output
    text = str(error)
    assert text.count("--pairs-from") == 1 and "needs the difference to detect" in text, text
