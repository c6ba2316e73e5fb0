import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def assay_cli(*args, cwd, env=None, timeout=120, check=None):
    full_env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    full_env.pop("ASSAY_DB", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "assay", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def cli():
    return assay_cli
