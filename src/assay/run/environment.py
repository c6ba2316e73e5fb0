"""The code side of a manifest: assay's version, the project's git sha, tool versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from assay.core import EnvironmentManifest

_TOOLS = ("pydantic", "sqlalchemy", "aiohttp", "numpy", "scipy", "statsmodels")


@lru_cache(maxsize=64)
def _version(package: str) -> str:
    """The installed version of ``package``. Read once per process: the metadata lookup scans
    every distribution on ``sys.path`` (about 10 ms a run for the seven packages here), and
    the version a process imported is the one that runs, even if another is installed later."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def assay_version() -> str:
    """The installed assay version (``0+unknown`` when run from a source tree)."""
    v = _version("assay")
    return "0+unknown" if v == "not installed" else v


@lru_cache(maxsize=16)
def git_sha(directory: str) -> str:
    """``HEAD``'s sha of the repository holding ``directory``, ``+dirty`` when it has
    uncommitted changes, or ``not-a-git-repo``."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return "not-a-git-repo"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "not-a-git-repo"


def environment_manifest(project_dir: str | Path = ".") -> EnvironmentManifest:
    """Describe the code and tools producing a run."""
    return EnvironmentManifest(
        assay_version=assay_version(),
        git_sha=git_sha(str(Path(project_dir).resolve())),
        python=sys.version.split()[0],
        platform=platform.platform(terse=True),
        tool_versions={name: _version(name) for name in _TOOLS},
    )
