"""YAML declarations (tools, jobs, contracts, sinks, gates) read with line-numbered errors.

The eval spec's conventions, for the small files the production audits read: a mistake is a
:class:`~assay.core.SpecError` naming ``file:line (dotted.key)`` and the fix, e.g.
``agents.yaml:7 (tools.create_order.side_effect): unknown key 'side_efect'``; the CLI prints it
as one line and exits 2.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from assay.core import SpecError
from assay.run.yamlfile import LocatedYaml, format_path, load_yaml

M = TypeVar("M", bound=BaseModel)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any, *, where: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``30d``, ``2w`` (or a number of seconds) as a timedelta."""
    if isinstance(value, bool):
        raise SpecError(f"{value!r} is not a duration", where=where, fix="write e.g. 30d or 4h")
    if isinstance(value, (int, float)):
        if not 0 <= value < 10**11:
            raise SpecError(f"{value!r} seconds is not a usable duration", where=where)
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if match is None:
        raise SpecError(
            f"cannot read {value!r} as a duration",
            where=where,
            fix="write a number and a unit: 500ms, 90s, 30m, 24h, 30d or 2w",
        )
    try:
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    except OverflowError:
        raise SpecError(f"{value!r} is too long a duration", where=where) from None


def validation_error(
    exc: ValidationError, doc: LocatedYaml | None, prefix: tuple[str | int, ...] = ()
) -> SpecError:
    """The first problem of a pydantic ``ValidationError`` as a :class:`SpecError` at the line
    of the offending key (and how many more problems there are)."""
    err = exc.errors()[0]
    loc = tuple(
        p
        for p in err["loc"]
        if not (isinstance(p, str) and (p in ("str", "int", "float") or "[" in p))
    )
    path = (*prefix, *loc)
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown key '{loc[-1]}'"
    elif err["type"] == "missing":
        msg = f"missing required key '{loc[-1]}'"
    where = doc.where(path) if doc else (format_path(path) or "declaration")
    more = len(exc.errors()) - 1
    return SpecError(
        msg + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""),
        where=where,
    )


def parse_declaration(data: Any, model: type[M], doc: LocatedYaml | None, what: str) -> M:
    """Validate ``data`` (a YAML mapping) into ``model``; errors name the file and line."""
    if not isinstance(data, dict):
        raise SpecError(
            f"{what} must be a YAML mapping",
            where=doc.where(()) if doc else what,
            fix=f"see the example in the docstring of {model.__module__}",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, doc) from None


def load_declaration(path: str | Path, model: type[M], what: str) -> tuple[M, LocatedYaml]:
    """Read a declaration file into ``model``; the parsed document comes back too, so later
    checks (a missing catalog file, an unknown tool) can name their line."""
    doc = load_yaml(path)
    return parse_declaration(doc.data, model, doc, what), doc


def resolve_path(doc: LocatedYaml | None, value: str) -> Path:
    """A path from a declaration, relative to the declaration file's folder."""
    p = Path(value).expanduser()
    if p.is_absolute() or doc is None:
        return p
    return Path(doc.filename).resolve().parent / p
