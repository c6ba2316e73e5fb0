"""The pytest plugin (``pytest --assay SPEC`` and the ``assay_eval`` fixture), driven through
pytest's own ``pytester`` on the simulated world.

The world: 3 slices × 40 items. The candidate prompt ("Think first.") helps `math` and `chat`
and costs `code` 2 logits (sim ground truth, common random numbers, so every changed answer in
`code` goes from right to wrong): a slice regression the gate must catch. "Be careful." only
helps `math`: nothing regresses.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.pytest_plugin import run_and_gate
from assay.store import Store

from .conftest import db_url

SPEC = """\
name: plugin-eval
dataset:
  path: items.jsonl
slices: [slice]
seed: 3
providers:
  sim:
    type: sim
    systems:
      helper:
        family: atlas
        ability: 0.8
        prompt_effects:
          - contains: "Think first"
            slices: {{math: 1.0, code: -2.0, chat: 0.8}}
          - contains: "Be careful"
            slices: {{math: 1.0}}
subjects:
  - name: assistant
    model: sim/helper
    prompt: "{prompt}Answer: {{{{ input }}}}"
    params: {{temperature: 0}}
scorers: [exact]
"""


def _write_world(folder):
    rng = random.Random(5)
    rows = [
        {"id": f"i{i}", "input": f"item {i}", "target": f"t{i}",
         "slice": ("math", "code", "chat")[i % 3], "difficulty": round(rng.gauss(0, 1), 3)}
        for i in range(120)
    ]  # fmt: skip
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    for name, prompt in (("baseline", ""), ("regressing", "Think first. "), ("improving", "Be careful. ")):  # fmt: skip
        (folder / f"{name}.yaml").write_text(SPEC.format(prompt=prompt))


@pytest.fixture(scope="module", autouse=True)
def warm_imports(tmp_path_factory):
    """Run the plugin's whole path once before any `pytester` fixture exists. pytester drops the
    modules first imported during a test when the test ends, and a compiled module (numpy,
    scipy) cannot be imported twice in one process: imported here, they are kept."""
    folder = tmp_path_factory.mktemp("warm")
    _write_world(folder)
    db = str(folder / "warm.db")
    made = CliRunner().invoke(app, ["run", str(folder / "baseline.yaml"), "--db", db])
    assert made.exit_code == 0, made.output
    result = run_and_gate(folder / "regressing.yaml", db=db)
    assert not result.passed and "slice=code" in result.report


def _baseline(pytester, db):
    """The eval files in pytester's folder and the baseline run in ``db`` (made with `assay run`,
    not with the plugin): ``(db, baseline run id)``."""
    _write_world(pytester.path)
    made = CliRunner().invoke(app, ["run", str(pytester.path / "baseline.yaml"), "--db", db])
    assert made.exit_code == 0, made.output
    with Store(db) as store:
        (baseline,) = [r.id for r in store.list_runs()]
    return db, baseline


@pytest.fixture
def world(pytester, backend):
    """The world on SQLite and on PostgreSQL."""
    return _baseline(pytester, db_url(backend))


@pytest.fixture
def sqlite_world(pytester, tmp_path):
    """The world on SQLite only, for the tests that are not about the store."""
    return _baseline(pytester, f"sqlite:///{tmp_path / 'store.db'}")


def test_assay_option_fails_the_session_with_the_per_slice_table(pytester, world):
    db, baseline = world
    result = pytester.runpytest_inprocess(
        "--assay", "regressing.yaml", "--assay-db", db, "--assay-baseline", baseline,
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    # The gate's own table: one row per slice with its difference, interval and verdict.
    code_row = next(line for line in out.splitlines() if line.startswith("slice=code"))
    assert "regressed" in code_row and re.search(r"-\d+\.\d \[-\d+\.\d, -\d+\.\d\]", code_row)
    assert any(line.startswith("slice=math") and "+12.5" in line for line in out.splitlines())
    assert "FAIL assistant/exact: mixed: slice regression: slice=code" in out
    assert f"against baseline {baseline}" in out
    assert "gate failed: 1 check(s)" in out


def test_assay_option_passes_when_nothing_regressed_and_honours_min(pytester, sqlite_world):
    db, _ = sqlite_world
    args = ("--assay", "improving.yaml", "--assay-db", db, "-p", "no:cacheprovider")
    # No --assay-baseline: the previous run of the same eval (the baseline) is the baseline.
    passed = pytester.runpytest_inprocess(*args)
    passed.assert_outcomes(passed=1)
    # The same (reused) run against a threshold it cannot meet fails on that threshold.
    missed = pytester.runpytest_inprocess(*args, "--assay-min", "exact=0.99")
    missed.assert_outcomes(failed=1)
    assert "FAIL assistant/exact >= 0.99: candidate mean" in missed.stdout.str()
    with Store(db) as store:
        assert len(store.list_runs()) == 2  # the complete run was reused, as `assay run` does


def test_assay_eval_fixture_raises_an_assertion_with_the_table(pytester, sqlite_world):
    db, baseline = sqlite_world
    pytester.makepyfile(
        test_quality=f"""
        def test_regressing_prompt(assay_eval):
            result = assay_eval("regressing.yaml", baseline={baseline!r}, db={db!r})
            assert result.baseline == {baseline!r} and not result.passed
            result.assert_passes()

        def test_improving_prompt(assay_eval):
            assay_eval("improving.yaml", baseline={baseline!r}, db={db!r}).assert_passes()
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "AssayGateFailed: assay gate failed for regressing.yaml (1 check(s))" in out
    assert re.search(r"slice=code .*regressed", out)


def test_a_missing_spec_is_a_clear_failure_not_a_crash(pytester, tmp_path):
    result = pytester.runpytest_inprocess(
        "--assay", "nope.yaml", "--assay-db", str(tmp_path / "s.db"), "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "assay could not gate nope.yaml" in out and "no eval spec at nope.yaml" in out


def test_the_plugin_is_inert_without_assay(pytester):
    """Installed, the plugin loads in every pytest session; unasked, it adds no test and
    imports none of assay's machinery."""
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_nothing_of_assay_loaded(request):
            assert request.config.pluginmanager.has_plugin("assay")  # the entry point loaded it
            loaded = [m for m in ("assay.cli", "assay.run", "assay.store") if m in sys.modules]
            assert loaded == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
