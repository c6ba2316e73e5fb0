"""assay as a pytest plugin: an eval runs inside a test session and fails it on the gate's rules.

Two ways in (registered through the ``pytest11`` entry point, so installing assay is enough):

* ``pytest --assay SPEC [--assay-db DB] [--assay-baseline RUN] [--assay-min SCORER=VALUE]
  [--assay-margin M]`` adds one test per spec, ``SPEC::assay-gate``: it runs the spec exactly as
  ``assay run SPEC`` does (resuming an unfinished run, reusing a complete one of the same spec)
  and gates the run exactly as ``assay gate BASELINE RUN`` does: a metric that regressed overall
  or in any slice, a ``--min`` threshold missed, an untrustworthy or changed judge. The
  baseline defaults to the previous run of the same eval in the store. A failure shows the
  gate's per-slice table in plain text.
* the ``assay_eval`` fixture, for a test that wants its own eval::

      def test_prompt_v2(assay_eval):
          result = assay_eval("evals/qa.yaml", baseline="main-baseline-run-id")
          result.assert_passes()  # AssertionError with the per-slice table

The plugin does nothing unless ``--assay`` is given or the fixture is requested: it imports
nothing from assay at start-up beyond this module, and adds no test otherwise. The model of a
plugin that runs an external test definition as pytest items is pytest's own "Working with
non-python tests" example (https://docs.pytest.org/en/stable/example/nonpython.html).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: The gate's defaults (``assay gate --help``): the plugin gates with the same settings.
GATE_DEFAULTS: dict[str, Any] = {
    "alpha": 0.05,
    "power": 0.8,
    "confidence": 0.95,
    "correction": "holm",
    "min_effect": None,
    "min_clusters": 10,
    "cluster_correction": True,
    "resamples": 2000,
    "seed": 0,
}
#: Columns the failure table is laid out for: wide enough for every column of the gate table.
TABLE_WIDTH = 140


class AssayGateFailed(AssertionError):
    """The gate failed; the message is the gate's report (per-slice table, every check)."""


@dataclass
class AssayEvalResult:
    """What :func:`run_and_gate` found: the candidate run, its baseline and the gate."""

    spec: Path
    run_id: str
    baseline: str
    gate: Any  # assay.analyse.GateResult
    report: str

    @property
    def passed(self) -> bool:
        """Whether every gate check passed."""
        return bool(self.gate.passed)

    @property
    def comparison(self) -> Any:
        """The paired comparison (:class:`assay.analyse.RunComparison`) the gate decided on."""
        return self.gate.comparison

    def assert_passes(self) -> None:
        """Raise :class:`AssayGateFailed` (an ``AssertionError``) with the gate's report unless
        the gate passed."""
        if not self.passed:
            n = len(self.gate.failures)
            raise AssayGateFailed(
                f"assay gate failed for {self.spec} ({n} check(s)): run {self.run_id} against "
                f"baseline {self.baseline}\n{self.report}"
            )


def gate_report(result: Any, width: int = TABLE_WIDTH) -> str:
    """The text ``assay gate`` prints (comparison tables per slice, then every check), without
    colour or terminal codes."""
    from rich.console import Console

    from assay.cli.render_stats import gate_view

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, no_color=True, color_system=None, force_terminal=False
    )
    console.print(gate_view(result))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


@contextmanager
def _store_env(db: str | None) -> Iterator[None]:
    """``assay run --db`` points ``registry:`` references at that store via ``ASSAY_DB``; do the
    same for the duration of one eval, then put the environment back."""
    if not db:
        yield
        return
    before = os.environ.get("ASSAY_DB")
    os.environ["ASSAY_DB"] = db
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ASSAY_DB", None)
        else:
            os.environ["ASSAY_DB"] = before


def _run_spec(spec: Path, db: str | None) -> str:
    """Run ``spec`` as ``assay run SPEC --db DB`` does and return the run's id; an unfinished
    or failed run is an :class:`~assay.core.AssayError`."""
    import dataclasses

    from assay.cli.app import _choose_run, _store
    from assay.cli.judge_commands import check_lineage
    from assay.core import AssayError
    from assay.run import CallPolicy, RunOptions, load_eval
    from assay.run import run as run_eval

    with _store_env(db):
        ev = load_eval(spec)
        check_lineage(ev, False)
        options = RunOptions(
            cache=True,
            policy=dataclasses.replace(ev.policy or CallPolicy()),
            redact_pii=ev.redact_pii,
        )
        store = _store(db)
        try:
            run_id, reason = _choose_run(store, ev, None, False)
            if reason == "complete":
                return str(run_id)
            outcome = run_eval(
                ev, db=store, run_id=run_id, resume=run_id is not None, options=options
            )
        finally:
            store.close()
    if outcome.abort_reason:
        raise AssayError(f"the run of {spec} aborted: {outcome.abort_reason}")
    if outcome.status != "completed" or outcome.n_errors:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(outcome.error_classes.items()))
        raise AssayError(
            f"{outcome.n_errors} of {outcome.n_results} results of run {outcome.run_id} failed"
            f" ({classes or outcome.status})",
            fix="run the same test again to retry them (the run resumes)",
        )
    return outcome.run_id


