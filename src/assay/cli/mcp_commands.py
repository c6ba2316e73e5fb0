"""``assay mcp``: the store as a read-only MCP server for coding agents (:mod:`assay.mcp`)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from assay.cli.app import DbOption, app, err_console
from assay.cli.serve_commands import TOKEN_ENV, HostOption, TokenOption, check_binding
from assay.core import AssayError


@app.command("mcp")
def mcp_command(
    db: DbOption = None,
    transport: Annotated[
        str,
        typer.Option(
            "--transport", help="stdio (an agent spawns this command) or http (streamable HTTP)."
        ),
    ] = "stdio",
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="HTTP port.")] = 8766,
    token: TokenOption = None,
) -> None:
    """Serve the store read-only over the Model Context Protocol: tools list_runs, show_run,
    compare_runs, search_samples, search_traces, list_certificates, show_certificate.

    Over HTTP (at /mcp) the token rules of `assay serve` apply: a token is required off
    loopback, and when set every request must carry `Authorization: Bearer TOKEN`."""
    if transport not in ("stdio", "http"):
        raise AssayError(
            f"unknown transport {transport!r}", where="--transport", fix="use stdio or http"
        )
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise AssayError("`assay mcp` needs the MCP SDK", fix='pip install "assay[mcp]"') from None
    from assay.mcp import build_server, http_app, open_read_only

    token = token or os.environ.get(TOKEN_ENV) or None
    if transport == "http":
        check_binding(host, token)
    store = open_read_only(db)
    try:
        server = build_server(store)
        if transport == "stdio":
            # stdout carries the protocol: say nothing there.
            server.run("stdio")
            return
        import uvicorn

        err_console.print(
            f"assay mcp: store {store.url} (read-only), streamable HTTP at "
            f"http://{host}:{port}/mcp{'; token required' if token else ''}",
            highlight=False,
        )
        uvicorn.run(http_app(server, host=host, token=token), host=host, port=port,
                    log_level="warning")  # fmt: skip
    finally:
        store.close()
