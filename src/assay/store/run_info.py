"""The summary of a stored run that listings show, and how its status is judged."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

RunStatus = Literal["running", "completed", "failed", "interrupted"]
RUN_STATUSES: tuple[str, ...] = ("running", "completed", "failed", "interrupted")


class RunInfo(BaseModel):
    """One run as the store sees it: identity, state and counts.

    ``status`` is ``interrupted`` for a run recorded as ``running`` whose writing process, on
    this host, no longer exists. ``n_results`` counts stored results (errors included),
    ``n_errors`` those without an output, ``n_planned`` how many the run meant to produce.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    fingerprint: str
    spec_hash: str
    subjects: list[str]
    n_results: int
    n_errors: int
    n_planned: int


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (``True`` when that cannot be told)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def effective_status(status: str, pid: int | None, hostname: str | None, this_host: str) -> str:
    """The stored status, except that a ``running`` run whose process died is ``interrupted``."""
    if status == "running" and pid is not None and hostname == this_host and not pid_alive(pid):
        return "interrupted"
    return status
