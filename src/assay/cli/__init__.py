"""The command-line surface."""

from assay.cli.app import app, main

__all__ = ["app", "main"]
from assay.cli import (
    contract_commands,  # noqa: F401  (registers commands)
    data_commands,  # noqa: F401  (registers commands)
    judge_commands,  # noqa: F401  (registers commands)
    stats_commands,  # noqa: F401  (registers commands)
)
