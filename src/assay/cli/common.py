"""What every command module shares: the Typer app, the consoles, the ``--db``/``--json``
options, opening the store and choosing the run a spec resumes.

Kept apart from :mod:`assay.cli.app` (the core commands) so that command modules import these
without importing ``app``, and ``app`` may use their helpers without an import circle.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from assay.core import AssayError

app = typer.Typer(
    name="assay",
    help="assay: run LLM evals whose numbers you can trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="ASSAY_DB", help="Store URL or SQLite path [default: .assay/assay.db]."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _store(db: str | None, *, create: bool = True):  # type: ignore[no-untyped-def]
    """The store at ``db`` (default: ``$ASSAY_DB`` or ``.assay/assay.db``). Read-only commands
    pass ``create=False``: a path with no store is an error, not a new empty store."""
    from assay.store import Store

    return Store(db, create=create)


def _choose_run(store, ev, resume: str | None, new: bool):  # type: ignore[no-untyped-def]
    """Which stored run to resume, if any: ``(run_id, reason)`` or ``(None, None)``.

    A run of the spec that is still running (its lease is live, see
    :mod:`assay.store.leases`) is refused, naming the process that holds it and until when."""
    from assay.run import spec_hash

    if resume is not None:
        return store.resolve_run_id(resume), "resuming"
    if new:
        return None, None
    for info in store.find_runs(spec_hash=spec_hash(ev)):
        if info.status == "running":
            from assay.store.leases import leased_error

            lease = store.run_lease(info.id)
            if lease is not None:
                raise leased_error(info.id, lease)
            raise AssayError(  # pragma: no cover - a running run always has a live lease
                f"run {info.id} of this spec is still running (another process)",
                fix="wait for it, or pass --new to start a separate run",
            )
        if info.status in ("interrupted", "failed") or info.n_results < info.n_planned:
            return info.id, "resuming unfinished run"
        if info.n_errors:
            return info.id, f"retrying {info.n_errors} failed results of run"
        return info.id, "complete"
    return None, None
