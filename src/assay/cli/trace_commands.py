"""``assay traces …``: production traces in the store (issue 11).

The group is defined here; its commands live in small modules that add themselves to
:data:`traces_app` when imported (see the imports at the top of :mod:`assay.cli.app`).
"""

from __future__ import annotations

import typer

from assay.cli.app import app

traces_app = typer.Typer(
    name="traces",
    help="Production traces: import, list, show, search, feedback, promote to cases, replay.",
    no_args_is_help=True,
)
app.add_typer(traces_app, name="traces")
