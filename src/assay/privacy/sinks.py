"""The sink registry and the scanners that look for a canary in each sink (I4).

"Privacy Mode That Actually Keeps Its Promise": a toggle that hides the UI history while
inference logs still go to object storage, error traces carry prompt snippets and analytics
events carry the conversation. Every place data can land is a **sink**; a team declares the
ones it has, each with a way assay can read it:

``file``
    one file (``path``), or ``glob`` for many (``exports/**/*.jsonl``); ``.gz`` files are
    inflated. Hits are reported as ``file:line``.
``database``
    a SQLAlchemy URL (``url``), every text column of every table (or of ``tables``). Hits are
    ``table.column`` with the row's primary key.
``trace_store``
    an assay store (``db``: a URL or SQLite path; default the command's ``--db``): scanned as a
    database, so spans, events, tool calls, retrievals, feedback and cases are all covered.
``http``
    an HTTP capture (``url``): a GET returns what the sink received (a request bin, a mock
    analytics collector). Hits are the URL and the offset in the body.

A canary is searched for as written, in any letter case, URL-encoded, in base64 (at each of
the three byte alignments, so it is found inside a longer encoded payload) and in hex: a
pipeline that encodes before it writes does not hide the leak.
"""

from __future__ import annotations

import base64
import glob as globbing
import gzip
import math
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.run.yamlfile import LocatedYaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SinkDecl(_Strict):
    """One declared sink (see the module docstring)."""

    kind: Literal["file", "database", "trace_store", "http"]
    path: str | None = None
    glob: str | None = None
    url: str | None = None
    db: str | None = None
    tables: list[str] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    expect_control: bool = True
    description: str | None = None

    @model_validator(mode="after")
    def _reachable(self) -> SinkDecl:
        if self.kind == "file" and (self.path is None) == (self.glob is None):
            raise ValueError("a file sink needs exactly one of `path` or `glob`")
        if self.kind == "database" and not self.url:
            raise ValueError("a database sink needs `url` (a SQLAlchemy URL)")
        if self.kind == "http" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError("an http sink needs `url` (http:// or https://)")
        return self


Form = tuple[str, bool]


def variants(canary: str) -> list[Form]:
    """The forms a canary is searched in, each with whether the match is case-sensitive: as
    written, URL-encoded and in hex (any case), and base64 at the three byte alignments
    (case-sensitive, as base64 is)."""
    raw = canary.encode("utf-8")
    loose = {
        canary,
        urllib.parse.quote(canary, safe=""),
        urllib.parse.quote_plus(canary),
        raw.hex(),
    }
    exact: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        # Characters that depend only on the canary's own bytes: skip those mixing in the
        # prefix, and those mixing in what follows it.
        start = math.ceil(shift * 4 / 3)
        end = ((shift + len(raw)) * 4) // 3
        if end - start >= 4:
            exact.add(encoded[start:end])
    forms = [(f, False) for f in sorted(loose, key=lambda f: (f != canary, f))]
    return forms + [(f, True) for f in sorted(exact)]


@dataclass
class Hit:
    """Where a canary was found in a sink."""

    location: str
    form: str
    excerpt: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "form": self.form, "excerpt": self.excerpt}


@dataclass
class ScanResult:
    """What scanning one sink for a set of canaries found."""

    sink: str
    kind: str
    hits: dict[str, list[Hit]] = field(default_factory=dict)
    scanned: str = ""
    error: str | None = None


Needles = dict[str, list[Form]]


def _find_in_text(text: str, needles: Needles, location: str) -> dict[str, list[Hit]]:
    """The first form of each canary found in ``text``."""
    found: dict[str, list[Hit]] = {}
    lowered = text.lower()
    for canary, forms in needles.items():
        for form, case_sensitive in forms:
            at = text.find(form) if case_sensitive else lowered.find(form.lower())
            if at >= 0:
                excerpt = text[max(0, at - 30) : at + len(form) + 30].replace("\n", " ")
                found[canary] = [Hit(location, form, excerpt)]
                break
    return found


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def scan_files(paths: list[Path], needles: Needles, limit: int = 20) -> dict[str, list[Hit]]:
    """Hits per canary in ``paths``, as ``file:line``."""
    hits: dict[str, list[Hit]] = {}
    for path in paths:
        for number, line in enumerate(_read_text(path).splitlines(), 1):
            for canary, found in _find_in_text(line, needles, f"{path}:{number}").items():
                bucket = hits.setdefault(canary, [])
                if len(bucket) < limit:
                    bucket.extend(found)
    return hits


