"""The executor seam without a cluster: Ray stays out of the base install and out of every
import until it is chosen; the local executor keeps item order; the options fail clearly."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from assay.core import ConfigError
from assay.scale import LocalExecutor, check_executor_options, offload_scorers, runs_on_actors
from assay.score import create_scorer

ROOT = Path(__file__).resolve().parents[2]


def _square_plus(shared: int, item: int) -> tuple[int, int]:
    import os

    return item * item + shared, os.getpid()


def test_the_base_install_does_not_pull_in_ray():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [
        dep.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        for dep in project["dependencies"]
    ]
    assert "ray" not in names
    extras = project["optional-dependencies"]
    # `pip install "assay[ray]"` gets it, and so does CI (which installs .[dev]), alike.
    ray_req = [d for d in extras["ray"] if d.startswith("ray")]
    assert ray_req and set(ray_req) <= set(extras["dev"])


def test_nothing_imports_ray_unless_it_is_chosen_and_without_it_the_fix_is_named():
    code = (
        "import sys\n"
        "import assay, assay.cli, assay.run, assay.scale, assay.data.contamination\n"
        "import assay.data.provenance\n"
        "from assay.cli import app\n"
        "from typer.testing import CliRunner\n"
        "for args in (['--help'], ['run', '--help'], ['data', 'contamination', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
        "print('clean')\n"
        "sys.modules['ray'] = None  # as if the extra were not installed\n"
        "from assay.scale import make_executor\n"
        "from assay.core import ConfigError\n"
        "try:\n"
        "    make_executor('ray')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr
    assert 'pip install "assay[ray]"' in done.stdout, done.stdout


def test_the_local_executor_keeps_item_order_inline_and_in_a_fork_pool():
    items = list(range(40))
    inline = [v for v, _ in LocalExecutor(1).map(_square_plus, 3, items)]
    pooled = list(LocalExecutor(2).map(_square_plus, 3, items))
    assert inline == [v for v, _ in pooled] == [i * i + 3 for i in items]
    import os

    assert os.getpid() not in {pid for _, pid in pooled}  # it really ran in the pool


@pytest.mark.parametrize(
    ("executor", "address", "workers", "message"),
    [
        ("dask", None, None, "unknown executor 'dask'"),
        ("local", "10.0.0.1:6379", None, "--ray-address only applies with --executor ray"),
        ("ray", None, 0, "--workers must be at least 1"),
        ("local", None, -1, "--workers must be at least 0 with the local executor"),
    ],
)
def test_impossible_options_are_refused(executor, address, workers, message):
    with pytest.raises(ConfigError, match=message.replace("-", r"\-")):
        check_executor_options(executor, address, workers)


def test_only_cpu_bound_scorers_move_and_none_start_ray_without_them(tmp_path):
    (tmp_path / "scale_basics_checks.py").write_text("def one(sample, output):\n    return 1\n")
    from assay.score import ScorerContext

    python = create_scorer(
        "python", "scale_basics_checks:one", context=ScorerContext(base_dir=tmp_path)
    )
    exact = create_scorer("exact", {})
    assert runs_on_actors(python) and not runs_on_actors(exact)
    assert offload_scorers([python, exact]).scorers == [python, exact]
    # With --executor ray but nothing CPU-bound to move, Ray is not started at all.
    kept = offload_scorers([exact], "ray")
    assert kept.scorers == [exact] and kept.pool is None
