"""Fixtures of the review-queue tests: ``backend`` and ``store`` run each test on a SQLite file
and on the local PostgreSQL server (see tests/store/conftest.py); ``browser`` and ``screenshot``
are the web tests' Chromium fixtures; builders are in builders.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store.conftest import backend, store  # noqa: F401  (fixtures)
from tests.web.conftest import browser, screenshot, screenshot_dirs  # noqa: F401  (fixtures)


@pytest.fixture
def rubric_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``rubric_file(text)`` writes a rubric YAML and returns its path."""

    def write(text: str, name: str = "rubric.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