def scan_database(
    target: Any, needles: Needles, tables: list[str] | None = None, limit: int = 20
) -> tuple[dict[str, list[Hit]], str]:
    """Hits per canary in every text column (``LIKE``; case folded with ``lower`` except for
    base64 forms). ``target`` is a SQLAlchemy URL or an engine (an open store's)."""
    from sqlalchemy import (
        JSON,
        String,
        Text,
        create_engine,
        func,
        inspect,
        literal,
        or_,
        select,
    )
    from sqlalchemy import (
        MetaData as SAMetaData,
    )
    from sqlalchemy import (
        Table as SATable,
    )
    from sqlalchemy.pool import NullPool

    owned = isinstance(target, str)
    if owned:
        from assay.store.engine import sqlite_file

        path = sqlite_file(target)
        if path is not None and not path.exists():  # connecting would create an empty file
            raise FileNotFoundError(f"no database file at {path}")
    engine = create_engine(target, poolclass=NullPool) if owned else target
    hits: dict[str, list[Hit]] = {}
    scanned: list[str] = []
    try:
        with engine.connect() as conn:
            names = tables or inspect(conn).get_table_names()
            meta = SAMetaData()
            for name in names:
                table = SATable(name, meta, autoload_with=conn)
                text_columns = [
                    c for c in table.columns if isinstance(c.type, (String, Text, JSON))
                ]
                keys = list(table.primary_key.columns) or list(table.columns)[:2]
                for column in text_columns:
                    scanned.append(f"{name}.{column.name}")
                    for canary, forms in needles.items():
                        clauses = [
                            column.like(literal("%" + f + "%"))
                            if case_sensitive
                            else func.lower(column).like(literal("%" + f.lower() + "%"))
                            for f, case_sensitive in forms
                        ]
                        query = select(*keys, column).where(or_(*clauses)).limit(limit)
                        for row in conn.execute(query):
                            key = ", ".join(f"{k.name}={row[i]}" for i, k in enumerate(keys))
                            text = str(row[-1])
                            located = _find_in_text(text, {canary: forms}, "")
                            form = located[canary][0].form if located else forms[0][0]
                            excerpt = located[canary][0].excerpt if located else text[:80]
                            hits.setdefault(canary, []).append(
                                Hit(f"{name}.{column.name} ({key})", form, excerpt)
                            )
    finally:
        if owned:
            engine.dispose()
    return hits, f"{len(scanned)} text columns in {len(names)} tables"


async def fetch_http(url: str, headers: dict[str, str], timeout: float = 10.0) -> str:
    """The body of a GET to an HTTP capture."""
    import aiohttp

    timeout_ = aiohttp.ClientTimeout(total=timeout)
    async with (
        aiohttp.ClientSession(timeout=timeout_) as session,
        session.get(url, headers=headers) as response,
    ):
        response.raise_for_status()
        return await response.text()


def scan_sink(
    name: str,
    sink: SinkDecl,
    needles: Needles,
    *,
    doc: LocatedYaml | None = None,
    store: Any = None,
) -> ScanResult:
    """Scan one sink for every canary; a sink that cannot be read comes back with ``error``."""
    import asyncio

    result = ScanResult(name, sink.kind)
    base = Path(doc.filename).resolve().parent if doc else Path.cwd()
    try:
        if sink.kind == "file":
            if sink.path is not None:
                path = Path(sink.path).expanduser()
                paths = [path if path.is_absolute() else base / path]
                paths = [p for p in paths if p.exists()]
            else:
                pattern = str(sink.glob)
                if not Path(pattern).is_absolute():
                    pattern = str(base / pattern)
                paths = sorted(Path(p) for p in globbing.glob(pattern, recursive=True))
                paths = [p for p in paths if p.is_file()]
            result.hits = scan_files(paths, needles)
            result.scanned = f"{len(paths)} files"
        elif sink.kind == "database":
            result.hits, result.scanned = scan_database(str(sink.url), needles, sink.tables)
        elif sink.kind == "trace_store":
            if sink.db:
                from assay.store.engine import normalise_db_url

                db = sink.db
                if "://" not in db and not Path(db).expanduser().is_absolute():
                    db = str(base / db)  # a path, relative to the declaration
                target: Any = normalise_db_url(db)
            elif store is not None:
                target = store.engine
            else:
                raise ValueError("a trace_store sink needs `db:` or the command's store (--db)")
            result.hits, result.scanned = scan_database(target, needles, sink.tables)
        else:
            body = asyncio.run(fetch_http(str(sink.url), sink.headers))
            result.hits = _find_in_text(body, needles, str(sink.url))
            result.scanned = f"{len(body)} characters"
    except Exception as exc:  # a sink the harness cannot read is reported, never skipped
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return result
