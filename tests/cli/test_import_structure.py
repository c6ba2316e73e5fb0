"""The command line's import structure (issue 20, section 2: a sub-second CLI).

Deterministic, not timed: each case runs in a fresh interpreter and lists which heavy libraries
ended up in ``sys.modules``. Registering a command must not import its implementation, and
``assay --help``, ``assay show`` and ``assay run`` must not pay for the analysis stack they do
not use (statsmodels alone took 1.2 s to import, for a Wilson interval).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Never needed to register commands, print help, show a run or run a simple spec.
HEAVY = (
    "statsmodels",
    "scipy",
    "pandas",
    "sklearn",
    "pyarrow",
    "fastapi",
    "starlette",
    "uvicorn",
    "ray",
    "jinja2",
    "opentelemetry",
    "matplotlib",
    "hypothesis",
)
# Not needed before a command runs: the store, the models and the arrays come with the command.
NOT_AT_REGISTRATION = (*HEAVY, "numpy", "sqlalchemy", "yaml", "httpx", "aiohttp")
# Modules (full names) that only a long run or a pool needs: the progress bars appear after a
# second (Rich's progress imports its live display), the fork pool only for parallel scorers.
DEFERRED = ("rich.progress", "rich.live", "multiprocessing")

_PROBE = """
import json, runpy, sys
argv = json.loads(sys.argv[1])
if argv is None:
    import assay.cli  # registers every command
else:
    sys.argv = ["assay", *argv]
    try:
        runpy.run_module("assay", run_name="__main__")
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
print(json.dumps(sorted(sys.modules)))
"""

SPEC = """\
name: imports
dataset:
  samples:
    - {id: a, input: "What is 2+2?", target: "4"}
seed: 1
subjects:
  - {name: s, model: sim/atlas-small}
scorers: [exact]
"""


def loaded(argv: list[str] | None, cwd: Path) -> set[str]:
    """Top-level packages in ``sys.modules`` after ``import assay.cli`` (``argv`` None) or
    after running ``assay ARGV`` through the entry module, in a fresh interpreter."""
    return {name.split(".")[0] for name in modules_after(argv, cwd)}


def modules_after(argv: list[str] | None, cwd: Path) -> set[str]:
    """Every module (full name) in ``sys.modules`` after what :func:`loaded` runs."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_registering_the_commands_imports_no_implementation(tmp_path: Path) -> None:
    modules = loaded(None, tmp_path)
    assert "assay" in modules
    assert not modules & set(NOT_AT_REGISTRATION), sorted(modules & set(NOT_AT_REGISTRATION))


def test_help_imports_no_implementation(tmp_path: Path) -> None:
    modules = modules_after(["--help"], tmp_path)
    top = {name.split(".")[0] for name in modules}
    assert not top & set(NOT_AT_REGISTRATION), sorted(top & set(NOT_AT_REGISTRATION))
    assert not modules & set(DEFERRED), sorted(modules & set(DEFERRED))


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a 1-sample simulated spec and its stored run."""
    folder = tmp_path_factory.mktemp("imports")
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    loaded(["run", "spec.yaml"], folder)
    return folder


@pytest.mark.parametrize(
    "argv", [["show", "latest"], ["run", "spec.yaml", "--new"], ["runs"]], ids=" ".join
)
def test_show_and_run_skip_the_analysis_stack(one_run: Path, argv: list[str]) -> None:
    modules = modules_after(argv, one_run)
    top = {name.split(".")[0] for name in modules}
    assert "sqlalchemy" in top  # the probe did reach the store
    assert not top & set(HEAVY), sorted(top & set(HEAVY))
    # A one-sample run ends before its progress bar would appear, and runs no scorer pool.
    assert not modules & set(DEFERRED), sorted(modules & set(DEFERRED))


@pytest.mark.parametrize("argv", [["show", "latest"], ["run", "spec.yaml", "--new"]], ids=" ".join)
def test_a_small_run_is_summarised_without_numpy(one_run: Path, argv: list[str]) -> None:
    """A run of at most ``SMALL_RUN_RESULTS`` results is summarised from plain rows when it
    ends (``tests/store/test_summary_paths.py``: the same numbers as the arrays' path), and
    ``show`` reads that stored summary: neither imports numpy (about 0.1 s of a start)."""
    top = {name.split(".")[0] for name in modules_after(argv, one_run)}
    assert "numpy" not in top
