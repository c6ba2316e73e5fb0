"""The ``assay data`` sub-app and its usage error, shared by the modules of data commands
(kept apart from :mod:`assay.cli.data_commands` so that its sub-command modules need not
import it, and it may import them without an import circle)."""

from __future__ import annotations

import typer

from assay.cli.common import app
from assay.core import AssayError

data_app = typer.Typer(
    help="Check eval and training data: train/eval contamination, PII.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


class _UsageError(AssayError):
    """Raised for an impossible combination of ``assay data`` options."""

    code = "usage_error"
