"""``assay mcp``: the store as a read-only Model Context Protocol server.

Built on the official MCP Python SDK (``mcp``, https://github.com/modelcontextprotocol/python-sdk;
its FastMCP interface is ``mcp.server.mcpserver.MCPServer`` since 2.0), over stdio (a coding
agent spawns ``assay mcp``) or streamable HTTP (``--transport http``; the SDK's Starlette app
served by uvicorn at ``/mcp``).

Read-only, twice over: the store is opened as read-only commands open it (``create=False``: no
new store is made), and every database connection is then set to refuse writes (SQLite
``PRAGMA query_only``, PostgreSQL ``default_transaction_read_only``), so no tool, present or
future, can change a run. Opening still migrates an old store's schema, as every command does.

Access follows ``assay serve``: over HTTP the server refuses to listen beyond loopback without
a token, and with a token (``--token`` or ``$ASSAY_TOKEN``) every request must carry it as
``Authorization: Bearer TOKEN`` (the same :class:`~assay.web.auth.TokenGuard`), else 401.
stdio needs no token: only the process that spawned the server can talk to it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from assay.core import AssayError
from assay.mcp import tools

INSTRUCTIONS = (
    "assay's store of LLM eval runs, read-only. To ask whether a change regressed anything, "
    "call compare_runs with the baseline run (run_a) and the candidate (run_b): its verdict "
    "per metric and slice is assay's paired test (improved, regressed, mixed: slice regression, "
    "no detectable difference, underpowered), with intervals and the minimum detectable effect. "
    "Run ids accept prefixes and latest, latest~1."
)


def make_read_only(store: Any) -> Any:
    """Make every later connection of ``store`` refuse writes, and drop the pooled ones."""
    from sqlalchemy import event

    dialect = store.engine.dialect.name

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if dialect == "sqlite":
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        finally:
            cursor.close()
        if dialect != "sqlite":
            dbapi_connection.commit()

    event.listen(store.engine, "connect", _on_connect)
    store.engine.dispose()
    return store


def open_read_only(db: str | None) -> Any:
    """The store at ``db`` (default: ``$ASSAY_DB`` or ``.assay/assay.db``), read-only."""
    from assay.store import Store

    return make_read_only(Store(db, create=False))


def _tool(store: Any, fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``fn`` with the store bound; an :class:`AssayError` (an unknown run, an empty search)
    becomes a tool error carrying assay's message and fix, not a crash."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(store, *args, **kwargs)
        except AssayError as error:
            raise ToolError(error.render()) from error

    # The SDK reads the signature for the input schema: drop the bound ``store``, and give it
    # resolved types (this module's annotations are strings).
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    params = [p.replace(annotation=hints[p.name]) for p in list(signature.parameters.values())[1:]]
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints["return"]
    )
    call.__annotations__ = {p.name: p.annotation for p in params} | {"return": hints["return"]}
    return call


TOOLS = (
    tools.list_runs,
    tools.show_run,
    tools.compare_runs,
    tools.search_samples,
    tools.search_traces,
    tools.list_certificates,
    tools.show_certificate,
)


def build_server(store: Any) -> Any:
    """An ``MCPServer`` whose tools read ``store`` (open it with :func:`open_read_only`)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    from assay import __version__

    server = MCPServer("assay", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
    for fn in TOOLS:
        server.add_tool(
            _tool(store, fn), name=fn.__name__, description=fn.__doc__, annotations=read_only
        )
    return server


def http_app(server: Any, *, host: str, token: str | None) -> Any:
    """The streamable HTTP app at ``/mcp``, behind the token guard when there is a token."""
    app = server.streamable_http_app(host=host)
    if token:
        from assay.web.auth import TokenGuard

        return TokenGuard(app, token)
    return app
