"""``/docs``: the JSON API's reference as a plain page, built from the app's own OpenAPI schema.

FastAPI's default ``/docs`` loads Swagger UI from a CDN, so it was blank offline and could not
run under the pages' Content-Security-Policy (scripts from ``/static`` only). This page needs
neither: each operation with its method, path, summary and parameters, rendered on the server;
``/openapi.json`` stays the machine-readable schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assay.web.render import render

_METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    """A parameter's type in a few characters (``integer``, ``string ≤ 40``, ``a | b``)."""
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = str(schema.get("type", "any"))
    bounds = [
        f"{sign} {schema[key]}"
        for key, sign in (("minimum", "≥"), ("maximum", "≤"), ("maxLength", "len ≤"))
        if key in schema
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of an OpenAPI schema, by path, with its parameters."""
    out = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                {
                    "name": p["name"],
                    "in": p.get("in", ""),
                    "required": bool(p.get("required")),
                    "type": _type(p.get("schema", {})),
                    "description": p.get("description") or p.get("schema", {}).get("description"),
                }
                for p in op.get("parameters", [])
            ]
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary") or "",
                    "tag": (op.get("tags") or ["api"])[0],
                    "body": "requestBody" in op,
                    "params": params,
                }
            )
    return out


def api_docs_router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/docs", response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        ops = operations(request.app.openapi())
        return HTMLResponse(render("api_docs.html", title="API", operations=ops))

    return pages
