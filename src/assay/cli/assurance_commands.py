"""Registers the assurance command groups (issue 18): ``assay agents``, ``assay jobs``,
``assay corpus`` and ``assay privacy``; each module adds its group to the app on import."""

from assay.cli import (  # noqa: F401  (registers commands)
    agents_commands,
    corpus_commands,
    jobs_commands,
    privacy_commands,
)
