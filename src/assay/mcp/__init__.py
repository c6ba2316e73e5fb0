"""The store as a read-only MCP server (``assay mcp``); see :mod:`assay.mcp.server`."""

from assay.mcp.server import build_server, http_app, make_read_only, open_read_only

__all__ = ["build_server", "http_app", "make_read_only", "open_read_only"]