def _parse_thresholds(values: Sequence[str] | dict[str, float] | None) -> dict[str, float]:
    from assay.cli.stats_commands import _thresholds

    if isinstance(values, dict):
        return {str(k): float(v) for k, v in values.items()}
    return _thresholds(list(values or []))


def gate_runs(
    db: str | None,
    baseline: str | None,
    candidate: str,
    *,
    minimum: Sequence[str] | dict[str, float] | None = None,
    margin: float = 0.0,
) -> tuple[str, Any]:
    """Gate ``candidate`` against ``baseline`` (default: the previous run of the same eval) as
    ``assay gate`` does with its default settings; returns ``(baseline_id, GateResult)``."""
    from assay.analyse import gate as run_gate
    from assay.cli.stats_commands import _compare, _judge_context, _settings

    thresholds = _parse_thresholds(minimum)
    settings = _settings(**GATE_DEFAULTS)
    if baseline is None:
        comparison = _compare(db, candidate, None, None, None, None, settings)
    else:
        comparison = _compare(db, baseline, candidate, None, None, None, settings)
    standings, changes = _judge_context(db, comparison)
    result = run_gate(
        comparison,
        thresholds=thresholds,
        margin=margin,
        judges=standings,
        judge_changes=changes,
    )
    return comparison.run_a.id, result


def run_and_gate(
    spec: str | os.PathLike[str],
    *,
    db: str | None = None,
    baseline: str | None = None,
    minimum: Sequence[str] | dict[str, float] | None = None,
    margin: float = 0.0,
) -> AssayEvalResult:
    """``assay run SPEC`` then ``assay gate BASELINE RUN``: the plugin's one code path."""
    from assay.core import AssayError

    path = Path(spec)
    if not path.is_file():
        raise AssayError(f"no eval spec at {path}", where="--assay", fix="give a spec's path")
    run_id = _run_spec(path, db)
    baseline_id, result = gate_runs(db, baseline, run_id, minimum=minimum, margin=margin)
    return AssayEvalResult(path, run_id, baseline_id, result, gate_report(result))


# -- pytest hooks --------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("assay", "assay: gate an LLM eval inside the test session")
    group.addoption(
        "--assay",
        action="append",
        default=[],
        metavar="SPEC",
        help="Run this eval spec and fail the session on `assay gate`'s rules (repeatable).",
    )
    group.addoption(
        "--assay-db",
        default=None,
        metavar="DB",
        help="The store (URL or SQLite path) [default: $ASSAY_DB or .assay/assay.db].",
    )
    group.addoption(
        "--assay-baseline",
        default=None,
        metavar="RUN",
        help="The baseline run to gate against [default: the previous run of the same eval].",
    )
    group.addoption(
        "--assay-min",
        action="append",
        default=[],
        metavar="SCORER=VALUE",
        help="Also fail unless the candidate's mean for SCORER is at least VALUE (repeatable).",
    )
    group.addoption(
        "--assay-margin",
        type=float,
        default=0.0,
        metavar="M",
        help="Tolerate regressions smaller than M, in metric units (as `assay gate --margin`).",
    )


class AssayGateItem(pytest.Item):
    """One ``--assay SPEC``: run it, gate it; fails with the gate's report."""

    def __init__(self, *, spec: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        options = self.config.option
        result = run_and_gate(
            self.spec,
            db=options.assay_db,
            baseline=options.assay_baseline,
            minimum=options.assay_min,
            margin=options.assay_margin,
        )
        self.user_properties.append(("assay_run", result.run_id))
        self.user_properties.append(("assay_baseline", result.baseline))
        result.assert_passes()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from assay.core import AssayError

        if isinstance(excinfo.value, AssayGateFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, AssayError):
            return f"assay could not gate {self.spec}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(self.spec), 0, f"assay gate {self.spec}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # tryfirst: the items are added before -k / -m deselect, so those filters apply to them too.
    for spec in config.option.assay or []:
        items.append(
            AssayGateItem.from_parent(
                session, name=f"assay-gate[{spec}]", nodeid=f"{spec}::assay-gate", spec=spec
            )
        )


@pytest.fixture
def assay_eval(request: pytest.FixtureRequest) -> Any:
    """Run an eval spec and gate it: ``assay_eval(spec, baseline=None, db=None, minimum=None,
    margin=0.0)`` returns an :class:`AssayEvalResult`; call ``.assert_passes()`` on it. ``db``
    and ``baseline`` default to ``--assay-db`` and ``--assay-baseline``."""
    options = request.config.option

    def run(
        spec: str | os.PathLike[str],
        *,
        baseline: str | None = None,
        db: str | None = None,
        minimum: Sequence[str] | dict[str, float] | None = None,
        margin: float = 0.0,
    ) -> AssayEvalResult:
        return run_and_gate(
            spec,
            db=db or options.assay_db,
            baseline=baseline or options.assay_baseline,
            minimum=minimum,
            margin=margin,
        )

    return run
