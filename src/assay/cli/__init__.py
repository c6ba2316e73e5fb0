"""The command-line surface."""

from assay.cli.app import app, main

__all__ = ["app", "main"]
from assay.cli import (
    arena_commands,  # noqa: F401  (registers commands)
    assurance_commands,  # noqa: F401  (registers commands)
    audit_commands,  # noqa: F401  (registers commands)
    contract_commands,  # noqa: F401  (registers commands)
    cost_commands,  # noqa: F401  (registers commands)
    data_commands,  # noqa: F401  (registers commands)
    data_lint_commands,  # noqa: F401  (registers commands)
    import_commands,  # noqa: F401  (registers commands)
    judge_commands,  # noqa: F401  (registers commands)
    mcp_commands,  # noqa: F401  (registers commands)
    monitor_commands,  # noqa: F401  (registers commands)
    probe_commands,  # noqa: F401  (registers commands)
    rank_commands,  # noqa: F401  (registers commands)
    registry_commands,  # noqa: F401  (registers commands)
    review_commands,  # noqa: F401  (registers commands)
    serve_commands,  # noqa: F401  (registers commands)
    stats_commands,  # noqa: F401  (registers commands)
    trace_case_commands,  # noqa: F401  (registers commands)
    trace_commands,  # noqa: F401  (registers commands)
    trace_query_commands,  # noqa: F401  (registers commands)
)
