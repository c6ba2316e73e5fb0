"""Shared test configuration."""

from pathlib import Path

import pytest

# pytest's fixture for testing plugins (tests/plugin); a plugin list is only allowed here, at the
# top-level conftest.
pytest_plugins = ["pytester"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The reference data folder beside the project, or a skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (it sits beside the project in CI)")
    return SHARED_DATA
